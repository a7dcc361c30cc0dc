//! The crypto PD's heap need, measured: on seL4 the root task sizes its heap from the config
//! (system.xml's `heap_size`, plus `heap_per_peer` for each peer, `heap_per_prefix` for each
//! prefix and the text's size), and the PD refuses to start with less than
//! `heap_need(peers, prefixes)`. So the measured peak with every peer blackholed and the
//! handshake queue budget full must stay within three quarters of `heap_need` (the rest is the
//! allocator's overhead and fragmentation), and every system file must give at least that.

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use pd_api::{ChannelSet, Handler};
use pd_crypto::{check_heap, heap_need, Crypto, InitError, BLACK, HEAP_PER_PREFIX_BYTES, MAX_PEERS, RED};
use pd_testkit::{FarEnd, TestPd};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the bytes the measuring thread has in use and their peak.
/// Only that thread counts: the other tests of this binary run on threads beside it, and their
/// allocations (system files parsed, rings made) once pushed a measured peak past the bound.
struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted.
    static MEASURED: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated minus bytes freed by this thread since counting began (memory made
    /// before and freed during the measurement makes it go below zero: it is free on seL4 too).
    static IN_USE: Cell<isize> = const { Cell::new(0) };
    /// The greatest `IN_USE` seen.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // try_with: the thread-locals may be gone while a thread's own destructors free memory.
    let _ = MEASURED.try_with(|on| {
        if on.get() {
            let now = IN_USE.get() + delta;
            IN_USE.set(now);
            PEAK.set(PEAK.get().max(now));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// thread-locals with constant initialisers (reading them does not allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (GlobalAlloc contract).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from alloc with this layout (GlobalAlloc contract).
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn peer(k: usize) -> PeerConfig {
    let mut secret = [0u8; 32];
    // Byte 0 is clamped by X25519: the peer number goes above it.
    secret[1..9].copy_from_slice(&(k as u64 + 100).to_le_bytes());
    PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from(secret)).to_bytes(),
        preshared_key: Some([7; 32]),
        endpoint: Some(format!("192.0.2.{}:51820", 1 + k % 250).parse().unwrap()),
        allowed_ips: vec![format!("10.{}.{}.0/24", 10 + k / 250, k % 250).parse::<Prefix>().unwrap()],
        persistent_keepalive: Some(25),
    }
}

fn config(peers: usize) -> CryptoConfig {
    CryptoConfig { private_key: [1; 32], listen_port: 51820, mtu: 1420, peers: (0..peers).map(peer).collect() }
}

fn ipv4(dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 2];
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// Peak heap bytes of a crypto PD with `peers` peers, none of which answers, while red sends
/// `per_peer` packets of `payload` bytes (after a 20-byte header) to every one of them in turn
/// (initiations out, the queue budget filled): full-size packets fill the budget's bytes, the
/// smallest fill it with the most packets (some 4096 of 32 bytes, padded), each peer's queue
/// growing up to boringtun's 256 while the budget lets it. (A queue's capacity follows its
/// length down, support/boringtun/queue-capacity.patch: at most four times the packets left, so
/// capacities grown in earlier bursts do not add up over the peers; see
/// `a_queue_that_empties_gives_back_the_memory_its_burst_took`.)
fn peak_with_blackholed_peers(pd: &'static TestPd, red: &mut FarEnd, black: &mut FarEnd, peers: usize, payload: usize, per_peer: usize) -> usize {
    IN_USE.set(0);
    PEAK.set(0);
    MEASURED.set(true);
    let mut crypto = Crypto::new(config(peers)).unwrap();
    for _round in 0..4 {
        for k in 0..peers {
            for n in 0..per_peer {
                red.send(&ipv4([10, (10 + k / 250) as u8, (k % 250) as u8, 2], &vec![k as u8; payload]));
                if n % 64 == 63 {
                    pd.enter();
                    crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
                    black.drain();
                }
            }
            if k % 8 == 7 {
                pd.enter();
                crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
                black.drain();
            }
        }
        pd.enter();
        crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
        black.drain();
        assert!(crypto.queued_bytes() <= pd_crypto::QUEUE_BUDGET_BYTES);
    }
    MEASURED.set(false);
    drop(crypto);
    PEAK.get() as usize
}

#[test]
fn the_heap_need_holds_the_measured_peak_with_every_queue_full() {
    for peers in [1, 8, 64, 256] {
        let mut peaks = Vec::new();
        for (payload, per_peer) in [(1380, 4), (0, 300)] {
            // Fresh rings for each PD (a second PD on the first one's rings would meet its state).
            let pd = TestPd::new(&format!("crypto_heap_{peers}_{payload}"));
            let mut red = pd.link("red", 256);
            let mut black = pd.link("black", 256);
            pd.enter();
            peaks.push(peak_with_blackholed_peers(pd, &mut red, &mut black, peers, payload, per_peer));
        }
        // One AllowedIPs network each.
        let need = heap_need(peers, peers);
        println!("heap peak with {peers} peers: {peaks:?} B (full-size packets, smallest) of a need of {need} B");
        // A quarter kept free: the allocator's own overhead and fragmentation on seL4.
        assert!(peaks.iter().all(|&peak| peak <= need * 3 / 4), "{peers} peers peaked at {peaks:?} bytes");
    }
}

/// The heap a system file gives crypto for `peers` peers holding `prefixes` networks, as the root
/// task computes it (less the config text's size, which it adds too).
fn heap_given(xml: &str, peers: u64, prefixes: u64) -> u64 {
    let sys = sdf::System::parse(xml).unwrap();
    let crypto = sys.protection_domains.iter().find(|p| p.name == "crypto").unwrap();
    assert!(crypto.heap_peers_of.is_some(), "crypto's heap is not sized on its config's peers");
    crypto.heap_size.unwrap_or(1 << 20) + peers * crypto.heap_per_peer + prefixes * crypto.heap_per_prefix
}

#[test]
fn every_system_gives_crypto_the_heap_its_peers_need() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for file in ["system.xml", "box/system.xml", "box/system-10g.xml", "box/system-ixgbe.xml"] {
        let xml = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        // Both sides grow linearly in the peers and prefixes: the corners decide (200 000
        // prefixes: more than a 256 KiB region can spell).
        for (peers, prefixes) in [(0, 0), (MAX_PEERS, 0), (0, 200_000), (MAX_PEERS, 200_000)] {
            let given = heap_given(&xml, peers as u64, prefixes as u64);
            let need = heap_need(peers, prefixes);
            assert!(given >= need as u64, "{file}: {given} bytes for {peers} peers and {prefixes} prefixes, {need} needed");
        }
    }
}

/// A config of `peers` peers as an operator writes one for branch offices: each [Peer] with a
/// comment, a preshared key, an IPv4 and an IPv6 prefix and an endpoint (about 220 bytes).
fn branch_office_config(peers: usize) -> String {
    use encryptor_config::PublicKeyText;
    let mut text = format!("[Interface]\nPrivateKey = {}\nListenPort = 51820\n\n[Encryptor]\nRedAddress = 10.1.0.1/24\nBlackAddress = 192.0.2.1/24\nBlackGateway = 192.0.2.254\n", PublicKeyText::new(&[1; 32]));
    for k in 0..peers {
        let mut key = [9u8; 32];
        key[..8].copy_from_slice(&(k as u64).to_le_bytes());
        let (a, b) = (10 + k / 250, k % 250);
        text += &format!(
            "\n[Peer]\n# branch office {k:04}\nPublicKey = {}\nPresharedKey = {}\nAllowedIPs = 10.{a}.{b}.0/24, fd00:{a}:{b}::/64\nEndpoint = 198.51.100.{}:{}\n",
            PublicKeyText::new(&key),
            PublicKeyText::new(&[7; 32]),
            b + 1,
            51820 + k / 250
        );
    }
    text
}

/// Peak heap bytes of reading `text` from a config region as every PD does
/// (`encryptor_config::parse_region`: the copy out of the region, the parse), keeping the parts.
fn peak_reading_config(text: &str) -> usize {
    let pd = TestPd::new(&format!("config_reader_{}", text.len()));
    let region = pd.region("config", text.len() + 1);
    // SAFETY: the region was just made, `text.len() + 1` bytes, and only this thread uses it.
    unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), region.base().as_ptr(), text.len()) };
    IN_USE.set(0);
    PEAK.set(0);
    MEASURED.set(true);
    let parts = encryptor_config::parse_region(region).unwrap().into_parts();
    MEASURED.set(false);
    assert_eq!(parts.0.peers.len(), text.matches("[Peer]").count());
    drop(parts);
    PEAK.get() as usize
}

/// Every system file, and system.xml with crypto workers as support/lib/systemxml.py adds them:
/// (name, text).
fn system_files(root: &str) -> Vec<(String, String)> {
    let workers = std::process::Command::new("python3")
        .args(["-c", "import sys; sys.path.insert(0, 'support/lib'); import systemxml; print(systemxml.with_crypto_workers(open('system.xml').read()))"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(workers.status.success(), "{}", String::from_utf8_lossy(&workers.stderr));
    let mut files: Vec<(String, String)> = ["system.xml", "box/system.xml", "box/system-10g.xml", "box/system-ixgbe.xml"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(format!("{root}/{f}")).unwrap()))
        .collect();
    files.push(("system.xml with crypto workers".into(), String::from_utf8(workers.stdout).unwrap()));
    files
}

/// Every PD reads the config (crypto whole, the others without its keys) and keeps its part, so
/// each needs heap for it beyond its fixed needs: with crypto's most peers written in full, that
/// is some 1.2 MiB, which the stack PDs' and workers' fixed 1 MiB did not hold beside their own
/// (a worker failed to start with 1024 such peers). Each system file's `heap_per_peer` for every
/// PD that maps a config region holds the measured peak per peer, a quarter spare.
#[test]
fn every_pd_that_reads_the_config_gets_heap_for_each_peer_of_it() {
    let text = branch_office_config(MAX_PEERS);
    let per_peer = peak_reading_config(&text) / MAX_PEERS;
    println!("reading a config of {MAX_PEERS} peers ({} bytes): {per_peer} heap bytes per peer", text.len());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for (file, xml) in &system_files(root) {
        let sys = sdf::System::parse(xml).unwrap();
        let config_regions: Vec<&str> = sys.memory_regions.iter().filter(|r| r.role == Some(sdf::RegionRole::Config)).map(|r| r.name.as_str()).collect();
        let mut readers = 0;
        for pd in sys.protection_domains.iter().filter(|pd| pd.maps.iter().any(|m| config_regions.contains(&m.mr.as_str()))) {
            readers += 1;
            assert!(pd.heap_peers_of.is_some(), "{file}: {}'s heap is not sized on its config's peers", pd.name);
            assert!(pd.heap_per_peer >= (per_peer * 4 / 3) as u64, "{file}: {} gets {} heap bytes per peer; reading the config takes {per_peer}", pd.name, pd.heap_per_peer);
        }
        assert!(readers >= 3, "{file}: {readers} PDs read a config");
    }
}

#[test]
fn a_heap_smaller_than_the_peers_need_is_refused_by_name() {
    assert!(check_heap(32, 5000, None).is_ok(), "the host runtime's heap is unbounded");
    let need = heap_need(32, 5000);
    assert!(need >= heap_need(32, 0) + 5000 * HEAP_PER_PREFIX_BYTES, "prefixes count");
    assert!(check_heap(32, 5000, Some(need)).is_ok());
    let e = check_heap(32, 5000, Some(need - 1)).unwrap_err();
    assert!(matches!(e, InitError::HeapTooSmall { peers: 32, prefixes: 5000, .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "32 peers with 5000 AllowedIPs networks need {} KiB of heap; this PD has {} KiB \
             (system.xml: heap_size, heap_per_peer, heap_per_prefix)",
            need / 1024,
            (need - 1) / 1024
        )
    );
}

#[test]
fn more_peers_than_fit_are_refused_at_start() {
    let pd = TestPd::new("crypto_too_many");
    let _red = pd.link("red", 16);
    let _black = pd.link("black", 16);
    pd.enter();
    match Crypto::new(config(MAX_PEERS + 1)) {
        Err(e @ InitError::TooManyPeers { .. }) => {
            assert_eq!(e.to_string(), format!("{} peers configured; this crypto PD holds at most {MAX_PEERS}", MAX_PEERS + 1));
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("accepted more peers than it takes"),
    }
}


/// The ways a config of one peer can fill some `bytes` with prefixes or text: (what, the
/// config). Each prefix written is an AllowedIPs of the one peer, but for the Bypass rules.
fn prefix_heavy_configs(bytes: usize) -> Vec<(&'static str, String)> {
    use encryptor_config::PublicKeyText;
    let keys = (PublicKeyText::new(&[1; 32]), PublicKeyText::new(&[9; 32]));
    // `item(k)` for k = 0, 1, ... until `text` is `bytes` long.
    let fill = |mut text: String, item: &dyn Fn(usize) -> String| {
        let mut k = 0;
        while text.len() < bytes {
            text += &item(k);
            k += 1;
        }
        text
    };
    // The config with `encryptor` lines in its [Encryptor] section and `allowed` after its
    // peer's AllowedIPs.
    let config = |encryptor: &str, allowed: &str| {
        format!(
            "[Interface]\nPrivateKey = {}\nListenPort = 51820\n\n[Encryptor]\nRedAddress = 10.1.0.1/24\nBlackAddress = 192.0.2.1/24\nBlackGateway = 192.0.2.254\n{encryptor}\n[Peer]\nPublicKey = {}\nAllowedIPs = 10.0.0.1{allowed}\n",
            keys.0, keys.1
        )
    };
    let allowed = |item: &dyn Fn(usize) -> String| config("", &fill(String::new(), item));
    let v4 = |k: usize| format!("10.{}.{}.0/24", 10 + k / 250, k % 250);
    vec![
        ("IPv4 /24s, a line each", allowed(&|k| format!("\nAllowedIPs = {}", v4(k)))),
        ("IPv6 hosts, a line each", allowed(&|k| format!("\nAllowedIPs = ::{:x}", k + 2))),
        ("IPv4 /24s in one list", allowed(&|k| format!(",{}", v4(k)))),
        ("IPv6 hosts in one list", allowed(&|k| format!(",::{:x}", k + 2))),
        ("one network repeated", allowed(&|_| ",::2".into())),
        ("one network, other host bits", allowed(&|k| format!(",10.9.{}.{}/16", k / 250 % 250, k % 250))),
        ("comments", allowed(&|k| format!("\n# a note about the site, number {k}"))),
        ("Bypass rules", config(&fill("Bypass = fd10::/64".into(), &|k| format!(",fd10:{:x}::/64", k + 1)), "")),
    ]
}

/// Peak heap bytes of what a PD does with the config `text` at start: reading it (every PD),
/// then crypto's routing table (`Crypto::new`; a worker builds the same table), net_red's rule
/// table (`rule_table`, what `NetRed::new` builds) or net_black's (the same rules).
fn peak_starting_with(text: &str, pd_kind: &str) -> usize {
    let pd = TestPd::new(&format!("prefixes_{pd_kind}_{}", text.len()));
    let region = pd.region("config", text.len() + 1);
    // SAFETY: the region was just made, `text.len() + 1` bytes, and only this thread uses it.
    unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), region.base().as_ptr(), text.len()) };
    let _red = pd.link("red", 16);
    let _black = pd.link("black", 16);
    pd.enter();
    IN_USE.set(0);
    PEAK.set(0);
    MEASURED.set(true);
    let (crypto, red, black) = encryptor_config::parse_region(region).unwrap().into_parts();
    match pd_kind {
        "crypto" => drop(Crypto::new(crypto).unwrap()),
        "net_red" => drop((encryptor_config::rule_table(&red.rules), red, crypto)),
        _ => drop((encryptor_config::rule_table(&black.rules), black, crypto)),
    }
    MEASURED.set(false);
    PEAK.get() as usize
}

/// Heap a PD that reads a config may use beyond what the root task adds for it, out of its fixed
/// part (system.xml's `heap_size`): the parse's own small state.
const UNCOUNTED_SLACK: usize = 16 << 10;

/// A config's prefixes and text take heap in every PD that reads it (the stack PDs, crypto,
/// workers), whatever the peer count: one peer with thousands of prefixes (a site that routes
/// many networks through one tunnel) once needed 3 MB to start, which the stack PDs' fixed 1 MiB
/// and crypto's 288 KiB for one peer did not hold; a line of repeats, or a long comment, took
/// heap nothing counted. The root task adds the text's size and `heap_per_prefix` for each
/// prefix it counts (`Config::prefixes`): for each way of filling the region, what starting
/// takes beyond the smallest such config is within the text plus three quarters of that, for
/// every PD that maps a config region in every system file.
#[test]
fn every_pd_that_reads_the_config_gets_heap_for_its_prefixes_and_text() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut per_prefix = u64::MAX;
    for (file, xml) in system_files(root) {
        let sys = sdf::System::parse(&xml).unwrap();
        let config_regions: Vec<&str> = sys.memory_regions.iter().filter(|r| r.role == Some(sdf::RegionRole::Config)).map(|r| r.name.as_str()).collect();
        for pd in sys.protection_domains.iter().filter(|pd| pd.maps.iter().any(|m| config_regions.contains(&m.mr.as_str()))) {
            assert!(pd.heap_peers_of.is_some(), "{file}: {} reads a config but its heap is not sized on it", pd.name);
            per_prefix = per_prefix.min(pd.heap_per_prefix);
        }
    }
    let small = &prefix_heavy_configs(0)[0].1;
    let small_prefixes = encryptor_config::Config::parse(small).unwrap().prefixes;
    for (what, text) in prefix_heavy_configs(250_000) {
        let prefixes = encryptor_config::Config::parse(&text).unwrap().prefixes;
        let allowance = (text.len() - small.len()) + (prefixes - small_prefixes) * per_prefix as usize * 3 / 4 + UNCOUNTED_SLACK;
        for pd_kind in ["crypto", "net_red", "net_black"] {
            let growth = peak_starting_with(&text, pd_kind).saturating_sub(peak_starting_with(small, pd_kind));
            println!("{what} ({prefixes} prefixes, {} bytes), {pd_kind}: {growth} heap bytes more, {allowance} allowed", text.len());
            assert!(growth <= allowance, "{what}: {pd_kind} takes {growth} heap bytes more; the root task gives {} with {per_prefix} per prefix", allowance - UNCOUNTED_SLACK);
        }
    }
}

/// How a burst queued for a handshake leaves the queue.
#[derive(Clone, Copy, Debug)]
enum Drain {
    /// The peer never answers: boringtun gives up at REKEY_ATTEMPT_TIME and empties the queue.
    GivenUp,
    /// The peer answers: the queue is sealed and sent, packet by packet.
    Handshake,
}

/// Heap bytes a crypto PD (and, for [`Drain::Handshake`], its peer) keeps after `packets` of the
/// smallest size (the most entries a queue can hold: boringtun's 256) were queued for one peer and
/// left the queue by `drain`. A queue that kept the capacity its burst grew (256 entries of 24
/// bytes, boringtun's own behaviour) would hold some 6 KiB in each peer for good: at 256 peers,
/// the margin the heap budget leaves. (A drained queue keeps at most 8 entries' worth.)
fn kept_after_a_queued_burst(packets: usize, drain: Drain) -> isize {
    let pd = TestPd::new(&format!("crypto_queue_kept_{packets}_{drain:?}"));
    let mut red = pd.link("red", 256);
    let mut black = pd.link("black", 512);
    let far = TestPd::new(&format!("crypto_queue_far_{packets}_{drain:?}"));
    let _far_red = far.link("red", 512);
    let mut far_black = far.link("black", 64);
    pd.enter();
    IN_USE.set(0);
    PEAK.set(0);
    MEASURED.set(true);
    let mut crypto = Crypto::new(config(2)).unwrap();
    far.enter();
    // Peer 0 of `config`, whose endpoint is 192.0.2.1:51820; it learns ours from the initiation.
    let mut far_secret = [0u8; 32];
    far_secret[1..9].copy_from_slice(&100u64.to_le_bytes());
    let mut us = peer(0);
    us.public_key = PublicKey::from(&StaticSecret::from([1; 32])).to_bytes();
    us.endpoint = None;
    us.allowed_ips = vec!["10.1.0.0/24".parse().unwrap()];
    let mut far_crypto =
        Crypto::new(CryptoConfig { private_key: far_secret, listen_port: 51820, mtu: 1420, peers: vec![us] }).unwrap();
    pd.enter();
    for n in 0..packets {
        red.send(&ipv4([10, 10, 0, 2], &[]));
        if n % 64 == 63 || n + 1 == packets {
            pd.enter();
            crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
        }
    }
    let queued = crypto.queued_bytes();
    match drain {
        Drain::GivenUp => {
            black.drain();
            for _ in 0..100 {
                pd.advance_ns(1_000_000_000);
                pd.enter();
                crypto.notified(ChannelSet::EMPTY.with(pd_crypto::TIMER)).unwrap();
                black.drain();
            }
        }
        Drain::Handshake => {
            // Each datagram's endpoint header (its destination, as crypto wrote it) is replaced
            // by its sender's address, as the receiving side's net_black would write it.
            let ours: std::net::SocketAddr = "192.0.2.200:51820".parse().unwrap();
            for m in black.drain() {
                let (pd_proto::EndpointHeader(_), payload) = pd_proto::EndpointHeader::parse(&m).unwrap();
                let mut buf = vec![0u8; pd_proto::ENDPOINT_HEADER_LEN + payload.len()];
                pd_proto::EndpointHeader(ours).emit(&mut buf);
                buf[pd_proto::ENDPOINT_HEADER_LEN..].copy_from_slice(payload);
                far_black.send(&buf);
            }
            far.enter();
            far_crypto.notified(ChannelSet::EMPTY.with(BLACK)).unwrap();
            for m in far_black.drain() {
                let (pd_proto::EndpointHeader(_), payload) = pd_proto::EndpointHeader::parse(&m).unwrap();
                let mut buf = vec![0u8; pd_proto::ENDPOINT_HEADER_LEN + payload.len()];
                pd_proto::EndpointHeader("192.0.2.1:51820".parse().unwrap()).emit(&mut buf);
                buf[pd_proto::ENDPOINT_HEADER_LEN..].copy_from_slice(payload);
                black.send(&buf);
            }
            pd.enter();
            crypto.notified(ChannelSet::EMPTY.with(BLACK)).unwrap();
            let sent = black.drain();
            assert!(sent.len() >= packets.min(256), "{} data messages after the handshake", sent.len());
        }
    }
    assert!(queued > 0 && crypto.queued_bytes() == 0, "{drain:?}: queued {queued} bytes, {} left", crypto.queued_bytes());
    let kept = IN_USE.get();
    MEASURED.set(false);
    drop(crypto);
    drop(far_crypto);
    kept
}

#[test]
fn a_queue_that_empties_gives_back_the_memory_its_burst_took() {
    for drain in [Drain::GivenUp, Drain::Handshake] {
        let one = kept_after_a_queued_burst(1, drain);
        let full = kept_after_a_queued_burst(300, drain);
        println!("{drain:?}: heap kept after a queue of 1 and of 256 packets: {one} and {full} B");
        assert!(full - one < 1024, "{drain:?}: a queue of 256 packets left {} more bytes in the heap than one of 1", full - one);
    }
}

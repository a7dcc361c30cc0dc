//! The crypto PD's heap need, measured: on seL4 it gets a fixed heap (`HEAP_BUDGET_BYTES`), so a
//! configuration it accepts must fit in it with every peer blackholed and the handshake queue
//! budget full, and one with more peers than fit must be refused at start with a clear error.

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use pd_api::{ChannelSet, Handler};
use pd_crypto::{Crypto, InitError, HEAP_BUDGET_BYTES, MAX_PEERS, RED};
use pd_testkit::{FarEnd, TestPd};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (GlobalAlloc contract).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from alloc with this layout (GlobalAlloc contract).
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
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
/// full-size packets to every one of them (initiations out, the queue budget filled).
fn peak_with_blackholed_peers(pd: &'static TestPd, red: &mut FarEnd, black: &mut FarEnd, peers: usize) -> usize {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut crypto = Crypto::new(config(peers)).unwrap();
    for _round in 0..4 {
        for k in 0..peers {
            for _ in 0..4 {
                red.send(&ipv4([10, (10 + k / 250) as u8, (k % 250) as u8, 2], &[k as u8; 1380]));
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
    PEAK.load(Ordering::Relaxed) - before
}

#[test]
fn the_most_peers_accepted_fit_the_heap_with_every_queue_full() {
    let pd = TestPd::new("crypto_heap");
    let mut red = pd.link("red", 256);
    let mut black = pd.link("black", 256);
    pd.enter();
    let one = peak_with_blackholed_peers(pd, &mut red, &mut black, 1);
    let most = peak_with_blackholed_peers(pd, &mut red, &mut black, MAX_PEERS);
    let per_peer = (most - one) / (MAX_PEERS - 1);
    println!("heap peak: 1 peer {one} B, {MAX_PEERS} peers {most} B (~{per_peer} B a peer) of {HEAP_BUDGET_BYTES}");
    // A quarter kept free: the allocator's own overhead and fragmentation on seL4.
    assert!(most <= HEAP_BUDGET_BYTES * 3 / 4, "{MAX_PEERS} peers need {most} bytes");
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
        Ok(_) => panic!("accepted more peers than its heap holds"),
    }
}

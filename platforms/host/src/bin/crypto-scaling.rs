//! `crypto-scaling [--workers 0,1,2,4] [--seconds S] [--reps N]`: how the crypto stage's
//! throughput grows with crypto workers, on the host runtime (a thread per PD, eventfd
//! notifications, shared mappings: platform.rs, the same as `encryptor-host`).
//!
//! One crypto PD with `w` crypto worker PDs, wired as `support/lib/netlab.py`'s
//! `with_crypto_workers` wires them (a job link each, the session table shared, the workers
//! mapping crypto's ring data), seals 1420-byte packets as fast as it can take them:
//! - a source PD keeps crypto's red ring full of one IPv4 packet to the peer's network (what
//!   net_red would send: one 1420-byte copy per packet);
//! - a wire PD stands for net_black and the network: it passes handshake messages between this
//!   crypto and a second crypto PD (the peer, no workers), rewriting the endpoint header as the
//!   black stack and the peer's would, and counts and drops every data message;
//! - the rate is data messages per second at the wire over `S` seconds, after the first one
//!   (the handshake and the queue it held are not counted).
//!
//! `w = 0` is the product's system.xml today: crypto seals itself. The PD threads are not
//! pinned (Linux places them), so on a host with fewer cores than busy threads the figure says
//! what the cores allow, not what the design would give on more. Prints progress to stderr and
//! a table plus `RESULT` lines to stdout.

#[path = "../platform.rs"]
#[allow(dead_code)]
mod platform;

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion};
use pd_ring::{Layout, Link};
use platform::{HostPd, Mapping, Signal, STOP};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Plaintext per packet: a full tunnel MTU, as in costbench.
const PAYLOAD: usize = 1420;
/// Slots of crypto's red and black rings (system.xml's 1 MiB rings).
const RING_SLOTS: u32 = 512;
/// Slots of each job link (with_crypto_workers' 32 KiB rings).
const JOB_SLOTS: u32 = 16;
/// WireGuard's data message type.
const DATA_MESSAGE: u8 = 4;
/// The tunnel MTU of both crypto PDs: PAYLOAD fills it.
const MTU: u16 = PAYLOAD as u16;
/// A data message of one PAYLOAD packet: header (16), the packet padded to 16 but not past the
/// MTU (so not at all), the tag (16).
const SEALED_LEN: usize = 16 + PAYLOAD + 16;
/// A keepalive: a data message with nothing in it.
const KEEPALIVE_LEN: usize = 32;
/// One data message in this many goes on to the peer, which opens it.
const SAMPLE_EVERY: u64 = 1024;
/// The longest the handshake and the first data message may take.
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

const A_ENDPOINT: &str = "192.0.2.1:51820";
const B_ENDPOINT: &str = "192.0.2.2:51820";

/// A shared region (leaked: the process is short-lived and PD threads hold its address).
fn region(bytes: usize) -> MemoryRegion {
    let m = Mapping::new(bytes).unwrap_or_else(|e| panic!("mmap of {bytes} bytes: {e}"));
    Box::leak(Box::new(m)).region()
}

/// One PD being wired: its regions by setvar name and its channels.
struct PdWiring {
    name: String,
    signal: Arc<Signal>,
    regions: HashMap<String, MemoryRegion>,
    channels: HashMap<usize, (Arc<Signal>, usize)>,
}

impl PdWiring {
    fn new(name: &str) -> Self {
        let signal = Arc::new(Signal::new().expect("eventfd"));
        Self { name: name.into(), signal, regions: HashMap::new(), channels: HashMap::new() }
    }

    fn into_pd(self, epoch: Instant) -> &'static HostPd {
        Box::leak(Box::new(HostPd { name: self.name, signal: self.signal, regions: self.regions, channels: self.channels, epoch, fault_at: None, fault_due: false.into() }))
    }
}

/// A link between `a` (its link `a_link` on channel `a_ch`) and `b`, as system.xml makes one:
/// two rings, each end mapping `<link>_tx_*` for what it sends and `<link>_rx_*` for what it
/// receives. Returns the data regions (a → b, b → a).
fn connect(a: &mut PdWiring, a_link: &str, a_ch: usize, b: &mut PdWiring, b_link: &str, b_ch: usize, slots: u32) -> [MemoryRegion; 2] {
    let layout = Layout::new(slots);
    let ab = (region(layout.data_bytes()), region(layout.ctl_bytes()));
    let ba = (region(layout.data_bytes()), region(layout.ctl_bytes()));
    for (pd, link, tx, rx) in [(&mut *a, a_link, ab, ba), (&mut *b, b_link, ba, ab)] {
        pd.regions.insert(format!("{link}_tx_data"), tx.0);
        pd.regions.insert(format!("{link}_tx_ctl"), tx.1);
        pd.regions.insert(format!("{link}_rx_data"), rx.0);
        pd.regions.insert(format!("{link}_rx_ctl"), rx.1);
    }
    a.channels.insert(a_ch, (b.signal.clone(), b_ch));
    b.channels.insert(b_ch, (a.signal.clone(), a_ch));
    [ab.0, ba.0]
}

fn peer(secret: [u8; 32], endpoint: Option<&str>, allowed: &str) -> PeerConfig {
    PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from(secret)).to_bytes(),
        preshared_key: None,
        endpoint: endpoint.map(|e| e.parse().expect("endpoint")),
        allowed_ips: vec![allowed.parse::<Prefix>().expect("prefix")],
        persistent_keepalive: None,
    }
}

fn ipv4_packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[..20].copy_from_slice(&[0x45, 0, (len >> 8) as u8, len as u8, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2]);
    let mut s: u32 = p[..20].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    p[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    p
}

/// Stands for net_red: keeps crypto's red ring full of `packet`.
struct Source {
    crypto: Link,
    packet: Vec<u8>,
}

impl Handler for Source {
    type Error = pd_ring::RingError;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.crypto.sync();
        loop {
            while self.crypto.tx.send(&self.packet)? {}
            self.crypto.signal_peer();
            // Full: ask for a signal when crypto frees a slot, then look once more.
            self.crypto.tx.request_free_signal();
            if !self.crypto.tx.has_room() {
                break;
            }
        }
        // Crypto sends nothing to the red side here; whatever comes is dropped.
        while let Some(t) = self.crypto.rx.take()? {
            self.crypto.rx.release(t.offset)?;
        }
        self.crypto.arm();
        Ok(())
    }
}

/// Stands for both black stacks and the network between the two crypto PDs: handshake
/// messages pass (their endpoint header rewritten to the sender's address, as the receiving
/// black stack writes it), data messages from `a` are counted and dropped.
struct Wire {
    a: Link,
    b: Link,
    counts: Arc<Counts>,
    buf: Vec<u8>,
}

/// What the wire and the peer's red side saw.
#[derive(Default)]
struct Counts {
    /// Data messages from the crypto PD under test.
    sealed: AtomicU64,
    /// Of those, messages not of a 1420-byte packet's sealed length.
    wrong_length: AtomicU64,
    /// Packets the peer's crypto PD opened (of the sampled messages).
    opened: AtomicU64,
}

impl Wire {
    /// Moves everything `from` received to `to`, rewriting the endpoint header to `source`;
    /// with `counts` (the data messages of `a`), data messages are counted and only one in
    /// [`SAMPLE_EVERY`] passes (the peer opening it shows that the bench seals real messages).
    fn pass(from: &mut Link, to: &mut Link, source: &str, buf: &mut [u8], counts: Option<&Counts>) -> Result<(), pd_ring::RingError> {
        let header = pd_proto::ENDPOINT_HEADER_LEN;
        while let Some(t) = from.rx.take()? {
            // The type byte first: most messages go no further.
            let is_data = t.copy_to(&mut buf[..=header]) > header && buf[header] == DATA_MESSAGE;
            let forward = match counts {
                Some(c) if is_data => match t.len as usize - header {
                    SEALED_LEN => c.sealed.fetch_add(1, Ordering::Relaxed) % SAMPLE_EVERY == 0,
                    KEEPALIVE_LEN => false,
                    _ => {
                        c.wrong_length.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                },
                _ => true,
            };
            if forward {
                let len = t.copy_to(buf);
                pd_proto::EndpointHeader(source.parse().expect("endpoint")).emit(&mut buf[..len]);
                // A full ring drops the message, as a network would.
                let _ = to.tx.send(&buf[..len])?;
            }
            from.rx.release(t.offset)?;
        }
        Ok(())
    }
}

impl Handler for Wire {
    type Error = pd_ring::RingError;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        loop {
            self.a.sync();
            self.b.sync();
            Self::pass(&mut self.a, &mut self.b, A_ENDPOINT, &mut self.buf, Some(&self.counts))?;
            Self::pass(&mut self.b, &mut self.a, B_ENDPOINT, &mut self.buf, None)?;
            self.b.signal_peer();
            self.a.signal_peer();
            if !self.a.arm() && !self.b.arm() {
                return Ok(());
            }
        }
    }
}

/// Stands for the peer's net_red: counts and drops the packets the peer's crypto opened.
struct Sink {
    crypto: Link,
    counts: Arc<Counts>,
}

impl Handler for Sink {
    type Error = pd_ring::RingError;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.crypto.sync();
        while let Some(t) = self.crypto.rx.take()? {
            if t.len as usize == PAYLOAD {
                self.counts.opened.fetch_add(1, Ordering::Relaxed);
            }
            self.crypto.rx.release(t.offset)?;
        }
        self.crypto.signal_peer();
        self.crypto.arm();
        Ok(())
    }
}

/// A PD thread and its kernel thread id (for its CPU time).
struct PdThread {
    handle: thread::JoinHandle<u64>,
    tid: Arc<AtomicU64>,
}

/// Runs `make`'s handler on `pd` until STOP (the loop of encryptor-host's PD threads).
fn spawn<H: Handler + 'static>(pd: &'static HostPd, make: impl FnOnce() -> H + Send + 'static) -> PdThread {
    let tid = Arc::new(AtomicU64::new(0));
    let mine = tid.clone();
    let handle = thread::Builder::new()
        .name(pd.name.clone())
        .spawn(move || {
            // SAFETY: gettid has no arguments and cannot fail.
            mine.store(unsafe { libc::gettid() } as u64, Ordering::Relaxed);
            pd_api::set_platform(pd);
            let mut handler = make();
            platform::serve_until_stop(pd, &mut handler)
        })
        .expect("thread");
    PdThread { handle, tid }
}

/// Nanoseconds thread `tid` of this process has run on a CPU (the scheduler's own account).
fn cpu_ns(tid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The stage a PD thread stands for in the report.
fn stage(name: &str) -> &'static str {
    match name {
        "crypto" => "crypto",
        n if n.starts_with("crypto_worker_") => "workers",
        "source" => "source (net_red)",
        "wire" => "wire (net_black)",
        _ => "peer",
    }
}

/// The report's stages, in order.
const STAGES: [&str; 5] = ["crypto", "workers", "source (net_red)", "wire (net_black)", "peer"];

/// What one run measured.
struct Run {
    /// Data messages per second at the wire.
    pps: f64,
    /// CPU nanoseconds per packet of each of STAGES.
    ns_per_packet: [f64; 5],
}

/// One run with `workers` crypto workers.
fn run(workers: usize, seconds: f64) -> Run {
    let epoch = Instant::now();
    let mut crypto = PdWiring::new("crypto");
    let mut peer_crypto = PdWiring::new("peer_crypto");
    let mut source = PdWiring::new("source");
    let mut wire = PdWiring::new("wire");
    let mut sink = PdWiring::new("sink");
    let [red_in, red_out] = connect(&mut source, "crypto", 0, &mut crypto, "red", pd_crypto::RED.index(), RING_SLOTS);
    let [black_out, black_in] = connect(&mut crypto, "black", pd_crypto::BLACK.index(), &mut wire, "a", 0, RING_SLOTS);
    connect(&mut peer_crypto, "black", pd_crypto::BLACK.index(), &mut wire, "b", 1, RING_SLOTS);
    connect(&mut sink, "crypto", 0, &mut peer_crypto, "red", pd_crypto::RED.index(), RING_SLOTS);
    let mut worker_pds = Vec::new();
    if workers > 0 {
        let keys = region(pd_session::SessionTable::bytes_for(1));
        crypto.regions.insert("session_keys".into(), keys);
        for n in 0..workers {
            let mut w = PdWiring::new(&format!("crypto_worker_{n}"));
            connect(&mut crypto, &format!("worker{n}"), 3 + n, &mut w, "crypto", pd_crypto_worker::CRYPTO.index(), JOB_SLOTS);
            for (name, r) in [("session_keys", keys), ("red_in_data", red_in), ("red_out_data", red_out), ("black_in_data", black_in), ("black_out_data", black_out)] {
                w.regions.insert(name.into(), r);
            }
            worker_pds.push(w.into_pd(epoch));
        }
    }
    let (crypto, peer_crypto) = (crypto.into_pd(epoch), peer_crypto.into_pd(epoch));
    let (source, wire, sink) = (source.into_pd(epoch), wire.into_pd(epoch), sink.into_pd(epoch));
    let mut all = vec![crypto, peer_crypto, source, wire, sink];
    all.extend(&worker_pds);

    STOP.store(false, Ordering::SeqCst);
    let counts = Arc::new(Counts::default());
    let mut threads = vec![
        spawn(peer_crypto, || {
            pd_crypto::Crypto::new(CryptoConfig { private_key: [2; 32], listen_port: 51820, mtu: MTU, peers: vec![peer([1; 32], None, "10.1.0.0/24")] })
                .expect("the peer's crypto PD")
        }),
        spawn(sink, {
            let counts = counts.clone();
            move || Sink { crypto: Link::open("crypto", Channel::new(0)).expect("sink link"), counts }
        }),
    ];
    for w in worker_pds {
        threads.push(spawn(w, || pd_crypto_worker::CryptoWorker::new(vec![vec!["10.2.0.0/24".parse().expect("prefix")]]).expect("crypto worker")));
    }
    threads.push(spawn(crypto, || {
        let peers = vec![peer([2; 32], Some(B_ENDPOINT), "10.2.0.0/24")];
        pd_crypto::Crypto::new(CryptoConfig { private_key: [1; 32], listen_port: 51820, mtu: MTU, peers }).expect("crypto PD")
    }));
    let counted = counts.clone();
    threads.push(spawn(wire, move || Wire {
        a: Link::open("a", Channel::new(0)).expect("wire link a"),
        b: Link::open("b", Channel::new(1)).expect("wire link b"),
        counts: counted,
        buf: vec![0; pd_ring::SLOT_SIZE],
    }));
    // No start-up order is needed: a ring opened at first start writes nothing shared, and a
    // notification raised before its PD waits stays pending.
    threads.push(spawn(source, || Source { crypto: Link::open("crypto", Channel::new(0)).expect("source link"), packet: ipv4_packet(PAYLOAD) }));

    let started = Instant::now();
    while counts.sealed.load(Ordering::Relaxed) == 0 {
        if started.elapsed() > FIRST_MESSAGE_TIMEOUT {
            eprintln!("crypto-scaling: no data message within {FIRST_MESSAGE_TIMEOUT:?} ({workers} workers): no session?");
            stop(threads, &all);
            std::process::exit(1);
        }
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(200));
    let cpu = |threads: &[PdThread]| threads.iter().map(|t| cpu_ns(t.tid.load(Ordering::Relaxed))).collect::<Vec<_>>();
    let (n0, t0, cpu0) = (counts.sealed.load(Ordering::Relaxed), Instant::now(), cpu(&threads));
    thread::sleep(Duration::from_secs_f64(seconds));
    let (n1, t1, cpu1) = (counts.sealed.load(Ordering::Relaxed), Instant::now(), cpu(&threads));
    let mut ns_per_packet = [0f64; 5];
    for (i, t) in threads.iter().enumerate() {
        let k = STAGES.iter().position(|&s| s == stage(t.handle.thread().name().unwrap_or(""))).unwrap_or(4);
        ns_per_packet[k] += (cpu1[i] - cpu0[i]) as f64 / (n1 - n0).max(1) as f64;
    }
    stop(threads, &all);
    let (wrong, opened) = (counts.wrong_length.load(Ordering::Relaxed), counts.opened.load(Ordering::Relaxed));
    // The count after every thread has joined: sealing goes on between n1 and the stop, and
    // the messages sampled then may be opened too.
    let sampled = counts.sealed.load(Ordering::Relaxed).div_ceil(SAMPLE_EVERY);
    // The sample passes a ring that drops when full, so a few may be missing; none opening, or
    // a message of another length, means the bench measured something other than sealing.
    if wrong > 0 || opened == 0 || opened > sampled {
        eprintln!("crypto-scaling: {workers} worker(s): {wrong} data messages of the wrong length, {opened} of {sampled} sampled opened by the peer");
        std::process::exit(1);
    }
    Run { pps: (n1 - n0) as f64 / (t1 - t0).as_secs_f64(), ns_per_packet }
}

/// Stops and joins every PD thread; exits the bench if any failed (its figure would be of
/// something else than the crypto stage working).
fn stop(threads: Vec<PdThread>, pds: &[&'static HostPd]) {
    STOP.store(true, Ordering::SeqCst);
    for pd in pds {
        pd.signal.wake();
    }
    let mut failed = false;
    for t in threads {
        let name = t.handle.thread().name().unwrap_or("?").to_string();
        match t.handle.join() {
            Ok(0) => {}
            Ok(errors) => {
                eprintln!("crypto-scaling: {name}: {errors} handler errors");
                failed = true;
            }
            Err(_) => {
                eprintln!("crypto-scaling: {name} panicked");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

fn main() {
    let mut workers = vec![0, 1, 2, 4];
    let (mut seconds, mut reps) = (3.0, 3);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--workers" => workers = v.split(',').map(|w| w.parse().expect("--workers: counts like 0,1,2,4")).collect(),
            "--seconds" => seconds = v.parse().expect("--seconds: a number"),
            "--reps" => reps = v.parse().expect("--reps: a count"),
            _ => {
                eprintln!("usage: crypto-scaling [--workers 0,1,2,4] [--seconds S] [--reps N]");
                std::process::exit(2);
            }
        }
    }
    let cores = platform::allowed_cpus().map(|c| c.len()).unwrap_or(0);
    let mut runs: Vec<Vec<Run>> = workers.iter().map(|_| Vec::new()).collect();
    // Alternated, so that a slow spell of the host hits every configuration alike.
    for rep in 1..=reps {
        for (i, &w) in workers.iter().enumerate() {
            let r = run(w, seconds);
            eprintln!("crypto-scaling: rep {rep}/{reps}: {w} worker(s): {:.0} packets/s ({:.0} Mbit/s of plaintext)", r.pps, r.pps * (PAYLOAD * 8) as f64 / 1e6);
            runs[i].push(r);
        }
    }
    let median = |v: Vec<f64>| {
        let mut s = v;
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let pps: Vec<f64> = runs.iter().map(|r| median(r.iter().map(|r| r.pps).collect())).collect();
    println!("host CPUs: {cores}; {reps} runs of {seconds} s each, alternated; 1420-byte packets sealed");
    println!();
    println!("| crypto workers | packets/s, median (min-max) | Mbit/s of plaintext | ÷ {} workers |", workers[0]);
    println!("|---|---|---|---|");
    for (i, &w) in workers.iter().enumerate() {
        let (lo, hi) = runs[i].iter().fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(r.pps), hi.max(r.pps)));
        println!("| {w} | {:.0} ({lo:.0}-{hi:.0}) | {:.0} | {:.2} |", pps[i], pps[i] * (PAYLOAD * 8) as f64 / 1e6, pps[i] / pps[0]);
    }
    println!();
    println!("CPU time per packet (ns, median over runs; the scheduler's account of each PD thread):");
    println!();
    println!("| crypto workers | {} | all | CPUs busy |", STAGES.join(" | "));
    println!("|---|{}---|---|", "---|".repeat(STAGES.len()));
    for (i, &w) in workers.iter().enumerate() {
        let per: Vec<f64> = (0..STAGES.len()).map(|k| median(runs[i].iter().map(|r| r.ns_per_packet[k]).collect())).collect();
        let all: f64 = per.iter().sum();
        let cells: Vec<String> = per.iter().map(|ns| format!("{ns:.0}")).collect();
        println!("| {w} | {} | {all:.0} | {:.2} |", cells.join(" | "), all * pps[i] / 1e9);
    }
    for (i, &w) in workers.iter().enumerate() {
        println!("RESULT crypto_workers_{w}_pps {:.0}", pps[i]);
    }
}

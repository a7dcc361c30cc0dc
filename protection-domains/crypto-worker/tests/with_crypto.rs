//! Crypto PDs with crypto workers, talking WireGuard to each other through fake stack PDs: the
//! regions and links are the ones system.xml gives them (the workers map crypto's ring data
//! regions and the session table), and every PD runs on its own platform, one after the other.

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use pd_api::{ChannelSet, Handler};
use pd_crypto::{Crypto, BLACK, RED};
use pd_crypto_worker::CryptoWorker;
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_session::SessionTable;
use pd_testkit::{FarEnd, TestPd};
use std::net::SocketAddr;

struct Encryptor {
    pd: &'static TestPd,
    crypto: Crypto,
    red: FarEnd,
    black: FarEnd,
    workers: Vec<(&'static TestPd, CryptoWorker)>,
    addr: SocketAddr,
}

fn public(secret: [u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(secret)).to_bytes()
}

fn peer(secret: [u8; 32], endpoint: Option<&str>, allowed: &[&str]) -> PeerConfig {
    PeerConfig {
        public_key: public(secret),
        preshared_key: Some([7; 32]),
        endpoint: endpoint.map(|e| e.parse().unwrap()),
        allowed_ips: allowed.iter().map(|a| a.parse::<Prefix>().unwrap()).collect(),
        persistent_keepalive: None,
    }
}

/// An encryptor's crypto side with `n` workers, wired as system.xml wires them.
fn make(name: &str, secret: [u8; 32], addr: &str, peers: Vec<PeerConfig>, n: usize) -> Encryptor {
    make_with_fakes(name, secret, addr, peers, n, 0).0
}

/// As [`make`], and after the `n` workers `fakes` more worker links with no worker PD behind
/// them: the test plays those workers (or leaves them silent) through the far ends returned.
fn make_with_fakes(name: &str, secret: [u8; 32], addr: &str, peers: Vec<PeerConfig>, n: usize, fakes: usize) -> (Encryptor, Vec<FarEnd>) {
    let pd = TestPd::new(name);
    let red = pd.link("red", 64);
    let black = pd.link("black", 64);
    let keys = pd.region("session_keys", SessionTable::bytes_for(peers.len()));
    let allowed: Vec<Vec<Prefix>> = peers.iter().map(|p| p.allowed_ips.clone()).collect();
    let mut workers = Vec::new();
    for k in 0..n {
        let wpd = TestPd::new(&format!("{name}_worker{k}"));
        pd.connect(&format!("worker{k}"), wpd, "crypto", 16);
        wpd.map("session_keys", keys);
        for (theirs, mine) in [("red_rx_data", "red_in_data"), ("red_tx_data", "red_out_data"), ("black_rx_data", "black_in_data"), ("black_tx_data", "black_out_data")] {
            wpd.map(mine, pd.mapped(theirs).unwrap());
        }
        workers.push((wpd, CryptoWorker::new(allowed.clone()).unwrap()));
    }
    let fake_ends = (n..n + fakes).map(|k| pd.link(&format!("worker{k}"), 16)).collect();
    pd.enter();
    let crypto = Crypto::new(CryptoConfig { private_key: secret, listen_port: 51820, mtu: 1420, peers }).unwrap();
    (Encryptor { pd, crypto, red, black, workers, addr: addr.parse().unwrap() }, fake_ends)
}

/// A PD's `status` lines.
fn status(pd: &dyn Handler<Error = pd_ring::RingError>) -> Vec<String> {
    let mut lines = Vec::new();
    pd.status(&mut |line| lines.push(line.to_string()));
    lines
}

fn counter(pd: &dyn Handler<Error = pd_ring::RingError>, name: &str) -> u64 {
    let mut v = None;
    pd.counters(&mut |k, n| {
        if k == name {
            v = Some(n)
        }
    });
    v.unwrap_or_else(|| panic!("no counter {name}"))
}

impl Encryptor {
    /// Runs crypto, then each worker, until the workers have nothing left to do (then crypto
    /// has completed every job).
    fn run(&mut self, ch: pd_api::Channel) {
        for _ in 0..100 {
            self.pd.enter();
            self.crypto.notified(ChannelSet::EMPTY.with(ch)).unwrap();
            let before = self.batches();
            for (wpd, w) in &mut self.workers {
                wpd.enter();
                w.notified(ChannelSet::EMPTY).unwrap();
            }
            if self.batches() == before {
                return;
            }
        }
        panic!("the workers never ran dry");
    }
    fn batches(&self) -> u64 {
        self.workers.iter().map(|(_, w)| counter(w, "job_batches")).sum()
    }
    fn counter(&self, name: &str) -> u64 {
        counter(&self.crypto, name)
    }
    /// A counter of each worker.
    fn worker_counters(&self, name: &str) -> Vec<u64> {
        self.workers.iter().map(|(_, w)| counter(w, name)).collect()
    }
    fn sent(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.black
            .drain()
            .into_iter()
            .map(|m| {
                let (EndpointHeader(to), payload) = EndpointHeader::parse(&m).unwrap();
                (to, payload.to_vec())
            })
            .collect()
    }
    /// Delivers datagrams from `from` to this encryptor, all before it runs.
    fn receive(&mut self, from: SocketAddr, msgs: &[Vec<u8>]) {
        for msg in msgs {
            let mut buf = vec![0u8; ENDPOINT_HEADER_LEN + msg.len()];
            EndpointHeader(from).emit(&mut buf);
            buf[ENDPOINT_HEADER_LEN..].copy_from_slice(msg);
            self.black.send(&buf);
        }
        self.run(BLACK);
    }
}

/// Moves every datagram `from` sent into `to`; returns the messages.
fn shuttle(from: &mut Encryptor, to: &mut Encryptor) -> Vec<Vec<u8>> {
    let msgs: Vec<Vec<u8>> = from.sent().into_iter().map(|(dst, m)| {
        assert_eq!(dst, to.addr, "sent to the peer's endpoint");
        m
    }).collect();
    to.receive(from.addr, &msgs);
    msgs
}

fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

const A: [u8; 32] = [1; 32];
const B: [u8; 32] = [2; 32];

/// Two encryptors with `workers` workers each, a handshake done and one packet through.
fn established(workers: usize) -> (Encryptor, Encryptor) {
    let (a, b, _) = established_with_fakes(workers, 0);
    (a, b)
}

/// As [`established`], with `fakes` more worker links on enc_a ([`make_with_fakes`]) that get
/// no job before this returns (crypto seals the first packet itself).
fn established_with_fakes(workers: usize, fakes: usize) -> (Encryptor, Encryptor, Vec<FarEnd>) {
    let (mut a, fake_ends) = make_with_fakes("crypto_a", A, "192.0.2.1:51820", vec![peer(B, Some("192.0.2.2:51820"), &["10.2.0.0/24"])], workers, fakes);
    let mut b = make("crypto_b", B, "192.0.2.2:51820", vec![peer(A, None, &["10.1.0.0/24"])], workers);
    let first = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"first");
    a.red.send(&first);
    a.run(RED);
    shuttle(&mut a, &mut b); // initiation
    shuttle(&mut b, &mut a); // response
    shuttle(&mut a, &mut b); // the queued packet, sealed by crypto itself
    assert_eq!(b.red.drain(), vec![first]);
    (a, b, fake_ends)
}

/// Sends 300 packets from `from` to `to` in batches of 50; they must arrive whole and in order,
/// and each of `from`'s workers must have sealed and each of `to`'s opened a share.
fn carry(from: &mut Encryptor, to: &mut Encryptor, src: [u8; 4], dst: [u8; 4]) {
    let packets: Vec<Vec<u8>> = (0..300u32).map(|i| ipv4(src, dst, &[&i.to_be_bytes()[..], &[0x5a; 700]].concat())).collect();
    let mut delivered = Vec::new();
    for chunk in packets.chunks(50) {
        for p in chunk {
            from.red.send(p);
        }
        from.run(RED);
        let msgs = shuttle(from, to);
        assert!(msgs.iter().all(|m| m[0] == 4 && !m.windows(16).any(|w| w == [0x5a; 16])), "ciphertext only");
        delivered.extend(to.red.drain());
    }
    assert_eq!(delivered, packets, "every packet arrives once, in order");
    assert!(from.worker_counters("sealed_packets").iter().all(|&n| n >= 100), "{:?}", from.worker_counters("sealed_packets"));
    assert!(to.worker_counters("opened_packets").iter().all(|&n| n >= 100), "{:?}", to.worker_counters("opened_packets"));
}

#[test]
fn two_workers_share_one_tunnel_both_ways_and_keep_the_order() {
    let (mut a, mut b) = established(2);
    carry(&mut a, &mut b, [10, 1, 0, 2], [10, 2, 0, 2]);
    carry(&mut b, &mut a, [10, 2, 0, 2], [10, 1, 0, 2]);
    // boringtun's timers heard of the workers' traffic: the status shows it.
    let status = a.crypto.peer_status();
    assert!(status[0].tx_bytes >= 300 * 724 && status[0].rx_bytes >= 300 * 724, "{} {}", status[0].tx_bytes, status[0].rx_bytes);
}

#[test]
fn a_worker_s_status_names_its_aead_code_and_the_sessions_it_holds() {
    let (mut a, mut b) = established(2);
    let status = |w: &CryptoWorker| {
        let mut lines = Vec::new();
        w.status(&mut |l| lines.push(l.to_string()));
        lines
    };
    let aead = pd_session::cpu::aead_path();
    carry(&mut a, &mut b, [10, 1, 0, 2], [10, 2, 0, 2]);
    carry(&mut b, &mut a, [10, 2, 0, 2], [10, 1, 0, 2]);
    // Each of a's workers sealed or opened with the one session: one copy each.
    for (_, w) in &a.workers {
        assert_eq!(status(w), [format!("ChaCha20-Poly1305: {aead}; session copies 1 (of {} slots for 1 peers)", pd_session::SLOTS_PER_PEER)]);
    }
}

#[test]
fn a_replay_that_reaches_the_other_worker_is_rejected() {
    let (mut a, mut b) = established(2);
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"once only"));
    a.run(RED);
    let msg = a.sent().pop().unwrap().1;
    let opened_before = b.worker_counters("opened_packets");
    // The original and its replay in one batch: crypto gives them to the two workers in turn.
    b.receive(a.addr, &[msg.clone(), msg]);
    assert_eq!(b.red.drain().len(), 1, "delivered once");
    assert_eq!(b.counter("drop_replay"), 1);
    let opened: Vec<u64> = b.worker_counters("opened_packets").iter().zip(&opened_before).map(|(n, m)| n - m).collect();
    let replayed = b.worker_counters("drop_replay");
    assert_eq!(opened.iter().sum::<u64>(), 1);
    assert_eq!(replayed.iter().sum::<u64>(), 1);
    assert!(opened.iter().zip(&replayed).all(|(o, r)| o + r == 1), "one worker opened it, the other refused the replay");
}

#[test]
fn workers_drop_what_crypto_drops_and_the_tunnel_lives() {
    let (mut a, mut b) = established(2);
    // A spoofed inner source, and a forged message for the live session.
    a.red.send(&ipv4([10, 7, 7, 7], [10, 2, 0, 2], b"spoofed source"));
    a.run(RED);
    let mut msgs: Vec<Vec<u8>> = a.sent().into_iter().map(|(_, m)| m).collect();
    let mut forged = msgs[0].clone();
    forged[40] ^= 1;
    forged[8..16].copy_from_slice(&1000u64.to_le_bytes());
    msgs.push(forged);
    b.receive(a.addr, &msgs);
    assert!(b.red.drain().is_empty());
    assert_eq!(b.counter("drop_source_not_allowed"), 1);
    assert_eq!(b.counter("drop_bad_aead"), 1);
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"after"));
    a.run(RED);
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain().len(), 1);
}

#[test]
fn without_a_session_the_packet_waits_for_the_handshake_as_without_workers() {
    let mut a = make("crypto_c", A, "192.0.2.1:51820", vec![peer(B, Some("192.0.2.2:51820"), &["10.2.0.0/24"])], 2);
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"first"));
    a.run(RED);
    let sent = a.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1[0], 1, "a handshake initiation, not data");
    assert_eq!(a.worker_counters("job_batches"), vec![0, 0], "nothing for the workers without a session");
}

#[test]
fn no_plaintext_lies_in_the_black_ring_while_workers_seal() {
    let (mut a, _b) = established(2);
    const MARKER: &[u8; 16] = b"PLAINTEXT-MARKER";
    // Where the marker would lie if a slot held the packet in clear: after the endpoint header,
    // the 16-byte data header and the IPv4 header.
    let watcher = pd_testkit::SlotWatcher::start(a.pd.mapped("black_tx_data").unwrap(), ENDPOINT_HEADER_LEN + 16 + 20, *MARKER);
    let packet = ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[MARKER.as_slice(); 80].concat());
    let mut sealed = 0;
    for _ in 0..200 {
        for _ in 0..32 {
            a.red.send(&packet);
        }
        a.run(RED);
        sealed += a.black.drain().len();
    }
    let seen = watcher.finish();
    assert_eq!(sealed, 200 * 32, "every packet was sealed and sent");
    assert!(a.worker_counters("sealed_packets").iter().all(|&n| n > 0), "the workers sealed them");
    assert_eq!(seen, 0, "plaintext was visible in the black ring");
}

#[test]
fn crypto_waits_for_the_oldest_jobs_worker_without_spinning_on_another_workers_results() {
    let (mut a, mut b) = established(2);
    let packets: Vec<Vec<u8>> = (0..2u8).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[i; 64])).collect();
    for p in &packets {
        a.red.send(p);
    }
    a.pd.enter();
    a.crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
    // The second job's worker answers first (on a shared core the oldest job's worker may not
    // have run yet): crypto must go back to sleep, not loop on results it cannot use yet. Run
    // in a thread of its own, so that a crypto that spins fails the test instead of hanging it.
    let (wpd, w) = &mut a.workers[1];
    wpd.enter();
    w.notified(ChannelSet::EMPTY).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        a.pd.enter();
        a.crypto.notified(ChannelSet::EMPTY.with(pd_api::Channel::new(4))).unwrap();
        let _ = done_tx.send(());
        a
    });
    assert!(done_rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok(), "crypto spins on worker 1's results");
    let mut a = thread.join().unwrap();
    assert!(a.black.drain().is_empty(), "nothing published out of order");
    // The first worker answers: both go out, in order.
    a.run(RED);
    let msgs = shuttle(&mut a, &mut b);
    assert_eq!(msgs.len(), 2);
    assert_eq!(b.red.drain(), packets);
}

#[test]
fn crypto_wipes_the_sessions_a_previous_life_left_in_the_shared_table() {
    let (a, _b) = established(2);
    let keys = a.pd.mapped("session_keys").unwrap();
    let table = SessionTable::in_region(keys).unwrap();
    let live = |t: &SessionTable| t.peer(0).unwrap().iter().filter(|s| s.read().is_ok()).count();
    assert!(live(&table) > 0, "the handshake published a session");
    // A crypto PD starting again on the same region (as after a restart) finds it as it was.
    let pd = TestPd::new("crypto_a_again");
    let _red = pd.link("red", 64);
    let _black = pd.link("black", 64);
    pd.map("session_keys", keys);
    let _crypto = Crypto::new(CryptoConfig { private_key: A, listen_port: 51820, mtu: 1420, peers: vec![peer(B, None, &["10.2.0.0/24"])] }).unwrap();
    assert_eq!(live(&table), 0, "old sessions (and their keys) are gone");
}

#[test]
fn a_worker_that_answers_out_of_turn_is_given_up_and_crypto_carries_on_alone() {
    // enc_a's one "worker" is the test: it answers a batch with a result batch of the wrong
    // sequence number (a batch lost in between, as a worker whose result ring was full would do).
    let (mut a, mut b, mut fakes) = established_with_fakes(0, 1);
    let fake = &mut fakes[0];
    // A packet for the worker; the fake answers with sequence number 9 (batch 0 was due).
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"to the fake worker"));
    a.run(RED);
    let jobs = fake.drain();
    assert_eq!(jobs.len(), 1, "one batch to the worker");
    let mut answer = vec![0u8; pd_proto::job::BATCH_HEADER_LEN + pd_proto::job::RESULT_LEN];
    pd_proto::job::emit_batch_header(&mut answer, 1, 9, 0);
    pd_proto::job::JobResult { status: pd_proto::job::JobStatus::Done, len: 100 }.emit(&mut answer[pd_proto::job::BATCH_HEADER_LEN..]);
    fake.send(&answer);
    a.run(pd_api::Channel::new(3));
    assert!(a.black.drain().is_empty(), "nothing the worker did not write goes out");
    assert_eq!(a.counter("workers_given_up"), 1);
    assert_eq!(a.counter("drop_worker_bad_job"), 1, "its job was dropped, counted");
    // Crypto seals by itself from now on.
    let after = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"after");
    a.red.send(&after);
    a.run(RED);
    assert!(fake.drain().is_empty(), "no more jobs for a worker given up");
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![after]);
}

#[test]
fn a_worker_that_never_answers_is_given_up_after_its_ticks_and_the_other_worker_s_jobs_complete() {
    use pd_crypto::WORKER_SILENT_TICKS;
    // enc_a's worker0 is real; worker1 is linked but nothing behind it ever answers (a worker
    // PD that refused to start: its regions were missing from system.xml).
    let (mut a, mut b, mut fakes) = established_with_fakes(1, 1);
    let silent = &mut fakes[0];
    // Four packets, dealt in turn: 0 and 2 to worker0, 1 and 3 to the silent worker1. Jobs
    // complete in order, so only packet 0 gets out; 2 waits behind 1.
    let packets: Vec<Vec<u8>> = (0..4u8).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[i; 100])).collect();
    for p in &packets {
        a.red.send(p);
    }
    a.run(RED);
    assert_eq!(silent.drain().len(), 1, "one batch (of two jobs) for worker1");
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![packets[0].clone()]);
    // The silent worker is waited for through its ticks...
    a.ticks(WORKER_SILENT_TICKS);
    assert_eq!(a.counter("workers_given_up"), 0);
    shuttle(&mut a, &mut b);
    assert!(b.red.drain().is_empty(), "packet 2 still waits behind worker1's");
    // ...and given up at the next: its two jobs are dropped, counted; packet 2 goes out.
    assert!(status(&a.crypto).contains(&"workers 2, 2 taking jobs".to_string()), "{:?}", status(&a.crypto));
    a.run(pd_crypto::TIMER);
    assert_eq!((a.counter("workers_given_up"), a.counter("workers_silent"), a.counter("drop_worker_bad_job")), (1, 1, 2));
    let lines = status(&a.crypto);
    assert!(lines.contains(&"workers 2, 1 taking jobs".to_string()), "{lines:?}");
    assert!(lines.contains(&"worker 1 given up: left a batch unanswered for 50 timer ticks".to_string()), "{lines:?}");
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![packets[2].clone()]);
    // From now on worker0 takes every packet.
    let after: Vec<Vec<u8>> = (0..4u8).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[0x40 + i; 100])).collect();
    for p in &after {
        a.red.send(p);
    }
    a.run(RED);
    assert!(silent.drain().is_empty(), "no more jobs for a worker given up");
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), after);
}

impl Encryptor {
    /// Runs crypto alone, its workers not at all (they are starved, or hang).
    fn run_crypto_only(&mut self, ch: pd_api::Channel) {
        self.pd.enter();
        self.crypto.notified(ChannelSet::EMPTY.with(ch)).unwrap();
    }
    /// The session table crypto and its workers share (the workers' gates in it).
    fn table(&self) -> SessionTable {
        SessionTable::in_region(self.pd.mapped("session_keys").unwrap()).unwrap()
    }
    /// `n` of crypto's timer ticks, its workers running after each.
    fn ticks(&mut self, n: u32) {
        for _ in 0..n {
            self.run(pd_crypto::TIMER);
        }
    }
    /// Sends `n` packets to peer B, dealt to the workers in turn; the test, playing worker `k`
    /// through `fake`, takes its one batch and enters that worker's gate (a worker preempted in
    /// the middle of a batch). Returns the packets and the table that holds the gate.
    fn hold_a_worker_inside_its_batch(&mut self, fake: &mut FarEnd, k: usize, n: u8) -> (Vec<Vec<u8>>, SessionTable) {
        let packets: Vec<Vec<u8>> = (0..n).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[i; 100])).collect();
        for p in &packets {
            self.red.send(p);
        }
        self.run(RED);
        assert_eq!(fake.drain().len(), 1, "one batch for worker {k}");
        let table = self.table();
        assert!(table.gate(k).unwrap().enter());
        (packets, table)
    }
}

#[test]
fn a_worker_given_up_that_runs_again_touches_no_ring_slot() {
    use pd_crypto::WORKER_SILENT_TICKS;
    // enc_a's one worker is real but does not run (a starved worker): its two jobs wait, it is
    // given up, and crypto hands their ring slots back and seals two new packets into them.
    let (mut a, mut b) = established(1);
    let old: Vec<Vec<u8>> = (0..2u8).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[0x0d; 100][..100 - usize::from(i)])).collect();
    for p in &old {
        a.red.send(p);
    }
    a.run_crypto_only(RED);
    for _ in 0..=WORKER_SILENT_TICKS {
        a.run_crypto_only(pd_crypto::TIMER);
    }
    assert_eq!((a.counter("workers_given_up"), a.counter("drop_worker_bad_job")), (1, 2));
    assert!(a.table().gate(0).unwrap().is_closed());
    let new: Vec<Vec<u8>> = (0..2u8).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[0x4e; 90][..90 - usize::from(i)])).collect();
    for p in &new {
        a.red.send(p);
    }
    a.run_crypto_only(RED);
    // Now the worker runs: it finds its batch in its ring, and must leave the slots alone (it
    // would seal the old packets over the new messages crypto put where their results were to go).
    let (wpd, w) = &mut a.workers[0];
    wpd.enter();
    w.notified(ChannelSet::EMPTY).unwrap();
    assert_eq!((counter(w, "batches_after_give_up"), counter(w, "sealed_packets")), (1, 0));
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), new, "the new packets, as crypto sealed them");
    assert_eq!(b.counter("drop_replay"), 0);
}

#[test]
fn a_worker_given_up_inside_a_batch_keeps_its_slots_until_it_leaves() {
    use pd_crypto::WORKER_SILENT_TICKS;
    // enc_a's one worker is the test, which stays inside its gate while crypto gives it up.
    let (mut a, mut b, mut fakes) = established_with_fakes(0, 1);
    let (_, table) = a.hold_a_worker_inside_its_batch(&mut fakes[0], 0, 2);
    let gate = table.gate(0).unwrap();
    a.ticks(WORKER_SILENT_TICKS + 1);
    assert_eq!((a.counter("workers_given_up"), a.counter("worker_gate_waits")), (1, 1));
    assert_eq!(a.counter("drop_worker_bad_job"), 0, "its jobs are held while it is inside");
    assert!(!gate.is_closed());
    let lines = status(&a.crypto);
    let held = "worker 0 given up: left a batch unanswered for 50 timer ticks; its jobs held until it leaves the batch it is in";
    assert!(lines.contains(&held.to_string()), "{lines:?}");
    // Crypto carries on meanwhile, sealing by itself.
    let meanwhile = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"meanwhile");
    a.red.send(&meanwhile);
    a.run(RED);
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![meanwhile]);
    // The worker leaves; at the next tick its gate closes and its jobs are failed.
    gate.leave();
    a.run(pd_crypto::TIMER);
    assert!(gate.is_closed() && !gate.enter(), "closed for good");
    assert_eq!((a.counter("drop_worker_bad_job"), a.counter("worker_gate_waits")), (2, 1));
    let after = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"after");
    a.red.send(&after);
    a.run(RED);
    assert!(fakes[0].drain().is_empty(), "no more jobs for a worker given up");
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![after]);
}

#[test]
fn a_worker_held_inside_its_batch_does_not_hold_up_the_other_worker() {
    use pd_crypto::WORKER_SILENT_TICKS;
    // worker0 is real; worker1 is the test, which stays inside its gate (packets 1 and 3).
    let (mut a, mut b, mut fakes) = established_with_fakes(1, 1);
    let (packets, table) = a.hold_a_worker_inside_its_batch(&mut fakes[0], 1, 4);
    let gate = table.gate(1).unwrap();
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![packets[0].clone()], "packet 2 waits behind worker1's packet 1");
    a.ticks(WORKER_SILENT_TICKS + 1);
    assert_eq!((a.counter("workers_given_up"), a.counter("worker_gate_waits")), (1, 1));
    // worker1's jobs are held apart: worker0's result completes at once...
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![packets[2].clone()]);
    // ...and worker0 carries every packet while worker1 stays inside.
    for i in 0..WORKER_SILENT_TICKS / 2 {
        let p = ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[0x40 + i as u8; 100]);
        a.red.send(&p);
        a.run(RED);
        a.run(pd_crypto::TIMER);
        shuttle(&mut a, &mut b);
        assert_eq!(b.red.drain(), vec![p]);
    }
    assert_eq!((a.counter("workers_given_up"), a.counter("drop_worker_bad_job")), (1, 0));
    gate.leave();
    a.run(pd_crypto::TIMER);
    assert_eq!(a.counter("drop_worker_bad_job"), 2, "worker1's two jobs, failed once it left");
}

#[test]
#[should_panic(expected = "crypto_a: restart requested: crypto worker 0 stayed inside a batch through 50 timer ticks after it was given up")]
fn a_worker_that_never_leaves_its_batch_makes_crypto_ask_for_a_restart() {
    use pd_crypto::WORKER_SILENT_TICKS;
    let (mut a, _b, mut fakes) = established_with_fakes(0, 1);
    let _held = a.hold_a_worker_inside_its_batch(&mut fakes[0], 0, 1);
    // Given up after its silent ticks, then waited for as long again: crypto's slots cannot
    // be handed back while it may still write them, so crypto and its workers start afresh.
    a.ticks(2 * WORKER_SILENT_TICKS + 2);
    panic!("crypto never asked for a restart");
}

#[test]
fn a_packet_rewritten_in_its_ring_slot_after_routing_is_not_sealed_to_the_routed_peer() {
    let (mut a, mut b) = established(2);
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"for peer B"));
    a.pd.enter();
    a.crypto.notified(ChannelSet::EMPTY.with(RED)).unwrap();
    // Crypto routed it to B and handed it to a worker; net_red (say, restarted) rewrites the
    // slot before the worker copies it: now it is for 10.3.0.2, no peer's address.
    let slots = a.red.data[1];
    for k in 0..slots.size() / pd_ring::SLOT_SIZE {
        assert!(slots.copy_in(k * pd_ring::SLOT_SIZE + 16, &[10, 3, 0, 2]));
    }
    a.run(RED);
    assert_eq!(a.worker_counters("misrouted").iter().sum::<u64>(), 1);
    assert_eq!(a.counter("drop_no_route"), 1, "crypto routed it again: nowhere");
    assert!(shuttle(&mut a, &mut b).is_empty() && b.red.drain().is_empty(), "nothing sealed to B");
}

/// Cryptokey routing with nested prefixes where the workers open: enc_b holds 10.0.0.0/8 for
/// enc_a and the longer 10.1.5.0/24 for a third peer. Packets from enc_a with sources in its /8
/// arrive; those with sources in the third peer's /24 are that peer's and are dropped, by the
/// workers that opened them.
#[test]
fn workers_hold_an_opened_packet_s_source_to_the_longest_prefix() {
    let mut a = make("crypto_nest_a", A, "192.0.2.1:51820", vec![peer(B, Some("192.0.2.2:51820"), &["10.2.0.0/24"])], 2);
    let b_peers = vec![peer(A, None, &["10.0.0.0/8"]), peer([3; 32], Some("192.0.2.3:51820"), &["10.1.5.0/24"])];
    let mut b = make("crypto_nest_b", B, "192.0.2.2:51820", b_peers, 2);
    a.red.send(&ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"first"));
    a.run(RED);
    shuttle(&mut a, &mut b); // initiation
    shuttle(&mut b, &mut a); // response
    shuttle(&mut a, &mut b); // the queued packet, sealed by crypto itself
    assert_eq!(b.red.drain().len(), 1);
    let (ours, theirs): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
        (0..8u8).map(|i| (ipv4([10, 1, 0, 2], [10, 2, 0, 2], &[i; 100]), ipv4([10, 1, 5, 9], [10, 2, 0, 2], &[i; 100]))).unzip();
    for (p, q) in ours.iter().zip(&theirs) {
        a.red.send(p);
        a.red.send(q);
    }
    a.run(RED);
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), ours, "enc_a's own sources arrive, in order");
    assert_eq!(b.worker_counters("drop_source_not_allowed").iter().sum::<u64>(), 8);
    assert!(b.worker_counters("opened_packets").iter().all(|&n| n > 0), "both workers opened");
}

#[test]
fn two_workers_serve_many_peers_each_in_order() {
    // enc_a with three peers, each its own encryptor (without workers) on its own network.
    const PEERS: [([u8; 32], &str, [u8; 4]); 3] =
        [([2; 32], "192.0.2.2:51820", [10, 2, 0, 2]), ([3; 32], "192.0.2.3:51820", [10, 3, 0, 2]), ([4; 32], "192.0.2.4:51820", [10, 4, 0, 2])];
    let configs = PEERS.iter().map(|(k, ep, net)| peer(*k, Some(ep), &[&format!("{}.{}.{}.0/24", net[0], net[1], net[2])])).collect();
    let mut a = make("crypto_many", A, "192.0.2.1:51820", configs, 2);
    let mut others: Vec<Encryptor> =
        PEERS.iter().enumerate().map(|(n, (k, ep, _))| make(&format!("crypto_peer{n}"), *k, ep, vec![peer(A, None, &["10.1.0.0/24"])], 0)).collect();
    // Handshakes: a packet to each peer starts one.
    for (_, _, net) in PEERS {
        a.red.send(&ipv4([10, 1, 0, 2], net, b"hello"));
    }
    a.run(RED);
    for _ in 0..2 {
        let sent = a.sent();
        for (n, o) in others.iter_mut().enumerate() {
            let msgs: Vec<Vec<u8>> = sent.iter().filter(|(to, _)| *to == o.addr).map(|(_, m)| m.clone()).collect();
            o.receive(a.addr, &msgs);
            let back: Vec<Vec<u8>> = o.sent().into_iter().map(|(_, m)| m).collect();
            a.receive(PEERS[n].1.parse().unwrap(), &back);
        }
    }
    for o in &mut others {
        assert_eq!(o.red.drain().len(), 1, "the first packet reached {}", o.addr);
    }
    // 60 packets to each peer, interleaved: every peer gets its own, whole and in order.
    let packets: Vec<Vec<Vec<u8>>> =
        PEERS.iter().map(|(_, _, net)| (0..60u8).map(|i| ipv4([10, 1, 0, 2], *net, &[i; 300])).collect()).collect();
    let mut sent = Vec::new();
    for i in 0..60 {
        for p in &packets {
            a.red.send(&p[i]);
        }
        if i % 20 == 19 {
            a.run(RED);
            sent.extend(a.sent());
        }
    }
    for (n, o) in others.iter_mut().enumerate() {
        let msgs: Vec<Vec<u8>> = sent.iter().filter(|(to, _)| *to == o.addr).map(|(_, m)| m.clone()).collect();
        o.receive(a.addr, &msgs);
        assert_eq!(o.red.drain(), packets[n], "peer {n}");
    }
    let sealed = a.worker_counters("sealed_packets");
    assert!(sealed.iter().all(|&s| s >= 80), "{sealed:?}");
}

/// WireGuard's Reject-After-Time (180 s) and a second.
const PAST_REJECT_AFTER_TIME_NS: u64 = 181_000_000_000;

#[test]
fn a_session_that_expires_between_dispatch_and_seal_is_sealed_by_crypto_in_order() {
    let (mut a, mut b) = established(2);
    // The workers see the session past Reject-After-Time while crypto, dispatching, does not:
    // what happens when it expires between the two. Each job comes back Expired, crypto takes
    // the packet again (as if it had just come), and the packets still leave in order.
    for (wpd, _) in &a.workers {
        wpd.advance_ns(PAST_REJECT_AFTER_TIME_NS);
    }
    let sealed_before: u64 = a.worker_counters("sealed_packets").iter().sum();
    let packets: Vec<Vec<u8>> = (0..20u32).map(|i| ipv4([10, 1, 0, 2], [10, 2, 0, 2], &i.to_be_bytes())).collect();
    for p in &packets {
        a.red.send(p);
    }
    a.run(RED);
    assert_eq!(a.worker_counters("expired").iter().sum::<u64>(), 20, "every job refused by a worker");
    assert_eq!(a.worker_counters("sealed_packets").iter().sum::<u64>(), sealed_before);
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), packets, "sealed by crypto, every packet once and in order");
}

#[test]
fn past_reject_after_time_nothing_is_sealed_with_the_old_session_and_the_packet_waits_for_a_new_one() {
    let (mut a, mut b) = established(2);
    let batches_before = a.batches();
    a.pd.advance_ns(PAST_REJECT_AFTER_TIME_NS);
    for (wpd, _) in &a.workers {
        wpd.advance_ns(PAST_REJECT_AFTER_TIME_NS);
    }
    let late = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"too late");
    a.red.send(&late);
    a.run(RED);
    let sent = a.sent();
    assert!(sent.iter().all(|(_, m)| m[0] != 4), "no data message with the expired session");
    assert!(sent.iter().any(|(_, m)| m[0] == 1), "a handshake initiation instead");
    assert_eq!(a.batches(), batches_before, "no job for the workers without a live session");
    let initiation: Vec<Vec<u8>> = sent.into_iter().map(|(_, m)| m).collect();
    b.receive(a.addr, &initiation);
    shuttle(&mut b, &mut a); // the response
    shuttle(&mut a, &mut b); // the packet that waited
    assert_eq!(b.red.drain(), vec![late], "the packet waited for the new session and arrived once");
    assert_eq!(a.counter("handshakes_completed"), 2);
    let after = ipv4([10, 1, 0, 2], [10, 2, 0, 2], b"new session");
    a.red.send(&after);
    a.run(RED);
    shuttle(&mut a, &mut b);
    assert_eq!(b.red.drain(), vec![after], "the tunnel works again, through the workers");
    assert!(a.worker_counters("sealed_packets").iter().sum::<u64>() >= 1);
}

#[test]
fn a_session_table_smaller_than_the_configured_peers_is_refused_with_the_sizes() {
    let pd = TestPd::new("crypto_small_table");
    let _red = pd.link("red", 8);
    let _black = pd.link("black", 8);
    pd.region("session_keys", SessionTable::bytes_for(1));
    let wpd = TestPd::new("crypto_small_table_worker0");
    pd.connect("worker0", wpd, "crypto", 16);
    pd.enter();
    let peers = vec![peer(B, Some("192.0.2.2:51820"), &["10.2.0.0/24"]), peer([3; 32], Some("192.0.2.3:51820"), &["10.3.0.0/24"])];
    let Err(e) = Crypto::new(CryptoConfig { private_key: A, listen_port: 51820, mtu: 1420, peers }) else {
        panic!("two peers accepted with a session table for one");
    };
    assert!(matches!(e, pd_crypto::InitError::SessionTableTooSmall { peers: 2, holds: 1 }), "{e:?}");
    assert!(e.to_string().contains("2 peers configured; region session_keys holds 1"), "{e}");
}

#[test]
fn the_systems_with_workers_give_the_session_table_room_for_every_peer_crypto_takes() {
    // support/lib/systemxml.py writes the session_keys region of every system with workers
    // (product images, tests, benchmarks): it must hold the gates and MAX_PEERS peers' slots.
    let py = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../support/lib/systemxml.py")).unwrap();
    let key = r#"role="session_keys" size=""#;
    let at = py.find(key).expect("systemxml.py has a session_keys region") + key.len();
    let hex = py[at..].split('"').next().unwrap().trim_start_matches("0x");
    let size = usize::from_str_radix(hex, 16).unwrap();
    let need = SessionTable::bytes_for(pd_crypto::MAX_PEERS);
    assert!(size >= need, "session_keys is {size:#x} bytes; {} peers and the gates need {need:#x}", pd_crypto::MAX_PEERS);
}

/// A worker's copy of a session goes, keys and all, once crypto retires the session: crypto
/// wakes its workers when a slot changes, and a worker drops copies no longer in their slots
/// when it wakes. (A copy went only when a job named its slot again, which may be never: the
/// keys outlived the session, and Reject-After-Time x 3, in the workers' memory.)
#[test]
fn workers_drop_their_copy_of_a_retired_session_without_a_job() {
    let (mut a, mut b) = established(2);
    carry(&mut a, &mut b, [10, 1, 0, 2], [10, 2, 0, 2]);
    carry(&mut b, &mut a, [10, 2, 0, 2], [10, 1, 0, 2]);
    let copies = |e: &Encryptor| -> Vec<String> {
        e.workers
            .iter()
            .map(|(_, w)| {
                let mut line = String::new();
                w.status(&mut |l| line = l.to_string());
                line.split("session copies ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("?").to_string()
            })
            .collect()
    };
    assert_eq!(copies(&a), ["1", "1"]);
    // Past Reject-After-Time crypto's tick retires the session and wakes the workers.
    a.pd.advance_ns(PAST_REJECT_AFTER_TIME_NS);
    for (wpd, _) in &a.workers {
        wpd.advance_ns(PAST_REJECT_AFTER_TIME_NS);
    }
    a.pd.take_notifications();
    a.run_crypto_only(pd_crypto::TIMER);
    let woken = a.pd.take_notifications();
    assert!((3..5).all(|c| woken.contains(&c)), "both workers woken: {woken:?}");
    for (wpd, w) in &mut a.workers {
        wpd.enter();
        w.notified(ChannelSet::EMPTY).unwrap();
    }
    assert_eq!(copies(&a), ["0", "0"], "the retired session's copies are gone");
}

//! Workers sealing and opening with sessions that boringtun's tunnels made, on several threads
//! at once: what the crypto workers of issue 18 rely on.
//!
//! Each test runs a real handshake between two boringtun tunnels (the crypto PD's tunnel "A"
//! for a peer, and the peer's own "B"), publishes A's session into a slot as the crypto PD
//! would, and then checks against B: messages the workers seal open in B, B's open in the
//! workers, every counter once across workers, and none sealed twice.

mod common;

use boringtun::noise::{Tunn, TunnResult};
use common::{now_ns, pair};
use pd_session::transport::{DATA_HEADER_LEN, DATA_OVERHEAD};
use pd_session::{OpenError, ReplayError, SessionInfo, SessionSlot, WorkerSession};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A's current session as the crypto PD publishes it for `peer`.
fn publish(a: &Tunn, peer: u32, slot: &SessionSlot) {
    let current = a.current_session_index().expect("A has a session");
    let keys = a.session_keys().find(|k| k.receiving_index == current).unwrap();
    slot.publish(&SessionInfo {
        peer,
        receiving_index: keys.receiving_index,
        sending_index: keys.sending_index,
        created_ns: now_ns(),
        receiving_key: keys.receiving_key,
        sending_key: keys.sending_key,
    }, keys.next_counter)
    .expect("no worker is claiming a counter");
}

/// A handshake and A's session published into a fresh slot: the peer's tunnel B and the slot.
fn published(tag: u32) -> (Tunn, SessionSlot) {
    let (a, b) = pair(tag);
    let slot = SessionSlot::new();
    publish(&a, 0, &slot);
    (b, slot)
}

fn worker(slot: &SessionSlot) -> WorkerSession {
    WorkerSession::new(slot.read().expect("slot holds a session"))
}

/// An IPv4 packet of `len` bytes from `src` (B's side of the tunnel), numbered `n`.
fn ipv4_packet(n: u32, len: usize, src: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&[10, 0, 0, 1]);
    p[20..24].copy_from_slice(&n.to_be_bytes());
    p
}

/// A worker seals into its private buffer; the peer's tunnel opens it.
fn seal(w: &WorkerSession, slot: &SessionSlot, packet: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; packet.len() + DATA_OVERHEAD];
    buf[DATA_HEADER_LEN..DATA_HEADER_LEN + packet.len()].copy_from_slice(packet);
    let n = w.seal(slot, &mut buf, packet.len(), now_ns()).expect("sealed");
    buf.truncate(n);
    buf
}

fn b_opens(b: &mut Tunn, msg: &[u8]) -> Option<Vec<u8>> {
    let mut out = [0u8; 2048];
    match b.decapsulate(None, msg, &mut out) {
        TunnResult::WriteToTunnelV4(p, _) => Some(p.to_vec()),
        _ => None,
    }
}

fn b_seals(b: &mut Tunn, packet: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 2048];
    match b.encapsulate(packet, &mut out) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        r => panic!("B did not seal: {r:?}"),
    }
}

#[test]
fn a_worker_and_boringtun_understand_each_other() {
    let (mut b, slot) = published(0x100);
    let w = worker(&slot);
    for n in 0..100 {
        let packet = ipv4_packet(n, 60 + n as usize * 13, [10, 0, 0, 2]);
        let msg = seal(&w, &slot, &packet);
        assert_eq!(b_opens(&mut b, &msg).as_deref(), Some(&packet[..]), "packet {n}");
        let mut msg = b_seals(&mut b, &packet);
        let len = w.open(&slot, &mut msg, now_ns()).expect("opened");
        assert_eq!(&msg[DATA_HEADER_LEN..DATA_HEADER_LEN + len], &packet[..]);
    }
    // A flipped bit anywhere after the header fails the tag, and costs no window slot.
    let mut msg = b_seals(&mut b, &ipv4_packet(7, 100, [10, 0, 0, 2]));
    let good = msg.clone();
    msg[40] ^= 1;
    assert_eq!(w.open(&slot, &mut msg, now_ns()), Err(OpenError::Aead));
    let mut msg = good;
    assert!(w.open(&slot, &mut msg, now_ns()).is_ok());
}

#[test]
fn a_replay_across_workers_is_rejected() {
    let (mut b, slot) = published(0x200);
    // Two workers, as two PDs on two cores have them: each its own copy of the keys.
    let (w1, w2) = (worker(&slot), worker(&slot));
    let msg = b_seals(&mut b, &ipv4_packet(1, 80, [10, 0, 0, 2]));
    assert!(w1.open(&slot, &mut msg.clone(), now_ns()).is_ok());
    assert_eq!(w2.open(&slot, &mut msg.clone(), now_ns()), Err(OpenError::Replay(ReplayError::Replayed)));
    assert_eq!(w1.open(&slot, &mut msg.clone(), now_ns()), Err(OpenError::Replay(ReplayError::Replayed)));
}

/// Many peers, two worker threads, every message delivered to both (an attacker replaying the
/// whole stream to the other worker): each message opens exactly once.
#[test]
fn two_workers_open_every_message_of_many_peers_exactly_once() {
    const PEERS: u32 = 4;
    const MESSAGES: u32 = 3000;
    let mut tunnels: Vec<(Tunn, Tunn)> = (0..PEERS).map(|p| pair(0x1000 + p * 0x100)).collect();
    let slots: Vec<SessionSlot> = (0..PEERS).map(|_| SessionSlot::new()).collect();
    for (p, (a, _)) in tunnels.iter().enumerate() {
        publish(a, p as u32, &slots[p]);
    }
    // The peers' messages, interleaved as they would arrive.
    let mut stream = Vec::new();
    for n in 0..MESSAGES {
        for (p, (_, b)) in tunnels.iter_mut().enumerate() {
            stream.push((p, n, b_seals(b, &ipv4_packet(n, 200, [10, 0, p as u8, 2]))));
        }
    }
    let opened: Vec<AtomicUsize> = (0..stream.len()).map(|_| AtomicUsize::new(0)).collect();
    let replays = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (stream, slots, opened, replays) = (&stream, &slots, &opened, &replays);
            s.spawn(move || {
                let workers: Vec<WorkerSession> = slots.iter().map(worker).collect();
                // Both threads walk the whole stream in arrival order, racing each other for
                // every message: the first to try one opens it, the other finds it replayed.
                let order = 0..stream.len();
                for i in order {
                    let (p, n, msg) = &stream[i];
                    let mut copy = msg.clone();
                    match workers[*p].open(&slots[*p], &mut copy, now_ns()) {
                        Ok(len) => {
                            assert_eq!(copy[DATA_HEADER_LEN..DATA_HEADER_LEN + len], ipv4_packet(*n, 200, [10, 0, *p as u8, 2]));
                            opened[i].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(OpenError::Replay(_)) => {
                            replays.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("message {i}: {e:?}"),
                    }
                }
            });
        }
    });
    let twice = opened.iter().filter(|o| o.load(Ordering::Relaxed) > 1).count();
    let never = opened.iter().filter(|o| o.load(Ordering::Relaxed) == 0).count();
    assert_eq!(twice, 0, "messages opened by both workers");
    // Whichever thread comes first to a message is within its window, so none is lost.
    assert_eq!(never, 0, "messages opened by neither worker");
    assert_eq!(replays.load(Ordering::Relaxed), stream.len());
}

/// Two workers sealing for one peer at once never use a counter twice, and the peer opens all
/// of their messages.
#[test]
fn two_workers_sealing_one_session_never_share_a_nonce() {
    const EACH: u32 = 2000;
    let (mut b, slot) = published(0x300);
    // A sealed its handshake keepalive with the first counter itself.
    let first = slot.sent();
    assert_eq!(first, 1);
    let messages: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u32)
            .map(|t| {
                let slot = &slot;
                s.spawn(move || {
                    let w = worker(slot);
                    (0..EACH).map(|n| seal(&w, slot, &ipv4_packet(t * EACH + n, 120, [10, 0, 0, 2]))).collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<&Vec<u8>> = messages.iter().flatten().collect();
    all.sort_by_key(|m| u64::from_le_bytes(m[8..16].try_into().unwrap()));
    let counters: Vec<u64> = all.iter().map(|m| u64::from_le_bytes(m[8..16].try_into().unwrap())).collect();
    assert_eq!(counters, (first..first + 2 * EACH as u64).collect::<Vec<_>>(), "every counter once, none skipped");
    // In counter order, so that boringtun's 1024-counter window takes them all.
    for m in all {
        assert!(b_opens(&mut b, m).is_some());
    }
}

#[test]
fn a_worker_holding_a_replaced_session_stops_using_it() {
    let (a, mut b) = pair(0x400);
    let (a2, mut b2) = pair(0x500);
    let slot = SessionSlot::new();
    publish(&a, 0, &slot);
    let old = worker(&slot);
    assert!(b_opens(&mut b, &seal(&old, &slot, &ipv4_packet(1, 60, [10, 0, 0, 2]))).is_some());
    // The crypto PD replaces the session in the same slot.
    publish(&a2, 0, &slot);
    let mut buf = vec![0u8; 200];
    assert_eq!(old.seal(&slot, &mut buf, 60, now_ns()), Err(pd_session::SealError::Stale));
    // A message of the old session that the old copy opens is dropped all the same, its
    // plaintext wiped: the window it was checked against belongs to the new session now.
    let packet = ipv4_packet(2, 60, [10, 0, 0, 2]);
    let mut msg = b_seals(&mut b, &packet);
    assert_eq!(old.open(&slot, &mut msg, now_ns()), Err(OpenError::Stale));
    assert!(msg[DATA_HEADER_LEN..DATA_HEADER_LEN + packet.len()].iter().all(|&b| b == 0));
    // A fresh copy uses the new session, past the counter its tunnel used (0) and the one the
    // old copy's refused seal took (1: a gap, which the peer does not mind).
    let new = worker(&slot);
    let msg = seal(&new, &slot, &ipv4_packet(3, 60, [10, 0, 0, 2]));
    assert_eq!(u64::from_le_bytes(msg[8..16].try_into().unwrap()), 2);
    assert!(b_opens(&mut b2, &msg).is_some());
    slot.retire().unwrap();
    assert_eq!(slot.read().err(), Some(pd_session::ReadError::Empty));
}

#[test]
fn sessions_past_reject_after_time_are_refused() {
    let (mut b, slot) = published(0x600);
    let w = worker(&slot);
    let later = w.info().created_ns + pd_session::transport::REJECT_AFTER_TIME_NS;
    let mut buf = vec![0u8; 200];
    assert_eq!(w.seal(&slot, &mut buf, 60, later), Err(pd_session::SealError::Expired));
    let mut msg = b_seals(&mut b, &ipv4_packet(2, 60, [10, 0, 0, 2]));
    assert_eq!(w.open(&slot, &mut msg, later), Err(OpenError::Expired));
}

/// The crypto PD's tunnel learns of the workers' traffic (its timers depend on it): the
/// byte counts it reports follow what it is told.
#[test]
fn the_tunnel_counts_what_workers_report() {
    let (mut a, _b) = pair(0x700);
    let index = a.current_session_index().unwrap();
    let (_, tx0, rx0, _, _) = a.stats();
    a.note_data_sent(1000);
    a.note_data_received(index, 600);
    a.note_data_received(index ^ 0x55, 600); // no such session: ignored
    let (_, tx, rx, _, _) = a.stats();
    assert_eq!((tx - tx0, rx - rx0), (1000, 600));
}


/// A worker's copy of a session wipes both keys when it goes: ring's key types keep the raw
/// ChaCha20 key and wipe nothing, so every copy dropped (a session retired or replaced) left
/// them in freed heap. The copy is dropped in place and its memory read before it is freed.
#[test]
fn a_dropped_session_copy_leaves_no_key_behind() {
    let (receiving_key, sending_key) = ([0x5au8; 32], [0xa7u8; 32]);
    let slot = SessionSlot::new();
    let info = SessionInfo { peer: 0, receiving_index: 0x100, sending_index: 0x200, created_ns: now_ns(), receiving_key, sending_key };
    slot.publish(&info, 0).unwrap();
    let copy = Box::into_raw(Box::new(worker(&slot)));
    let size = std::mem::size_of::<WorkerSession>();
    let holds = |key: &[u8; 32]| {
        // SAFETY: `copy` points to `size` bytes this test allocated and still owns.
        let bytes = unsafe { std::slice::from_raw_parts(copy.cast::<u8>(), size) };
        bytes.windows(32).filter(|w| *w == key).count()
    };
    // The snapshot's bytes and ring's expanded key: each key at least twice while in use.
    assert!(holds(&receiving_key) >= 2 && holds(&sending_key) >= 2, "{} {}", holds(&receiving_key), holds(&sending_key));
    // SAFETY: dropped once, here; the memory stays allocated until the dealloc below.
    unsafe { std::ptr::drop_in_place(copy) };
    assert_eq!((holds(&receiving_key), holds(&sending_key)), (0, 0), "a key left in the dropped copy");
    // SAFETY: allocated by Box::new above with this layout; its value was dropped in place.
    unsafe { std::alloc::dealloc(copy.cast(), std::alloc::Layout::new::<WorkerSession>()) };
}

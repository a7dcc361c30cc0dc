use super::*;
use std::ptr::NonNull;

/// Page-aligned zeroed memory standing in for a shared region.
pub(crate) struct Mem(Vec<u64>, usize);

impl Mem {
    fn new(bytes: usize) -> Self {
        // 8 extra words so the base can be rounded up to 64 bytes.
        let v = vec![0u64; bytes / 8 + 8];
        Mem(v, bytes)
    }
    fn region(&self) -> MemoryRegion {
        let p = self.0.as_ptr() as usize;
        let aligned = (p + 63) & !63;
        // SAFETY: aligned..aligned+len lies inside the vector, which outlives the test.
        unsafe { MemoryRegion::new(NonNull::new(aligned as *mut u8).unwrap(), self.1) }
    }
    fn words(&self) -> *mut u32 {
        self.region().base().as_ptr().cast()
    }
}

fn pair(slots: u32) -> (Sender, Receiver, Mem, Mem) {
    let layout = Layout::new(slots);
    let data = Mem::new(layout.data_bytes());
    let ctl = Mem::new(layout.ctl_bytes());
    let tx = Sender::new(data.region(), ctl.region()).unwrap();
    let rx = Receiver::new(data.region(), ctl.region()).unwrap();
    (tx, rx, data, ctl)
}

#[test]
fn buffers_arrive_in_order_with_their_bytes() {
    let (mut tx, mut rx, _d, _c) = pair(8);
    let mut out = [0u8; SLOT_SIZE];
    for round in 0..5u8 {
        for i in 0..8u8 {
            assert!(tx.send(&[round, i, 0xab]).unwrap());
        }
        assert!(!tx.send(&[1]).unwrap(), "ninth send must find the ring full");
        for i in 0..8u8 {
            assert_eq!(rx.recv(&mut out).unwrap(), Some(3));
            assert_eq!(&out[..3], &[round, i, 0xab]);
        }
        assert_eq!(rx.recv(&mut out).unwrap(), None);
    }
}

/// free_slots says how many sends in a row succeed, whatever mix of held, in-flight, taken,
/// released and reserved slots the ring is in.
#[test]
fn free_slots_counts_the_sends_that_would_succeed() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % u64::from(n)) as u32
    };
    for slots in [1u32, 2, 8, 64] {
        let (mut tx, mut rx, _d, _c) = pair(slots);
        let mut out = [0u8; SLOT_SIZE];
        let mut held = Vec::new();
        let mut reserved = Vec::new();
        for _ in 0..400 {
            match next(5) {
                0 | 1 => {
                    let _ = tx.send(b"x").unwrap();
                }
                2 => {
                    if let Some(t) = rx.take().unwrap() {
                        held.push(t.offset);
                    }
                }
                3 => {
                    if let Some(o) = held.pop() {
                        rx.release(o).unwrap();
                    }
                    let _ = rx.recv(&mut out).unwrap();
                }
                _ => {
                    if next(2) == 0 {
                        if let Some(r) = tx.reserve().unwrap() {
                            reserved.push(r.offset());
                        }
                    } else if let Some(o) = reserved.pop() {
                        tx.unreserve(o).unwrap();
                    }
                }
            }
            // Sending as many as counted succeeds, one more does not.
            let free = tx.free_slots();
            let mut sent = 0;
            while tx.send(b"probe").unwrap() {
                sent += 1;
            }
            assert_eq!(sent, free, "{slots} slots");
            // The receiver takes as many messages as the probe sent (older ones first).
            for _ in 0..sent {
                let _ = rx.recv(&mut out).unwrap();
            }
        }
    }
}

#[test]
fn declined_send_keeps_its_slot() {
    let (mut tx, mut rx, _d, _c) = pair(2);
    assert!(tx.send(b"a").unwrap());
    assert!(!tx.send_with(|_| None).unwrap());
    assert!(tx.send(b"b").unwrap(), "the declined slot is reused");
    assert!(!tx.send(b"c").unwrap());
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(rx.recv(&mut out).unwrap(), Some(1));
    assert_eq!(&out[..1], b"a");
}

#[test]
fn layout_is_checked() {
    let data = Mem::new(3 * SLOT_SIZE);
    let ctl = Mem::new(Layout::new(4).ctl_bytes());
    assert_eq!(Sender::new(data.region(), ctl.region()).err(), Some(RingError::BadLayout));
    let data = Mem::new(4 * SLOT_SIZE);
    let small = Mem::new(Layout::new(4).ctl_bytes() - 8);
    assert_eq!(Receiver::new(data.region(), small.region()).err(), Some(RingError::BadLayout));
}

#[test]
fn oversized_send_is_refused() {
    let (mut tx, _rx, _d, _c) = pair(4);
    assert_eq!(tx.send(&[0; SLOT_SIZE + 1]), Err(RingError::BadDescriptor));
    assert!(tx.send(&[0; SLOT_SIZE]).unwrap());
}

/// Writes a raw active entry as a misbehaving producer would.
fn forge_active(ctl: &Mem, index: u32, desc: Desc, tail: u32) {
    let w = ctl.words();
    // SAFETY: test memory; entries start at word 48 (byte 192), two words each.
    unsafe {
        *w.add(48 + 2 * index as usize) = desc.offset;
        *w.add(48 + 2 * index as usize + 1) = desc.len;
        *w = tail;
    }
}

#[test]
fn receiver_rejects_out_of_bounds_descriptors_and_moves_on() {
    let (_tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    let bad = [
        Desc { offset: 4 * SLOT_SIZE as u32, len: 10 }, // past the region
        Desc { offset: 100, len: 10 },                  // off a slot boundary
        Desc { offset: 0, len: SLOT_SIZE as u32 + 1 },  // longer than a slot
        Desc { offset: u32::MAX - 3, len: u32::MAX },   // wraps
    ];
    for (i, d) in bad.iter().enumerate() {
        forge_active(&ctl, i as u32, *d, i as u32 + 1);
        assert_eq!(rx.recv(&mut out), Err(RingError::BadDescriptor), "{d:?}");
    }
    forge_active(&ctl, 0, Desc { offset: SLOT_SIZE as u32, len: 5 }, 5);
    assert_eq!(rx.recv(&mut out), Ok(Some(5)), "a good descriptor after bad ones is served");
}

/// A receiver that moves the active queue's head while the sender fills a slot (so that the
/// queue looks full, or corrupt, when the slot is queued) costs the sender nothing: the slot
/// was not sent and stays the sender's, not lost as if on loan.
#[test]
fn a_slot_the_receiver_kept_from_being_queued_stays_the_senders() {
    let (mut tx, _rx, _d, ctl) = pair(4);
    let head = ctl.words().wrapping_add(16); // the active queue's head, byte 64
    for forged in [u32::MAX - 3, 1000] {
        // u32::MAX - 3: four in flight, full; 1000: ahead of the tail, corrupt.
        let sent = tx.send_with(|slot| {
            // SAFETY: test memory inside the control region.
            unsafe { *head = forged };
            slot[0] = 1;
            Some(1)
        });
        assert_ne!(sent, Ok(true), "{forged}");
        // SAFETY: as above; the receiver's head back where it was.
        unsafe { *head = 0 };
        assert_eq!(tx.free_slots(), 4, "forged head {forged}: a slot was lost");
    }
    for i in 0..4u8 {
        assert!(tx.send(&[i]).unwrap(), "send {i}");
    }
}

#[test]
fn runaway_index_is_an_error_not_a_read() {
    let (_tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    forge_active(&ctl, 0, Desc { offset: 0, len: 1 }, 1000);
    assert_eq!(rx.recv(&mut out), Err(RingError::CorruptIndex));
    assert!(rx.is_empty(), "a corrupt ring reads as empty");
    forge_active(&ctl, 0, Desc { offset: 0, len: 1 }, 1);
    assert_eq!(rx.recv(&mut out), Ok(Some(1)), "the ring recovers when the index is sane again");
}

#[test]
fn sender_rejects_forged_free_descriptors() {
    let (mut tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    for _ in 0..4 {
        assert!(tx.send(b"x").unwrap());
    }
    for _ in 0..4 {
        assert!(rx.recv(&mut out).unwrap().is_some());
    }
    // Overwrite the free queue (the second queue) as a misbehaving receiver would.
    let free_words = queue_bytes(4) / 4;
    let w = ctl.words();
    // SAFETY: test memory inside the control region.
    unsafe {
        *w.add(free_words + 48 + 2) = 7 * SLOT_SIZE as u32; // entry 1: outside the region
        *w.add(free_words + 48 + 4) = 100; // entry 2: off a slot boundary
    }
    // The sender takes returns back in a batch: entry 0 is fine, entry 1 is refused.
    assert_eq!(tx.send(b"a"), Err(RingError::BadFreeDescriptor));
    assert!(tx.send(b"b").unwrap(), "slot 0, taken back before the forgery, is used");
    assert_eq!(tx.send(b"c"), Err(RingError::BadFreeDescriptor), "entry 2");
    assert!(tx.send(b"d").unwrap(), "entry 3 is a real slot: the sender carries on");
}

#[test]
fn a_slot_handed_back_twice_is_refused() {
    let (mut tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    for _ in 0..4 {
        assert!(tx.send(b"x").unwrap());
    }
    for _ in 0..4 {
        assert!(rx.recv(&mut out).unwrap().is_some());
    }
    // The free queue now names slots 0,1,2,3; make entry 1 name slot 0 again.
    let free_words = queue_bytes(4) / 4;
    // SAFETY: test memory inside the control region.
    unsafe { *ctl.words().add(free_words + 48 + 2) = 0 };
    assert_eq!(tx.send(b"a"), Err(RingError::BadFreeDescriptor));
    // Only slot 0 came back; it is used once, then the ring has nothing to give.
    assert!(tx.send(b"b").unwrap());
    assert_eq!(rx.recv(&mut out).unwrap(), Some(1));
    assert_eq!(&out[..1], b"b");
}

#[test]
fn receiver_survives_more_descriptors_than_slots() {
    let (_tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    let mut results = Vec::new();
    // The producer claims 4 fresh buffers in each of 3 rounds without taking any back.
    for round in 0..3u32 {
        for i in 0..4 {
            forge_active(&ctl, i, Desc { offset: i * SLOT_SIZE as u32, len: 1 }, round * 4 + i + 1);
            results.push(rx.recv(&mut out));
        }
    }
    assert!(results.iter().any(|r| *r == Err(RingError::Overflow)));
}

#[test]
fn signal_flag_protocol() {
    let (mut tx, mut rx, _d, _c) = pair(4);
    // Nobody asked: no signal.
    tx.send(b"1").unwrap();
    assert!(!tx.take_signal_request());
    // Consumer drains, asks, re-checks empty: the next send must signal exactly once.
    let mut out = [0u8; SLOT_SIZE];
    while rx.recv(&mut out).unwrap().is_some() {}
    rx.request_signal();
    assert!(rx.is_empty());
    tx.send(b"2").unwrap();
    assert!(tx.take_signal_request());
    assert!(!tx.take_signal_request(), "the request is consumed");
    // A starved sender asks for free-slot signals.
    for _ in 0..3 {
        tx.send(b"3").unwrap();
    }
    assert!(!tx.has_room());
    tx.request_free_signal();
    rx.recv(&mut out).unwrap();
    assert!(rx.take_signal_request(), "handing a slot back signals the starved sender");
    assert!(tx.has_room());
}

#[test]
fn an_armed_peer_is_signalled_only_for_new_entries() {
    let (mut tx, mut rx, _d, _c) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    // The consumer is idle and armed; the producer has published nothing: no signal (two idle
    // PDs that signalled each other on every wake-up kept the CPU busy forever).
    rx.request_signal();
    assert!(!tx.take_signal_request());
    assert!(!tx.take_signal_request());
    // The request stays armed for the next entry.
    tx.send(b"new").unwrap();
    assert!(tx.take_signal_request());
    // Same for free signals: the receiver handed nothing back, so no signal.
    for _ in 0..3 {
        tx.send(b"x").unwrap();
    }
    tx.request_free_signal();
    assert!(!rx.take_signal_request());
    rx.recv(&mut out).unwrap();
    assert!(rx.take_signal_request());
}

/// Two threads move 1M buffers; order and content are checked, and both sides
/// sleep with the signal protocol (a lost wake-up would hang, caught by the timeout).
#[test]
fn two_threads_move_a_million_buffers() {
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    const N: u64 = 1_000_000;
    let layout = Layout::new(64);
    let data = Arc::new(Mem::new(layout.data_bytes()));
    let ctl = Arc::new(Mem::new(layout.ctl_bytes()));
    // Parking stands in for seL4 notifications: unpark is a signal, park a wait.
    let (d2, c2) = (data.clone(), ctl.clone());
    let consumer = thread::spawn(move || {
        let mut rx = Receiver::new(d2.region(), c2.region()).unwrap();
        let mut out = [0u8; SLOT_SIZE];
        let mut expect = 0u64;
        let mut sleeps = 0u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while expect < N {
            match rx.recv(&mut out).unwrap() {
                Some(len) => {
                    let n = u64::from_le_bytes(out[..8].try_into().unwrap());
                    assert_eq!(n, expect, "out of order");
                    assert_eq!(len, 8 + (n % 200) as usize);
                    assert!(out[8..len].iter().all(|&b| b == n as u8), "content");
                    expect += 1;
                    if rx.take_signal_request() {
                        UNPARK_PRODUCER.lock().unwrap().as_ref().unwrap().unpark();
                    }
                }
                None => {
                    rx.request_signal();
                    if rx.is_empty() {
                        sleeps += 1;
                        thread::park_timeout(Duration::from_millis(100));
                        assert!(Instant::now() < deadline, "consumer stalled: lost wake-up?");
                    } else {
                        rx.cancel_signal();
                    }
                }
            }
        }
        sleeps
    });
    *UNPARK_CONSUMER.lock().unwrap() = Some(consumer.thread().clone());
    *UNPARK_PRODUCER.lock().unwrap() = Some(thread::current());
    let mut tx = Sender::new(data.region(), ctl.region()).unwrap();
    let mut n = 0u64;
    while n < N {
        let sent = tx
            .send_with(|buf| {
                let len = 8 + (n % 200) as usize;
                buf[..8].copy_from_slice(&n.to_le_bytes());
                buf[8..len].fill(n as u8);
                Some(len)
            })
            .unwrap();
        if sent {
            n += 1;
            if tx.take_signal_request() {
                UNPARK_CONSUMER.lock().unwrap().as_ref().unwrap().unpark();
            }
        } else {
            tx.request_free_signal();
            if !tx.has_room() {
                thread::park_timeout(Duration::from_millis(100));
            }
        }
    }
    let sleeps = consumer.join().unwrap();
    eprintln!("moved {N} buffers; consumer slept {sleeps} times");
}

use std::sync::Mutex;
use std::thread::Thread;
static UNPARK_CONSUMER: Mutex<Option<Thread>> = Mutex::new(None);
static UNPARK_PRODUCER: Mutex<Option<Thread>> = Mutex::new(None);

/// Reads `len` bytes at a slot pointer (test memory, not written meanwhile).
fn bytes_at(p: *const u8, len: usize) -> Vec<u8> {
    // SAFETY: the pointer is a slot of test memory; len <= SLOT_SIZE.
    unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
}

#[test]
fn reserved_slots_are_filled_in_place_and_committed_in_any_order() {
    let (mut tx, mut rx, data, _c) = pair(4);
    let a = tx.reserve().unwrap().unwrap();
    let b = tx.reserve().unwrap().unwrap();
    assert_ne!(a.offset(), b.offset());
    assert_eq!(a.offset() % SLOT_SIZE as u32, 0);
    // The slot pointer is the data region's own memory: a device writes there, no copy.
    assert_eq!(a.as_mut_ptr() as usize, data.region().base().as_ptr() as usize + a.offset() as usize);
    // SAFETY: reserved slots are this side's; test memory.
    unsafe {
        a.as_mut_ptr().copy_from(b"first".as_ptr(), 5);
        b.as_mut_ptr().copy_from(b"second".as_ptr(), 6);
    }
    assert!(tx.send(b"copied").unwrap(), "send uses a slot that is not reserved");
    assert!(tx.commit(b.offset(), 6).unwrap(), "commit order is the caller's");
    assert!(tx.commit(a.offset(), 5).unwrap());
    let mut out = [0u8; SLOT_SIZE];
    for want in [&b"copied"[..], b"second", b"first"] {
        let n = rx.recv(&mut out).unwrap().unwrap();
        assert_eq!(&out[..n], want);
    }
    assert_eq!(tx.commit(a.offset(), 5), Err(RingError::NotHeld), "committed twice");
}

#[test]
fn reserved_slots_are_not_reused_until_they_come_back() {
    let (mut tx, mut rx, _d, _c) = pair(4);
    let held: Vec<Reserved> = (0..4).map(|_| tx.reserve().unwrap().unwrap()).collect();
    assert_eq!(tx.reserve().unwrap(), None, "all four reserved");
    assert!(!tx.send(b"x").unwrap());
    assert!(!tx.has_room());
    tx.unreserve(held[3].offset()).unwrap();
    assert_eq!(tx.reserve().unwrap().map(|r| r.offset()), Some(held[3].offset()), "unreserved slot is free again");
    for r in &held[..3] {
        assert!(tx.commit(r.offset(), 1).unwrap());
    }
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(rx.recv(&mut out).unwrap(), Some(1));
    let again = tx.reserve().unwrap().unwrap();
    assert_eq!(again.offset(), held[0].offset(), "the slot the receiver freed");
}

#[test]
fn commit_and_unreserve_refuse_slots_not_reserved() {
    let (mut tx, _rx, _d, _c) = pair(4);
    let r = tx.reserve().unwrap().unwrap();
    for bad in [r.offset() + 1, 4 * SLOT_SIZE as u32, u32::MAX, r.offset() + SLOT_SIZE as u32] {
        assert_eq!(tx.commit(bad, 1), Err(RingError::NotHeld), "{bad:#x}");
        assert_eq!(tx.unreserve(bad), Err(RingError::NotHeld), "{bad:#x}");
    }
    assert_eq!(tx.commit(r.offset(), SLOT_SIZE + 1), Err(RingError::BadDescriptor));
    assert!(tx.commit(r.offset(), SLOT_SIZE).unwrap(), "still reserved after the refusals");
    assert_eq!(tx.unreserve(r.offset()), Err(RingError::NotHeld), "a committed slot is lent, not reserved");
}

#[test]
fn a_freed_slot_that_is_reserved_is_a_forgery() {
    let (mut tx, mut rx, _d, ctl) = pair(4);
    let mut out = [0u8; SLOT_SIZE];
    let kept = tx.reserve().unwrap().unwrap();
    for _ in 0..3 {
        assert!(tx.send(b"x").unwrap());
    }
    for _ in 0..3 {
        assert!(rx.recv(&mut out).unwrap().is_some());
    }
    // The receiver names the reserved slot in its second free entry.
    let free_words = queue_bytes(4) / 4;
    // SAFETY: test memory inside the control region.
    unsafe { *ctl.words().add(free_words + 48 + 2) = kept.offset() };
    assert_eq!(tx.reserve(), Err(RingError::BadFreeDescriptor));
    assert!(tx.commit(kept.offset(), 3).unwrap(), "the reservation survived the forgery");
}

#[test]
fn taken_slots_are_read_in_place_and_released_later() {
    let (mut tx, mut rx, data, _c) = pair(4);
    for f in [&b"one"[..], b"two", b"three"] {
        assert!(tx.send(f).unwrap());
    }
    let t1 = rx.take().unwrap().unwrap();
    let t2 = rx.take().unwrap().unwrap();
    assert_eq!(t1.as_ptr() as usize, data.region().base().as_ptr() as usize + t1.offset as usize, "no copy");
    assert_eq!(bytes_at(t1.as_ptr(), t1.len as usize), b"one");
    assert_eq!(bytes_at(t2.as_ptr(), t2.len as usize), b"two");
    // Held slots do not come back to the sender: one slot is left.
    assert!(tx.send(b"four").unwrap());
    assert!(!tx.send(b"five").unwrap());
    // The copying API still works beside lending.
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(rx.recv(&mut out).unwrap(), Some(5));
    assert_eq!(&out[..5], b"three");
    rx.release(t1.offset).unwrap();
    assert_eq!(rx.release(t1.offset), Err(RingError::NotHeld), "released twice");
    assert_eq!(rx.release(t2.offset + 8), Err(RingError::NotHeld));
    assert_eq!(rx.release(64 * SLOT_SIZE as u32), Err(RingError::NotHeld));
    assert!(tx.send(b"five").unwrap(), "released slots are free again");
    rx.release(t2.offset).unwrap();
    assert!(tx.send(b"six").unwrap());
}

#[test]
fn a_descriptor_naming_a_held_slot_is_refused() {
    let (_tx, mut rx, _d, ctl) = pair(4);
    forge_active(&ctl, 0, Desc { offset: SLOT_SIZE as u32, len: 10 }, 1);
    let t = rx.take().unwrap().unwrap();
    // The producer lends the same slot again while the receiver (a device) still reads it.
    forge_active(&ctl, 1, Desc { offset: SLOT_SIZE as u32, len: 20 }, 2);
    assert_eq!(rx.take(), Err(RingError::BadDescriptor));
    forge_active(&ctl, 2, Desc { offset: SLOT_SIZE as u32, len: 20 }, 3);
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(rx.recv(&mut out), Err(RingError::BadDescriptor), "recv refuses it too");
    // Out-of-bounds descriptors are refused by take as by recv.
    forge_active(&ctl, 3, Desc { offset: 9 * SLOT_SIZE as u32, len: 1 }, 4);
    assert_eq!(rx.take(), Err(RingError::BadDescriptor));
    rx.release(t.offset).unwrap();
    forge_active(&ctl, 0, Desc { offset: SLOT_SIZE as u32, len: 7 }, 5);
    assert_eq!(rx.take().unwrap().map(|t| t.len), Some(7), "once released the slot may come again");
}

/// Two threads lend slots both ways: the producer fills reserved slots in place
/// and commits each pair in the reverse of the order it reserved them; the consumer takes slots, holds up to
/// 8 at once (as a NIC holds frames it is sending), checks them and releases them
/// oldest first. Content and order are checked; a slot reused too early would
/// show as corrupt content.
#[test]
fn two_threads_lend_slots_without_copies() {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    const N: u64 = 200_000;
    let layout = Layout::new(32);
    let data = Arc::new(Mem::new(layout.data_bytes()));
    let ctl = Arc::new(Mem::new(layout.ctl_bytes()));
    let (d2, c2) = (data.clone(), ctl.clone());
    let consumer = thread::spawn(move || {
        let mut rx = Receiver::new(d2.region(), c2.region()).unwrap();
        let mut held = VecDeque::new();
        let mut seen = Vec::with_capacity(N as usize);
        let deadline = Instant::now() + Duration::from_secs(120);
        while (seen.len() as u64) < N {
            assert!(Instant::now() < deadline, "consumer stalled");
            if held.len() < 8 {
                if let Some(t) = rx.take().unwrap() {
                    let b = bytes_at(t.as_ptr(), t.len as usize);
                    let n = u64::from_le_bytes(b[..8].try_into().unwrap());
                    assert_eq!(t.len as usize, 8 + (n % 100) as usize);
                    assert!(b[8..].iter().all(|&x| x == n as u8), "slot {n} rewritten while held");
                    held.push_back((t, n));
                    continue;
                }
            }
            if let Some((t, n)) = held.pop_front() {
                // Still intact at release time: the producer did not reuse it early.
                let b = bytes_at(t.as_ptr(), t.len as usize);
                assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), n, "slot reused while held");
                rx.release(t.offset).unwrap();
                seen.push(n);
            } else {
                thread::yield_now();
            }
        }
        seen
    });
    let mut tx = Sender::new(data.region(), ctl.region()).unwrap();
    let mut n = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while n < N {
        assert!(Instant::now() < deadline, "producer stalled");
        let Some(a) = tx.reserve().unwrap() else {
            thread::yield_now();
            continue;
        };
        let b = if n + 1 < N { tx.reserve().unwrap() } else { None };
        let fill = |r: &Reserved, n: u64| {
            let len = 8 + (n % 100) as usize;
            // SAFETY: the slot is reserved: this side's alone; test memory.
            unsafe {
                r.as_mut_ptr().copy_from(n.to_le_bytes().as_ptr(), 8);
                r.as_mut_ptr().add(8).write_bytes(n as u8, len - 8);
            }
            len
        };
        match b {
            Some(b) => {
                // The slot reserved second carries the earlier frame and is committed first.
                let lb = fill(&b, n);
                let la = fill(&a, n + 1);
                assert!(tx.commit(b.offset(), lb).unwrap());
                assert!(tx.commit(a.offset(), la).unwrap());
                n += 2;
            }
            None => {
                let la = fill(&a, n);
                assert!(tx.commit(a.offset(), la).unwrap());
                n += 1;
            }
        }
    }
    let seen = consumer.join().unwrap();
    assert!(seen.iter().enumerate().all(|(i, &n)| n == i as u64), "out of order or lost");
}

// --- Re-attaching after a restart (src/rejoin.rs) ---

/// Every byte a slot's 4-byte tag can hold, so a test can tell which life sent what.
fn recv_all(rx: &mut Receiver) -> Vec<Vec<u8>> {
    let mut out = [0u8; SLOT_SIZE];
    let mut got = Vec::new();
    while let Some(n) = rx.recv(&mut out).unwrap() {
        got.push(out[..n].to_vec());
    }
    got
}

#[test]
fn a_restarted_receiver_gets_nothing_until_the_sender_re_attaches_then_everything_new() {
    let (mut tx, mut rx, data, ctl) = pair(8);
    // The old receiver dies holding lent slots: 5 sent, 2 received (handed back), 3 still queued.
    for i in 0..5u8 {
        assert!(tx.send(&[1, i]).unwrap());
    }
    assert_eq!(recv_all_n(&mut rx, 2).len(), 2);
    drop(rx);
    let mut rx2 = Receiver::rejoin(data.region(), ctl.region()).unwrap();
    assert!(!rx2.attached());
    assert!(rx2.is_empty(), "a detached receiver reads nothing, not the old life's queue");
    assert!(recv_all(&mut rx2).is_empty());
    // The sender has not synced yet: it goes on (harmlessly) with the old state.
    assert!(tx.send(&[2, 0]).unwrap());
    let s = tx.sync();
    assert!(s.peer_restarted && !s.attached);
    assert!(recv_all(&mut rx2).is_empty(), "the receiver has not synced either");
    let s = rx2.sync();
    assert!(s.attached && !s.peer_restarted);
    assert!(rx2.attached());
    assert!(rx2.is_empty(), "what the old life left in the queue is gone");
    // Every slot is the sender's again, the lent ones included: 8 fit, the ninth does not.
    for i in 0..8u8 {
        assert!(tx.send(&[3, i]).unwrap(), "slot {i}");
    }
    assert!(!tx.send(&[3, 8]).unwrap());
    let got = recv_all(&mut rx2);
    assert_eq!(got, (0..8u8).map(|i| vec![3, i]).collect::<Vec<_>>());
    // And the ring keeps going round.
    for round in 4..8u8 {
        for i in 0..8u8 {
            assert!(tx.send(&[round, i]).unwrap());
        }
        assert_eq!(recv_all(&mut rx2).len(), 8);
    }
    assert_eq!(tx.sync(), Synced::default(), "nothing more to follow");
    assert_eq!(rx2.sync(), Synced::default());
}

fn recv_all_n(rx: &mut Receiver, n: usize) -> Vec<Vec<u8>> {
    let mut out = [0u8; SLOT_SIZE];
    (0..n).map(|_| rx.recv(&mut out).unwrap().map(|len| out[..len].to_vec()).unwrap()).collect()
}

#[test]
fn a_restarted_sender_sends_nothing_until_the_receiver_re_attaches() {
    let (mut tx, mut rx, data, ctl) = pair(4);
    assert!(tx.send(b"old").unwrap());
    drop(tx);
    let mut tx2 = Sender::rejoin(data.region(), ctl.region()).unwrap();
    assert!(!tx2.send(b"early").unwrap(), "detached: nothing is queued");
    assert!(!tx2.has_room() && !tx2.ready());
    assert!(!tx2.take_signal_request());
    // A reserve is still possible (its own slots; a NIC posts them at init) but not a commit.
    let r = tx2.reserve().unwrap().unwrap();
    assert!(!tx2.commit(r.offset(), 10).unwrap(), "detached: the commit waits");
    tx2.unreserve(r.offset()).unwrap();
    assert!(rx.sync().peer_restarted);
    assert_eq!(recv_all(&mut rx), Vec::<Vec<u8>>::new(), "the old life's entry is not delivered after the reset");
    assert!(tx2.sync().attached);
    for i in 0..4u8 {
        assert!(tx2.send(&[i]).unwrap());
    }
    assert_eq!(recv_all(&mut rx).len(), 4);
}

#[test]
fn slots_held_from_a_dead_sender_are_orphans_whose_release_goes_nowhere() {
    let (mut tx, mut rx, data, ctl) = pair(4);
    assert!(tx.send(b"a").unwrap());
    assert!(tx.send(b"b").unwrap());
    // A NIC PD takes both to transmit by DMA; the stack PD (the sender) then restarts.
    let a = rx.take().unwrap().unwrap();
    let b = rx.take().unwrap().unwrap();
    drop(tx);
    let mut tx2 = Sender::rejoin(data.region(), ctl.region()).unwrap();
    assert!(rx.sync().peer_restarted);
    assert!(tx2.sync().attached);
    // The new sender lends slot a's slot again before the device is done with the old frame.
    assert!(tx2.send(b"new").unwrap());
    let again = rx.take().unwrap().unwrap();
    assert_eq!(again.offset, a.offset, "the new sender starts from its first slot");
    // The old loans complete first (a NIC completes in order): nothing reaches the new sender.
    rx.release(a.offset).unwrap();
    rx.release(b.offset).unwrap();
    // The new loan's release does.
    rx.release(again.offset).unwrap();
    assert_eq!(rx.release(again.offset), Err(RingError::NotHeld));
    // The new sender saw exactly one slot back, never a forged one: 4 sends fit, no error.
    for i in 0..4u8 {
        assert!(tx2.send(&[i]).unwrap(), "send {i}");
    }
    assert!(!tx2.send(b"x").unwrap());
}

#[test]
fn a_sender_keeps_the_slots_a_device_is_filling_when_its_receiver_restarts() {
    let (mut tx, rx, data, ctl) = pair(4);
    let r1 = tx.reserve().unwrap().unwrap();
    let r2 = tx.reserve().unwrap().unwrap();
    assert!(tx.commit(r1.offset(), 60).unwrap());
    drop(rx);
    let mut rx2 = Receiver::rejoin(data.region(), ctl.region()).unwrap();
    assert!(tx.sync().peer_restarted);
    assert!(rx2.sync().attached);
    // r2 is still reserved (the device may be writing it); r1, lent to the dead receiver, is back.
    let mut fresh = Vec::new();
    while let Some(r) = tx.reserve().unwrap() {
        fresh.push(r.offset());
    }
    assert_eq!(fresh.len(), 3, "r1 and the two never used; r2 stays with the device");
    assert!(!fresh.contains(&r2.offset()));
    assert!(tx.commit(r2.offset(), 64).unwrap());
    let got = rx2.take().unwrap().unwrap();
    assert_eq!((got.offset, got.len), (r2.offset(), 64));
}

#[test]
fn both_ends_restarting_re_attach_to_each_other() {
    let (mut tx, mut rx, data, ctl) = pair(4);
    assert!(tx.send(b"x").unwrap());
    drop((tx, rx));
    // Twice in a row for the sender (it faulted again before the receiver came back).
    let tx_early = Sender::rejoin(data.region(), ctl.region()).unwrap();
    drop(tx_early);
    let mut tx = Sender::rejoin(data.region(), ctl.region()).unwrap();
    rx = Receiver::rejoin(data.region(), ctl.region()).unwrap();
    for _ in 0..3 {
        tx.sync();
        rx.sync();
    }
    assert!(tx.attached() && rx.attached());
    for i in 0..4u8 {
        assert!(tx.send(&[i]).unwrap());
    }
    assert_eq!(recv_all(&mut rx), (0..4u8).map(|i| vec![i]).collect::<Vec<_>>());
}

#[test]
fn the_signal_flag_works_after_a_re_attach() {
    let (mut tx, rx, data, ctl) = pair(4);
    rx.request_signal();
    drop(rx);
    let mut rx2 = Receiver::rejoin(data.region(), ctl.region()).unwrap();
    rx2.request_signal();
    tx.sync();
    assert!(tx.send(b"a").unwrap());
    assert!(!tx.take_signal_request(), "the old receiver's request died with it, and a detached one asks nothing");
    assert!(rx2.sync().attached);
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(rx2.recv(&mut out).unwrap(), Some(1), "what was sent after the reset is there at attach");
    rx2.request_signal();
    assert!(rx2.is_empty());
    assert!(tx.send(b"b").unwrap());
    assert!(tx.take_signal_request(), "an attached receiver's request is seen");
}

#[test]
fn a_ring_at_first_boot_needs_no_handshake() {
    let (mut tx, mut rx, _d, _c) = pair(4);
    assert!(tx.attached() && rx.attached());
    assert_eq!(tx.sync(), Synced::default());
    assert_eq!(rx.sync(), Synced::default());
    assert!(tx.send(b"x").unwrap());
    assert_eq!(recv_all(&mut rx).len(), 1);
}

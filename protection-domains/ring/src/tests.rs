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

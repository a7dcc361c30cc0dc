//! Model check (loom) of lending a slot without copying it: the producer fills a
//! reserved slot in place and commits it, the consumer reads it in place (a NIC
//! sending it) and releases it, and the producer then reuses the slot. Loom
//! explores every interleaving and reports any access to the slot's bytes that
//! is not ordered after the other side's by the queue indices (a data race).
//!
//! This is a model of `src/queue.rs` as `Sender::commit` / `Receiver::take` /
//! `Receiver::release` / `Sender::reserve` use it: the active queue's tail is
//! published with Release and read with Acquire, and so is the free queue's. If
//! you change an ordering there, change it here. The other two models weaken one
//! of the two Release stores to Relaxed and must fail, which shows the check
//! catches a slot read before its bytes are visible, and a slot refilled while
//! the consumer may still be reading it.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

struct Shared {
    /// One data-region slot.
    slot: UnsafeCell<u64>,
    /// The active queue's tail (producer → consumer).
    active_tail: AtomicU32,
    /// The free queue's tail (consumer → producer).
    free_tail: AtomicU32,
}

fn model(publish: Ordering, hand_back: Ordering) {
    loom::model(move || {
        let s = Arc::new(Shared { slot: UnsafeCell::new(0), active_tail: AtomicU32::new(0), free_tail: AtomicU32::new(0) });
        let p = s.clone();
        let producer = thread::spawn(move || {
            // reserve, fill in place (the device's DMA write), commit.
            p.slot.with_mut(|v| unsafe { *v = 1 });
            p.active_tail.store(1, publish);
            // reserve again: only a slot the consumer handed back (free queue, Acquire).
            while p.free_tail.load(Ordering::Acquire) == 0 {
                thread::yield_now();
            }
            p.slot.with_mut(|v| unsafe { *v = 2 });
        });
        // take (Acquire), read in place (the device's DMA read), release (Release).
        while s.active_tail.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        let seen = s.slot.with(|v| unsafe { *v });
        assert_eq!(seen, 1, "slot read before the producer's bytes");
        s.free_tail.store(1, hand_back);
        producer.join().unwrap();
    });
}

#[test]
fn a_lent_slot_is_never_accessed_by_both_sides_at_once() {
    model(Ordering::Release, Ordering::Release);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn without_release_on_commit_the_read_races_the_fill() {
    model(Ordering::Relaxed, Ordering::Release);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn without_release_on_release_the_reuse_races_the_read() {
    model(Ordering::Release, Ordering::Relaxed);
}

//! Model checks (loom) of the ring's queues, on the real code of `src/queue.rs`: built with
//! `--cfg loom`, its atomics and fences are loom's and its shared memory is a struct loom can
//! track (`queue::loom_memory`), so loom explores every interleaving and every outcome the C++
//! memory model allows of `ProducerQueue` and `ConsumerQueue` themselves. support/test runs:
//!
//!     RUSTFLAGS="--cfg loom" cargo test --release -p pd-ring --test loom
//!
//! - The signal flag: when the consumer decides to sleep, the producer has seen its request
//!   and notifies (no lost wake-up).
//! - Lending a slot without copying it (a NIC's zero-copy path): the producer fills a slot in
//!   place and enqueues its descriptor on the active queue; the consumer dequeues it, reads the
//!   slot in place and hands it back on the free queue; the producer reuses the slot only after
//!   dequeuing it from there. loom reports any access to the slot's bytes not ordered after the
//!   other side's (a data race).
//! - Re-attaching after a restart (src/rejoin.rs): a restarted receiver never takes an entry
//!   published for the one before it.
//!
//! Weakening an ordering in src/queue.rs makes these fail (checked by hand when they were
//! written: the tail's Release store to Relaxed gives a causality violation in the lending
//! check; the SeqCst fences to Release give a lost wake-up).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use pd_ring::queue::loom_memory::QueueMemory;
use pd_ring::{ConsumerQueue, Desc, ProducerQueue};

/// Two views of one queue, as the two PDs have them.
fn queue(memory: &QueueMemory) -> (ProducerQueue, ConsumerQueue) {
    // SAFETY: the memory outlives both views (the test holds it in an Arc across the threads).
    unsafe { (ProducerQueue::new(memory.base(), 4), ConsumerQueue::new(memory.base(), 4)) }
}

struct Shared {
    active: QueueMemory,
    free: QueueMemory,
    slot: UnsafeCell<u64>,
    notified: AtomicBool,
}

fn shared() -> Arc<Shared> {
    Arc::new(Shared { active: QueueMemory::new(), free: QueueMemory::new(), slot: UnsafeCell::new(0), notified: AtomicBool::new(false) })
}

/// A queue end moved into the thread of the PD that owns it.
struct Owned<T>(T);
// SAFETY: each end is used by one thread only, as each PD has its own end.
unsafe impl<T> Send for Owned<T> {}

#[test]
fn signal_protocol_has_no_lost_wakeup() {
    loom::model(|| {
        let s = shared();
        let (producer, consumer) = queue(&s.active);
        let (p, mut producer) = (s.clone(), Owned(producer));
        let t = thread::spawn(move || {
            let producer = &mut producer.0;
            assert!(producer.enqueue(Desc { offset: 0, len: 64 }).unwrap());
            if producer.take_signal_request() {
                p.notified.store(true, Ordering::Relaxed); // Channel::notify
            }
        });
        // The consumer found the queue empty: request a signal, re-check, sleep only if still empty.
        let sleeps = if consumer.is_empty().unwrap() {
            consumer.request_signal();
            if consumer.is_empty().unwrap() {
                true
            } else {
                consumer.cancel_signal();
                false
            }
        } else {
            false
        };
        t.join().unwrap();
        if sleeps {
            assert!(s.notified.load(Ordering::Relaxed), "lost wake-up: consumer sleeps with an entry queued");
        }
    });
}

#[test]
fn a_lent_slot_is_never_accessed_by_both_sides_at_once() {
    loom::model(|| {
        let s = shared();
        let (active_p, mut active_c) = queue(&s.active);
        let (mut free_p, free_c) = queue(&s.free);
        let (p, mut ends) = (s.clone(), Owned((active_p, free_c)));
        let producer = thread::spawn(move || {
            let (active, free) = &mut ends.0;
            // Fill the slot in place (the device's DMA write), then publish it.
            p.slot.with_mut(|v| unsafe { *v = 1 });
            assert!(active.enqueue(Desc { offset: 0, len: 8 }).unwrap());
            // Reuse it only once the consumer handed it back.
            while free.dequeue().unwrap().is_none() {
                thread::yield_now();
            }
            p.slot.with_mut(|v| unsafe { *v = 2 });
        });
        let desc = loop {
            if let Some(d) = active_c.dequeue().unwrap() {
                break d;
            }
            thread::yield_now();
        };
        assert_eq!(desc, Desc { offset: 0, len: 8 });
        let seen = s.slot.with(|v| unsafe { *v });
        assert_eq!(seen, 1, "slot read before the producer's bytes");
        assert!(free_p.enqueue(desc).unwrap());
        producer.join().unwrap();
    });
}

/// The rejoin protocol (src/rejoin.rs) on one queue, the active one: the receiver restarts while
/// the sender goes on. Whatever the interleaving, the new receiver takes nothing the sender
/// published for the old one (len 1), and gets the entry published after the re-attach (len 2)
/// once the sender has seen the restart: the sender's zeroing and echo (Release) are ordered
/// before the receiver's attach (Acquire). Weakening the echo to Relaxed lets the new receiver
/// read the old tail and dequeue a stale entry (checked by hand when it was written).
#[test]
fn a_restarted_receiver_never_takes_what_was_sent_to_the_old_one() {
    use pd_ring::rejoin::{loom_memory::RejoinMemory, End, Rejoin};
    loom::model(|| {
        let s = shared();
        let epochs = Arc::new(RejoinMemory::new());
        let (mut active_p, _) = queue(&s.active);
        let (_, free_c) = queue(&s.free);
        // The old life: one entry published and never taken.
        assert!(active_p.enqueue(Desc { offset: 0, len: 1 }).unwrap());
        // SAFETY: the memory outlives the views (held in Arcs across the threads).
        let mut sender = Owned((unsafe { Rejoin::new(epochs.base(), End::Sender, false) }, active_p, free_c));
        let (e, sh) = (epochs.clone(), s.clone());
        let receiver = thread::spawn(move || {
            let (_, mut active_c) = queue(&sh.active);
            let (mut free_p, _) = queue(&sh.free);
            // SAFETY: as above.
            let mut rejoin = unsafe { Rejoin::new(e.base(), End::Receiver, true) };
            let mut got = None;
            for _ in 0..3 {
                rejoin.sync([&mut active_c, &mut free_p], || {});
                if rejoin.attached() {
                    if let Some(d) = active_c.dequeue().unwrap() {
                        got = Some(d);
                        break;
                    }
                }
                thread::yield_now();
            }
            got
        });
        let (rejoin, active, free) = &mut sender.0;
        // The sender goes on with the old state until it syncs: harmless, the receiver is detached.
        let _ = active.enqueue(Desc { offset: 2048, len: 1 });
        let mut restarted = false;
        for _ in 0..3 {
            if rejoin.sync([active, free], || {}).peer_restarted {
                restarted = true;
                break;
            }
            thread::yield_now();
        }
        if restarted {
            assert!(active.enqueue(Desc { offset: 4096, len: 2 }).unwrap());
        }
        let got = receiver.join().unwrap();
        if let Some(d) = got {
            assert_eq!(d.len, 2, "the new receiver took an entry of the old life: {d:?}");
        }
    });
}

/// Both ends restart at once, over queue words their old lives left (one entry published and
/// never taken). Each new end may use the queues only after the other's echo, and every echo
/// follows a zeroing, so the stale entry (len 1) is never taken; the new one (len 2) is, once
/// both are attached. Found in review: a restarted end that wrote its seen word before
/// bumping its epoch could look echoed to a peer restarting beside it, which then attached to
/// the stale words.
#[test]
fn two_ends_restarting_together_never_use_the_old_lives_queue() {
    use pd_ring::rejoin::{loom_memory::RejoinMemory, End, Rejoin};
    // Two preemptions reach the interleaving of the review's finding, and keep the run short
    // (unbounded, it takes minutes).
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let s = shared();
        let epochs = Arc::new(RejoinMemory::new());
        {
            let (mut old_sender, _) = queue(&s.active);
            assert!(old_sender.enqueue(Desc { offset: 0, len: 1 }).unwrap());
        }
        let (e, sh) = (epochs.clone(), s.clone());
        let sender = thread::spawn(move || {
            let (mut active, _) = queue(&sh.active);
            let (_, mut free) = queue(&sh.free);
            // SAFETY: the memory outlives the views (held in Arcs across the threads).
            let mut rejoin = unsafe { Rejoin::new(e.base(), End::Sender, true) };
            for _ in 0..3 {
                rejoin.sync([&mut active, &mut free], || {});
                if rejoin.attached() {
                    assert!(active.enqueue(Desc { offset: 2048, len: 2 }).unwrap());
                    return;
                }
                thread::yield_now();
            }
        });
        let (_, mut active) = queue(&s.active);
        let (mut free, _) = queue(&s.free);
        // SAFETY: as above.
        let mut rejoin = unsafe { Rejoin::new(epochs.base(), End::Receiver, true) };
        for _ in 0..4 {
            rejoin.sync([&mut active, &mut free], || {});
            if rejoin.attached() {
                if let Some(d) = active.dequeue().unwrap() {
                    assert_eq!(d.len, 2, "the new receiver took the old lives' entry: {d:?}");
                }
            }
            thread::yield_now();
        }
        sender.join().unwrap();
    });
}

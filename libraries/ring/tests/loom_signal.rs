//! Model check (loom) of the ring's signal-flag protocol: every interleaving and
//! every memory-order outcome the C++11 model allows is explored.
//!
//! This is a model of `src/queue.rs`: the same fields, the same orderings, the
//! same sequence on each side. If you change one, change the other.
//!
//! The producer side is the path after an `enqueue`: `take_signal_request` returns
//! false at once when nothing was published since its last call, which needs no model
//! (the consumer's re-check after setting the flag already saw every earlier entry).
//!
//! Property: when the consumer decides to sleep, the producer has notified it
//! (no lost wake-up). The second model drops the SeqCst fences and must fail,
//! which shows that the check can catch a lost wake-up.

use loom::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

struct Shared {
    tail: AtomicU32,
    wants_signal: AtomicU32,
    notified: AtomicBool,
}

fn model(fence_order: Ordering) {
    loom::model(move || {
        let s = Arc::new(Shared {
            tail: AtomicU32::new(0),
            wants_signal: AtomicU32::new(0),
            notified: AtomicBool::new(false),
        });
        let p = s.clone();
        let producer = thread::spawn(move || {
            // ProducerQueue::enqueue, then take_signal_request.
            p.tail.store(1, Ordering::Release);
            fence(fence_order);
            let flag = &p.wants_signal;
            if flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::Relaxed) != 0 {
                p.notified.store(true, Ordering::Relaxed); // Channel::notify
            }
        });
        // Consumer: the queue looked empty, so: request_signal, then re-check.
        let sleeps = if s.tail.load(Ordering::Acquire) == 0 {
            s.wants_signal.store(1, Ordering::Relaxed);
            fence(fence_order);
            if s.tail.load(Ordering::Acquire) == 0 {
                true
            } else {
                s.wants_signal.store(0, Ordering::Relaxed); // cancel_signal
                false
            }
        } else {
            false
        };
        producer.join().unwrap();
        if sleeps {
            assert!(s.notified.load(Ordering::Relaxed), "lost wake-up: consumer sleeps with an entry queued");
        }
    });
}

#[test]
fn signal_protocol_has_no_lost_wakeup() {
    model(Ordering::SeqCst);
}

#[test]
#[should_panic(expected = "lost wake-up")]
fn without_seqcst_fences_a_wakeup_is_lost() {
    model(Ordering::Release);
}

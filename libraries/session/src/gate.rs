//! A crypto worker's gate: whether the worker may still touch the ring slots of its jobs.
//!
//! Crypto gives a worker up when it breaks the job protocol or leaves a batch unanswered for
//! seconds, and hands the ring slots of the worker's unanswered jobs back to their rings, where
//! they are filled again: net_red and net_black refill the input slots, crypto reserves the
//! output slots for other packets. A worker given up may still run later (one that was only
//! starved, or that hangs and comes back): without a gate it would then seal into a black slot
//! that now holds another message (the peer gets a wrong packet in its place), write an opened
//! packet over another, or claim the counter of a message it was never meant to open (which
//! then fails as a replay).
//!
//! The worker works each batch inside the gate: it enters ([`WorkerGate::enter`]) before it
//! reads the first job's slot and leaves ([`WorkerGate::leave`]) after it wrote the last.
//! Crypto closes the gate ([`WorkerGate::close`]) before it hands any slot back; if the worker
//! is inside, crypto waits and tries again later. Once closed, the worker never enters again,
//! and everything it did inside happened before crypto reused a slot (its leave is a Release
//! store that crypto's closing read acquires). tests/loom.rs checks this on this code.
//!
//! All-zero memory is an open gate, so a freshly mapped table opens every gate.

use crate::sync::{AtomicU32, Ordering};

/// The worker may enter (the gate's value in all-zero memory).
const OPEN: u32 = 0;
/// The worker is working a batch.
const INSIDE: u32 = 1;
/// Crypto gave the worker up: it never enters again (until crypto starts afresh).
const CLOSED: u32 = 2;

/// One worker's gate, on a cache line of its own (the worker writes it twice per batch).
#[repr(C, align(64))]
pub struct WorkerGate {
    state: AtomicU32,
}

impl Default for WorkerGate {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerGate {
    /// An open gate.
    pub fn new() -> Self {
        Self { state: AtomicU32::new(OPEN) }
    }

    /// The worker, before it works a batch: true if it may (then it must [`WorkerGate::leave`]
    /// when done); false once crypto has given it up.
    pub fn enter(&self) -> bool {
        // Acquire: pairs with crypto's reopening at its start (the table is then fresh).
        self.state.compare_exchange(OPEN, INSIDE, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// The worker, after the batch's last write into a ring slot (only after an `enter` that
    /// returned true).
    pub fn leave(&self) {
        // Release: every read and write of the batch happens before crypto's close reads OPEN.
        self.state.store(OPEN, Ordering::Release);
    }

    /// Crypto, before it hands back the slots of a worker given up: true once the gate is
    /// closed (the worker is outside and never enters again); false while the worker is inside
    /// a batch (try again later; the slots stay held).
    pub fn close(&self) -> bool {
        // Acquire: the worker's last batch (its leave) happens before crypto reuses a slot.
        match self.state.compare_exchange(OPEN, CLOSED, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => true,
            // Already closed, or a value only a corrupt write leaves: nothing enters either way.
            Err(state) => state != INSIDE,
        }
    }

    /// Crypto, when it starts: opens the gate of a worker a previous life gave up (crypto and
    /// its workers restart together, so no worker is inside).
    pub fn reopen(&self) {
        self.state.store(OPEN, Ordering::Release);
    }

    /// Whether the gate is closed (for `status` and tests).
    pub fn is_closed(&self) -> bool {
        !matches!(self.state.load(Ordering::Relaxed), OPEN | INSIDE)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_worker_outside_is_closed_out_at_once_and_one_inside_is_waited_for() {
        let g = WorkerGate::new();
        assert!(g.enter());
        assert!(!g.close(), "the worker is inside: crypto waits");
        assert!(!g.is_closed());
        g.leave();
        assert!(g.close());
        assert!(g.close(), "closing again is closed");
        assert!(g.is_closed());
        assert!(!g.enter(), "a worker given up never enters");
        g.reopen();
        assert!(g.enter());
    }

    #[test]
    fn a_corrupt_value_counts_as_closed() {
        let g = WorkerGate { state: AtomicU32::new(7) };
        assert!(!g.enter());
        assert!(g.close());
        assert!(g.is_closed());
    }
}

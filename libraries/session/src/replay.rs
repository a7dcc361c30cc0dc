//! A replay window that several workers update at once, without a lock.
//!
//! WireGuard accepts each counter of a session at most once, and tolerates reordering within a
//! window behind the greatest counter seen (the whitepaper, section 5.4.6; RFC 6479's bitmap).
//! boringtun keeps that bitmap behind a mutex inside its tunnel; here two crypto workers on two
//! cores open packets of one session, so the window lives in memory both map and is updated
//! with compare-and-swap.
//!
//! The window is [`SLOTS`] words. A word covers one block of 32 consecutive counters: its high
//! 32 bits name the block (counter / 32), its low 32 bits are the counters of that block seen so
//! far. A block's word is slot `block % SLOTS`. To accept counter `c`:
//! - the word holds `c`'s block: accept if `c`'s bit is clear, setting it;
//! - the word holds an older block: that block is at least `SLOTS` blocks behind, outside the
//!   window: replace the word by `c`'s block with only `c`'s bit set;
//! - the word holds a newer block: `c` is outside the window: refuse.
//!
//! Each of these is one compare-and-swap on one word, and a word's block only ever grows, so a
//! counter is accepted at most once whatever the interleaving: of two workers accepting the same
//! counter, one CAS sets the bit and the other then finds it set (or a newer block). That is a
//! property of one memory location, so it holds with Relaxed ordering; the ordering between the
//! window and the session it belongs to is the session table's business (`table.rs`).
//!
//! Besides the slots, `greatest` (the highest counter accepted) refuses counters more than
//! [`WINDOW`] behind it: without it a counter never seen, from a block whose slot was not reused,
//! would be accepted however old. A stale read of `greatest` only makes that check looser, never
//! the replay check.
//!
//! Counters are limited to [`MAX_COUNTER`] (a block number must fit 32 bits): a session lives at
//! most 180 s (WireGuard's Reject-After-Time), in which even 100 Gb/s of minimum-size packets
//! sends fewer than 2^32 messages.

use crate::sync::{AtomicU64, Ordering};

/// Words in the window; each covers 32 counters. Under the loom model checker the window is two
/// words (the same code: a smaller state space, which loom explores in seconds, not hours).
#[cfg(not(loom))]
pub const SLOTS: usize = 64;
/// See above.
#[cfg(loom)]
pub const SLOTS: usize = 2;
/// Counters behind the greatest accepted one that are still accepted, if not seen before
/// (boringtun's own window is 1024, Linux's 8128).
pub const WINDOW: u64 = (SLOTS as u64 - 1) * 32;
/// The greatest counter the window takes.
pub const MAX_COUNTER: u64 = (1 << 37) - 1;

/// Why a counter was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Seen before: a replay (or a duplicate).
    Replayed,
    /// Too far behind the greatest counter seen to tell.
    TooOld,
    /// Beyond [`MAX_COUNTER`].
    TooLarge,
}

/// One session's receive window (see the module documentation).
#[repr(C)]
pub struct ReplayWindow {
    /// Highest counter accepted, plus one (0: none yet).
    next: AtomicU64,
    slots: [AtomicU64; SLOTS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

/// The word slot `counter` belongs to, and that word's value with only `counter` seen.
fn locate(counter: u64) -> (usize, u64, u64) {
    let block = counter >> 5;
    ((block % SLOTS as u64) as usize, block, 1 << (counter & 31))
}

impl ReplayWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self { next: AtomicU64::new(0), slots: core::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// Empties the window, for a new session in the same memory. Only while no worker uses it
    /// (the session table's writer does this inside its write section).
    pub fn reset(&self) {
        self.next.store(0, Ordering::Relaxed);
        for s in &self.slots {
            s.store(0, Ordering::Relaxed);
        }
    }

    /// Whether `counter` would be accepted now: a cheap look before the AEAD (a replayed packet
    /// costs no decryption). [`Self::accept`] decides.
    pub fn check(&self, counter: u64) -> Result<(), ReplayError> {
        let (slot, block, bit) = locate(self.precheck(counter)?);
        let word = self.slots[slot].load(Ordering::Relaxed);
        match (word >> 32).cmp(&block) {
            core::cmp::Ordering::Greater => Err(ReplayError::TooOld),
            core::cmp::Ordering::Equal if word & bit != 0 => Err(ReplayError::Replayed),
            _ => Ok(()),
        }
    }

    /// Accepts `counter` if it was not accepted before and is inside the window; call it only
    /// after the packet authenticated (else a forged counter would block the real packet).
    /// Of any number of workers accepting one counter, exactly one gets `Ok`.
    pub fn accept(&self, counter: u64) -> Result<(), ReplayError> {
        let (slot, block, bit) = locate(self.precheck(counter)?);
        let word = &self.slots[slot];
        let mut current = word.load(Ordering::Relaxed);
        loop {
            let new = match (current >> 32).cmp(&block) {
                core::cmp::Ordering::Greater => return Err(ReplayError::TooOld),
                core::cmp::Ordering::Equal if current & bit != 0 => return Err(ReplayError::Replayed),
                core::cmp::Ordering::Equal => current | bit,
                core::cmp::Ordering::Less => (block << 32) | bit,
            };
            match word.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        self.next.fetch_max(counter + 1, Ordering::Relaxed);
        Ok(())
    }

    /// The checks that need no slot: the counter's range and its distance behind the greatest.
    fn precheck(&self, counter: u64) -> Result<u64, ReplayError> {
        if counter > MAX_COUNTER {
            return Err(ReplayError::TooLarge);
        }
        // `next` is the greatest accepted plus one (0: none), so this is counter < greatest - WINDOW.
        if counter + WINDOW + 1 < self.next.load(Ordering::Relaxed) {
            return Err(ReplayError::TooOld);
        }
        Ok(counter)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn each_counter_is_accepted_once() {
        let w = ReplayWindow::new();
        for c in [0, 1, 63, 15, 2, 31, 32] {
            assert_eq!(w.check(c), Ok(()));
            assert_eq!(w.accept(c), Ok(()), "{c}");
            assert_eq!(w.check(c), Err(ReplayError::Replayed));
            assert_eq!(w.accept(c), Err(ReplayError::Replayed), "{c}");
        }
        for c in 64..10_000 {
            assert_eq!(w.accept(c), Ok(()));
            assert_eq!(w.accept(c), Err(ReplayError::Replayed));
        }
    }

    #[test]
    fn reordering_within_the_window_is_accepted_and_beyond_it_refused() {
        let w = ReplayWindow::new();
        w.accept(5000).unwrap();
        // Everything from 5000 - WINDOW up, unseen, is accepted once.
        for c in (5000 - WINDOW)..5000 {
            assert_eq!(w.accept(c), Ok(()), "{c}");
        }
        for c in (5000 - WINDOW)..=5000 {
            assert_eq!(w.accept(c), Err(ReplayError::Replayed), "{c}");
        }
        assert_eq!(w.accept(5000 - WINDOW - 1), Err(ReplayError::TooOld));
        assert_eq!(w.accept(0), Err(ReplayError::TooOld));
    }

    #[test]
    fn a_jump_ahead_retires_old_blocks_without_reopening_them() {
        let w = ReplayWindow::new();
        w.accept(3).unwrap();
        // Same slot as counter 3, SLOTS blocks later: the slot now holds the newer block.
        let later = 3 + 32 * SLOTS as u64;
        w.accept(later).unwrap();
        assert_eq!(w.accept(3), Err(ReplayError::TooOld));
        assert_eq!(w.check(3), Err(ReplayError::TooOld));
        // A counter whose slot was never reused but which is beyond the window: refused by the
        // greatest-counter check.
        w.accept(100_000).unwrap();
        assert_eq!(w.accept(40), Err(ReplayError::TooOld));
    }

    #[test]
    fn counters_past_the_limit_are_refused_and_reset_empties() {
        let w = ReplayWindow::new();
        assert_eq!(w.accept(MAX_COUNTER + 1), Err(ReplayError::TooLarge));
        assert_eq!(w.accept(MAX_COUNTER), Ok(()));
        assert_eq!(w.accept(0), Err(ReplayError::TooOld));
        w.reset();
        assert_eq!(w.accept(0), Ok(()));
    }

    /// The threads of `tests/workers.rs` do this with real packets; this is the bare window.
    #[test]
    fn two_threads_accept_each_counter_of_a_shared_stream_exactly_once() {
        extern crate std;
        use std::sync::atomic::AtomicUsize;
        let w = ReplayWindow::new();
        let accepted = [AtomicUsize::new(0), AtomicUsize::new(0)];
        // Both threads try every counter (every packet replayed to both), in blocks that overlap.
        std::thread::scope(|s| {
            for (t, n) in accepted.iter().enumerate() {
                let w = &w;
                s.spawn(move || {
                    for c in 0..200_000u64 {
                        let c = if t == 0 { c } else { c ^ 7 };
                        if w.accept(c).is_ok() {
                            n.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let total: usize = accepted.iter().map(|a| a.load(core::sync::atomic::Ordering::Relaxed)).sum();
        // Every counter once: none twice, and (all within the window of each other) none lost.
        assert_eq!(total, 200_000);
    }
}

//! Re-attaching a ring after one of its ends restarts.
//!
//! The root task restarts a PD that faulted with fresh memory, but the ring's control region
//! is shared and keeps what the PD's previous life wrote: queue indices, descriptors of slots
//! lent out, signal flags. Neither end may trust that state, and the end that lived on holds
//! private state (indices, the slots it lent or holds) that the new PD knows nothing of.
//!
//! Each end owns two words after the queues, on its own cache line: its **epoch** (how often
//! it started again) and **seen** (the other end's epoch it last re-attached to). The protocol:
//! - At first boot every word is 0: both ends are attached and use the queues at once.
//! - A restarted end R bumps its epoch and stays **detached**: it touches no queue word, sends
//!   nothing, receives nothing. It notifies the other end. Its seen word keeps what its last life
//!   echoed (see `Rejoin::new` for why it is not rewritten).
//! - The surviving end S, at its next sync, finds R's epoch differs from its seen: it forgets
//!   the old R (slots lent to it come back, slots taken from it become orphans), zeroes both
//!   queues' words, then stores seen = R's epoch with Release, and notifies R.
//! - R, at its next sync, loads S's seen with Acquire; once it equals R's epoch the zeroed
//!   words are visible (that Acquire pairs with S's Release), and R attaches at index 0.
//!
//! S goes on using the queues until it syncs, which is harmless: R reads none of it and S zeroes
//! it all. If both ends restart, each does both halves: each zeroes before it echoes, and each
//! uses the queues only after the other's echo, so no zeroing lands on a queue in use (and no
//! echo is written that does not follow a zeroing: tests/loom.rs checks this case too).

use core::ptr::NonNull;
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering};

/// A queue end as the protocol restarts it (implemented in `queue`): from index 0, zeroing the
/// shared words (the end that lived on) or finding them zeroed (the end that restarted).
pub trait QueueEnd {
    /// Zeroes the queue's shared words, both ends' (only while the other end is detached).
    fn zero_words(&self);
    /// Starts from index 0, the words being zero.
    fn restart_at_zero(&mut self);
    /// Zeroes the words and starts from index 0.
    fn reset(&mut self) {
        self.zero_words();
        self.restart_at_zero();
    }
}

/// Bytes after the queues: one cache line per end.
pub(crate) const BYTES: usize = 128;

/// Which end of the ring this is (whose words are ours).
#[derive(Clone, Copy)]
pub enum End {
    /// The producing end ([`crate::Sender`]): the words at the block's first cache line.
    Sender,
    /// The consuming end ([`crate::Receiver`]): the second cache line.
    Receiver,
}

/// One end's view of the two ends' epoch words ([`crate::Sender`] and [`crate::Receiver`] hold
/// one each; public for the loom model in tests/loom.rs).
pub struct Rejoin {
    block: NonNull<u8>,
    /// Byte offsets in the block of our words (epoch, then seen) and of the other end's.
    mine: usize,
    theirs: usize,
    /// Our epoch, as we stored it.
    epoch: u32,
    /// The other end's epoch we last re-attached to (what our seen word holds).
    seen: u32,
    /// Whether we may use the queues.
    attached: bool,
}

/// What a [`Rejoin::sync`] found.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Synced {
    /// The other end restarted: this end dropped what it knew of it and echoed its epoch (the
    /// caller notifies the other end, which waits for that).
    pub peer_restarted: bool,
    /// This end, restarted, just saw its epoch echoed and uses the queues from now on.
    pub attached: bool,
}

impl Synced {
    /// Whether anything changed (the caller looks at its rings again).
    pub fn changed(self) -> bool {
        self.peer_restarted || self.attached
    }
}

// SAFETY: the pointers are into the control region, mapped for the life of the ring.
unsafe impl Send for Rejoin {}

impl Rejoin {
    /// The words at `block` (the [`BYTES`] after the queues, 64-aligned), for `end`; a first
    /// start (attached) or a restart (detached until the other end echoes).
    ///
    /// # Safety
    /// `block` must point to [`BYTES`] bytes of 4-aligned shared memory mapped while used
    /// (under loom: a [`loom_memory::RejoinMemory`]).
    pub unsafe fn new(block: NonNull<u8>, end: End, restarted: bool) -> Self {
        let (mine, theirs) = match end {
            End::Sender => (0, 64),
            End::Receiver => (64, 0),
        };
        let mut r = Self { block, mine, theirs, epoch: 0, seen: 0, attached: !restarted };
        r.epoch = r.word(mine, 0).load(Ordering::Relaxed);
        // Our seen word stays what the last life echoed: writing it now, before anything was
        // zeroed, would let a peer that restarted too take it for an echo and attach to stale
        // queues. If the peer moved on since, our first sync zeroes and echoes (it is detached).
        r.seen = r.word(mine, 1).load(Ordering::Relaxed);
        if restarted {
            r.epoch = r.epoch.wrapping_add(1);
            r.word(mine, 0).store(r.epoch, Ordering::Release);
        }
        r
    }

    /// Word `i` (0: epoch, 1: seen) of the end whose words start at byte `end`.
    #[cfg(not(loom))]
    fn word(&self, end: usize, i: usize) -> &AtomicU32 {
        // SAFETY: each end's two words lie inside the block (end is 0 or 64, i 0 or 1); 4-aligned.
        unsafe { &*self.block.as_ptr().add(end + 4 * i).cast::<AtomicU32>() }
    }

    #[cfg(loom)]
    fn word(&self, end: usize, i: usize) -> &AtomicU32 {
        // SAFETY: under loom the block is a RejoinMemory (see new).
        let m = unsafe { &*self.block.as_ptr().cast::<loom_memory::RejoinMemory>() };
        let words = if end == 0 { &m.sender } else { &m.receiver };
        &words[i]
    }

    /// One round of the protocol for this end's two queues: if the other end restarted,
    /// `forget_peer` drops what this end knew of it (slots lent or held), the queues start
    /// afresh and the epoch is echoed; if this end is detached and its epoch has been echoed,
    /// it attaches at index 0.
    pub fn sync(&mut self, queues: [&mut dyn QueueEnd; 2], forget_peer: impl FnOnce()) -> Synced {
        let mut synced = Synced::default();
        let [a, b] = queues;
        if let Some(epoch) = self.peer_restarted() {
            forget_peer();
            a.reset();
            b.reset();
            self.echo(epoch);
            synced.peer_restarted = true;
        }
        if self.try_attach() {
            a.restart_at_zero();
            b.restart_at_zero();
            synced.attached = true;
        }
        synced
    }

    /// Whether this end may use the queues.
    pub fn attached(&self) -> bool {
        self.attached
    }

    /// The other end's new epoch if it restarted since we last re-attached to it.
    fn peer_restarted(&self) -> Option<u32> {
        let theirs = self.word(self.theirs, 0).load(Ordering::Acquire);
        (theirs != self.seen).then_some(theirs)
    }

    /// Tells the other end we re-attached to its epoch `epoch` (after zeroing the queues: the
    /// Release orders those stores before this one).
    fn echo(&mut self, epoch: u32) {
        self.seen = epoch;
        self.word(self.mine, 1).store(epoch, Ordering::Release);
    }

    /// For a detached end: whether the other end has echoed our epoch, attaching us if so
    /// (true only on the call that attaches).
    fn try_attach(&mut self) -> bool {
        if self.attached || self.word(self.theirs, 1).load(Ordering::Acquire) != self.epoch {
            return false;
        }
        self.attached = true;
        true
    }
}

/// Under loom (`--cfg loom`), the block is a struct of loom's atomics (as the queues are, see
/// `queue::loom_memory`), so tests/loom.rs can check the protocol's orderings.
#[cfg(loom)]
pub mod loom_memory {
    use super::AtomicU32;
    use core::ptr::NonNull;

    /// Both ends' words: epoch, seen.
    pub struct RejoinMemory {
        pub(super) sender: [AtomicU32; 2],
        pub(super) receiver: [AtomicU32; 2],
    }

    impl RejoinMemory {
        /// All zero, as at boot.
        pub fn new() -> Self {
            Self { sender: [AtomicU32::new(0), AtomicU32::new(0)], receiver: [AtomicU32::new(0), AtomicU32::new(0)] }
        }

        /// The block pointer [`super::Rejoin::new`] takes.
        pub fn base(&self) -> NonNull<u8> {
            NonNull::from(self).cast()
        }
    }
}

//! One single-producer/single-consumer queue of buffer descriptors in shared memory.
//!
//! Memory ordering, written out (the same contract as sDDF's `queue.h`):
//! - the producer writes an entry (relaxed), then publishes it by storing `tail`
//!   with Release; the consumer loads `tail` with Acquire before reading entries;
//! - the consumer reads an entry, then hands the slot back by storing `head` with
//!   Release; the producer loads `head` with Acquire before reusing entries;
//! - signal flag (no lost wake-ups): the consumer stores `wants_signal = 1`, issues
//!   a SeqCst fence, then re-checks `tail`; the producer stores `tail`, issues a
//!   SeqCst fence, then loads `wants_signal`. The two fences order the two
//!   store→load pairs, so at least one side sees the other's store: either the
//!   consumer finds the new entry, or the producer finds the flag and notifies.
//!
//! Each side keeps its own index privately and only *stores* it to shared
//! memory; the peer's index is read and checked. A peer that scribbles on the
//! queue can make it look empty, full or corrupt, never make this side index
//! outside the entry array.

#[cfg(not(loom))]
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use crate::RingError;
use core::ptr::NonNull;

const CACHE_LINE: usize = 64;
const TAIL: usize = 0;
const HEAD: usize = CACHE_LINE;
const WANTS_SIGNAL: usize = 2 * CACHE_LINE;
const ENTRIES: usize = 3 * CACHE_LINE;

/// A buffer descriptor: where in the data region, and how many bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Desc {
    /// Byte offset of the buffer in the data region.
    pub offset: u32,
    /// Length of the valid bytes.
    pub len: u32,
}

impl Desc {
    fn pack(self) -> u64 {
        u64::from(self.offset) | u64::from(self.len) << 32
    }
    fn unpack(v: u64) -> Self {
        Self { offset: v as u32, len: (v >> 32) as u32 }
    }
}

/// Bytes one queue of `capacity` entries occupies (header plus entries), cache-line rounded.
pub const fn queue_bytes(capacity: u32) -> usize {
    (ENTRIES + capacity as usize * 8).next_multiple_of(CACHE_LINE)
}

/// A view of one queue; `capacity` is kept privately (a power of two), never read
/// from shared memory.
struct Queue {
    base: NonNull<u8>,
    mask: u32,
}

// SAFETY: the queue lives in shared memory accessed only through atomics.
unsafe impl Send for Queue {}

impl Queue {
    /// # Safety
    /// `base` must point to `queue_bytes(capacity)` bytes of 8-aligned shared memory
    /// that stay mapped while the queue is used.
    unsafe fn new(base: NonNull<u8>, capacity: u32) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Self { base, mask: capacity - 1 }
    }

    #[cfg(not(loom))]
    fn word(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offset is one of the header fields, inside the queue, 4-aligned.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    #[cfg(not(loom))]
    fn entry(&self, index: u32) -> &AtomicU64 {
        let i = (index & self.mask) as usize;
        // SAFETY: i <= mask < capacity, so the entry is inside the queue; 8-aligned.
        unsafe { &*self.base.as_ptr().add(ENTRIES + i * 8).cast::<AtomicU64>() }
    }

    #[cfg(loom)]
    fn memory(&self) -> &loom_memory::QueueMemory {
        // SAFETY: under loom, `base` points to a QueueMemory (loom_memory::QueueMemory::base).
        unsafe { &*self.base.as_ptr().cast::<loom_memory::QueueMemory>() }
    }

    #[cfg(loom)]
    fn word(&self, offset: usize) -> &AtomicU32 {
        let m = self.memory();
        match offset {
            TAIL => &m.tail,
            HEAD => &m.head,
            _ => &m.wants_signal,
        }
    }

    #[cfg(loom)]
    fn entry(&self, index: u32) -> &AtomicU64 {
        &self.memory().entries[(index & self.mask) as usize]
    }

    fn capacity(&self) -> u32 {
        self.mask + 1
    }

    /// Zeroes the header words, both ends' (see the rejoin protocol in `crate::rejoin`: only
    /// while the other end is detached, and published to it by a Release store after).
    fn zero(&self) {
        for w in [TAIL, HEAD, WANTS_SIGNAL] {
            self.word(w).store(0, Ordering::Relaxed);
        }
    }
}

/// The producing end of a queue.
pub struct ProducerQueue {
    q: Queue,
    tail: u32,
    /// Entries were published since the last [`ProducerQueue::take_signal_request`]: only
    /// then can the consumer be waiting for them.
    published: bool,
}

impl ProducerQueue {
    /// # Safety
    /// As for the queue memory: `queue_bytes(capacity)` bytes, 8-aligned, mapped while used;
    /// `capacity` a power of two.
    pub unsafe fn new(base: NonNull<u8>, capacity: u32) -> Self {
        // SAFETY: forwarded from the caller.
        let q = unsafe { Queue::new(base, capacity) };
        // Start from whatever index is there, so a producer that restarts keeps in step.
        let tail = q.word(TAIL).load(Ordering::Relaxed);
        Self { q, tail, published: false }
    }

    /// Entries in flight, checked against the capacity.
    fn in_flight(&self) -> Result<u32, RingError> {
        let head = self.q.word(HEAD).load(Ordering::Acquire);
        let n = self.tail.wrapping_sub(head);
        if n > self.q.capacity() {
            return Err(RingError::CorruptIndex);
        }
        Ok(n)
    }

    /// Whether another entry fits.
    pub fn is_full(&self) -> Result<bool, RingError> {
        Ok(self.in_flight()? == self.q.capacity())
    }

    /// How many more entries fit now.
    pub fn room(&self) -> Result<u32, RingError> {
        Ok(self.q.capacity() - self.in_flight()?)
    }

    /// Appends `desc`; `Ok(false)` when the queue is full.
    pub fn enqueue(&mut self, desc: Desc) -> Result<bool, RingError> {
        if self.in_flight()? == self.q.capacity() {
            return Ok(false);
        }
        self.q.entry(self.tail).store(desc.pack(), Ordering::Relaxed);
        self.tail = self.tail.wrapping_add(1);
        self.q.word(TAIL).store(self.tail, Ordering::Release);
        self.published = true;
        Ok(true)
    }

    /// After a batch of `enqueue`s: whether the consumer asked to be signalled. The
    /// flag is cleared, so the caller must notify when this returns true.
    ///
    /// With nothing published since the last call, the answer is no and the flag is left
    /// set: the consumer saw every earlier entry when it re-checked after setting the flag,
    /// so it waits only for later ones. Signalling it anyway made two idle PDs wake each
    /// other forever (each found the other armed), which kept the CPU busy with no traffic.
    pub fn take_signal_request(&mut self) -> bool {
        if !core::mem::take(&mut self.published) {
            return false;
        }
        fence(Ordering::SeqCst);
        let flag = self.q.word(WANTS_SIGNAL);
        flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::Relaxed) != 0
    }
}

/// The consuming end of a queue.
pub struct ConsumerQueue {
    q: Queue,
    head: u32,
}

impl ConsumerQueue {
    /// # Safety
    /// As for [`ProducerQueue::new`].
    pub unsafe fn new(base: NonNull<u8>, capacity: u32) -> Self {
        // SAFETY: forwarded from the caller.
        let q = unsafe { Queue::new(base, capacity) };
        let head = q.word(HEAD).load(Ordering::Relaxed);
        Self { q, head }
    }

    /// Entries ready, checked against the capacity.
    fn ready(&self) -> Result<u32, RingError> {
        let tail = self.q.word(TAIL).load(Ordering::Acquire);
        let n = tail.wrapping_sub(self.head);
        if n > self.q.capacity() {
            return Err(RingError::CorruptIndex);
        }
        Ok(n)
    }

    /// Whether nothing is ready.
    pub fn is_empty(&self) -> Result<bool, RingError> {
        Ok(self.ready()? == 0)
    }

    /// How many entries are ready.
    pub fn len(&self) -> Result<u32, RingError> {
        self.ready()
    }

    /// Takes the oldest entry, if any.
    pub fn dequeue(&mut self) -> Result<Option<Desc>, RingError> {
        if self.ready()? == 0 {
            return Ok(None);
        }
        let desc = Desc::unpack(self.q.entry(self.head).load(Ordering::Relaxed));
        self.head = self.head.wrapping_add(1);
        self.q.word(HEAD).store(self.head, Ordering::Release);
        Ok(Some(desc))
    }

    /// Asks the producer for a signal on the next enqueue. The caller must re-check
    /// the queue afterwards and only sleep if it is still empty.
    pub fn request_signal(&self) {
        self.q.word(WANTS_SIGNAL).store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Withdraws a signal request (the re-check found work).
    pub fn cancel_signal(&self) {
        self.q.word(WANTS_SIGNAL).store(0, Ordering::Relaxed);
    }
}

impl crate::rejoin::QueueEnd for ProducerQueue {
    fn zero_words(&self) {
        self.q.zero();
    }
    fn restart_at_zero(&mut self) {
        self.tail = 0;
        self.published = false;
    }
}

impl crate::rejoin::QueueEnd for ConsumerQueue {
    fn zero_words(&self) {
        self.q.zero();
    }
    fn restart_at_zero(&mut self) {
        self.head = 0;
    }
}

/// Under the loom model checker (`--cfg loom`), the queues' shared memory is a struct of loom's
/// atomics, which loom can track, instead of raw memory: the code above is otherwise the same,
/// and `tests/loom.rs` runs it.
#[cfg(loom)]
pub mod loom_memory {
    use super::{AtomicU32, AtomicU64};
    use core::ptr::NonNull;

    /// One queue's header words and entries.
    pub struct QueueMemory {
        pub(super) tail: AtomicU32,
        pub(super) head: AtomicU32,
        pub(super) wants_signal: AtomicU32,
        pub(super) entries: [AtomicU64; 4],
    }

    impl QueueMemory {
        /// A queue of capacity 4, all zero.
        pub fn new() -> Self {
            Self {
                tail: AtomicU32::new(0),
                head: AtomicU32::new(0),
                wants_signal: AtomicU32::new(0),
                entries: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            }
        }

        /// The base pointer the queue constructors take (capacity 4).
        pub fn base(&self) -> NonNull<u8> {
            NonNull::from(self).cast()
        }
    }
}

//! Bookkeeping for one descriptor ring of 16-byte descriptors: which buffer
//! each descriptor carries, and which descriptors the device owns.
//!
//! The ring follows the head/tail convention of the Intel NICs: the device owns
//! the descriptors from head up to (not including) tail; an empty ring has
//! head == tail, so at most `N - 1` descriptors are ever given to the device.
//! Descriptor *formats* differ between devices and stay in the drivers; all the
//! status a driver needs after write-back (DD, EOP, length, errors) sits in the
//! upper 8 bytes of a descriptor on both e1000 and ixgbe, so that is what
//! [`DescRing::peek_status`] reads.

use crate::{Buffer, DmaRegion, Hal, InitError};
use core::sync::atomic::{fence, Ordering};

/// Size of one descriptor (legacy and advanced formats alike).
pub const DESC_BYTES: usize = 16;

/// One descriptor ring of `N` descriptors in DMA memory and the buffers lent to it.
pub struct DescRing<const N: usize> {
    mem: DmaRegion,
    slots: [Buffer; N],
    /// Oldest descriptor given to the device and not yet taken back.
    head: usize,
    /// Next descriptor to give to the device (the value written to the tail register).
    tail: usize,
}

impl<const N: usize> DescRing<N> {
    // The length register wants a multiple of 128 bytes (8 descriptors); 4096
    // keeps the index arithmetic within every family's limits.
    const VALID_SIZE: () = assert!(N >= 8 && N.is_multiple_of(8) && N <= 4096, "ring size must be a multiple of 8, 8..=4096");

    /// Allocates and zeroes the descriptor memory, physically aligned to `align`.
    pub fn new<H: Hal + ?Sized>(hal: &mut H, align: usize) -> Result<Self, InitError> {
        let () = Self::VALID_SIZE;
        let bytes = N * DESC_BYTES;
        let mem = hal.dma_alloc(bytes, align).ok_or(InitError::DmaAlloc)?;
        if mem.len() < bytes || !mem.phys().is_multiple_of(align as u64) || !(mem.virt().as_ptr() as usize).is_multiple_of(8) {
            return Err(InitError::DmaLayout);
        }
        mem.zero();
        Ok(Self { mem, slots: [Buffer::default(); N], head: 0, tail: 0 })
    }

    /// Physical address of descriptor 0 (for the base-address registers).
    pub fn phys(&self) -> u64 {
        self.mem.phys()
    }

    /// Ring length in bytes (for the length register).
    pub fn bytes(&self) -> u32 {
        (N * DESC_BYTES) as u32
    }

    /// The tail index, as written to the tail register.
    pub fn tail(&self) -> u32 {
        self.tail as u32
    }

    /// Descriptors currently given to the device.
    pub fn in_flight(&self) -> usize {
        (self.tail + N - self.head) % N
    }

    /// How many more descriptors can be given to the device.
    pub fn room(&self) -> usize {
        N - 1 - self.in_flight()
    }

    /// Writes a descriptor (`lo` = bytes 0..8, `hi` = bytes 8..16) for `buffer` at
    /// the tail and advances the tail. The caller must have checked
    /// [`DescRing::room`] and must write the tail register afterwards (after
    /// [`DescRing::publish`]).
    pub fn push(&mut self, buffer: Buffer, lo: u64, hi: u64) {
        assert!(self.room() > 0, "descriptor ring overrun");
        let at = self.tail * DESC_BYTES;
        self.mem.write_u64(at, lo);
        self.mem.write_u64(at + 8, hi);
        self.slots[self.tail] = buffer;
        self.tail = (self.tail + 1) % N;
    }

    /// Orders the descriptor writes before the tail-register write that hands
    /// them to the device.
    pub fn publish(&self) {
        fence(Ordering::Release);
    }

    /// The upper 8 bytes of the oldest in-flight descriptor (where the device
    /// writes status back), or `None` if the device owns nothing.
    pub fn peek_status(&self) -> Option<u64> {
        (self.head != self.tail).then(|| self.mem.read_u64(self.head * DESC_BYTES + 8))
    }

    /// The index just past the run of in-flight descriptors, from the oldest on, whose status
    /// `done` accepts (the oldest's index if none is done yet).
    pub fn done_end(&self, done: impl Fn(u64) -> bool) -> usize {
        let mut at = self.head;
        while at != self.tail && done(self.mem.read_u64(at * DESC_BYTES + 8)) {
            at = (at + 1) % N;
        }
        at
    }

    /// Takes the oldest in-flight descriptor back from the device (after its
    /// status showed DD) and returns its buffer.
    pub fn pop(&mut self) -> Buffer {
        assert!(self.head != self.tail, "pop from an empty descriptor ring");
        // The DD bit was seen; what the device wrote with it must not be read earlier.
        fence(Ordering::Acquire);
        let buffer = self.slots[self.head];
        self.head = (self.head + 1) % N;
        buffer
    }
}

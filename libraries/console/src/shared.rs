//! Raw access to a shared region: the only `unsafe` of this crate.

use core::ptr::NonNull;
use core::sync::atomic::AtomicU64;

/// `len` bytes of shared memory at `base`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shared {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: shared memory reached only through atomics and volatile byte copies.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// # Safety
    /// `base..base+len` stays mapped while the view is used, is 8-byte aligned, and is accessed
    /// by others only through this crate's formats (atomics for the words, bytes otherwise).
    pub(crate) const unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        Self { base, len }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The 64-bit word at `offset` (8-aligned, inside the region: callers use constant offsets
    /// below the header size they checked).
    pub(crate) fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= self.len);
        // SAFETY: in bounds and aligned (checked above; the base is 8-aligned by contract);
        // AtomicU64 tolerates concurrent access by the peer.
        unsafe { &*(self.base.as_ptr().add(offset) as *const AtomicU64) }
    }

    /// Copies bytes out of the region; `offset + out.len()` must be in bounds.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(offset <= self.len && out.len() <= self.len - offset);
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); a volatile byte read tolerates a concurrent
            // writer (the formats detect torn data through their sequence words).
            *b = unsafe { self.base.as_ptr().add(offset + i).read_volatile() };
        }
    }

    /// Copies bytes into the region; `offset + bytes.len()` must be in bounds.
    pub(crate) fn write(&self, offset: usize, bytes: &[u8]) {
        assert!(offset <= self.len && bytes.len() <= self.len - offset);
        for (i, &b) in bytes.iter().enumerate() {
            // SAFETY: in bounds (checked above); this side is the region's only writer.
            unsafe { self.base.as_ptr().add(offset + i).write_volatile(b) };
        }
    }
}

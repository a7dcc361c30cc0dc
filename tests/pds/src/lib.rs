//! Shared pieces of the test PDs: the ring test's buffer pattern and result lines.

#![no_std]

/// Buffers the ring test sends.
pub const RING_BUFFERS: u64 = 100_000;
/// Notification round trips in the ping-pong test.
pub const PING_ROUNDS: u64 = 1000;

/// Prints a machine-readable result line: `RESULT <name> <value>`.
#[macro_export]
macro_rules! result {
    ($name:expr, $($arg:tt)*) => {
        sel4_pd_runtime::print_line(format_args!("RESULT {} {}", $name, format_args!($($arg)*)))
    };
}

/// Length of buffer `seq`: varies from 1 to 1514 bytes so that lengths are checked too.
pub fn ring_len(seq: u64) -> usize {
    1 + (seq.wrapping_mul(7919) % 1514) as usize
}

/// Fills `buf` with buffer `seq`'s content: its sequence number, then a pattern derived from it.
pub fn ring_fill(seq: u64, buf: &mut [u8]) -> usize {
    let len = ring_len(seq);
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    let n = len.min(8);
    buf[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    len
}

/// Whether `buf` is exactly buffer `seq`'s content.
pub fn ring_check(seq: u64, buf: &[u8]) -> bool {
    let mut want = [0u8; 2048];
    let len = ring_fill(seq, &mut want);
    buf.len() == len && buf == &want[..len]
}

/// Device registers or DMA memory reached through a mapped region, with volatile accesses.
pub struct Mmio(pd_api::MemoryRegion);

impl Mmio {
    /// The region.
    pub fn new(region: pd_api::MemoryRegion) -> Self {
        Self(region)
    }

    /// The region's physical address (for DMA descriptors).
    pub fn phys_addr(&self) -> u64 {
        self.0.phys_addr().unwrap_or(0)
    }

    fn at<T>(&self, offset: usize) -> *mut T {
        assert!(offset.is_multiple_of(core::mem::size_of::<T>()) && offset + core::mem::size_of::<T>() <= self.0.size());
        // SAFETY: in bounds and aligned (checked above) of a region mapped for the PD's life.
        unsafe { self.0.base().as_ptr().add(offset).cast() }
    }

    /// Reads 32 bits at `offset`.
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: at() checked bounds and alignment; device memory needs volatile accesses.
        unsafe { self.at::<u32>(offset).read_volatile() }
    }

    /// Writes 32 bits at `offset`.
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: as in read32.
        unsafe { self.at::<u32>(offset).write_volatile(value) }
    }

    /// Reads a byte at `offset`.
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: as in read32.
        unsafe { self.at::<u8>(offset).read_volatile() }
    }

    /// Writes a byte at `offset`.
    pub fn write8(&self, offset: usize, value: u8) {
        // SAFETY: as in read32.
        unsafe { self.at::<u8>(offset).write_volatile(value) }
    }

    /// Writes 64 bits at `offset` as two 32-bit halves (descriptor addresses).
    pub fn write64(&self, offset: usize, value: u64) {
        self.write32(offset, value as u32);
        self.write32(offset + 4, (value >> 32) as u32);
    }
}

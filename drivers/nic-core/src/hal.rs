//! What the platform provides to a driver: register access, DMA memory, IRQ
//! acknowledge and time.

use crate::Buffer;
use core::ptr::NonNull;

/// The platform services a NIC driver needs.
///
/// On hardware `read32`/`write32` forward to an [`Mmio`] over the mapped BAR
/// (inlined volatile accesses, nothing else); a test platform can route them to
/// a software model of the device instead.
pub trait Hal {
    /// Reads the 32-bit register at byte offset `reg` of the device's register BAR.
    fn read32(&self, reg: usize) -> u32;

    /// Writes the 32-bit register at byte offset `reg` of the device's register BAR.
    fn write32(&self, reg: usize, value: u32);

    /// DMA-capable memory for descriptor rings: `bytes` long, aligned to `align`
    /// (physically), zeroed, and the driver's for good. `None` when there is none left.
    fn dma_alloc(&mut self, bytes: usize, align: usize) -> Option<DmaRegion>;

    /// Acknowledges the device's interrupt at the interrupt controller (on seL4:
    /// the IRQ channel's `irq_ack`), after the driver has cleared the cause.
    fn irq_ack(&mut self);

    /// Busy-waits or sleeps for at least `us` microseconds (only used during init).
    fn delay_us(&mut self, us: u32);

    /// Monotonic time in nanoseconds since an arbitrary origin.
    fn now_ns(&self) -> u64;
}

/// Polls `done` every `step_us` until it holds or about `timeout_us` have passed;
/// returns whether it held. Counts steps rather than reading the clock so that
/// the bound holds even where the clock is coarse.
pub fn poll_until<H: Hal + ?Sized>(
    hal: &mut H,
    timeout_us: u32,
    step_us: u32,
    mut done: impl FnMut(&H) -> bool,
) -> bool {
    let step = step_us.max(1);
    let mut waited = 0u32;
    loop {
        if done(hal) {
            return true;
        }
        if waited >= timeout_us {
            return false;
        }
        hal.delay_us(step);
        waited = waited.saturating_add(step);
    }
}

/// A mapped register BAR: base pointer and length.
#[derive(Debug)]
pub struct Mmio {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: an MMIO window is device memory; the driver owning it serialises access.
unsafe impl Send for Mmio {}

impl Mmio {
    /// The register window of `len` bytes at `base`.
    ///
    /// # Safety
    /// `base..base+len` must be the device's register BAR mapped uncached, and stay
    /// mapped for the life of the value; nothing else may drive the device.
    pub const unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        Self { base, len }
    }

    /// Volatile 32-bit read at byte offset `reg`. Panics if `reg` is outside the
    /// window or unaligned (register offsets are driver constants: a bug).
    #[inline(always)]
    pub fn read32(&self, reg: usize) -> u32 {
        assert!(reg.is_multiple_of(4) && reg + 4 <= self.len, "register offset {reg:#x} outside BAR");
        // SAFETY: in bounds and aligned (checked above); the window is mapped device memory.
        unsafe { self.base.as_ptr().add(reg).cast::<u32>().read_volatile() }
    }

    /// Volatile 32-bit write at byte offset `reg`; panics as [`Mmio::read32`].
    #[inline(always)]
    pub fn write32(&self, reg: usize, value: u32) {
        assert!(reg.is_multiple_of(4) && reg + 4 <= self.len, "register offset {reg:#x} outside BAR");
        // SAFETY: as in read32.
        unsafe { self.base.as_ptr().add(reg).cast::<u32>().write_volatile(value) }
    }
}

/// DMA memory: a virtual mapping and the physical address the device uses.
///
/// The memory is shared with a device, so it is only touched through volatile
/// accesses of this type, never through Rust references.
#[derive(Clone, Copy, Debug)]
pub struct DmaRegion {
    virt: NonNull<u8>,
    phys: u64,
    len: usize,
}

// SAFETY: plain memory shared with a device; every access is volatile.
unsafe impl Send for DmaRegion {}

impl DmaRegion {
    /// The region of `len` bytes mapped at `virt`, which the device sees at `phys`.
    ///
    /// # Safety
    /// `virt..virt+len` must be mapped, physically contiguous at `phys`, stay
    /// mapped while any copy of the value is used, and not be accessed through
    /// Rust references by anyone.
    pub const unsafe fn new(virt: NonNull<u8>, phys: u64, len: usize) -> Self {
        Self { virt, phys, len }
    }

    /// Physical address of the first byte.
    pub const fn phys(&self) -> u64 {
        self.phys
    }

    /// Virtual address of the first byte.
    pub const fn virt(&self) -> NonNull<u8> {
        self.virt
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part `offset..offset+len`, or `None` if it does not fit.
    pub fn slice(&self, offset: usize, len: usize) -> Option<DmaRegion> {
        let end = offset.checked_add(len)?;
        (end <= self.len).then(|| {
            // SAFETY: a sub-range of a region that satisfies new()'s contract.
            unsafe { Self::new(self.virt.add(offset), self.phys + offset as u64, len) }
        })
    }

    /// The buffer `offset..offset+len` of this region, named by its offset (for
    /// posting a ring slot to a NIC), or `None` if it does not fit.
    pub fn buffer(&self, offset: u32, len: u32) -> Option<Buffer> {
        let end = (offset as usize).checked_add(len as usize)?;
        (end <= self.len).then_some(Buffer { phys: self.phys + u64::from(offset), offset, len })
    }

    fn check(&self, offset: usize, size: usize) {
        assert!(
            offset.is_multiple_of(size) && offset.checked_add(size).is_some_and(|e| e <= self.len),
            "DMA access {offset:#x}+{size} outside region of {:#x}",
            self.len
        );
    }

    /// Volatile 32-bit read at byte offset `offset` (aligned, in bounds, else panic).
    #[inline]
    pub fn read_u32(&self, offset: usize) -> u32 {
        self.check(offset, 4);
        // SAFETY: in bounds and aligned (checked); mapped per new()'s contract.
        unsafe { self.virt.as_ptr().add(offset).cast::<u32>().read_volatile() }
    }

    /// Volatile 32-bit write at byte offset `offset`.
    #[inline]
    pub fn write_u32(&self, offset: usize, value: u32) {
        self.check(offset, 4);
        // SAFETY: as in read_u32.
        unsafe { self.virt.as_ptr().add(offset).cast::<u32>().write_volatile(value) }
    }

    /// Volatile 64-bit read at byte offset `offset`.
    #[inline]
    pub fn read_u64(&self, offset: usize) -> u64 {
        self.check(offset, 8);
        // SAFETY: as in read_u32.
        unsafe { self.virt.as_ptr().add(offset).cast::<u64>().read_volatile() }
    }

    /// Volatile 64-bit write at byte offset `offset`.
    #[inline]
    pub fn write_u64(&self, offset: usize, value: u64) {
        self.check(offset, 8);
        // SAFETY: as in read_u32.
        unsafe { self.virt.as_ptr().add(offset).cast::<u64>().write_volatile(value) }
    }

    /// Copies bytes out of the region starting at `offset` (for a caller that
    /// copies frames rather than lending ring slots). Panics if out of bounds.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        assert!(offset.checked_add(out.len()).is_some_and(|e| e <= self.len));
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); byte accesses need no alignment.
            *b = unsafe { self.virt.as_ptr().add(offset + i).read_volatile() };
        }
    }

    /// Copies `bytes` into the region at `offset`. Panics if out of bounds.
    pub fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        assert!(offset.checked_add(bytes.len()).is_some_and(|e| e <= self.len));
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: as in read_bytes.
            unsafe { self.virt.as_ptr().add(offset + i).write_volatile(*b) };
        }
    }

    /// Zeroes the whole region.
    pub fn zero(&self) {
        for i in 0..self.len {
            // SAFETY: i < len.
            unsafe { self.virt.as_ptr().add(i).write_volatile(0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_reads_and_writes_the_named_dword() {
        let mut bar = [0u32; 16];
        // SAFETY: `bar` outlives `mmio` and is only read directly after its last use.
        let mmio = unsafe { Mmio::new(NonNull::new(bar.as_mut_ptr().cast()).unwrap(), 64) };
        mmio.write32(0x08, 0xDEAD_BEEF);
        mmio.write32(0x3C, 7);
        assert_eq!(mmio.read32(0x08), 0xDEAD_BEEF);
        assert_eq!(mmio.read32(0x3C), 7);
        assert_eq!((bar[2], bar[15], bar[3]), (0xDEAD_BEEF, 7, 0));
    }

    #[test]
    #[should_panic(expected = "outside BAR")]
    fn mmio_refuses_offsets_past_the_bar() {
        let mut bar = [0u32; 4];
        // SAFETY: as above.
        let mmio = unsafe { Mmio::new(NonNull::new(bar.as_mut_ptr().cast()).unwrap(), 16) };
        mmio.read32(0x10);
    }

    #[test]
    fn dma_region_names_buffers_by_offset_and_bounds_them() {
        let mut mem = [0u64; 64];
        // SAFETY: `mem` outlives the region and is only accessed through it.
        let region = unsafe { DmaRegion::new(NonNull::new(mem.as_mut_ptr().cast()).unwrap(), 0x1_0000_0000, 512) };
        assert_eq!(region.buffer(256, 256), Some(Buffer { phys: 0x1_0000_0100, offset: 256, len: 256 }));
        assert_eq!(region.buffer(257, 256), None);
        assert_eq!(region.buffer(u32::MAX, 2), None);
        let part = region.slice(128, 64).unwrap();
        assert_eq!(part.phys(), 0x1_0000_0080);
        assert!(region.slice(500, 64).is_none());
        part.write_u64(8, 0x0102_0304_0506_0708);
        assert_eq!(region.read_u32(136), 0x0506_0708);
        region.write_bytes(300, b"frame");
        let mut out = [0u8; 5];
        region.read_bytes(300, &mut out);
        assert_eq!(&out, b"frame");
    }

    #[test]
    #[should_panic(expected = "outside region")]
    fn dma_region_refuses_unaligned_descriptor_access() {
        let mut mem = [0u64; 4];
        // SAFETY: as above.
        let region = unsafe { DmaRegion::new(NonNull::new(mem.as_mut_ptr().cast()).unwrap(), 0, 32) };
        region.read_u64(4);
    }
}

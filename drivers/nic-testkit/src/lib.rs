//! A test platform for NIC drivers (host only).
//!
//! - [`Arena`]: DMA memory on the heap with made-up physical addresses (above
//!   4 GiB, so a driver that drops the high half of an address is caught). The
//!   driver reaches it through [`nic_core::DmaRegion`]s, the device model by
//!   physical address, as a real device would.
//! - [`TestHal`]: a [`nic_core::Hal`] whose register accesses go to a
//!   [`DeviceModel`], whose clock is simulated (each `delay_us` advances the
//!   model), and which logs every register write and IRQ acknowledge.
//! - [`queue`]: the device side of a descriptor queue, which every register model
//!   shares: descriptor fetch, buffer DMA, write-back, head movement.
//! - [`mac`]: what every Intel MAC model shares (register file, receive and transmit
//!   pipelines, statistics, interrupt line); a family's model is what its datasheet says
//!   differently.
//! - [`rig`]: a driver on its model with buffers from the arena, and the helpers
//!   every driver's tests use.
//! - [`conformance`]: the tests every driver runs against its model
//!   ([`conformance_tests!`]).

pub mod conformance;
pub mod mac;
pub mod queue;
pub mod rig;

pub use queue::RingRegs;

use nic_core::{DmaRegion, Hal};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::rc::Rc;

/// Physical address of the arena's first byte.
pub const PHYS_BASE: u64 = 0x2_4000_0000;

/// Heap memory standing in for physically contiguous DMA memory.
pub struct Arena {
    ptr: NonNull<u8>,
    layout: Layout,
    /// Device accesses outside the arena (a driver that programmed a bad address).
    faults: Cell<u32>,
}

impl Arena {
    /// An arena of `len` bytes, page aligned and zeroed.
    pub fn new(len: usize) -> Rc<Self> {
        let layout = Layout::from_size_align(len, 4096).expect("arena layout");
        // SAFETY: layout has non-zero size (callers ask for real memory).
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("arena allocation");
        Rc::new(Self { ptr, layout, faults: Cell::new(0) })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Whether the arena is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The driver's view of `offset..offset+len`.
    pub fn region(&self, offset: usize, len: usize) -> DmaRegion {
        assert!(offset + len <= self.len());
        // SAFETY: inside the allocation, which lives as long as the Rc the tests hold;
        // all accesses (driver and model) are raw-pointer accesses, never references.
        unsafe { DmaRegion::new(self.ptr.add(offset), PHYS_BASE + offset as u64, len) }
    }

    /// How many device accesses fell outside the arena.
    pub fn faults(&self) -> u32 {
        self.faults.get()
    }

    /// The host pointer for device access `phys..phys+len`; counts a fault if outside.
    fn at(&self, phys: u64, len: usize) -> Option<*mut u8> {
        let inside = phys
            .checked_sub(PHYS_BASE)
            .and_then(|off| usize::try_from(off).ok())
            .filter(|off| off.checked_add(len).is_some_and(|end| end <= self.len()));
        match inside {
            // SAFETY: in bounds (checked).
            Some(off) => Some(unsafe { self.ptr.as_ptr().add(off) }),
            None => {
                self.faults.set(self.faults.get() + 1);
                None
            }
        }
    }

    /// Device read of `out.len()` bytes at `phys`; false (and a fault counted) if outside.
    pub fn dma_read(&self, phys: u64, out: &mut [u8]) -> bool {
        let Some(p) = self.at(phys, out.len()) else { return false };
        // SAFETY: `at` checked the range; the driver side uses raw accesses only.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
        true
    }

    /// Device write of `bytes` at `phys`; false (and a fault counted) if outside.
    pub fn dma_write(&self, phys: u64, bytes: &[u8]) -> bool {
        let Some(p) = self.at(phys, bytes.len()) else { return false };
        // SAFETY: as in dma_read.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        true
    }

    /// Device read of a little-endian u64 (0 on a fault).
    pub fn read_u64(&self, phys: u64) -> u64 {
        let mut b = [0u8; 8];
        self.dma_read(phys, &mut b);
        u64::from_le_bytes(b)
    }

    /// Device write of a little-endian u64.
    pub fn write_u64(&self, phys: u64, value: u64) {
        self.dma_write(phys, &value.to_le_bytes());
    }

    /// Bytes at arena offset `offset` (what the CPU side sees), for assertions.
    pub fn bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        self.dma_read(PHYS_BASE + offset as u64, &mut out);
        out
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in new() with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// A model's register file: every register reads 0 until written.
#[derive(Default, Debug)]
pub struct Registers(std::collections::HashMap<usize, u32>);

impl Registers {
    /// The value of `reg`.
    pub fn get(&self, reg: usize) -> u32 {
        self.0.get(&reg).copied().unwrap_or(0)
    }

    /// Sets `reg`.
    pub fn set(&mut self, reg: usize, value: u32) {
        self.0.insert(reg, value);
    }

    /// Adds `by` to `reg` (a statistics counter), wrapping as the hardware does.
    pub fn bump(&mut self, reg: usize, by: u32) {
        let v = self.get(reg).wrapping_add(by);
        self.set(reg, v);
    }

    /// Reads `reg` and clears it (clear-on-read statistics and cause registers).
    pub fn take(&mut self, reg: usize) -> u32 {
        self.0.remove(&reg).unwrap_or(0)
    }

    /// Every register back to 0 (a reset).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A software model of a device's register file.
pub trait DeviceModel {
    /// A register read at byte offset `reg` (may have side effects: clear-on-read).
    fn read(&mut self, reg: usize) -> u32;
    /// A register write at byte offset `reg`.
    fn write(&mut self, reg: usize, value: u32);
    /// Simulated time passes.
    fn advance(&mut self, us: u64);
    /// What the driver did that a real device would not accept (silently misbehaving on it).
    fn protocol_errors(&self) -> &[String];
}

/// A HAL over a device model. Cloning gives another handle to the same state,
/// which is how a test keeps watching after handing the HAL to the driver.
pub struct TestHal<M> {
    /// The device model.
    pub device: Rc<RefCell<M>>,
    /// The DMA arena.
    pub arena: Rc<Arena>,
    /// Next free byte of the descriptor-ring part of the arena.
    next_alloc: Rc<Cell<usize>>,
    /// `dma_alloc` hands out `0..alloc_limit`; the rest is for the test's buffers.
    alloc_limit: usize,
    /// Number of `irq_ack` calls.
    pub irq_acks: Rc<Cell<u32>>,
    /// Every register write, in order.
    pub writes: Rc<RefCell<Vec<(usize, u32)>>>,
    /// Simulated time, in microseconds.
    pub now_us: Rc<Cell<u64>>,
}

impl<M> Clone for TestHal<M> {
    fn clone(&self) -> Self {
        Self {
            device: self.device.clone(),
            arena: self.arena.clone(),
            next_alloc: self.next_alloc.clone(),
            alloc_limit: self.alloc_limit,
            irq_acks: self.irq_acks.clone(),
            writes: self.writes.clone(),
            now_us: self.now_us.clone(),
        }
    }
}

impl<M: DeviceModel> TestHal<M> {
    /// A HAL over `device`, allocating descriptor memory from `arena[0..alloc_limit]`.
    pub fn new(device: Rc<RefCell<M>>, arena: Rc<Arena>, alloc_limit: usize) -> Self {
        Self {
            device,
            arena,
            next_alloc: Rc::new(Cell::new(0)),
            alloc_limit,
            irq_acks: Rc::new(Cell::new(0)),
            writes: Rc::new(RefCell::new(Vec::new())),
            now_us: Rc::new(Cell::new(0)),
        }
    }

    /// Index in [`TestHal::writes`] of the first write of `reg`, if any.
    pub fn first_write(&self, reg: usize) -> Option<usize> {
        self.writes.borrow().iter().position(|&(r, _)| r == reg)
    }

    /// Index of the last write of `reg`, if any.
    pub fn last_write(&self, reg: usize) -> Option<usize> {
        self.writes.borrow().iter().rposition(|&(r, _)| r == reg)
    }

    /// Advances simulated time outside a driver call (the wire is slow, a timer runs).
    pub fn advance(&self, us: u64) {
        self.now_us.set(self.now_us.get() + us);
        self.device.borrow_mut().advance(us);
    }
}

impl<M: DeviceModel> Hal for TestHal<M> {
    fn read32(&self, reg: usize) -> u32 {
        self.device.borrow_mut().read(reg)
    }

    fn write32(&self, reg: usize, value: u32) {
        self.writes.borrow_mut().push((reg, value));
        self.device.borrow_mut().write(reg, value);
    }

    fn dma_alloc(&mut self, bytes: usize, align: usize) -> Option<DmaRegion> {
        let start = self.next_alloc.get().next_multiple_of(align.max(1));
        let end = start.checked_add(bytes)?;
        if end > self.alloc_limit {
            return None;
        }
        self.next_alloc.set(end);
        Some(self.arena.region(start, bytes))
    }

    fn irq_ack(&mut self) {
        self.irq_acks.set(self.irq_acks.get() + 1);
    }

    fn delay_us(&mut self, us: u32) {
        self.advance(u64::from(us));
    }

    fn now_ns(&self) -> u64 {
        self.now_us.get() * 1000
    }
}

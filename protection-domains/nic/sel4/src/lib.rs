//! The NIC driver PDs on seL4.
//!
//! - [`Sel4Hal`]: the `nic_core::Hal` a driver runs on inside a PD: registers through the
//!   BAR that system.xml maps (`<pci_device><bar setvar_vaddr=.../>`), DMA memory from a RAM
//!   region whose physical address the root task reports (`MemoryRegion::phys_addr`), the
//!   interrupt acknowledged on the PD's IRQ channel, and time from the runtime's TSC clock.
//! - [`virtio`]: virtio-net through the `virtio-drivers` crate, behind the same `Nic` trait.
//! - [`FrameMover`] (from the `pd-nic` crate, re-exported here): the PD's data path between a
//!   driver and the ring link `"net"`, zero-copy where the ring data regions have physical
//!   addresses (on seL4 every RAM region does), with the channel contract documented there.
//!   [`print_result`] prints its counters as `RESULT <pd>_<counter> <value>` on a REPORT
//!   notification (tests and benchmarks; the product leaves that channel unconnected).

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod virtio;

use nic_core::{DmaRegion, Hal, Mmio};
use pd_api::{Channel, MemoryRegion};
pub use pd_nic::*;

/// The seL4 implementation of the driver HAL.
pub struct Sel4Hal {
    regs: Mmio,
    pool: DmaRegion,
    pool_used: usize,
    irq: Channel,
}

impl Sel4Hal {
    /// The HAL over the register BAR `regs` (mapped uncached by the root task), handing out
    /// descriptor memory from `pool`, acknowledging interrupts on `irq`.
    pub fn new(regs: MemoryRegion, pool: DmaRegion, irq: Channel) -> Self {
        // SAFETY: `regs` is the device's BAR that the root task mapped uncached into this PD for
        // its whole life (system.xml `<bar>`), and only this PD drives the device.
        let regs = unsafe { Mmio::new(regs.base(), regs.size()) };
        Self { regs, pool, pool_used: 0, irq }
    }
}

impl Hal for Sel4Hal {
    #[inline(always)]
    fn read32(&self, reg: usize) -> u32 {
        self.regs.read32(reg)
    }

    #[inline(always)]
    fn write32(&self, reg: usize, value: u32) {
        self.regs.write32(reg, value)
    }

    fn dma_alloc(&mut self, bytes: usize, align: usize) -> Option<DmaRegion> {
        let align = align.max(1);
        // Align the physical address (what the device checks); the pool's virtual and physical
        // addresses differ by a multiple of the page size, so both end up aligned.
        let phys = self.pool.phys() + self.pool_used as u64;
        let pad = (phys.next_multiple_of(align as u64) - phys) as usize;
        let start = self.pool_used.checked_add(pad)?;
        let part = self.pool.slice(start, bytes)?;
        part.zero();
        self.pool_used = start + bytes;
        Some(part)
    }

    fn irq_ack(&mut self) {
        self.irq.irq_ack();
    }

    fn delay_us(&mut self, us: u32) {
        let until = pd_api::now_ns().saturating_add(u64::from(us) * 1000);
        // Bounded: the clock is the TSC, which always advances.
        while pd_api::now_ns() < until {
            core::hint::spin_loop();
        }
    }

    fn now_ns(&self) -> u64 {
        pd_api::now_ns()
    }
}

/// Receive and transmit descriptors of every Intel NIC PD (a multiple of 32, at least 64: what
/// the X722 takes too).
pub const RX_DESCRIPTORS: usize = 256;
/// See [`RX_DESCRIPTORS`].
pub const TX_DESCRIPTORS: usize = 256;
/// Transmit frame buffers (used only if a ring data region had no physical address).
pub const TX_BUFFERS: usize = 240;
/// The DMA region (`nic_dma`) an Intel NIC PD needs.
pub const DMA_BYTES: usize = DmaLayout::bytes_needed(RX_DESCRIPTORS, TX_BUFFERS);
/// Minimum time between interrupts, in microseconds.
pub const INTERRUPT_INTERVAL_US: u32 = 20;

/// Starts the NIC PD on the first `<pci_device>` system.xml gives it: `start` brings the device
/// up; if it cannot, the PD logs `refusing to start: PCI bb:dd.f vvvv:dddd: <why>` and the rest
/// of the system runs on.
pub fn start_on_pci<H: pd_api::Handler, E: core::fmt::Display>(
    start: impl FnOnce(sel4_pd_runtime::PciInfo) -> Result<H, E>,
) -> sel4_pd_runtime::Started<H> {
    sel4_pd_runtime::Started::start("nic", || {
        let pci = sel4_pd_runtime::pci_device(0)
            .ok_or_else(|| alloc::string::String::from("system.xml gives this PD no <pci_device>"))?;
        start(pci).map_err(|e| {
            alloc::format!("PCI {:02x}:{:02x}.{} {:04x}:{:04x}: {e}", pci.bus, pci.dev, pci.func, pci.vendor, pci.device)
        })
    })
}

/// Prints one counter as `RESULT <pd>_<name> <value>` (the [`MoverConfig::report`] of the seL4
/// NIC PDs: tests and benchmarks read these lines from the console).
pub fn print_result(name: &str, value: u64) {
    let pd = sel4_pd_runtime::pd_name();
    sel4_pd_runtime::print_line(format_args!("RESULT {pd}_{name} {value}"));
}

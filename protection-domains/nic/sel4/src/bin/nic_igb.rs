//! The NIC PD for the Intel igb family: the I350 ports of the SuperMicro SYS-E300-9D (8086:1521)
//! and QEMU's 82576 (`-device igb`, 8086:10c9): the `nic-igb` driver under the seL4 HAL, moving
//! frames to and from the ring link "net" without a copy (see the `pd_nic_sel4` crate for the
//! channel contract).
//!
//! system.xml gives it:
//! - the port's PCI function (`<pci_device>`, by `bdf` on the box) with BAR 0 named `igb_regs`
//!   and its interrupt on channel 1, `irq="msix"` (the box) or `irq="msi"`/`"intx"`: the root
//!   task tells the PD the device id and the interrupt mode it set up;
//! - a RAM region `nic_dma` of at least [`pd_nic_sel4::DMA_BYTES`] for descriptor rings;
//! - the link "net" (channel 0).
#![no_std]
#![no_main]

use nic_core::{Config, InterruptMode, Nic};
use nic_igb::Igb;
use pd_nic_sel4::{
    print_result, region, DmaLayout, FrameMover, MoverConfig, Sel4Hal, INTERRUPT_INTERVAL_US, NIC_IRQ, RX_DESCRIPTORS, TX_BUFFERS,
    TX_DESCRIPTORS,
};


type Driver = Igb<Sel4Hal, RX_DESCRIPTORS, TX_DESCRIPTORS>;

/// Raises a receive interrupt so that the PD comes back for work it left.
fn rekick(nic: &Driver) {
    nic.raise_rx_interrupt();
}

extern crate alloc;

/// The PD, or why it refused to start (naming the device): the rest of the system runs on.
fn init() -> sel4_pd_runtime::Started<FrameMover<Driver>> {
    pd_nic_sel4::start_on_pci(start)
}

fn start(pci: sel4_pd_runtime::PciInfo) -> Result<FrameMover<Driver>, &'static str> {
    let interrupt = match pci.irq {
        2 => InterruptMode::MsiX,
        _ => InterruptMode::Line,
    };
    let regs = region("igb_regs")?;
    let dma = DmaLayout::split(region("nic_dma")?, RX_DESCRIPTORS, TX_BUFFERS)?;
    let hal = Sel4Hal::new(regs, dma.descriptors, NIC_IRQ);
    let config = Config { interrupt_interval_us: INTERRUPT_INTERVAL_US, interrupt, ..Config::new(pci.device) };
    let mut nic = Driver::new(hal, config).map_err(|e| match e {
        nic_core::InitError::UnsupportedDevice(_) => "not an 82576 or I350 (device id)",
        nic_core::InitError::ResetTimeout => "device reset did not complete",
        nic_core::InitError::NoMacAddress => "no MAC address in RAL0/RAH0",
        nic_core::InitError::PhyAccess => "no access to the PHY (semaphore held by firmware, or MDIC errors)",
        nic_core::InitError::QueueEnableTimeout => "a queue did not report itself enabled",
        nic_core::InitError::DmaAlloc | nic_core::InitError::DmaLayout => "descriptor memory",
        _ => "device initialisation failed",
    })?;
    let mac = nic.mac_address();
    let link = nic.link();
    pd_api::log!(
        "{:?} {:02x}:{:02x}.{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} {} link {}",
        nic.part(),
        pci.bus,
        pci.dev,
        pci.func,
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if interrupt == InterruptMode::MsiX { "MSI-X" } else { "one interrupt line" },
        if link.up { "up" } else { "negotiating" },
    );
    // Advanced one-buffer descriptors take a frame where it lies: receive into and transmit from
    // ring slots.
    FrameMover::new(nic, &dma, MoverConfig { rekick, tx_headroom: 0, zero_copy: true, report: print_result })
}

sel4_pd_runtime::protection_domain!(init);

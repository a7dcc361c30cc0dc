//! The NIC PD for the Intel 82599 and X550 10 GbE controllers (the "ixgbe" family) on a PCIe
//! add-in card: the `nic-ixgbe` driver under the seL4 HAL, moving frames to and from the ring
//! link "net" without a copy (see the `pd_nic_sel4` crate for the channel contract). Tested
//! against a model only (drivers/ixgbe/tests); docs/hardware.md says what a first boot must show.
//!
//! system.xml gives it:
//! - the card's PCI function (`<pci_device bdf=...>` or by id) with BAR 0 named `ixgbe_regs` and
//!   its interrupt on channel 1 with `irq="msi"` (or `"intx"`): the driver handles one line,
//!   not MSI-X;
//! - a RAM region `nic_dma` of at least [`pd_nic_sel4::DMA_BYTES`] for descriptor rings;
//! - the link "net" (channel 0).
#![no_std]
#![no_main]

use nic_core::{Config, Hal, Nic};
use nic_ixgbe::regs::{EICR_RX0, EICS};
use nic_ixgbe::Ixgbe;
use pd_nic_sel4::{
    print_result, region, DmaLayout, FrameMover, MoverConfig, Sel4Hal, INTERRUPT_INTERVAL_US, NIC_IRQ, RX_DESCRIPTORS, TX_BUFFERS,
    TX_DESCRIPTORS,
};


type Driver = Ixgbe<Sel4Hal, RX_DESCRIPTORS, TX_DESCRIPTORS>;

/// Sets the receive queue's cause (EICS) so that the PD comes back for work it left.
fn rekick(nic: &Driver) {
    nic.hal().write32(EICS, EICR_RX0);
}

extern crate alloc;
use alloc::string::String;

/// The PD, or why it refused to start (naming the device): the rest of the system runs on.
fn init() -> sel4_pd_runtime::Started<FrameMover<Driver>> {
    pd_nic_sel4::start_on_pci(start)
}

fn start(pci: sel4_pd_runtime::PciInfo) -> Result<FrameMover<Driver>, String> {
    if pci.irq == 2 {
        return Err(String::from("the ixgbe driver handles one interrupt line: give it irq=\"msi\" or \"intx\""));
    }
    let regs = region("ixgbe_regs")?;
    let dma = DmaLayout::split(region("nic_dma")?, RX_DESCRIPTORS, TX_BUFFERS)?;
    let hal = Sel4Hal::new(regs, dma.descriptors, NIC_IRQ);
    let config = Config { interrupt_interval_us: INTERRUPT_INTERVAL_US, ..Config::new(pci.device) };
    let mut nic = Driver::new(hal, config).map_err(|e| alloc::format!("{e}"))?;
    let mac = nic.mac_address();
    let link = nic.link();
    pd_api::log!(
        "{:?} {:02x}:{:02x}.{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} link {}",
        nic.family(),
        pci.bus,
        pci.dev,
        pci.func,
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if link.up { "up" } else { "training" },
    );
    // Advanced one-buffer descriptors take a frame where it lies: receive into and transmit from
    // ring slots.
    Ok(FrameMover::new(nic, &dma, MoverConfig { rekick, tx_headroom: 0, zero_copy: true, report: print_result })?)
}

sel4_pd_runtime::protection_domain!(init);

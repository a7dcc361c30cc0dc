//! The NIC PD for the Intel 82540EM (QEMU `e1000`, INTx through the IOAPIC) and 82574L (QEMU
//! `e1000e`, MSI): the `nic-e1000` driver under the seL4 HAL, moving frames to and from the
//! ring link "net" (see the `pd_nic_sel4` crate for the channel contract).
//!
//! system.xml gives it:
//! - the device with BAR 0 named `e1000_regs` (82540EM) or `e1000e_regs` (82574L): the name
//!   says which part it is, since the PD never reads PCI configuration space;
//! - a RAM region `nic_dma` of at least [`pd_nic_sel4::DMA_BYTES`] (no `phys_addr`: the root task reports
//!   the physical address), for descriptor rings (and frame buffers, used only if a ring data
//!   region had no physical address: then the PD copies);
//! - the link "net" (channel 0) and the device's interrupt on channel 1.
#![no_std]
#![no_main]

use nic_core::{Hal, Nic};
use nic_e1000::{Config, E1000};
use pd_nic_sel4::{
    print_result, region, DmaLayout, FrameMover, MoverConfig, Sel4Hal, INTERRUPT_INTERVAL_US, NIC_IRQ, RX_DESCRIPTORS, TX_BUFFERS,
    TX_DESCRIPTORS,
};

/// Interrupt Cause Set register and its receive-timer cause (82540EM/82574L manuals).
const ICS: usize = 0x00c8;
const ICS_RXT0: u32 = 1 << 7;

type Driver = E1000<Sel4Hal, RX_DESCRIPTORS, TX_DESCRIPTORS>;

/// Raises a receive-timer interrupt so that the PD comes back for work it left.
fn rekick(nic: &Driver) {
    nic.hal().write32(ICS, ICS_RXT0);
}

fn init() -> FrameMover<Driver> {
    match start() {
        Ok(pd) => pd,
        Err(e) => panic!("nic_e1000: {e}"),
    }
}

fn start() -> Result<FrameMover<Driver>, &'static str> {
    let (regs, device_id) = match (pd_api::memory_region("e1000_regs"), pd_api::memory_region("e1000e_regs")) {
        (Some(r), None) => (r, 0x100e),
        (None, Some(r)) => (r, 0x10d3),
        _ => return Err("map exactly one of the BARs e1000_regs (82540EM) or e1000e_regs (82574L)"),
    };
    let dma = DmaLayout::split(region("nic_dma")?, RX_DESCRIPTORS, TX_BUFFERS)?;
    let hal = Sel4Hal::new(regs, dma.descriptors, NIC_IRQ);
    let config =
        Config { interrupt_interval_us: INTERRUPT_INTERVAL_US, ..Config::new(device_id) };
    let mut nic = Driver::new(hal, config).map_err(|e| match e {
        nic_core::InitError::ResetTimeout => "device reset did not complete",
        nic_core::InitError::NoMacAddress => "no MAC address",
        nic_core::InitError::DmaAlloc | nic_core::InitError::DmaLayout => "descriptor memory",
        _ => "device initialisation failed",
    })?;
    let mac = nic.mac_address();
    let link = nic.link();
    pd_api::log!(
        "{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} link {} {} Mbit/s",
        if device_id == 0x100e { "82540EM" } else { "82574L" },
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if link.up { "up" } else { "down" },
        link.speed_mbps
    );
    // Legacy descriptors take a frame where it lies: receive into and transmit from ring slots.
    FrameMover::new(nic, &dma, MoverConfig { rekick, tx_headroom: 0, zero_copy: true, report: print_result })
}

sel4_pd_runtime::protection_domain!(init);

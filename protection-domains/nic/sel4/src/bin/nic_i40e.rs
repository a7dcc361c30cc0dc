//! The NIC PD for the Intel X722 (i40e family): the Xeon D-2100's integrated 10 GbE, on the
//! SYS-E300-9D the two 10GBASE-T ports (8086:37d2 at PCI b5:00.0 and b5:00.1). The `nic-i40e`
//! driver under the seL4 HAL, moving frames to and from the ring link "net" without a copy (see
//! the `pd_nic_sel4` crate for the channel contract). Tested against a model of the device and
//! its firmware only (drivers/i40e/tests); docs/hardware.md says what a first boot must show.
//!
//! system.xml gives it:
//! - the port's PCI function (`<pci_device bdf=...>`) with BAR 0 named `i40e_regs` (the
//!   registers the driver uses lie below 4 MiB) and its interrupt on channel 1, `irq="msix"`
//!   (vector 0) or `"msi"`: every cause goes to the PF's interrupt vector 0 either way;
//! - a RAM region `nic_dma` of at least [`pd_nic_sel4::DMA_BYTES`] for descriptor rings, the admin queue and
//!   the LAN HMC page;
//! - the link "net" (channel 0).
#![no_std]
#![no_main]

use nic_core::{Config, InterruptMode, Nic};
use nic_i40e::I40e;
use pd_nic_sel4::{
    print_result, region, DmaLayout, FrameMover, MoverConfig, Sel4Hal, INTERRUPT_INTERVAL_US, NIC_IRQ, RX_DESCRIPTORS, TX_BUFFERS,
    TX_DESCRIPTORS,
};

const _: () = assert!(nic_i40e::ring_size_ok(RX_DESCRIPTORS) && nic_i40e::ring_size_ok(TX_DESCRIPTORS));

type Driver = I40e<Sel4Hal, RX_DESCRIPTORS, TX_DESCRIPTORS>;

/// Raises vector 0 from software so that the PD comes back for work it left.
fn rekick(nic: &Driver) {
    nic.raise_interrupt();
}

extern crate alloc;
use alloc::string::String;

/// The PD, or why it refused to start (naming the device): the rest of the system runs on.
fn init() -> sel4_pd_runtime::Started<FrameMover<Driver>> {
    pd_nic_sel4::start_on_pci(start)
}

fn start(pci: sel4_pd_runtime::PciInfo) -> Result<FrameMover<Driver>, String> {
    let interrupt = match pci.irq {
        2 => InterruptMode::MsiX,
        _ => InterruptMode::Line,
    };
    let regs = region("i40e_regs")?;
    let dma = DmaLayout::split(region("nic_dma")?, RX_DESCRIPTORS, TX_BUFFERS)?;
    let hal = Sel4Hal::new(regs, dma.descriptors, NIC_IRQ);
    let config = Config { interrupt_interval_us: INTERRUPT_INTERVAL_US, interrupt, ..Config::new(pci.device) };
    // The error names the admin command and the firmware's code, or what timed out.
    let mut nic = Driver::new(hal, config).map_err(|e| alloc::format!("{e}"))?;
    let fw = nic.firmware();
    let mac = nic.mac_address();
    let link = nic.link();
    pd_api::log!(
        "X722 PF {} port {} {:02x}:{:02x}.{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} firmware {}.{} API {}.{} VSI {} link {}",
        fw.pf_id,
        fw.port,
        pci.bus,
        pci.dev,
        pci.func,
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        fw.version.fw.0,
        fw.version.fw.1,
        fw.version.api.0,
        fw.version.api.1,
        fw.vsi_seid,
        if link.up { "up" } else { "down" },
    );
    // 16-byte descriptors take a frame where it lies: receive into and transmit from ring slots.
    Ok(FrameMover::new(nic, &dma, MoverConfig { rekick, tx_headroom: 0, zero_copy: true, report: print_result })?)
}

sel4_pd_runtime::protection_domain!(init);

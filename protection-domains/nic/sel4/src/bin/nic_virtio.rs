//! The NIC PD for virtio-net (QEMU `-device virtio-net-pci,disable-legacy=on`, INTx through the
//! IOAPIC or MSI-X, as system.xml's `<pci_device irq>` says): `virtio-drivers` under the seL4 HAL, moving frames to and from the ring link "net"
//! (channel contract in the `pd_nic_sel4` crate).
//!
//! system.xml gives it the device's BAR 4 (the modern virtio BAR, 16 KiB) named `virtio_regs`,
//! a RAM region `nic_dma` of at least [`DMA_BYTES`], the link "net" (channel 0) and the device's
//! interrupt on channel 1.
#![no_std]
#![no_main]

use nic_core::Nic;
use pd_nic_sel4::virtio::{self, QemuVirtioConfig, VirtioNic, NET_HEADER_BYTES};
use pd_nic_sel4::{print_result, region, DmaLayout, FrameMover, MoverConfig, NIC_IRQ};

/// Receive and transmit frame buffers (as many as fit 0x110000 bytes).
const RX_BUFFERS: usize = 256;
const TX_BUFFERS: usize = 240;
/// The DMA region this PD needs.
pub const DMA_BYTES: usize = DmaLayout::bytes_needed(RX_BUFFERS, TX_BUFFERS);
/// PCI device id of a modern virtio network device.
const VIRTIO_NET_DEVICE_ID: u16 = 0x1041;

/// virtio has no way to make the device interrupt on demand; the next frame or ring signal
/// resumes the PD.
fn rekick(_nic: &VirtioNic) {}

fn init() -> FrameMover<VirtioNic> {
    match start() {
        Ok(pd) => pd,
        Err(e) => panic!("nic_virtio: {e}"),
    }
}

fn start() -> Result<FrameMover<VirtioNic>, &'static str> {
    let bar = region("virtio_regs")?;
    let dma_region = region("nic_dma")?;
    let dma = DmaLayout::split(dma_region, RX_BUFFERS, TX_BUFFERS)?;
    let bar_phys = bar.phys_addr().ok_or("virtio_regs has no physical address")?;
    let phys = dma_region.phys_addr().ok_or("nic_dma has no physical address")?;
    // SAFETY: the root task mapped nic_dma (RAM, contiguous from `phys`) for the PD's life; the
    // driver reaches buffers in it only while they are lent to it.
    let all = unsafe { nic_core::DmaRegion::new(dma_region.base(), phys, dma_region.size()) };
    virtio::install(dma.descriptors, all, bar)?;
    let config = QemuVirtioConfig::new(VIRTIO_NET_DEVICE_ID, bar_phys, bar.size() as u64);
    let mut nic = VirtioNic::new(config, all, NIC_IRQ)?;
    // 2: MSI-X (PciInfo::irq).
    if sel4_pd_runtime::pci_device(0).is_some_and(|d| d.irq == 2) {
        nic.use_msix_vector_0()?;
    }
    let mac = nic.mac_address();
    pd_api::log!(
        "virtio-net {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} link up",
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    );
    // Copying both ways: virtio-drivers (VirtIONetRaw) wants the 12-byte virtio-net header in the
    // same buffer as the frame, so a received frame does not start at a ring slot's start and a
    // transmitted one would need its header written into the stack PD's read-only slot.
    let config = MoverConfig { rekick, tx_headroom: NET_HEADER_BYTES as u32, zero_copy: false, report: print_result };
    FrameMover::new(nic, &dma, config)
}

sel4_pd_runtime::protection_domain!(init);

//! virtio-net (modern PCI transport, QEMU `-device virtio-net-pci,disable-legacy=on`) through the
//! `virtio-drivers` crate, behind the `nic_core::Nic` trait so that [`crate::FrameMover`] runs it.
//!
//! Two seL4-specific pieces:
//! - [`VirtioHal`], `virtio_drivers::Hal` over the PD's DMA region and the BAR the root task
//!   mapped. That trait has no `self`, so the regions are recorded once in statics ([`install`]).
//! - [`QemuVirtioConfig`]: the PD never touches PCI configuration space (the root task owns it),
//!   but `virtio-drivers` finds the virtio structures through the capability list there. This
//!   type answers those reads with QEMU's fixed layout of a modern virtio-pci function: BAR 4
//!   holding the common configuration at 0x0000, the ISR at 0x1000, the device configuration at
//!   0x2000 and the notification area at 0x3000 (4 bytes per queue). Another virtio device would
//!   need the root task to hand over its real capability list.

use alloc::boxed::Box;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use nic_core::{Buffer, Counters, DmaRegion, Interrupts, LinkState, Nic, MAX_FRAME_LEN};
use pd_api::{Channel, MemoryRegion};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::{BufferDirection, PhysAddr};

// The common configuration's registers this PD writes itself (virtio 1.x, 4.1.4.3), at the start
// of QEMU's BAR 4 (see QemuVirtioConfig).
const COMMON_MSIX_CONFIG: usize = 0x10;
const COMMON_QUEUE_SELECT: usize = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: usize = 0x1a;
/// No MSI-X vector (virtio 1.x, 4.1.5.1.2).
const VIRTIO_MSI_NO_VECTOR: u16 = 0xffff;
/// virtio-net's receive and transmit queues (receiveq1, transmitq1).
const NET_QUEUES: [u16; 2] = [0, 1];

/// Size of the virtio-net header (`VIRTIO_F_VERSION_1`) in front of every frame in a buffer.
pub const NET_HEADER_BYTES: usize = 12;
/// Descriptors per virtqueue (QEMU's virtio-net default queue size).
pub const QUEUE_SIZE: usize = 256;

static DMA_VIRT: AtomicUsize = AtomicUsize::new(0);
static DMA_PHYS: AtomicU64 = AtomicU64::new(0);
static DMA_LEN: AtomicUsize = AtomicUsize::new(0);
static DMA_USED: AtomicUsize = AtomicUsize::new(0);
static BAR_VIRT: AtomicUsize = AtomicUsize::new(0);
static BAR_PHYS: AtomicU64 = AtomicU64::new(0);
static BAR_LEN: AtomicUsize = AtomicUsize::new(0);
/// Where the DMA region of the whole PD starts (frame buffers included), for `share`.
static ALL_DMA_VIRT: AtomicUsize = AtomicUsize::new(0);
static ALL_DMA_PHYS: AtomicU64 = AtomicU64::new(0);
static ALL_DMA_LEN: AtomicUsize = AtomicUsize::new(0);

/// Records the regions [`VirtioHal`] works on: `queues` for virtqueue memory, `all` (which
/// contains the frame buffers) for translating buffers to physical addresses, and the BAR.
pub fn install(queues: DmaRegion, all: DmaRegion, bar: MemoryRegion) -> Result<(), &'static str> {
    let bar_phys = bar.phys_addr().ok_or("the virtio BAR has no physical address")?;
    DMA_VIRT.store(queues.virt().as_ptr() as usize, Ordering::Relaxed);
    DMA_PHYS.store(queues.phys(), Ordering::Relaxed);
    DMA_LEN.store(queues.len(), Ordering::Relaxed);
    DMA_USED.store(0, Ordering::Relaxed);
    ALL_DMA_VIRT.store(all.virt().as_ptr() as usize, Ordering::Relaxed);
    ALL_DMA_PHYS.store(all.phys(), Ordering::Relaxed);
    ALL_DMA_LEN.store(all.len(), Ordering::Relaxed);
    BAR_VIRT.store(bar.base().as_ptr() as usize, Ordering::Relaxed);
    BAR_PHYS.store(bar_phys, Ordering::Relaxed);
    BAR_LEN.store(bar.size(), Ordering::Relaxed);
    Ok(())
}

/// `virtio_drivers::Hal` for a seL4 PD: memory from the regions given to [`install`].
pub struct VirtioHal;

// SAFETY: dma_alloc returns zeroed, page-aligned, physically contiguous memory of the PD's DMA
// region that is never handed out twice; mmio_phys_to_virt only translates inside the BAR the
// root task mapped; share translates buffers inside the DMA region (and panics otherwise).
unsafe impl virtio_drivers::Hal for VirtioHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let bytes = pages * 4096;
        let used = DMA_USED.load(Ordering::Relaxed);
        let len = DMA_LEN.load(Ordering::Relaxed);
        assert!(used + bytes <= len, "virtqueue memory exhausted");
        DMA_USED.store(used + bytes, Ordering::Relaxed);
        let virt = DMA_VIRT.load(Ordering::Relaxed) + used;
        // SAFETY: virt..virt+bytes lies inside the installed DMA region (checked above), which is
        // mapped for the PD's life and handed out only once.
        unsafe { core::ptr::write_bytes(virt as *mut u8, 0, bytes) };
        (DMA_PHYS.load(Ordering::Relaxed) + used as u64, NonNull::new(virt as *mut u8).expect("mapped"))
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // Virtqueues live as long as the PD; nothing is given back.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let base = BAR_PHYS.load(Ordering::Relaxed);
        let offset = paddr.checked_sub(base).expect("MMIO below the BAR") as usize;
        assert!(offset + size <= BAR_LEN.load(Ordering::Relaxed), "MMIO outside the mapped BAR");
        NonNull::new((BAR_VIRT.load(Ordering::Relaxed) + offset) as *mut u8).expect("mapped")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let virt = buffer.as_ptr().cast::<u8>() as usize;
        let base = ALL_DMA_VIRT.load(Ordering::Relaxed);
        let offset = virt.checked_sub(base).expect("buffer below the DMA region");
        assert!(offset + buffer.len() <= ALL_DMA_LEN.load(Ordering::Relaxed), "buffer outside the DMA region");
        ALL_DMA_PHYS.load(Ordering::Relaxed) + offset as u64
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {
        // Cache-coherent DMA on x86: nothing to copy back.
    }
}

/// PCI configuration reads answered with QEMU's modern virtio-pci layout (see the module doc);
/// writes only take part in BAR sizing. Nothing reaches the real configuration space.
pub struct QemuVirtioConfig {
    device_id: u16,
    bar_phys: u64,
    bar_len: u64,
    /// BAR 4 / BAR 5 were written with all ones (size probe).
    sizing: [bool; 2],
}

/// The modern BAR of QEMU's virtio-pci functions.
pub const VIRTIO_BAR: u8 = 4;
const CAP_VENDOR: u32 = 0x09;

impl QemuVirtioConfig {
    /// The configuration space of virtio device `device_id` (0x1041 = network) whose BAR 4 the
    /// root task mapped at physical `bar_phys`, `bar_len` bytes.
    pub fn new(device_id: u16, bar_phys: u64, bar_len: u64) -> Self {
        Self { device_id, bar_phys, bar_len, sizing: [false; 2] }
    }

    /// A vendor capability at `at`: virtio structure `cfg_type` at `offset` in BAR 4.
    fn capability(register: u8, at: u8, next: u8, cfg_type: u8, offset: u32, multiplier: Option<u32>) -> Option<u32> {
        let cap_len: u32 = if multiplier.is_some() { 20 } else { 16 };
        match register.checked_sub(at)? {
            0 => Some(CAP_VENDOR | u32::from(next) << 8 | cap_len << 16 | u32::from(cfg_type) << 24),
            4 => Some(u32::from(VIRTIO_BAR)),
            8 => Some(offset),
            12 => Some(0x1000),
            16 => multiplier,
            _ => None,
        }
    }
}

impl ConfigurationAccess for QemuVirtioConfig {
    fn read_word(&self, _device_function: DeviceFunction, register_offset: u8) -> u32 {
        match register_offset {
            0x00 => 0x1af4 | u32::from(self.device_id) << 16,
            // Status: capability list present; command: memory space, bus master.
            0x04 => 0x0010_0006,
            0x08 => 0x0200_0001,
            0x20 if self.sizing[0] => !(self.bar_len as u32 - 1) | 0xc,
            0x20 => self.bar_phys as u32 | 0xc,
            0x24 if self.sizing[1] => 0xffff_ffff,
            0x24 => (self.bar_phys >> 32) as u32,
            0x34 => 0x40,
            r @ 0x40..=0x4f => Self::capability(r, 0x40, 0x50, 1, 0x0000, None).unwrap_or(0),
            r @ 0x50..=0x5f => Self::capability(r, 0x50, 0x60, 3, 0x1000, None).unwrap_or(0),
            r @ 0x60..=0x6f => Self::capability(r, 0x60, 0x70, 4, 0x2000, None).unwrap_or(0),
            r @ 0x70..=0x83 => Self::capability(r, 0x70, 0x00, 2, 0x3000, Some(4)).unwrap_or(0),
            _ => 0,
        }
    }

    fn write_word(&mut self, _device_function: DeviceFunction, register_offset: u8, data: u32) {
        match register_offset {
            0x20 => self.sizing[0] = data == 0xffff_ffff,
            0x24 => self.sizing[1] = data == 0xffff_ffff,
            _ => {}
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        Self { device_id: self.device_id, bar_phys: self.bar_phys, bar_len: self.bar_len, sizing: self.sizing }
    }
}

/// A virtio-net device behind `nic_core::Nic`.
///
/// Receive buffers get the virtio-net header in front of the frame, so a received frame comes
/// back as the posted buffer advanced by [`NET_HEADER_BYTES`]. Transmit frames need
/// [`NET_HEADER_BYTES`] of headroom in front of `Buffer::phys`, where the header is written.
///
/// The large parts live on the heap: the PD's stack is 64 KiB by default.
pub struct VirtioNic {
    net: Box<VirtIONetRaw<VirtioHal, PciTransport, QUEUE_SIZE>>,
    /// The region every buffer lies in, to reach a buffer's bytes from its physical address.
    dma: DmaRegion,
    rx_posted: Box<[Option<Buffer>; QUEUE_SIZE]>,
    rx_in_flight: usize,
    tx_posted: Box<[Option<Buffer>; QUEUE_SIZE]>,
    tx_in_flight: usize,
    /// The device completed a token it was never given, or one past the queue: its queues can
    /// no longer be trusted (virtio-drivers would index its own tables with that token), so
    /// nothing more is taken from or given to them. Counted once in `device_faults`.
    confused: bool,
    irq: Channel,
    counters: Counters,
}

/// Why the virtio device could not be brought up.
pub type VirtioError = &'static str;

impl VirtioNic {
    /// Initialises the device through `config` (see [`QemuVirtioConfig`]); buffers must lie in
    /// `dma`; the interrupt is acknowledged on `irq`. [`install`] must have been called.
    pub fn new(config: QemuVirtioConfig, dma: DmaRegion, irq: Channel) -> Result<Self, VirtioError> {
        let mut root = PciRoot::new(config);
        let function = DeviceFunction { bus: 0, device: 0, function: 0 };
        let transport = PciTransport::new::<VirtioHal, _>(&mut root, function).map_err(|_| "virtio PCI transport")?;
        let net = Box::new(VirtIONetRaw::new(transport).map_err(|_| "virtio-net initialisation")?);
        Ok(Self {
            net,
            dma,
            rx_posted: Box::new([None; QUEUE_SIZE]),
            rx_in_flight: 0,
            tx_posted: Box::new([None; QUEUE_SIZE]),
            tx_in_flight: 0,
            confused: false,
            irq,
            counters: Counters::default(),
        })
    }

    /// With MSI-X on (the root task points every table entry at this PD's interrupt), a virtio
    /// device signals a queue only through the vector the driver gave it, and `virtio-drivers`
    /// gives none: this gives both queues vector 0, and configuration changes none.
    pub fn use_msix_vector_0(&mut self) -> Result<(), VirtioError> {
        let (base, len) = (BAR_VIRT.load(Ordering::Relaxed), BAR_LEN.load(Ordering::Relaxed));
        if base == 0 || len < COMMON_QUEUE_MSIX_VECTOR + 2 {
            return Err("the virtio BAR is not installed");
        }
        let reg = |offset: usize| (base + offset) as *mut u16;
        // SAFETY: install() recorded the BAR, mapped uncached for the PD's life and at least this
        // long (checked above); these 16-bit registers are aligned, at the common configuration.
        unsafe {
            reg(COMMON_MSIX_CONFIG).write_volatile(VIRTIO_MSI_NO_VECTOR);
            for queue in NET_QUEUES {
                reg(COMMON_QUEUE_SELECT).write_volatile(queue);
                reg(COMMON_QUEUE_MSIX_VECTOR).write_volatile(0);
                // The device answers NO_VECTOR when it could not take the vector.
                if reg(COMMON_QUEUE_MSIX_VECTOR).read_volatile() != 0 {
                    return Err("the device refused MSI-X vector 0 for a queue");
                }
            }
        }
        Ok(())
    }

    /// The bytes `phys..phys+len` of the DMA region as a slice for `virtio-drivers`.
    ///
    /// # Safety
    /// The range must be a buffer this driver owns (posted, submitted or being set up), which no
    /// one else accesses while the slice lives.
    unsafe fn bytes(&self, phys: u64, len: usize) -> &'static mut [u8] {
        let offset = phys.checked_sub(self.dma.phys()).expect("buffer below the DMA region") as usize;
        assert!(offset + len <= self.dma.len(), "buffer outside the DMA region");
        // SAFETY: in bounds (checked); exclusive per the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(self.dma.virt().as_ptr().add(offset), len) }
    }

    /// See `confused`: says so once on the console and counts it.
    fn device_confused(&mut self) {
        if !self.confused {
            self.confused = true;
            self.counters.device_faults += 1;
            pd_api::log!("virtio-net completed a buffer it was never given: its queues are no longer used");
        }
    }
}

impl Nic for VirtioNic {
    fn mac_address(&self) -> [u8; 6] {
        self.net.mac_address()
    }

    fn link(&mut self) -> LinkState {
        // virtio-drivers reads the status only at init; QEMU's link is up unless set down.
        LinkState { up: true, speed_mbps: 0, full_duplex: true }
    }

    fn rx_buffer_size(&self) -> usize {
        NET_HEADER_BYTES + MAX_FRAME_LEN
    }

    fn rx_room(&self) -> usize {
        QUEUE_SIZE - self.rx_in_flight
    }

    fn rx_post(&mut self, buffers: &[Buffer]) -> usize {
        let mut posted = 0;
        for &buffer in buffers {
            if self.confused || self.rx_room() == 0 || (buffer.len as usize) < self.rx_buffer_size() {
                break;
            }
            // SAFETY: the caller lends the buffer to the driver until rx_poll returns it.
            let bytes = unsafe { self.bytes(buffer.phys, buffer.len as usize) };
            // SAFETY: the buffer is not touched again until receive_complete.
            let Ok(token) = (unsafe { self.net.receive_begin(bytes) }) else { break };
            self.rx_posted[usize::from(token) % QUEUE_SIZE] = Some(buffer);
            self.rx_in_flight += 1;
            posted += 1;
        }
        posted
    }

    fn rx_poll(&mut self, out: &mut [Buffer]) -> usize {
        let mut filled = 0;
        while filled < out.len() && !self.confused {
            let Some(token) = self.net.poll_receive() else { break };
            let Some(buffer) = self.rx_posted.get_mut(usize::from(token)).and_then(Option::take) else {
                self.device_confused();
                break;
            };
            self.rx_in_flight -= 1;
            // SAFETY: the same buffer as posted with this token.
            let bytes = unsafe { self.bytes(buffer.phys, buffer.len as usize) };
            // SAFETY: `bytes` is the buffer passed to receive_begin for `token`.
            match unsafe { self.net.receive_complete(token, bytes) } {
                Ok((header, len)) if len > 0 && len <= MAX_FRAME_LEN => {
                    out[filled] = Buffer {
                        phys: buffer.phys + header as u64,
                        offset: buffer.offset + header as u32,
                        len: len as u32,
                    };
                    filled += 1;
                    self.counters.rx_frames += 1;
                    self.counters.rx_bytes += len as u64;
                }
                Ok(_) => {
                    self.counters.rx_oversize += 1;
                    self.rx_post(&[buffer]);
                }
                Err(_) => {
                    self.counters.rx_errors += 1;
                    self.rx_post(&[buffer]);
                }
            }
        }
        filled
    }

    fn tx_room(&self) -> usize {
        QUEUE_SIZE - self.tx_in_flight
    }

    fn tx_submit(&mut self, frames: &[Buffer]) -> usize {
        let mut queued = 0;
        for &frame in frames {
            let len = frame.len as usize;
            if self.confused || self.tx_room() == 0 || len == 0 || len > MAX_FRAME_LEN {
                break;
            }
            // SAFETY: the frame and its headroom are lent to the driver until tx_reclaim.
            let bytes = unsafe { self.bytes(frame.phys - NET_HEADER_BYTES as u64, NET_HEADER_BYTES + len) };
            if self.net.fill_buffer_header(bytes).is_err() {
                break;
            }
            // SAFETY: the buffer is not touched again until transmit_complete.
            let Ok(token) = (unsafe { self.net.transmit_begin(bytes) }) else { break };
            self.tx_posted[usize::from(token) % QUEUE_SIZE] = Some(frame);
            self.tx_in_flight += 1;
            self.counters.tx_frames += 1;
            self.counters.tx_bytes += len as u64;
            queued += 1;
        }
        queued
    }

    fn tx_reclaim(&mut self, out: &mut [Buffer]) -> usize {
        let mut done = 0;
        while done < out.len() {
            if self.confused {
                break;
            }
            let Some(token) = self.net.poll_transmit() else { break };
            let Some(frame) = self.tx_posted.get_mut(usize::from(token)).and_then(Option::take) else {
                self.device_confused();
                break;
            };
            // SAFETY: the same bytes as given to transmit_begin for this token.
            let bytes =
                unsafe { self.bytes(frame.phys - NET_HEADER_BYTES as u64, NET_HEADER_BYTES + frame.len as usize) };
            // SAFETY: `bytes` is the buffer passed to transmit_begin for `token`.
            let _ = unsafe { self.net.transmit_complete(token, bytes) };
            self.tx_in_flight -= 1;
            out[done] = frame;
            done += 1;
        }
        self.counters.tx_completed += done as u64;
        done
    }

    fn handle_interrupt(&mut self) -> Interrupts {
        // Reading the ISR clears it and deasserts the INTx line.
        let _ = self.net.ack_interrupt();
        self.irq.irq_ack();
        Interrupts { rx: true, tx: true, ..Interrupts::default() }
    }

    fn set_interrupts(&mut self, enabled: bool) {
        if enabled {
            self.net.enable_interrupts();
        } else {
            self.net.disable_interrupts();
        }
    }

    fn counters(&mut self) -> Counters {
        self.counters
    }
}

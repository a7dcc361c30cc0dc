//! The NIC PD's data path, independent of the platform: [`FrameMover`] moves frames between a
//! driver (any `nic_core::Nic`) and the ring link `"net"` to the stack PD, in batches, with
//! backpressure both ways and the ring signalling protocol, and counts what it could not move
//! by reason. The seL4 NIC PDs (`protection-domains/nic/sel4`) run it over their HAL; the host
//! tests run it over the drivers' register models.
//!
//! **Zero-copy**, per direction, where the ring's data region is DMA memory (seL4 gives every
//! RAM region a known physical address, `MemoryRegion::phys_addr`):
//! - receive: the buffers posted to the NIC are free slots of the nic→net data region
//!   (`pd_ring::Sender::reserve`); the NIC writes a frame straight into a slot, and the PD
//!   publishes that slot on the active queue (`Sender::commit`) without touching the bytes;
//! - transmit: the PD takes the stack PD's slot by reference (`Receiver::take`) and gives the NIC
//!   its physical address; the slot goes back on the free queue (`Receiver::release`) only when
//!   the NIC reports the descriptor done (`Nic::tx_reclaim`, in submit order).
//!
//! Where that is not possible the PD copies once per direction between a ring slot and a DMA
//! buffer of its own, and says so at start-up: a data region without a physical address, or a
//! driver that puts its own header in front of the frame in the same buffer (virtio-net through
//! `virtio-drivers`: its 12-byte header would land where the ring's slot starts, and on transmit
//! it would have to be written into the stack PD's read-only slot).
//!
//! The contract with the stack PD (the same as the host's TAP PD):
//! - link `"net"`: regions `net_tx_data`/`net_tx_ctl` (frames from the wire, written by this PD
//!   or its NIC) and `net_rx_data`/`net_rx_ctl` (frames to send, written by the stack PD, mapped
//!   read-only here), signalled on channel [`NET`] (0);
//! - the NIC's interrupt on channel [`NIC_IRQ`] (1);
//! - optionally channel [`REPORT`] (2): a notification there reports every counter (the seL4 PD
//!   prints `RESULT <pd>_<counter> <value>`; tests and benchmarks use it);
//! - optionally a region `port` (the stack PD maps it read-only as `nic_port`): the PD publishes
//!   the NIC's MAC there at start and the link state at start and on every change
//!   (`pd_proto::port`), so the stack answers with the address the NIC filters on.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;
use nic_core::{Buffer, DmaRegion, Nic, MAX_FRAME_LEN};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion};
use pd_proto::port::PortPage;
use pd_ring::{Link, SLOT_SIZE};

/// Channel of the ring link `"net"` to the stack PD.
pub const NET: Channel = Channel::new(0);
/// Channel on which the NIC's interrupt arrives.
pub const NIC_IRQ: Channel = Channel::new(1);
/// Channel on which a peer may ask for the counters to be reported.
pub const REPORT: Channel = Channel::new(2);
/// Channel of the timer's tick (system.xml gives it; optional). Nothing to do but the usual pass
/// over the rings: what matters is that the PD runs, so that its runtime republishes its status
/// page and the serial PD's watchdog can tell an idle NIC PD from a hung one.
pub const TICK: Channel = Channel::new(3);

/// Frames moved per direction before the other direction gets a turn.
pub const BATCH: usize = 32;
/// Size of each of the PD's own DMA receive buffers (one NIC receive buffer, one ring slot).
pub const FRAME_BUFFER_SIZE: usize = 2048;
/// Most headroom a driver may ask for in front of a transmit frame.
pub const TX_HEADROOM_MAX: usize = 64;
/// Distance between the PD's DMA transmit buffers: headroom, then a whole ring slot (the ring
/// copies a frame straight into it).
pub const TX_BUFFER_STRIDE: usize = TX_HEADROOM_MAX + SLOT_SIZE;
/// The first part of the DMA region that the HAL hands out for descriptor rings.
pub const DESCRIPTOR_POOL_BYTES: usize = 0x10000;
/// Rounds of (transmit, receive) in one `notified` call before the PD yields.
const MAX_ROUNDS: usize = 256;

/// The DMA region of a NIC PD, split into the descriptor pool (for the HAL) and the frame
/// buffers the PD copies through where it cannot lend ring slots to the NIC.
pub struct DmaLayout {
    /// The first [`DESCRIPTOR_POOL_BYTES`]: descriptor rings.
    pub descriptors: DmaRegion,
    /// Receive frame buffers, [`FRAME_BUFFER_SIZE`] each.
    pub rx_buffers: DmaRegion,
    /// Transmit frame buffers, [`TX_BUFFER_STRIDE`] each.
    pub tx_buffers: DmaRegion,
}

impl DmaLayout {
    /// Splits `region` (a RAM region with a physical address) for `rx` receive and `tx`
    /// transmit buffers; `Err` names what is missing.
    pub fn split(region: MemoryRegion, rx: usize, tx: usize) -> Result<Self, &'static str> {
        let phys = region.phys_addr().ok_or("the DMA region has no physical address (give it no phys_addr)")?;
        // SAFETY: the platform mapped `region` (RAM, physically contiguous from `phys`) into
        // this PD for its whole life; only this PD and its device use it, always through
        // DmaRegion's volatile accessors or, for buffers not lent to the device, raw copies.
        let all = unsafe { DmaRegion::new(region.base(), phys, region.size()) };
        let rx_bytes = rx * FRAME_BUFFER_SIZE;
        let tx_bytes = tx * TX_BUFFER_STRIDE;
        let too_small = "the DMA region is too small for the descriptor rings and frame buffers";
        Ok(Self {
            descriptors: all.slice(0, DESCRIPTOR_POOL_BYTES).ok_or(too_small)?,
            rx_buffers: all.slice(DESCRIPTOR_POOL_BYTES, rx_bytes).ok_or(too_small)?,
            tx_buffers: all.slice(DESCRIPTOR_POOL_BYTES + rx_bytes, tx_bytes).ok_or(too_small)?,
        })
    }

    /// The DMA region size needed for `rx` receive and `tx` transmit buffers.
    pub const fn bytes_needed(rx: usize, tx: usize) -> usize {
        DESCRIPTOR_POOL_BYTES + rx * FRAME_BUFFER_SIZE + tx * TX_BUFFER_STRIDE
    }
}

pd_api::counters! {
    /// What the NIC PD moved, and what it could not move, by reason.
    pub struct MoverCounters {
        /// Frames received by the NIC and queued to the stack PD.
        rx_to_ring,
        /// Of those, frames the NIC wrote straight into their ring slot (no copy).
        rx_zero_copy,
        /// Of those, frames copied from the PD's own DMA buffer into a ring slot.
        rx_copied,
        /// Frames taken from the stack PD and queued to the NIC.
        tx_to_nic,
        /// Of those, frames the NIC read straight from the stack PD's ring slot (no copy).
        tx_zero_copy,
        /// Of those, frames copied from a ring slot into the PD's own DMA buffer.
        tx_copied,
        /// Times the ring to the stack PD had no free slot (copying: frames wait in the NIC;
        /// zero-copy: the NIC's receive ring is not refilled until the stack PD frees slots).
        /// Either way the NIC drops when its ring runs dry, counted in hw_rx_missed /
        /// hw_rx_no_buffer.
        rx_ring_full,
        /// Times the NIC's transmit ring or the PD's transmit buffers were all in use (frames
        /// wait in the ring from the stack PD).
        tx_nic_full,
        /// Frames dropped: the ring refused a frame after reporting room (a protocol slip).
        drop_rx_ring_full,
        /// Frames from the stack PD dropped: empty, or shorter than the NIC takes (17 bytes on
        /// the X722; submitting one would have refused the rest of its batch).
        drop_tx_empty,
        /// Frames from the stack PD dropped: longer than the NIC sends (1518 bytes).
        drop_tx_oversize,
        /// Frames from the stack PD dropped: the driver refused them after reporting room.
        drop_tx_refused,
        /// Frames dropped: received frame longer than a ring slot (cannot happen with 2 KiB
        /// receive buffers; counted rather than trusted).
        drop_rx_oversize,
        /// Ring protocol errors from the stack PD (bad or duplicate descriptors, forged free
        /// slots) or a buffer the driver handed back that the PD never lent; a frame may be lost.
        drop_ring_error,
        /// Interrupts handled.
        interrupts,
        /// Link state changes reported by the NIC.
        link_changes,
        /// Nanoseconds spent handling notifications (interrupt and frame moving, not the
        /// report itself): with the frame counts, the PD's own cost per frame (benchmarks).
        busy_ns,
    }
}

/// How the mover runs a driver.
pub struct MoverConfig<N> {
    /// Must make the device raise an interrupt (e.g. by writing its interrupt-cause-set
    /// register) if the device can; called when the PD yields with work left.
    pub rekick: fn(&N),
    /// Bytes the driver needs in front of each transmit frame (virtio-net's header); such a
    /// driver cannot transmit from the stack PD's slots.
    pub tx_headroom: u32,
    /// Whether the driver can take ring slots as they are: a received frame starts at the
    /// posted buffer's first byte, and a transmit frame is read from where it lies.
    pub zero_copy: bool,
    /// Receives every counter on a [`REPORT`] notification (name, value).
    pub report: fn(&str, u64),
}

/// One direction's buffers.
enum Path {
    /// Ring slots go to the NIC; the ring's data region is at this physical address.
    ZeroCopy { ring_phys: u64 },
    /// The PD's own DMA buffers go to the NIC (offsets in `buffers` not lent to it in `free`).
    Copy { buffers: DmaRegion, free: Vec<u32> },
}

/// The NIC PD's data path: driver `N` on one side, the ring link `"net"` on the other.
pub struct FrameMover<N: Nic> {
    nic: N,
    link: Link,
    rx: Path,
    tx: Path,
    /// Copying only: frames taken from the NIC that the ring had no room for yet, oldest at
    /// `rx_pending_next`.
    rx_pending: [Buffer; BATCH],
    rx_pending_len: usize,
    rx_pending_next: usize,
    config: MoverConfig<N>,
    counters: MoverCounters,
    /// Where the NIC's MAC and link state are published for the stack PD, if mapped.
    port: Option<PortPage>,
}

/// The port page, if system.xml maps one (`setvar_vaddr="port"`).
fn port_page() -> Option<PortPage> {
    let region = pd_api::memory_region("port")?;
    // SAFETY: the platform maps the region for the PD's whole life; this PD is its only writer
    // and the stack PD only reads it, both through PortPage's atomics.
    unsafe { PortPage::from_raw(region.base(), region.size()) }
}

/// The physical address of a link's data region, if the platform knows it, else why not.
fn ring_phys(name: &'static str) -> Result<u64, &'static str> {
    let region = pd_api::memory_region(name).ok_or("the data region is not mapped")?;
    region.phys_addr().ok_or("the data region has no physical address")
}

impl<N: Nic> FrameMover<N> {
    /// Takes over a running driver: fills its receive ring (with ring slots where it can lend
    /// them, else with the buffers of `dma`), enables the NIC's interrupts and opens the link
    /// `"net"` on [`NET`]. Logs, per direction, whether frames move without a copy.
    pub fn new(mut nic: N, dma: &DmaLayout, config: MoverConfig<N>) -> Result<Self, &'static str> {
        let link = Link::open("net", NET)
            .map_err(|_| "link \"net\" (net_tx_data/ctl, net_rx_data/ctl) is not mapped or malformed")?;
        let rx_count = dma.rx_buffers.len() / FRAME_BUFFER_SIZE;
        let tx_count = dma.tx_buffers.len() / TX_BUFFER_STRIDE;
        if rx_count == 0
            || tx_count == 0
            || nic.rx_buffer_size() > FRAME_BUFFER_SIZE
            || config.tx_headroom as usize > TX_HEADROOM_MAX
        {
            return Err("no frame buffers, or the driver needs larger receive buffers");
        }
        let rx_zero_copy = if !config.zero_copy {
            Err("the driver puts a header of its own in front of each frame")
        } else if nic.rx_buffer_size() > SLOT_SIZE {
            Err("the driver needs receive buffers larger than a ring slot")
        } else {
            ring_phys("net_tx_data")
        };
        let tx_zero_copy = if !config.zero_copy || config.tx_headroom != 0 {
            Err("the driver writes a header in front of each frame")
        } else {
            ring_phys("net_rx_data")
        };
        let rx = match rx_zero_copy {
            Ok(ring_phys) => {
                pd_api::log!("receive: zero-copy (the NIC writes frames into net_tx_data slots at {ring_phys:#x})");
                Path::ZeroCopy { ring_phys }
            }
            Err(why) => {
                pd_api::log!("receive: copying each frame into net_tx_data ({why})");
                let free = (0..rx_count as u32).rev().map(|i| i * FRAME_BUFFER_SIZE as u32).collect();
                Path::Copy { buffers: dma.rx_buffers, free }
            }
        };
        let tx = match tx_zero_copy {
            Ok(ring_phys) => {
                pd_api::log!("transmit: zero-copy (the NIC reads frames from net_rx_data slots at {ring_phys:#x})");
                Path::ZeroCopy { ring_phys }
            }
            Err(why) => {
                pd_api::log!("transmit: copying each frame out of net_rx_data ({why})");
                let free = (0..tx_count as u32).rev().map(|i| i * TX_BUFFER_STRIDE as u32).collect();
                Path::Copy { buffers: dma.tx_buffers, free }
            }
        };
        nic.set_interrupts(false);
        let port = port_page();
        if let Some(page) = &port {
            page.publish_mac(nic.mac_address());
            let link = nic.link();
            page.publish_link(link.up, link.speed_mbps, false);
        }
        let mut mover = Self {
            nic,
            link,
            rx,
            tx,
            rx_pending: [Buffer::default(); BATCH],
            rx_pending_len: 0,
            rx_pending_next: 0,
            config,
            counters: MoverCounters::default(),
            port,
        };
        mover.post_rx_buffers();
        mover.nic.set_interrupts(true);
        // Moves whatever is already waiting (the stack PD may have queued frames before this PD
        // started) and ends in the ring protocol's idle state: a signal requested from the peer.
        mover.pump();
        Ok(mover)
    }

    /// The driver.
    pub fn nic(&mut self) -> &mut N {
        &mut self.nic
    }

    /// The data path's counters.
    pub fn counters(&self) -> &MoverCounters {
        &self.counters
    }

    /// Gives the NIC as many receive buffers as it has room for.
    fn post_rx_buffers(&mut self) {
        match self.rx {
            Path::ZeroCopy { ring_phys } => self.post_ring_slots(ring_phys),
            Path::Copy { .. } => self.post_own_buffers(),
        }
    }

    /// Zero-copy receive: lends free slots of the ring to the NIC.
    fn post_ring_slots(&mut self, ring_phys: u64) {
        let mut batch = [Buffer::default(); BATCH];
        let mut asked = false;
        loop {
            let want = self.nic.rx_room().min(BATCH);
            let mut n = 0;
            while n < want {
                match self.link.tx.reserve() {
                    Ok(Some(slot)) => {
                        let offset = slot.offset();
                        batch[n] = Buffer { phys: ring_phys + u64::from(offset), offset, len: SLOT_SIZE as u32 };
                        n += 1;
                    }
                    // No free slot: ask the stack PD for a signal when it frees one (once per
                    // call), and take any it freed meanwhile.
                    Ok(None) if !asked => {
                        asked = true;
                        if !self.link.tx.ready() {
                            self.counters.rx_ring_full += 1;
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.counters.drop_ring_error += 1;
                        break;
                    }
                }
            }
            let posted = if n > 0 { self.nic.rx_post(&batch[..n]) } else { 0 };
            for b in &batch[posted..n] {
                // The driver had reported room; keep the slots rather than lose them.
                let _ = self.link.tx.unreserve(b.offset);
            }
            if want == 0 || n < want || posted < n {
                return;
            }
        }
    }

    /// Copying receive: gives the NIC the PD's own free buffers.
    fn post_own_buffers(&mut self) {
        let Path::Copy { buffers, free } = &mut self.rx else { return };
        let mut batch = [Buffer::default(); BATCH];
        loop {
            let n = free.len().min(BATCH).min(self.nic.rx_room());
            if n == 0 {
                return;
            }
            for (slot, &offset) in batch.iter_mut().zip(free[free.len() - n..].iter()) {
                *slot = buffers.buffer(offset, FRAME_BUFFER_SIZE as u32).expect("buffer offsets lie in the region");
            }
            let posted = self.nic.rx_post(&batch[..n]);
            // Posted buffers are the last `posted` of the n taken from the end of the free list.
            let keep = free.len() - n;
            free.copy_within(keep + posted.., keep);
            free.truncate(free.len() - posted);
            if posted < n {
                return;
            }
        }
    }

    /// NIC → ring: up to one batch. Returns true if it stopped at the batch limit (more may be
    /// waiting and the ring has room).
    fn receive(&mut self) -> bool {
        let moved = match self.rx {
            Path::ZeroCopy { .. } => self.receive_in_place(),
            Path::Copy { .. } => self.receive_copying(),
        };
        // Refill even when nothing arrived: the stack PD may have freed the slots the NIC lacked.
        self.post_rx_buffers();
        moved == BATCH
    }

    /// Publishes the slots the NIC filled, as they are.
    fn receive_in_place(&mut self) -> usize {
        let mut frames = [Buffer::default(); BATCH];
        let n = self.nic.rx_poll(&mut frames);
        for frame in &frames[..n] {
            let len = frame.len as usize;
            if len > SLOT_SIZE {
                self.counters.drop_rx_oversize += 1;
                let _ = self.link.tx.unreserve(frame.offset);
                continue;
            }
            match self.link.tx.commit(frame.offset, len) {
                Ok(true) => {
                    self.counters.rx_to_ring += 1;
                    self.counters.rx_zero_copy += 1;
                }
                Ok(false) => {
                    self.counters.drop_rx_ring_full += 1;
                    let _ = self.link.tx.unreserve(frame.offset);
                }
                Err(_) => {
                    self.counters.drop_ring_error += 1;
                    let _ = self.link.tx.unreserve(frame.offset);
                }
            }
        }
        n
    }

    /// Copies frames from the PD's own buffers into ring slots.
    fn receive_copying(&mut self) -> usize {
        let Path::Copy { buffers: src, free } = &mut self.rx else { return 0 };
        let mut moved = 0;
        while moved < BATCH {
            if self.rx_pending_next == self.rx_pending_len {
                self.rx_pending_next = 0;
                self.rx_pending_len = self.nic.rx_poll(&mut self.rx_pending);
                if self.rx_pending_len == 0 {
                    break;
                }
            }
            if !self.link.tx.ready() {
                // Backpressure: the frames stay here and in the NIC until the stack PD frees
                // slots (ready() asked it for a signal).
                self.counters.rx_ring_full += 1;
                break;
            }
            let frame = self.rx_pending[self.rx_pending_next];
            self.rx_pending_next += 1;
            let len = frame.len as usize;
            // The frame may start inside the buffer that was posted (after a driver's header).
            let buffer_start = frame.offset - frame.offset % FRAME_BUFFER_SIZE as u32;
            let start_in_buffer = (frame.offset - buffer_start) as usize;
            if len > SLOT_SIZE || start_in_buffer + len > FRAME_BUFFER_SIZE {
                self.counters.drop_rx_oversize += 1;
            } else {
                let src = *src;
                let sent = self.link.tx.send_with(|slot| {
                    // SAFETY: offset..offset+len lies inside the buffer posted at buffer_start
                    // (checked above), which lies inside rx_buffers (checked by buffer() when
                    // posted); the driver handed it back, so the device no longer writes it;
                    // the slot is this PD's own.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            src.virt().as_ptr().add(frame.offset as usize),
                            slot.as_mut_ptr(),
                            len,
                        )
                    };
                    Some(len)
                });
                match sent {
                    Ok(true) => {
                        self.counters.rx_to_ring += 1;
                        self.counters.rx_copied += 1;
                    }
                    Ok(false) => self.counters.drop_rx_ring_full += 1,
                    Err(_) => self.counters.drop_ring_error += 1,
                }
            }
            free.push(buffer_start);
            moved += 1;
        }
        moved
    }

    /// Ring → NIC: hands back what the NIC finished sending, then queues up to one batch.
    /// Returns true if it stopped at the batch limit.
    fn transmit(&mut self) -> bool {
        let mut done = [Buffer::default(); BATCH];
        loop {
            let n = self.nic.tx_reclaim(&mut done);
            for b in &done[..n] {
                match &mut self.tx {
                    // Only now, with the device done reading it, may the stack PD reuse the slot.
                    Path::ZeroCopy { .. } => {
                        if self.link.rx.release(b.offset).is_err() {
                            self.counters.drop_ring_error += 1;
                        }
                    }
                    Path::Copy { free, .. } => free.push(b.offset - self.config.tx_headroom),
                }
            }
            if n < BATCH {
                break;
            }
        }
        let mut batch = [Buffer::default(); BATCH];
        let count = match self.tx {
            Path::ZeroCopy { ring_phys } => self.take_in_place(ring_phys, &mut batch),
            Path::Copy { .. } => self.take_copying(&mut batch),
        };
        if count > 0 {
            let queued = self.nic.tx_submit(&batch[..count]);
            // tx_room() was checked, so everything fits; anything refused is dropped, counted and
            // its slot handed back.
            for b in &batch[queued..count] {
                self.counters.drop_tx_refused += 1;
                match &mut self.tx {
                    Path::ZeroCopy { .. } => {
                        let _ = self.link.rx.release(b.offset);
                    }
                    Path::Copy { free, .. } => free.push(b.offset - self.config.tx_headroom),
                }
            }
            self.counters.tx_to_nic += queued as u64;
            match self.tx {
                Path::ZeroCopy { .. } => self.counters.tx_zero_copy += queued as u64,
                Path::Copy { .. } => self.counters.tx_copied += queued as u64,
            }
        }
        count == BATCH
    }

    /// Takes frames from the stack PD's ring by reference, as buffers the NIC reads in place.
    fn take_in_place(&mut self, ring_phys: u64, batch: &mut [Buffer; BATCH]) -> usize {
        let mut count = 0;
        while count < BATCH {
            if self.nic.tx_room() <= count {
                if !self.link.rx.is_empty() {
                    self.counters.tx_nic_full += 1;
                }
                break;
            }
            let frame = match self.link.rx.take() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => {
                    // A corrupt queue may fail the same way again: stop until the next event.
                    self.counters.drop_ring_error += 1;
                    break;
                }
            };
            let len = frame.len as usize;
            if len < self.nic.tx_min_len() || len > MAX_FRAME_LEN {
                if len < self.nic.tx_min_len() {
                    self.counters.drop_tx_empty += 1;
                } else {
                    self.counters.drop_tx_oversize += 1;
                }
                let _ = self.link.rx.release(frame.offset);
                continue;
            }
            batch[count] = Buffer { phys: ring_phys + u64::from(frame.offset), offset: frame.offset, len: frame.len };
            count += 1;
        }
        count
    }

    /// Copies frames from the stack PD's ring into the PD's own DMA buffers.
    fn take_copying(&mut self, batch: &mut [Buffer; BATCH]) -> usize {
        let Path::Copy { buffers, free } = &mut self.tx else { return 0 };
        let headroom = self.config.tx_headroom;
        let mut count = 0;
        while count < BATCH {
            if free.is_empty() || self.nic.tx_room() <= count {
                if !self.link.rx.is_empty() {
                    self.counters.tx_nic_full += 1;
                }
                break;
            }
            let buffer_start = *free.last().expect("checked not empty");
            let offset = buffer_start + headroom;
            // SAFETY: the buffer is not lent to the device (it is on the free list), so nothing
            // else touches it while the reference lives; offset..offset+SLOT_SIZE lies inside
            // tx_buffers (the buffer starts at a multiple of TX_BUFFER_STRIDE below its length,
            // and tx_headroom ≤ TX_HEADROOM_MAX, checked in new).
            let slot = unsafe { &mut *buffers.virt().as_ptr().add(offset as usize).cast::<[u8; SLOT_SIZE]>() };
            // The ring bounds-checks the descriptor and copies the frame out of shared memory
            // straight into the DMA buffer, which the stack PD cannot write.
            let len = match self.link.rx.recv(slot) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(_) => {
                    self.counters.drop_ring_error += 1;
                    break;
                }
            };
            if len == 0 || len < self.nic.tx_min_len() {
                self.counters.drop_tx_empty += 1;
                continue;
            }
            if len > MAX_FRAME_LEN {
                self.counters.drop_tx_oversize += 1;
                continue;
            }
            free.pop();
            batch[count] = buffers.buffer(offset, len as u32).expect("buffer offsets lie in the region");
            count += 1;
        }
        count
    }

    /// Whether a frame from the stack PD could go to the NIC now.
    fn can_send(&self) -> bool {
        let buffers = match &self.tx {
            Path::ZeroCopy { .. } => true,
            Path::Copy { free, .. } => !free.is_empty(),
        };
        buffers && self.nic.tx_room() > 0
    }

    /// Moves frames both ways until there is nothing left to do or the round limit is hit.
    fn pump(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let tx_more = self.transmit();
            let rx_more = self.receive();
            self.link.signal_peer();
            let ring_input = self.link.arm();
            if !(tx_more || rx_more || (ring_input && self.can_send())) {
                return;
            }
        }
        // Work is left: make sure something wakes us even if no new frame or signal comes.
        (self.config.rekick)(&self.nic);
    }

    /// Reports every counter, the driver's then the data path's.
    pub fn report_counters(&mut self, report: &mut dyn FnMut(&str, u64)) {
        self.nic.counters().report(report);
        self.counters.report(report);
    }
}

impl<N: Nic> Handler for FrameMover<N> {
    type Error = &'static str;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let start = pd_api::now_ns();
        if channels.contains(NIC_IRQ) {
            // Reads and clears the causes, then acknowledges the IRQ on NIC_IRQ.
            let causes = self.nic.handle_interrupt();
            self.counters.interrupts += 1;
            if let Some(why) = self.nic.needs_bring_up() {
                // The root task stops the device's DMA and starts this PD afresh; its driver
                // init resets the device first.
                pd_api::restart(format_args!("the NIC needs a new bring-up after {why}"));
            }
            if causes.link {
                self.counters.link_changes += 1;
                let link = self.nic.link();
                pd_api::log!("link {} {} Mbit/s", if link.up { "up" } else { "down" }, link.speed_mbps);
                if let Some(page) = &self.port {
                    page.publish_link(link.up, link.speed_mbps, true);
                }
                // Reading the link may itself find the device needing one (i40e: its firmware
                // no longer answering the link query).
                if let Some(why) = self.nic.needs_bring_up() {
                    pd_api::restart(format_args!("the NIC needs a new bring-up after {why}"));
                }
            }
        }
        self.pump();
        self.counters.busy_ns += pd_api::now_ns().saturating_sub(start);
        if channels.contains(REPORT) {
            let report = self.config.report;
            self.report_counters(&mut |name, value| report(name, value));
        }
        Ok(())
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.counters.report(report);
    }
}

/// The named region, or an error naming it.
pub fn region(name: &'static str) -> Result<MemoryRegion, &'static str> {
    pd_api::memory_region(name).ok_or(name)
}

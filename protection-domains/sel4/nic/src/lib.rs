//! The NIC driver PDs on seL4.
//!
//! - [`Sel4Hal`]: the `nic_core::Hal` a driver runs on inside a PD: registers through the
//!   BAR that system.xml maps (`<pci_device><bar setvar_vaddr=.../>`), DMA memory from a RAM
//!   region whose physical address the root task reports (`MemoryRegion::phys_addr`), the
//!   interrupt acknowledged on the PD's IRQ channel, and time from the runtime's TSC clock.
//! - [`virtio`]: virtio-net through the `virtio-drivers` crate, behind the same `Nic` trait.
//! - [`FrameMover`]: the PD's data path: moves frames between a driver (any `nic_core::Nic`)
//!   and the ring link `"net"` to the stack PD, in batches, with backpressure both ways and the
//!   ring signalling protocol, and counts what it could not move by reason.
//!
//! Frames are copied once per direction between a ring slot and a DMA buffer of the PD's own
//! (the ring's data region is not the DMA region yet: no zero-copy).
//!
//! The contract with the stack PD (the same as the host's TAP PD):
//! - link `"net"`: regions `net_tx_data`/`net_tx_ctl` (frames from the wire, written by this PD)
//!   and `net_rx_data`/`net_rx_ctl` (frames to send, written by the stack PD, mapped read-only
//!   here), signalled on channel [`NET`] (0);
//! - the NIC's interrupt on channel [`NIC_IRQ`] (1);
//! - optionally channel [`REPORT`] (2): a notification there prints every counter as
//!   `RESULT <pd>_<counter> <value>` (tests and benchmarks; the product leaves it unconnected).

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod virtio;

use alloc::vec::Vec;
use nic_core::{Buffer, DmaRegion, Hal, Mmio, Nic};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion};
use pd_ring::{Link, SLOT_SIZE};

/// Channel of the ring link `"net"` to the stack PD.
pub const NET: Channel = Channel::new(0);
/// Channel on which the NIC's interrupt arrives.
pub const NIC_IRQ: Channel = Channel::new(1);
/// Channel on which a peer may ask for the counters to be printed.
pub const REPORT: Channel = Channel::new(2);

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

/// The DMA region of a NIC PD, split into the descriptor pool (for [`Sel4Hal`]) and the frame
/// buffers (for [`FrameMover`]).
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
        // SAFETY: the root task mapped `region` (RAM, physically contiguous from `phys`) into
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
        /// Frames taken from the stack PD and queued to the NIC.
        tx_to_nic,
        /// Times the ring to the stack PD was full (frames wait in the NIC; it drops when its
        /// ring fills, counted in hw_rx_missed / hw_rx_no_buffer).
        rx_ring_full,
        /// Times the NIC's transmit ring or the PD's transmit buffers were all in use (frames
        /// wait in the ring from the stack PD).
        tx_nic_full,
        /// Frames dropped: the ring refused a frame after reporting room (a protocol slip).
        drop_rx_ring_full,
        /// Frames from the stack PD dropped: empty.
        drop_tx_empty,
        /// Frames from the stack PD dropped: longer than the NIC sends (1518 bytes).
        drop_tx_oversize,
        /// Frames dropped: received frame longer than a ring slot (cannot happen with 2 KiB
        /// receive buffers; counted rather than trusted).
        drop_rx_oversize,
        /// Ring protocol errors from the stack PD (bad descriptors); the frame is lost.
        drop_ring_error,
        /// Interrupts handled.
        interrupts,
        /// Link state changes reported by the NIC.
        link_changes,
    }
}

/// The NIC PD's data path: driver `N` on one side, the ring link `"net"` on the other.
pub struct FrameMover<N: Nic> {
    nic: N,
    link: Link,
    rx_buffers: DmaRegion,
    tx_buffers: DmaRegion,
    /// Receive buffers not posted to the NIC (offsets in `rx_buffers`).
    rx_free: Vec<u32>,
    /// Frames taken from the NIC that the ring had no room for yet, oldest at `rx_pending_next`.
    rx_pending: [Buffer; BATCH],
    rx_pending_len: usize,
    rx_pending_next: usize,
    /// Transmit buffers not lent to the NIC (offsets in `tx_buffers`).
    tx_free: Vec<u32>,
    /// Called when the PD yields with work left, to make the device interrupt again.
    rekick: fn(&N),
    /// Bytes the driver needs in front of each transmit frame (virtio-net's header).
    tx_headroom: u32,
    counters: MoverCounters,
}

impl<N: Nic> FrameMover<N> {
    /// Takes over a running driver: posts every receive buffer of `dma`, enables the NIC's
    /// interrupts and opens the link `"net"` on [`NET`]. `rekick` must make the device raise
    /// an interrupt (e.g. by writing its interrupt-cause-set register) if the device can.
    /// Transmit frames are placed `tx_headroom` bytes into their buffer, for a driver that puts
    /// a header in front (virtio-net); received frames may start inside the posted buffer.
    pub fn new(mut nic: N, dma: &DmaLayout, rekick: fn(&N), tx_headroom: u32) -> Result<Self, &'static str> {
        let link = Link::open("net", NET)
            .map_err(|_| "link \"net\" (net_tx_data/ctl, net_rx_data/ctl) is not mapped or malformed")?;
        let rx_count = dma.rx_buffers.len() / FRAME_BUFFER_SIZE;
        let tx_count = dma.tx_buffers.len() / TX_BUFFER_STRIDE;
        if rx_count == 0
            || tx_count == 0
            || nic.rx_buffer_size() > FRAME_BUFFER_SIZE
            || tx_headroom as usize > TX_HEADROOM_MAX
        {
            return Err("no frame buffers, or the driver needs larger receive buffers");
        }
        let mut mover = Self {
            link,
            rx_buffers: dma.rx_buffers,
            tx_buffers: dma.tx_buffers,
            rx_free: (0..rx_count as u32).rev().map(|i| i * FRAME_BUFFER_SIZE as u32).collect(),
            rx_pending: [Buffer::default(); BATCH],
            rx_pending_len: 0,
            rx_pending_next: 0,
            tx_free: (0..tx_count as u32).rev().map(|i| i * TX_BUFFER_STRIDE as u32).collect(),
            rekick,
            tx_headroom,
            counters: MoverCounters::default(),
            nic: {
                nic.set_interrupts(false);
                nic
            },
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

    /// Gives every free receive buffer the NIC has room for to the NIC.
    fn post_rx_buffers(&mut self) {
        let mut batch = [Buffer::default(); BATCH];
        loop {
            let n = self.rx_free.len().min(BATCH).min(self.nic.rx_room());
            if n == 0 {
                return;
            }
            for (slot, &offset) in batch.iter_mut().zip(self.rx_free[self.rx_free.len() - n..].iter()) {
                *slot =
                    self.rx_buffers.buffer(offset, FRAME_BUFFER_SIZE as u32).expect("buffer offsets lie in the region");
            }
            let posted = self.nic.rx_post(&batch[..n]);
            // Posted buffers are the last `posted` of the n taken from the end of the free list.
            let keep = self.rx_free.len() - n;
            self.rx_free.copy_within(keep + posted.., keep);
            self.rx_free.truncate(self.rx_free.len() - posted);
            if posted < n {
                return;
            }
        }
    }

    /// NIC → ring: up to one batch. Returns true if it stopped at the batch limit (more may be
    /// waiting and the ring has room).
    fn receive(&mut self) -> bool {
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
                let src = self.rx_buffers;
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
                    Ok(true) => self.counters.rx_to_ring += 1,
                    Ok(false) => self.counters.drop_rx_ring_full += 1,
                    Err(_) => self.counters.drop_ring_error += 1,
                }
            }
            self.rx_free.push(buffer_start);
            moved += 1;
        }
        if moved > 0 {
            self.post_rx_buffers();
        }
        moved == BATCH
    }

    /// Ring → NIC: reclaims finished transmit buffers, then queues up to one batch. Returns
    /// true if it stopped at the batch limit.
    fn transmit(&mut self) -> bool {
        let mut done = [Buffer::default(); BATCH];
        loop {
            let n = self.nic.tx_reclaim(&mut done);
            self.tx_free.extend(done[..n].iter().map(|b| b.offset - self.tx_headroom));
            if n < BATCH {
                break;
            }
        }
        let mut batch = [Buffer::default(); BATCH];
        let mut count = 0;
        while count < BATCH {
            if self.tx_free.is_empty() || self.nic.tx_room() <= count {
                if !self.link.rx.is_empty() {
                    self.counters.tx_nic_full += 1;
                }
                break;
            }
            let buffer_start = *self.tx_free.last().expect("checked not empty");
            let offset = buffer_start + self.tx_headroom;
            // SAFETY: the buffer is not lent to the device (it is on the free list), so nothing
            // else touches it while the reference lives; offset..offset+SLOT_SIZE lies inside
            // tx_buffers (the buffer starts at a multiple of TX_BUFFER_STRIDE below its length,
            // and tx_headroom ≤ TX_HEADROOM_MAX, checked in new).
            let slot = unsafe { &mut *self.tx_buffers.virt().as_ptr().add(offset as usize).cast::<[u8; SLOT_SIZE]>() };
            // The ring bounds-checks the descriptor and copies the frame out of shared memory
            // straight into the DMA buffer, which the stack PD cannot write.
            let len = match self.link.rx.recv(slot) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(_) => {
                    // A corrupt queue may fail the same way again: stop until the next event.
                    self.counters.drop_ring_error += 1;
                    break;
                }
            };
            if len == 0 {
                self.counters.drop_tx_empty += 1;
                continue;
            }
            if len > nic_core::MAX_FRAME_LEN {
                self.counters.drop_tx_oversize += 1;
                continue;
            }
            self.tx_free.pop();
            batch[count] = self.tx_buffers.buffer(offset, len as u32).expect("buffer offsets lie in the region");
            count += 1;
        }
        if count > 0 {
            let queued = self.nic.tx_submit(&batch[..count]);
            // tx_room() was checked, so everything fits; anything refused is counted and freed.
            for b in &batch[queued..count] {
                self.counters.tx_nic_full += 1;
                self.tx_free.push(b.offset - self.tx_headroom);
            }
            self.counters.tx_to_nic += queued as u64;
        }
        count == BATCH
    }

    /// Moves frames both ways until there is nothing left to do or the round limit is hit.
    fn pump(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let tx_more = self.transmit();
            let rx_more = self.receive();
            self.link.signal_peer();
            let ring_input = self.link.arm();
            let can_send = !self.tx_free.is_empty() && self.nic.tx_room() > 0;
            if !(tx_more || rx_more || (ring_input && can_send)) {
                return;
            }
        }
        // Work is left: make sure something wakes us even if no new frame or signal comes.
        (self.rekick)(&self.nic);
    }

    /// Prints every counter (driver and data path) as `RESULT <pd>_<name> <value>`.
    pub fn print_counters(&mut self) {
        let pd = sel4_pd_runtime::pd_name();
        let print = |name: &str, value: u64| sel4_pd_runtime::print_line(format_args!("RESULT {pd}_{name} {value}"));
        self.nic.counters().report(&mut |n, v| print(n, v));
        self.counters.report(&mut |n, v| print(n, v));
    }
}

impl<N: Nic> Handler for FrameMover<N> {
    type Error = &'static str;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(NIC_IRQ) {
            // Reads and clears the causes, then acknowledges the IRQ on NIC_IRQ.
            let causes = self.nic.handle_interrupt();
            self.counters.interrupts += 1;
            if causes.link {
                self.counters.link_changes += 1;
                let link = self.nic.link();
                pd_api::log!("link {} {} Mbit/s", if link.up { "up" } else { "down" }, link.speed_mbps);
            }
        }
        self.pump();
        if channels.contains(REPORT) {
            self.print_counters();
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

//! What the NIC PD's tests share: a NIC that keeps the `Nic` contract without hardware, and a
//! `FrameMover` over it with its rings and DMA region in a test arena.

// Each test file uses its part.
#![allow(dead_code)]

use nic_core::{Buffer, Counters, DmaRegion, Interrupts, LinkState, Nic};
use nic_testkit::Arena;
use pd_api::MemoryRegion;
use pd_nic::{DmaLayout, FrameMover, MoverConfig};
use pd_ring::SLOT_SIZE;
use pd_testkit::{FarEnd, TestPd};

/// The X722's shortest frame (drivers/i40e's tests check the driver says so and refuses 16).
pub const MIN_LEN: usize = 17;

/// A NIC that receives nothing, takes frames of [`MIN_LEN`] bytes or more and sends them at
/// once, and, if `resets`, needs a new bring-up from its first interrupt on.
#[derive(Default)]
pub struct FakeNic {
    resets: bool,
    interrupted: bool,
    /// Each interrupt reports a link change, and reading the link finds the device needing a
    /// new bring-up (i40e: its firmware no longer answering the link query).
    fails_at_link: bool,
    link_read: bool,
    /// The lengths of the frames it sent, in order.
    pub sent: Vec<u32>,
    done: Vec<Buffer>,
}

impl FakeNic {
    /// One that needs a new bring-up from its first interrupt on if `resets`.
    pub fn resetting(resets: bool) -> Self {
        Self { resets, ..Self::default() }
    }

    /// A NIC whose link query, after a link interrupt, finds it needing a new bring-up.
    pub fn failing_at_link() -> Self {
        Self { fails_at_link: true, ..Self::default() }
    }
}

impl Nic for FakeNic {
    fn mac_address(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, 1]
    }
    fn link(&mut self) -> LinkState {
        self.link_read = self.interrupted;
        LinkState { up: true, speed_mbps: 10_000, full_duplex: true }
    }
    fn rx_buffer_size(&self) -> usize {
        2048
    }
    fn rx_room(&self) -> usize {
        0
    }
    fn rx_post(&mut self, _: &[Buffer]) -> usize {
        0
    }
    fn rx_poll(&mut self, _: &mut [Buffer]) -> usize {
        0
    }
    fn tx_room(&self) -> usize {
        64
    }
    fn tx_min_len(&self) -> usize {
        MIN_LEN
    }
    fn tx_submit(&mut self, frames: &[Buffer]) -> usize {
        // Stops at the first frame it refuses, as the contract says.
        let taken = frames.iter().take_while(|f| f.len as usize >= MIN_LEN).count();
        self.sent.extend(frames[..taken].iter().map(|f| f.len));
        self.done.extend_from_slice(&frames[..taken]);
        taken
    }
    fn tx_reclaim(&mut self, out: &mut [Buffer]) -> usize {
        let n = out.len().min(self.done.len());
        for (o, b) in out.iter_mut().zip(self.done.drain(..n)) {
            *o = b;
        }
        n
    }
    fn handle_interrupt(&mut self) -> Interrupts {
        self.interrupted = true;
        Interrupts { link: self.fails_at_link, ..Interrupts::default() }
    }
    fn set_interrupts(&mut self, _: bool) {}
    fn needs_bring_up(&self) -> Option<&'static str> {
        if self.fails_at_link && self.link_read {
            return Some("its firmware no longer answering admin commands");
        }
        (self.resets && self.interrupted).then_some("a global reset")
    }
    fn counters(&mut self) -> Counters {
        Counters::default()
    }
}

/// The NIC PD `name` moving frames for `nic` (zero copy or copying), and the stack PD's end of
/// its `net` link (64 slots each way).
pub fn mover(name: &str, nic: FakeNic, zero_copy: bool) -> (FrameMover<FakeNic>, FarEnd) {
    let pd = TestPd::new(name);
    let arena = Arena::new(1 << 20);
    let region = |offset: usize, len: usize| {
        let r: DmaRegion = arena.region(offset, len);
        // SAFETY: the arena lives as long as the test (the leak below).
        unsafe { MemoryRegion::new(r.virt(), r.len()) }.with_phys_addr(r.phys())
    };
    let ring_bytes = 64 * SLOT_SIZE;
    let stack = pd.link_over("net", region(0, ring_bytes), region(ring_bytes, ring_bytes));
    let dma = DmaLayout::split(region(512 << 10, 256 << 10), 16, 64).unwrap();
    std::mem::forget(arena);
    let config = MoverConfig { rekick: |_: &FakeNic| {}, tx_headroom: 0, zero_copy, report: |_, _| {} };
    (FrameMover::new(nic, &dma, config).expect("mover"), stack)
}

//! A frame from the stack PD shorter than the NIC takes (17 bytes on the X722, whose queue a
//! shorter one stops) is dropped and counted before batching: `Nic::tx_submit` stops at the
//! first frame it refuses, so one such frame in a batch used to take the good frames after it
//! down with it (counted as refused). The NIC here keeps the `Nic` contract with the X722's
//! minimum (drivers/i40e's tests check the driver says 17 and refuses 16).

use nic_core::{Buffer, Counters, DmaRegion, Interrupts, LinkState, Nic};
use nic_testkit::Arena;
use pd_api::{ChannelSet, Handler, MemoryRegion};
use pd_nic::{DmaLayout, FrameMover, MoverConfig, NET};
use pd_ring::SLOT_SIZE;
use pd_testkit::TestPd;

/// A NIC that takes frames of 17 bytes or more and sends them at once.
#[derive(Default)]
struct X722Minimum {
    sent: Vec<u32>,
    done: Vec<Buffer>,
}

impl Nic for X722Minimum {
    fn mac_address(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, 1]
    }
    fn link(&mut self) -> LinkState {
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
        17
    }
    fn tx_submit(&mut self, frames: &[Buffer]) -> usize {
        let taken = frames.iter().take_while(|f| f.len >= 17).count();
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
        Interrupts::default()
    }
    fn set_interrupts(&mut self, _: bool) {}
    fn counters(&mut self) -> Counters {
        Counters::default()
    }
}

#[test]
fn a_frame_shorter_than_the_nic_takes_is_dropped_alone() {
    for zero_copy in [true, false] {
        let pd = TestPd::new(if zero_copy { "nic_short_zc" } else { "nic_short_copy" });
        let arena = Arena::new(1 << 20);
        let region = |offset: usize, len: usize| {
            let r: DmaRegion = arena.region(offset, len);
            // SAFETY: the arena lives as long as the test (the leak below).
            unsafe { MemoryRegion::new(r.virt(), r.len()) }.with_phys_addr(r.phys())
        };
        let ring_bytes = 64 * SLOT_SIZE;
        let mut stack = pd.link_over("net", region(0, ring_bytes), region(ring_bytes, ring_bytes));
        let dma = DmaLayout::split(region(512 << 10, 256 << 10), 16, 64).unwrap();
        std::mem::forget(arena);
        let config = MoverConfig { rekick: |_: &X722Minimum| {}, tx_headroom: 0, zero_copy, report: |_, _| {} };
        let mut mover = FrameMover::new(X722Minimum::default(), &dma, config).expect("mover");
        // A good frame, one of 15 bytes, thirty good ones.
        let lens: Vec<usize> = std::iter::once(60).chain(std::iter::once(15)).chain((0..30).map(|k| 60 + k)).collect();
        for &len in &lens {
            stack.send(&vec![0xa5; len]);
        }
        mover.notified(ChannelSet::EMPTY.with(NET)).unwrap();
        let c = mover.counters().clone();
        let sent = mover.nic().sent.clone();
        assert_eq!(sent.len(), 31, "zero copy {zero_copy}: every good frame sent");
        assert_eq!(sent.iter().map(|&l| l as usize).collect::<Vec<_>>(), lens.iter().copied().filter(|&l| l != 15).collect::<Vec<_>>());
        assert_eq!((c.drop_tx_empty, c.drop_tx_refused), (1, 0), "zero copy {zero_copy}");
    }
}

//! A device that undoes its bring-up (the X722 after a global reset: drivers/i40e) makes the NIC
//! PD ask to be started afresh (`pd_api::restart`), which the test kit's platform turns into a
//! panic naming the reason; on seL4 the root task restarts the PD (tests/sel4/test_sel4_boot.py).

use nic_core::{Buffer, Counters, DmaRegion, Interrupts, LinkState, Nic};
use nic_testkit::Arena;
use pd_api::{ChannelSet, Handler, MemoryRegion};
use pd_nic::{DmaLayout, FrameMover, MoverConfig, NIC_IRQ};
use pd_ring::SLOT_SIZE;
use pd_testkit::TestPd;

/// A NIC with no frames that, from its first interrupt on, needs a new bring-up if `resets`.
struct ResettingNic {
    resets: bool,
    interrupted: bool,
}

impl Nic for ResettingNic {
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
        0
    }
    fn tx_submit(&mut self, _: &[Buffer]) -> usize {
        0
    }
    fn tx_reclaim(&mut self, _: &mut [Buffer]) -> usize {
        0
    }
    fn handle_interrupt(&mut self) -> Interrupts {
        self.interrupted = true;
        Interrupts::default()
    }
    fn set_interrupts(&mut self, _: bool) {}
    fn needs_bring_up(&self) -> Option<&'static str> {
        (self.resets && self.interrupted).then_some("a global reset")
    }
    fn counters(&mut self) -> Counters {
        Counters::default()
    }
}

fn mover(resets: bool) -> FrameMover<ResettingNic> {
    let pd = TestPd::new(if resets { "nic_resets" } else { "nic_steady" });
    let arena = Arena::new(1 << 20);
    let region = |offset: usize, len: usize| {
        let r: DmaRegion = arena.region(offset, len);
        // SAFETY: the arena lives as long as the test (the leak below).
        unsafe { MemoryRegion::new(r.virt(), r.len()) }.with_phys_addr(r.phys())
    };
    let ring_bytes = 32 * SLOT_SIZE;
    let _stack = pd.link_over("net", region(0, ring_bytes), region(ring_bytes, ring_bytes));
    let dma = DmaLayout::split(region(512 << 10, 256 << 10), 16, 16).unwrap();
    std::mem::forget(arena);
    let config = MoverConfig { rekick: |_: &ResettingNic| {}, tx_headroom: 0, zero_copy: true, report: |_, _| {} };
    FrameMover::new(ResettingNic { resets, interrupted: false }, &dma, config).expect("mover")
}

#[test]
fn a_device_that_keeps_its_bring_up_is_served_as_usual() {
    let mut m = mover(false);
    for _ in 0..3 {
        m.notified(ChannelSet::EMPTY.with(NIC_IRQ)).unwrap();
    }
}

#[test]
#[should_panic(expected = "nic_resets: restart requested: the NIC needs a new bring-up after a global reset")]
fn a_device_that_undid_its_bring_up_makes_the_pd_ask_for_a_restart() {
    let mut m = mover(true);
    let _ = m.notified(ChannelSet::EMPTY.with(NIC_IRQ));
}

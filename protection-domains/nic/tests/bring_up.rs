//! A device that undoes its bring-up (the X722 after a global reset: drivers/i40e) makes the NIC
//! PD ask to be started afresh (`pd_api::restart`), which the test kit's platform turns into a
//! panic naming the reason; on seL4 the root task restarts the PD (tests/sel4/test_sel4_boot.py).

mod common;

use common::FakeNic;
use pd_api::{ChannelSet, Handler};
use pd_nic::{FrameMover, NIC_IRQ};

/// The NIC PD over a NIC that, from its first interrupt on, needs a new bring-up if `resets`.
fn mover(resets: bool) -> FrameMover<FakeNic> {
    let name = if resets { "nic_resets" } else { "nic_steady" };
    common::mover(name, FakeNic::resetting(resets), true).0
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

/// A device found needing a new bring-up only when the PD reads its link after a link
/// interrupt (i40e: the link query timing out) makes the PD ask for a restart too (the PD used
/// to look only right after the interrupt, and the link stayed frozen).
#[test]
#[should_panic(expected = "nic_link_query: restart requested: the NIC needs a new bring-up after its firmware no longer answering admin commands")]
fn a_link_query_that_finds_the_device_needing_a_bring_up_makes_the_pd_ask_for_a_restart() {
    let mut m = common::mover("nic_link_query", FakeNic::failing_at_link(), true).0;
    let _ = m.notified(ChannelSet::EMPTY.with(NIC_IRQ));
}

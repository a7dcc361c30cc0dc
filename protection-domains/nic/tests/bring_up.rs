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

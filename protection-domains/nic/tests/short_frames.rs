//! A frame from the stack PD shorter than the NIC takes (17 bytes on the X722, whose queue a
//! shorter one stops) is dropped and counted before batching: `Nic::tx_submit` stops at the
//! first frame it refuses, so one such frame in a batch used to take the good frames after it
//! down with it (counted as refused).

mod common;

use common::{mover, FakeNic, MIN_LEN};
use pd_api::{ChannelSet, Handler};
use pd_nic::NET;

#[test]
fn a_frame_shorter_than_the_nic_takes_is_dropped_alone() {
    for zero_copy in [true, false] {
        let name = if zero_copy { "nic_short_zc" } else { "nic_short_copy" };
        let (mut mover, mut stack) = mover(name, FakeNic::default(), zero_copy);
        // A good frame, one too short, thirty good ones.
        let short = MIN_LEN - 2;
        let lens: Vec<usize> = std::iter::once(60).chain(std::iter::once(short)).chain((0..30).map(|k| 60 + k)).collect();
        for &len in &lens {
            stack.send(&vec![0xa5; len]);
        }
        mover.notified(ChannelSet::EMPTY.with(NET)).unwrap();
        let c = mover.counters().clone();
        let sent = mover.nic().sent.clone();
        assert_eq!(sent.len(), 31, "zero copy {zero_copy}: every good frame sent");
        assert_eq!(sent.iter().map(|&l| l as usize).collect::<Vec<_>>(), lens.iter().copied().filter(|&l| l != short).collect::<Vec<_>>());
        assert_eq!((c.drop_tx_empty, c.drop_tx_refused), (1, 0), "zero copy {zero_copy}");
    }
}

//! `RxQueue::poll` drops at most a ring's worth of frames per call. It re-posts the buffer of a
//! frame it drops (a device error, a fragment of an oversize frame) at the ring's tail, inside
//! the same loop: a device that writes a done-with-error status into every descriptor, including
//! those it was never handed back, kept the PD in `poll` for ever. Here the descriptor format
//! itself writes that status whenever a buffer is posted (the worst such device): poll must
//! return, having dropped and counted one ring's worth. And since only drops count, good frames
//! after a burst of bad ones still come out of the same call.

use nic_core::queue::{DescFormat, RxDone, RxQueue};
use nic_core::{Buffer, Counters};
use nic_testkit::{Arena, DeviceModel, TestHal};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

const DONE: u64 = 0b01;
const DONE_WITH_ERROR: u64 = 0b11;

thread_local! {
    /// Buffers posted so far on this thread (each test runs on its own).
    static POSTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A device that completes every buffer as soon as it is posted: the first `BAD` posts as
/// frames with an error, every later one as a good 64-byte frame.
struct BadThenGood<const BAD: usize>;

impl<const BAD: usize> DescFormat for BadThenGood<BAD> {
    fn rx_desc(buffer: &Buffer) -> (u64, u64) {
        let k = POSTS.replace(POSTS.get() + 1);
        (buffer.phys, if k < BAD { DONE_WITH_ERROR } else { DONE })
    }
    fn rx_done(hi: u64) -> Option<RxDone> {
        (hi & DONE != 0).then_some(RxDone { len: 64, eop: true, error: hi & DONE_WITH_ERROR == DONE_WITH_ERROR })
    }
    fn tx_desc(frame: &Buffer) -> (u64, u64) {
        (frame.phys, 0)
    }
    fn tx_done(_: u64) -> bool {
        false
    }
}

/// The worst such device: every descriptor, whenever it is written, reads as done with an error.
type EveryDescriptorDoneWithError = BadThenGood<{ usize::MAX }>;

struct NoRegisters;

impl DeviceModel for NoRegisters {
    fn read(&mut self, _: usize) -> u32 {
        0
    }
    fn write(&mut self, _: usize, _: u32) {}
    fn advance(&mut self, _: u64) {}
    fn protocol_errors(&self) -> &[String] {
        &[]
    }
}

#[test]
fn a_device_that_marks_every_descriptor_done_cannot_keep_poll_looping() {
    let (tx, rx) = mpsc::channel();
    // On its own thread: without the bound, poll never returns and the test fails on time.
    std::thread::spawn(move || {
        let arena = Arena::new(1 << 20);
        let mut hal = TestHal::new(Rc::new(RefCell::new(NoRegisters)), arena.clone(), 64 << 10);
        let mut queue = RxQueue::<EveryDescriptorDoneWithError, 16>::new(&mut hal, 128, 0x2818, 2048).unwrap();
        let buffers: Vec<Buffer> = (0..15u32).map(|k| Buffer { phys: arena.region((128 << 10) + k as usize * 2048, 2048).phys(), offset: k, len: 2048 }).collect();
        assert_eq!(queue.post(&hal, &buffers), 15);
        let mut counters = Counters::default();
        let mut out = [Buffer::default(); 32];
        let got = queue.poll(&hal, &mut out, &mut counters);
        tx.send((got, counters.rx_errors)).unwrap();
    });
    let (got, errors) = rx.recv_timeout(Duration::from_secs(10)).expect("poll returned");
    assert_eq!(got, 0, "nothing good was received");
    assert_eq!(errors, 16, "one look at each descriptor of the ring, counted");
}

/// The bound counts drops only: after a ring's worth less one of bad frames, the good frames
/// that follow come out of the same call (a poll that stopped early would leave them until
/// the next interrupt, which may not come).
#[test]
fn a_burst_of_bad_frames_leaves_no_good_frame_behind() {
    let arena = Arena::new(1 << 20);
    let mut hal = TestHal::new(Rc::new(RefCell::new(NoRegisters)), arena.clone(), 64 << 10);
    let mut queue = RxQueue::<BadThenGood<15>, 16>::new(&mut hal, 128, 0x2818, 2048).unwrap();
    let buffers: Vec<Buffer> = (0..15u32).map(|k| Buffer { phys: arena.region((128 << 10) + k as usize * 2048, 2048).phys(), offset: k, len: 2048 }).collect();
    assert_eq!(queue.post(&hal, &buffers), 15);
    let mut counters = Counters::default();
    let mut out = [Buffer::default(); 32];
    let got = queue.poll(&hal, &mut out, &mut counters);
    assert_eq!((counters.rx_errors, got), (15, 15), "15 bad frames dropped, then the 15 good ones in their buffers");
    assert!(out[..got].iter().all(|b| b.len == 64));
}

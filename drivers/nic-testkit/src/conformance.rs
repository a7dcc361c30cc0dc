//! The tests every driver must pass against its register model: what the shared descriptor
//! queues (`nic_core::queue`) promise, seen through a real driver's init and descriptor format
//! on a model of its device. A driver's test file runs them all with [`conformance_tests!`]:
//!
//! ```ignore
//! fn config() -> Config { ... }
//! fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> { ... }
//! nic_testkit::conformance_tests!(rig, config);
//! ```
//!
//! Each test names the behaviour; what is the family's own (its init sequence, the values it
//! writes into its registers, its quirks) stays in the driver's own tests.

use crate::rig::{frame, Rig, PEER_MAC, SLOT};
use crate::{DeviceModel, RingRegs};
use nic_core::{Buffer, Nic};

/// What became of a frame the model was given.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RxOutcome {
    /// Written to the ring.
    Delivered,
    /// No free descriptor: dropped and counted as missed.
    Missed,
    /// Not for us (address filter).
    Filtered,
    /// Dropped by the MAC (bad CRC, a long frame not allowed).
    DroppedBad,
    /// Receiver off or link down: the frame never arrived.
    NotReceiving,
}

/// What the shared tests need of a register model besides its registers.
pub trait WireModel: DeviceModel {
    /// A frame (without FCS) arrives from the wire.
    fn inject(&mut self, frame: &[u8]) -> RxOutcome;
    /// A frame arrives that the MAC stores but flags with its receive-error bit.
    fn inject_flagged(&mut self, frame: &[u8]) -> RxOutcome;
    /// A frame with a bad CRC arrives (the MAC counts and drops it).
    fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome;
    /// A frame arrives and the write-back claims `claimed` bytes, whatever was stored (a broken
    /// device, or corrupted descriptor memory).
    fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome;
    /// Frames longer than the MAC's limit are accepted (to exercise the multi-buffer path).
    fn accept_long_frames(&mut self);
    /// The device sends at most `max` descriptors; the frames as they appear on the wire.
    fn transmit(&mut self, max: usize) -> Vec<Vec<u8>>;
    /// The station address the device loads at reset.
    fn eeprom_mac(&self) -> [u8; 6];
    /// Times the receive and the transmit head wrapped to 0.
    fn wraps(&self) -> (u32, u32);
    /// The receive and transmit rings as their registers describe them.
    fn rings(&self) -> (RingRegs, RingRegs);
    /// Interrupts delivered to the CPU so far.
    fn interrupts_raised(&self) -> u32;
    /// Connects or disconnects the link partner.
    fn set_cable(&mut self, connected: bool);
}

/// The first buffer of `got` as received (its bytes).
fn seq_of(r: &Rig<impl Nic, impl WireModel>, b: &Buffer) -> [u8; 4] {
    r.bytes(b)[14..18].try_into().unwrap()
}

/// Received frames land in the caller's posted buffers, byte for byte, in order; frames for
/// another MAC are filtered; counters (software and hardware) agree.
pub fn receive_fills_posted_buffers_in_place<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    let posted = r.post(8);
    let unicast = frame(mac, 1, 1514);
    let broadcast = frame([0xFF; 6], 2, 60);
    assert_eq!(r.model().inject(&unicast), RxOutcome::Delivered);
    assert_eq!(r.model().inject(&frame([0x02, 1, 2, 3, 4, 5], 3, 80)), RxOutcome::Filtered);
    assert_eq!(r.model().inject(&broadcast), RxOutcome::Delivered);
    let got = r.poll(8);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].offset, got[0].phys), (posted[0].offset, posted[0].phys));
    assert_eq!(got[1].offset, posted[1].offset);
    assert_eq!(r.bytes(&got[0]), unicast, "exact bytes, FCS stripped");
    assert_eq!(r.bytes(&got[1]), broadcast);
    assert!(r.poll(8).is_empty());
    let c = r.nic.counters();
    assert_eq!((c.rx_frames, c.rx_bytes), (2, 1574));
    assert_eq!((c.hw_rx_good_frames, c.hw_rx_good_bytes), (2, 1574 + 8), "hardware counts the FCS");
    r.assert_clean();
}

/// `rx_poll` returns no more than its output batch holds and keeps the rest for the next call.
pub fn rx_poll_respects_the_output_batch<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(8);
    for s in 0..5 {
        assert_eq!(r.model().inject(&frame(mac, s, 64)), RxOutcome::Delivered);
    }
    let first = r.poll(2);
    let rest = r.poll(8);
    assert_eq!((first.len(), rest.len()), (2, 3));
    assert_eq!(seq_of(&r, &rest[0]), 2u32.to_be_bytes(), "in arrival order across calls");
}

/// Transmitted frames leave exactly (short ones padded to 60 bytes) and their buffers come back
/// in submit order once sent.
pub fn transmit_sends_exact_frames_and_returns_buffers<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let frames = [frame(PEER_MAC, 1, 1514), frame(PEER_MAC, 2, 42), frame([0xFF; 6], 3, 1518)];
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 3);
    assert!(r.reclaim(8).is_empty(), "nothing is back before the device sent it");
    let wire = r.model().transmit(usize::MAX);
    assert_eq!(wire.len(), 3);
    assert_eq!(wire[0], frames[0]);
    let mut padded = frames[1].clone();
    padded.resize(60, 0);
    assert_eq!(wire[1], padded, "short frame padded");
    assert_eq!(wire[2], frames[2]);
    assert_eq!(r.reclaim(8), bufs);
    let c = r.nic.counters();
    assert_eq!((c.tx_frames, c.tx_completed, c.hw_tx_good_frames), (3, 3, 3));
    assert_eq!(c.hw_tx_good_bytes, 1514 + 60 + 1518 + 12);
    r.assert_clean();
}

/// Empty and oversize frames are refused, not queued; the good ones before them go.
pub fn tx_rejects_empty_and_oversize_frames<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let good = r.tx_buffer(&frame(PEER_MAC, 1, 64));
    assert_eq!(r.nic.tx_submit(&[good, Buffer { len: 1519, ..good }]), 1);
    assert_eq!(r.nic.tx_submit(&[Buffer { len: 0, ..good }]), 0);
    assert_eq!(r.model().transmit(usize::MAX).len(), 1);
}

/// A buffer smaller than what the device may write is refused, never posted.
pub fn rx_post_refuses_buffers_smaller_than_the_device_writes<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let size = r.nic.rx_buffer_size() as u32;
    let b = r.slots(2);
    assert_eq!(r.nic.rx_post(&[b[0], Buffer { len: size - 1, ..b[1] }]), 1);
    assert_eq!(r.nic.rx_room(), 15 - 1);
}

/// Both rings wrap around many times with every frame intact (8-descriptor rings).
pub fn rings_wrap_around_many_times<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    let mut seq = 0u32;
    r.post(7);
    for _round in 0..6 {
        for _ in 0..7 {
            assert_eq!(r.model().inject(&frame(mac, seq, 60 + 3 * seq as usize)), RxOutcome::Delivered);
            seq += 1;
        }
        let got = r.poll(16);
        assert_eq!(got.len(), 7);
        for (i, b) in got.iter().enumerate() {
            let s = seq - 7 + i as u32;
            assert_eq!(r.bytes(b), frame(mac, s, 60 + 3 * s as usize));
        }
        let back: Vec<Buffer> = got.iter().map(|b| Buffer { len: SLOT, ..*b }).collect();
        assert_eq!(r.nic.rx_post(&back), 7);
    }
    let mut sent = 0;
    for _round in 0..6 {
        let frames: Vec<Vec<u8>> = (0..7).map(|i| frame(PEER_MAC, sent + i, 200)).collect();
        let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
        assert_eq!(r.nic.tx_submit(&bufs), 7);
        assert_eq!(r.model().transmit(usize::MAX), frames);
        assert_eq!(r.reclaim(16), bufs);
        sent += 7;
    }
    let (rx_wraps, tx_wraps) = r.model().wraps();
    assert!(rx_wraps >= 5 && tx_wraps >= 5, "wrapped {rx_wraps}/{tx_wraps} times");
    let c = r.nic.counters();
    assert_eq!((c.rx_frames, c.tx_completed, c.hw_rx_missed), (42, 42, 0));
    r.assert_clean();
}

/// With the receive ring full the device drops and counts; once buffers come back it delivers
/// again (8-descriptor rings).
pub fn full_rx_ring_drops_and_counts_then_recovers<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(7);
    let outcomes: Vec<RxOutcome> = (0..10).map(|s| r.model().inject(&frame(mac, s, 64))).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == RxOutcome::Delivered).count(), 7);
    assert_eq!(outcomes.iter().filter(|o| **o == RxOutcome::Missed).count(), 3);
    assert_eq!(r.nic.counters().hw_rx_missed, 3);
    let got = r.poll(16);
    assert_eq!(got.len(), 7);
    assert_eq!(seq_of(&r, &got[6]), 6u32.to_be_bytes());
    let back: Vec<Buffer> = got.iter().map(|b| Buffer { len: SLOT, ..*b }).collect();
    assert_eq!(r.nic.rx_post(&back), 7);
    for s in 100..107 {
        assert_eq!(r.model().inject(&frame(mac, s, 64)), RxOutcome::Delivered);
    }
    assert_eq!(r.poll(16).len(), 7);
    assert_eq!(r.nic.counters().hw_rx_missed, 3);
    r.assert_clean();
}

/// A full transmit ring is backpressure: nothing is overwritten, and room comes back as the
/// device sends (8-descriptor rings).
pub fn full_tx_ring_pushes_back_without_overwriting<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(PEER_MAC, i, 300)).collect();
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 7);
    assert_eq!(r.nic.tx_room(), 0);
    assert_eq!(r.nic.tx_submit(&bufs[7..]), 0);
    assert_eq!(r.model().transmit(3), frames[..3]);
    assert_eq!(r.nic.tx_room(), 0, "room comes back when the buffers are reclaimed");
    assert_eq!(r.reclaim(16), bufs[..3]);
    assert_eq!(r.nic.tx_submit(&bufs[7..]), 3);
    assert_eq!(r.model().transmit(usize::MAX), frames[3..]);
    assert_eq!(r.reclaim(16), bufs[3..]);
    r.assert_clean();
}

/// A frame the MAC flagged and one with a bad CRC are counted, their buffers reused (8).
pub fn bad_frames_are_counted_and_buffers_reused<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(7);
    assert_eq!(r.model().inject_bad_crc(&frame(mac, 1, 64)), RxOutcome::DroppedBad);
    assert_eq!(r.model().inject_flagged(&frame(mac, 2, 64)), RxOutcome::Delivered);
    assert!(r.poll(8).is_empty());
    assert_eq!(r.nic.rx_room(), 0, "the flagged frame's buffer went back to the device");
    for seq in 3..10 {
        assert_eq!(r.model().inject(&frame(mac, seq, 64)), RxOutcome::Delivered);
    }
    assert_eq!(r.poll(16).len(), 7);
    let c = r.nic.counters();
    assert_eq!((c.rx_errors, c.hw_crc_errors, c.rx_frames), (1, 1, 7));
    r.assert_clean();
}

/// A frame longer than a buffer spans several; it is dropped whole and counted once (8).
pub fn frames_longer_than_a_buffer_are_dropped_whole<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.model().accept_long_frames();
    r.post(7);
    assert_eq!(r.model().inject(&frame(mac, 1, 5000)), RxOutcome::Delivered);
    assert_eq!(r.model().inject(&frame(mac, 2, 64)), RxOutcome::Delivered);
    let got = r.poll(8);
    assert_eq!(got.len(), 1, "three fragments dropped, the next frame delivered");
    assert_eq!(seq_of(&r, &got[0]), 2u32.to_be_bytes());
    assert_eq!(r.nic.counters().rx_oversize, 1);
    assert_eq!(r.nic.rx_room(), 1, "fragments' buffers re-posted");
}

/// A write-back claiming more bytes than its buffer holds is a counted drop, never a frame or
/// a read past the buffer.
pub fn a_write_back_longer_than_its_buffer_is_a_counted_drop<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(4);
    assert_eq!(r.model().inject_claiming(&frame(mac, 1, 100), 4000), RxOutcome::Delivered);
    assert_eq!(r.model().inject(&frame(mac, 2, 100)), RxOutcome::Delivered);
    let got = r.poll(8);
    assert_eq!(got.len(), 1, "the lying descriptor gives no frame");
    assert_eq!(seq_of(&r, &got[0]), 2u32.to_be_bytes());
    assert_eq!(r.nic.counters().rx_oversize, 1);
    // Of the four posted buffers one came back as a frame; the lying one's went back to the device.
    assert_eq!(r.nic.rx_room(), 15 - 3);
}

/// What makes zero-copy work: the device is told the caller's buffer addresses as they are (a PD
/// ring slot's physical address), and a re-posted buffer gets its own address back (8).
pub fn descriptors_carry_the_lent_buffers_physical_addresses<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    let posted = r.post(7);
    let (rx, _) = r.model().rings();
    for (i, b) in posted.iter().enumerate() {
        assert_eq!(r.hal.arena.read_u64(rx.base + 16 * i as u64), b.phys, "RX descriptor {i}");
    }
    // Write-back overwrites part of the descriptor; after a frame the slot is re-posted at the
    // tail (descriptor 7) with its own address again.
    r.model().inject(&frame(mac, 1, 64));
    let got = r.poll(8);
    assert_eq!(got[0].phys, posted[0].phys);
    assert_eq!(r.nic.rx_post(&[Buffer { len: SLOT, ..got[0] }]), 1);
    assert_eq!(r.hal.arena.read_u64(rx.base + 16 * 7), posted[0].phys, "re-posted slot");
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(PEER_MAC, i, 100)).collect();
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 3);
    let (_, tx) = r.model().rings();
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(r.hal.arena.read_u64(tx.base + 16 * i as u64), b.phys, "TX descriptor {i}");
    }
    r.model().transmit(usize::MAX);
    assert_eq!(r.reclaim(8), bufs, "the same tokens back, in order");
    r.assert_clean();
}

/// A configured station address replaces the EEPROM's: the driver reports it and the MAC
/// filters on it (frames to the EEPROM's address are no longer ours).
pub fn a_configured_mac_replaces_the_eeprom_address<N: Nic, M: WireModel>(mut r: Rig<N, M>, mac: [u8; 6]) {
    assert_eq!(r.nic.mac_address(), mac);
    let eeprom = r.model().eeprom_mac();
    r.post(4);
    assert_eq!(r.model().inject(&frame(eeprom, 1, 64)), RxOutcome::Filtered);
    assert_eq!(r.model().inject(&frame(mac, 2, 64)), RxOutcome::Delivered);
    assert_eq!(r.poll(4).len(), 1);
    r.assert_clean();
}

/// Without a configured address the driver reports and filters on the EEPROM's.
pub fn the_eeprom_address_is_used_by_default<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let eeprom = r.model().eeprom_mac();
    assert_eq!(r.nic.mac_address(), eeprom);
    r.post(4);
    assert_eq!(r.model().inject(&frame([0x02, 9, 9, 9, 9, 9], 1, 64)), RxOutcome::Filtered);
    assert_eq!(r.model().inject(&frame(eeprom, 2, 64)), RxOutcome::Delivered);
}

/// Promiscuous mode accepts unicast frames to any address.
pub fn promiscuous_accepts_other_unicast<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    r.post(4);
    assert_eq!(r.model().inject(&frame([0x02, 9, 9, 9, 9, 9], 1, 64)), RxOutcome::Delivered);
    assert_eq!(r.poll(4).len(), 1);
}

/// Causes latched while masked interrupt once unmasked; handling reads and clears them and
/// acknowledges the platform's interrupt; receive and transmit are told apart; masking stops
/// them again.
pub fn interrupts_wait_for_unmask_and_stop_when_masked<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(8);
    let _ = r.nic.handle_interrupt(); // whatever init latched (the link coming up)
    let raised = r.model().interrupts_raised();
    assert_eq!(r.model().inject(&frame(mac, 1, 64)), RxOutcome::Delivered);
    assert_eq!(r.model().interrupts_raised(), raised, "masked causes must not interrupt");
    r.nic.set_interrupts(true);
    assert_eq!(r.model().interrupts_raised(), raised + 1, "the latched cause fires once unmasked");
    let acks = r.hal.irq_acks.get();
    let causes = r.nic.handle_interrupt();
    assert!(causes.rx && !causes.tx && !causes.link, "{causes:?}");
    assert_eq!(r.hal.irq_acks.get(), acks + 1, "acknowledged to the platform");
    assert!(!r.nic.handle_interrupt().any(), "the causes were cleared");
    let b = r.tx_buffer(&frame(PEER_MAC, 2, 64));
    r.nic.tx_submit(&[b]);
    r.model().transmit(usize::MAX);
    assert_eq!(r.model().interrupts_raised(), raised + 2);
    let causes = r.nic.handle_interrupt();
    assert!(causes.tx && !causes.rx, "{causes:?}");
    r.nic.set_interrupts(false);
    let raised = r.model().interrupts_raised();
    r.model().inject(&frame(mac, 3, 64));
    assert_eq!(r.model().interrupts_raised(), raised, "masked again");
    r.assert_clean();
}

/// Interrupt moderation: with an interval of 200 µs a burst of ten frames 10 µs apart raises
/// one interrupt, the next frame well after it another; with none, every frame raises one.
/// `rig(interval_us)` builds the driver with that interval (64 receive descriptors).
pub fn moderation_spaces_interrupts<N: Nic, M: WireModel>(rig: impl Fn(u32) -> Rig<N, M>) {
    let burst = |interval_us: u32| {
        let mut r = rig(interval_us);
        let mac = r.model().eeprom_mac();
        r.post(40);
        let _ = r.nic.handle_interrupt();
        r.nic.set_interrupts(true);
        let start = r.model().interrupts_raised();
        for seq in 0..10 {
            r.model().inject(&frame(mac, seq, 64));
            r.nic.handle_interrupt();
            r.hal.advance(10);
        }
        let in_burst = r.model().interrupts_raised() - start;
        r.hal.advance(1000);
        r.model().inject(&frame(mac, 99, 64));
        let after = r.model().interrupts_raised() - start - in_burst;
        (in_burst, after)
    };
    assert_eq!(burst(0), (10, 1));
    assert_eq!(burst(200), (1, 1), "one interrupt per 200 us");
}

/// Link loss: the driver reports it (down, speed 0) with a link interrupt; nothing is received
/// and queued frames wait; when the link returns they leave, and receive works again.
pub fn link_down_and_up<N: Nic, M: WireModel>(mut r: Rig<N, M>) {
    let mac = r.model().eeprom_mac();
    r.post(4);
    let up = r.nic.link();
    assert!(up.up && up.full_duplex && up.speed_mbps >= 1000, "{up:?}");
    let _ = r.nic.handle_interrupt();
    r.nic.set_interrupts(true);
    r.model().set_cable(false);
    assert_eq!(r.nic.link(), nic_core::LinkState::default());
    assert!(r.nic.handle_interrupt().link, "a link interrupt on loss");
    assert_eq!(r.model().inject(&frame(mac, 1, 64)), RxOutcome::NotReceiving);
    let b = r.tx_buffer(&frame(PEER_MAC, 2, 64));
    assert_eq!(r.nic.tx_submit(&[b]), 1);
    assert!(r.model().transmit(usize::MAX).is_empty(), "nothing leaves while down");
    r.model().set_cable(true);
    // Long enough for any family's link to (re)negotiate.
    r.hal.advance(1_000_000);
    assert!(r.nic.link().up);
    assert!(r.nic.handle_interrupt().link, "a link interrupt on return");
    assert_eq!(r.model().transmit(usize::MAX).len(), 1, "the queued frame leaves");
    assert_eq!(r.reclaim(4), vec![b]);
    assert_eq!(r.model().inject(&frame(mac, 3, 64)), RxOutcome::Delivered);
    assert_eq!(r.poll(4).len(), 1);
    r.assert_clean();
}

/// Runs every conformance test against the driver that `$rig::<RX, TX>(config)` builds on its
/// model (link up), where `$config()` is the driver's default configuration.
#[macro_export]
macro_rules! conformance_tests {
    ($rig:ident, $config:ident) => {
        mod conformance {
            use super::{$config, $rig};
            use nic_core::Config;
            use $crate::conformance as c;
            #[test]
            fn receive_fills_posted_buffers_in_place() {
                c::receive_fills_posted_buffers_in_place($rig::<16, 16>($config()));
            }
            #[test]
            fn rx_poll_respects_the_output_batch() {
                c::rx_poll_respects_the_output_batch($rig::<16, 16>($config()));
            }
            #[test]
            fn transmit_sends_exact_frames_and_returns_buffers() {
                c::transmit_sends_exact_frames_and_returns_buffers($rig::<16, 16>($config()));
            }
            #[test]
            fn tx_rejects_empty_and_oversize_frames() {
                c::tx_rejects_empty_and_oversize_frames($rig::<16, 16>($config()));
            }
            #[test]
            fn rx_post_refuses_buffers_smaller_than_the_device_writes() {
                c::rx_post_refuses_buffers_smaller_than_the_device_writes($rig::<16, 16>($config()));
            }
            #[test]
            fn rings_wrap_around_many_times() {
                c::rings_wrap_around_many_times($rig::<8, 8>($config()));
            }
            #[test]
            fn full_rx_ring_drops_and_counts_then_recovers() {
                c::full_rx_ring_drops_and_counts_then_recovers($rig::<8, 8>($config()));
            }
            #[test]
            fn full_tx_ring_pushes_back_without_overwriting() {
                c::full_tx_ring_pushes_back_without_overwriting($rig::<8, 8>($config()));
            }
            #[test]
            fn bad_frames_are_counted_and_buffers_reused() {
                c::bad_frames_are_counted_and_buffers_reused($rig::<8, 8>($config()));
            }
            #[test]
            fn frames_longer_than_a_buffer_are_dropped_whole() {
                c::frames_longer_than_a_buffer_are_dropped_whole($rig::<8, 8>($config()));
            }
            #[test]
            fn a_write_back_longer_than_its_buffer_is_a_counted_drop() {
                c::a_write_back_longer_than_its_buffer_is_a_counted_drop($rig::<16, 16>($config()));
            }
            #[test]
            fn descriptors_carry_the_lent_buffers_physical_addresses() {
                c::descriptors_carry_the_lent_buffers_physical_addresses($rig::<8, 8>($config()));
            }
            #[test]
            fn a_configured_mac_replaces_the_eeprom_address() {
                let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
                c::a_configured_mac_replaces_the_eeprom_address($rig::<16, 16>(Config { mac: Some(mac), ..$config() }), mac);
            }
            #[test]
            fn the_eeprom_address_is_used_by_default() {
                c::the_eeprom_address_is_used_by_default($rig::<16, 16>(Config { mac: None, ..$config() }));
            }
            #[test]
            fn promiscuous_accepts_other_unicast() {
                c::promiscuous_accepts_other_unicast($rig::<16, 16>(Config { promiscuous: true, ..$config() }));
            }
            #[test]
            fn interrupts_wait_for_unmask_and_stop_when_masked() {
                c::interrupts_wait_for_unmask_and_stop_when_masked($rig::<16, 16>($config()));
            }
            #[test]
            fn moderation_spaces_interrupts() {
                c::moderation_spaces_interrupts(|us| $rig::<64, 16>(Config { interrupt_interval_us: us, ..$config() }));
            }
            #[test]
            fn link_down_and_up() {
                c::link_down_and_up($rig::<16, 16>($config()));
            }
        }
    };
}

//! The ixgbe driver against the register-level model in `model/`.

mod model;

use model::{IxgbeModel, Part, RxOutcome, INIT_DONE_US, LINK_TRAIN_US, RESET_US};
use nic_core::{Buffer, DmaRegion, InitError, Nic};
use nic_ixgbe::regs::*;
use nic_ixgbe::{Config, Family, Ixgbe, INTERRUPT_CAUSES};
use nic_testkit::{Arena, TestHal, PHYS_BASE};
use std::cell::{RefCell, RefMut};
use std::rc::Rc;

const EEPROM_MAC: [u8; 6] = [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C];
const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x77];
const ARENA_BYTES: usize = 1 << 20;
const DESC_AREA: usize = 256 << 10;
const DATA_OFFSET: usize = 512 << 10;
const SLOT: u32 = 2048;
const SLOTS: u32 = 64;

struct Rig<const RX: usize, const TX: usize> {
    nic: Ixgbe<TestHal<IxgbeModel>, RX, TX>,
    hal: TestHal<IxgbeModel>,
    data: DmaRegion,
    next_slot: u32,
}

fn config() -> Config {
    Config { device_id: 0x10FB, mac: None, promiscuous: false, all_multicast: false, interrupt_interval_us: 0 }
}

fn hal_for(part: Part) -> TestHal<IxgbeModel> {
    let arena = Arena::new(ARENA_BYTES);
    let device = Rc::new(RefCell::new(IxgbeModel::new(arena.clone(), part, EEPROM_MAC)));
    TestHal::new(device, arena, DESC_AREA)
}

fn rig_on<const RX: usize, const TX: usize>(part: Part, config: Config) -> Rig<RX, TX> {
    let hal = hal_for(part);
    let nic = Ixgbe::<_, RX, TX>::new(hal.clone(), config).expect("init");
    // Let the serial link train, as the NIC PD would by waiting for the LSC interrupt.
    hal.advance(LINK_TRAIN_US);
    let data = hal.arena.region(DATA_OFFSET, (SLOT * SLOTS) as usize);
    Rig { nic, hal, data, next_slot: 0 }
}

fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
    rig_on(Part::I82599, config)
}

impl<const RX: usize, const TX: usize> Rig<RX, TX> {
    fn model(&self) -> RefMut<'_, IxgbeModel> {
        self.hal.device.borrow_mut()
    }

    fn slots(&mut self, n: usize) -> Vec<Buffer> {
        (0..n)
            .map(|_| {
                let b = self.data.buffer(self.next_slot * SLOT, SLOT).unwrap();
                self.next_slot = (self.next_slot + 1) % SLOTS;
                b
            })
            .collect()
    }

    fn post(&mut self, n: usize) -> Vec<Buffer> {
        let bufs = self.slots(n);
        assert_eq!(self.nic.rx_post(&bufs), n);
        bufs
    }

    fn bytes(&self, b: &Buffer) -> Vec<u8> {
        self.hal.arena.bytes(DATA_OFFSET + b.offset as usize, b.len as usize)
    }

    fn tx_buffer(&mut self, frame: &[u8]) -> Buffer {
        let mut b = self.slots(1)[0];
        self.data.write_bytes(b.offset as usize, frame);
        b.len = frame.len() as u32;
        b
    }

    fn poll(&mut self, max: usize) -> Vec<Buffer> {
        let mut out = vec![Buffer::default(); max];
        let n = self.nic.rx_poll(&mut out);
        out.truncate(n);
        out
    }

    fn reclaim(&mut self, max: usize) -> Vec<Buffer> {
        let mut out = vec![Buffer::default(); max];
        let n = self.nic.tx_reclaim(&mut out);
        out.truncate(n);
        out
    }

    fn assert_clean(&self) {
        let m = self.hal.device.borrow();
        assert!(m.protocol_errors.is_empty(), "device saw: {:?}", m.protocol_errors);
        assert_eq!(self.hal.arena.faults(), 0, "DMA outside memory");
    }
}

fn frame(dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x88, 0xB5]);
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push(((f.len() as u32 * 7) ^ seq) as u8);
    }
    f
}

#[test]
fn init_follows_the_datasheet_sequence() {
    let r = rig::<64, 32>(config());
    let m = r.model();
    let hal = &r.hal;
    let writes = hal.writes.borrow().clone();
    let rst_at = writes.iter().position(|&(reg, v)| reg == CTRL && v & CTRL_RST_MASK == CTRL_RST_MASK).expect("CTRL.RST|LRST written");
    assert!(hal.now_us.get() >= RESET_US + INIT_DONE_US, "driver did not wait for reset, EEC.ARD and DMAIDONE");
    let eimc_at = writes.iter().position(|&(reg, _)| reg == EIMC).unwrap();
    assert!(eimc_at < rst_at, "interrupts masked before reset");
    // Rings, with the high address half.
    assert_eq!(m.reg(RDBAH0), (PHYS_BASE >> 32) as u32);
    assert_eq!(m.reg(TDBAH0), (PHYS_BASE >> 32) as u32);
    assert_eq!(m.reg(RDBAL0) % 128, 0);
    assert_eq!(m.reg(TDBAL0) % 128, 0);
    assert_eq!((m.reg(RDLEN0), m.reg(TDLEN0)), (64 * 16, 32 * 16));
    assert_eq!((m.reg(RDH0), m.reg(RDT0), m.reg(TDH0), m.reg(TDT0)), (0, 0, 0, 0));
    // Receive: advanced one-buffer descriptors, 2 KiB, drop when empty; CRC strip in both places.
    let srrctl = m.reg(SRRCTL0);
    assert_eq!(srrctl & SRRCTL_DESCTYPE_MASK, SRRCTL_DESCTYPE_ADV_ONEBUF);
    assert_eq!(srrctl & SRRCTL_BSIZEPACKET_MASK, 2);
    assert_ne!(srrctl & SRRCTL_DROP_EN, 0);
    let hlreg0 = m.reg(HLREG0);
    assert_eq!(hlreg0 & (HLREG0_RXCRCSTRP | HLREG0_TXCRCEN | HLREG0_TXPADEN), HLREG0_RXCRCSTRP | HLREG0_TXCRCEN | HLREG0_TXPADEN);
    assert_eq!(hlreg0 & (HLREG0_LPBK | HLREG0_JUMBOEN), 0);
    assert_ne!(m.reg(RDRXCTL) & RDRXCTL_CRCSTRIP, 0);
    let fctrl = m.reg(FCTRL);
    assert_ne!(fctrl & FCTRL_BAM, 0, "broadcast accepted");
    assert_eq!(fctrl & (FCTRL_UPE | FCTRL_MPE | FCTRL_SBP), 0);
    assert_eq!(m.reg(DCA_RXCTRL0) & (1 << 12 | DCA_RXCTRL_DATA_WRO_EN | DCA_RXCTRL_HEAD_WRO_EN), 0);
    assert_ne!(m.reg(CTRL_EXT) & CTRL_EXT_NS_DIS, 0);
    // Enables.
    assert_ne!(m.reg(RXCTRL) & RXCTRL_RXEN, 0);
    assert_ne!(m.reg(RXDCTL0) & RXDCTL_ENABLE, 0);
    assert_ne!(m.reg(TXDCTL0) & TXDCTL_ENABLE, 0);
    assert_ne!(m.reg(DMATXCTL) & DMATXCTL_TE, 0);
    assert_eq!(m.reg(TXDCTL0) >> TXDCTL_WTHRESH_SHIFT & 0x7F, 0, "write-back threshold 0: no stuck completions");
    assert_eq!(m.reg(RTTDCS) & RTTDCS_ARBDIS, 0, "arbiter re-enabled");
    // Link mode (82599 SFP+): 10G serial.
    assert_eq!(m.reg(AUTOC) & AUTOC_LMS_MASK, AUTOC_LMS_10G_SERIAL);
    // Interrupts routed but masked.
    assert_eq!(m.reg(EIMS), 0);
    assert_eq!(m.reg(IVAR0) & 0xFFFF, 0x8180);
    // Order: ring programmed before the queue enable; queue enabled before the receiver;
    // transmit DMA enabled before the transmit queue.
    let last = |reg| hal.last_write(reg).unwrap();
    let rxdctl_enable = writes.iter().position(|&(reg, v)| reg == RXDCTL0 && v & RXDCTL_ENABLE != 0).unwrap();
    let rxen = writes.iter().position(|&(reg, v)| reg == RXCTRL && v & RXCTRL_RXEN != 0).unwrap();
    for reg in [RDBAL0, RDBAH0, RDLEN0, SRRCTL0] {
        assert!(last(reg) < rxdctl_enable, "{reg:#x} after RXDCTL.ENABLE");
    }
    assert!(rxdctl_enable < rxen);
    let te = writes.iter().position(|&(reg, v)| reg == DMATXCTL && v & DMATXCTL_TE != 0).unwrap();
    let txdctl_enable = writes.iter().position(|&(reg, v)| reg == TXDCTL0 && v & TXDCTL_ENABLE != 0).unwrap();
    assert!(last(TDBAL0) < txdctl_enable && te < txdctl_enable);
    let arbdis: Vec<usize> = writes.iter().enumerate().filter(|(_, &(reg, _))| reg == RTTDCS).map(|(i, _)| i).collect();
    assert!(writes[arbdis[0]].1 & RTTDCS_ARBDIS != 0 && arbdis[0] < last(MTQC) && last(MTQC) < arbdis[1]);
    assert_eq!(r.nic.mac_address(), EEPROM_MAC);
    assert_eq!(r.nic.family(), Family::I82599);
    drop(m);
    r.assert_clean();
}

#[test]
fn link_comes_up_after_autoc_restart_and_reports_10g() {
    let hal = hal_for(Part::I82599);
    let mut nic = Ixgbe::<_, 16, 16>::new(hal.clone(), config()).unwrap();
    let _ = nic.handle_interrupt();
    nic.set_interrupts(true);
    assert!(!nic.link().up, "the link trains after AN restart");
    hal.advance(LINK_TRAIN_US);
    let link = nic.link();
    assert!(link.up && link.full_duplex);
    assert_eq!(link.speed_mbps, 10_000);
    assert!(nic.handle_interrupt().link, "LSC");
}

#[test]
fn x550_skips_the_82599_only_steps() {
    let mut r = rig_on::<16, 16>(Part::X550, Config { device_id: 0x1563, ..config() });
    assert_eq!(r.nic.family(), Family::X550);
    assert!(r.hal.first_write(AUTOC).is_none(), "copper link belongs to the PHY, not AUTOC");
    assert!(r.nic.link().up);
    r.post(4);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 64)), RxOutcome::Delivered);
    assert_eq!(r.poll(4).len(), 1);
    r.assert_clean();
}

#[test]
fn unsupported_parts_are_refused_untouched() {
    // 8086:37d0 is the X722 (i40e family) integrated in the Xeon D-2100.
    let hal = hal_for(Part::I82599);
    let err = Ixgbe::<_, 16, 16>::new(hal.clone(), Config { device_id: 0x37D0, ..config() }).err();
    assert_eq!(err, Some(InitError::UnsupportedDevice(0x37D0)));
    assert!(hal.writes.borrow().is_empty());
}

#[test]
fn a_reset_that_never_completes_is_an_error() {
    let hal = hal_for(Part::I82599);
    hal.device.borrow_mut().reset_stuck = true;
    let err = Ixgbe::<_, 16, 16>::new(hal.clone(), config()).err();
    assert_eq!(err, Some(InitError::ResetTimeout));
}

#[test]
fn configured_mac_is_programmed_and_filters() {
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let mut r = rig::<16, 16>(Config { mac: Some(mac), ..config() });
    assert_eq!(r.model().reg(RAL0), 0x3322_1102);
    assert_eq!(r.model().reg(RAH0), 0x5544 | RAH_AV);
    r.post(4);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 64)), RxOutcome::Filtered);
    assert_eq!(r.model().inject(&frame(mac, 2, 64)), RxOutcome::Delivered);
}

#[test]
fn promiscuous_accepts_other_unicast() {
    let mut r = rig::<16, 16>(Config { promiscuous: true, ..config() });
    r.post(4);
    assert_eq!(r.model().inject(&frame([0x02, 9, 9, 9, 9, 9], 1, 64)), RxOutcome::Delivered);
}

#[test]
fn receive_fills_posted_buffers_in_place() {
    let mut r = rig::<16, 16>(config());
    let posted = r.post(8);
    let unicast = frame(EEPROM_MAC, 1, 1514);
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
    assert_eq!((c.hw_rx_good_frames, c.hw_rx_good_bytes), (2, 1574 + 8));
    r.assert_clean();
}

#[test]
fn transmit_sends_exact_frames_and_returns_buffers() {
    let mut r = rig::<16, 16>(config());
    let frames = [frame(PEER_MAC, 1, 1514), frame(PEER_MAC, 2, 42), frame([0xFF; 6], 3, 1518)];
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 3);
    assert_eq!(r.model().reg(TDT0), 3);
    assert!(r.reclaim(8).is_empty());
    let wire = r.model().transmit(usize::MAX);
    assert_eq!(wire.len(), 3);
    assert_eq!(wire[0], frames[0]);
    let mut padded = frames[1].clone();
    padded.resize(60, 0);
    assert_eq!(wire[1], padded, "short frame padded (HLREG0.TXPADEN)");
    assert_eq!(wire[2], frames[2]);
    assert_eq!(r.reclaim(8), bufs);
    let c = r.nic.counters();
    assert_eq!((c.tx_frames, c.tx_completed, c.hw_tx_good_frames), (3, 3, 3));
    assert_eq!(c.hw_tx_good_bytes, 1514 + 60 + 1518 + 12);
    r.assert_clean();
}

#[test]
fn rings_wrap_around_many_times() {
    let mut r = rig::<8, 8>(config());
    let mut seq = 0u32;
    r.post(7);
    for _round in 0..6 {
        for _ in 0..7 {
            assert_eq!(r.model().inject(&frame(EEPROM_MAC, seq, 60 + 3 * seq as usize)), RxOutcome::Delivered);
            seq += 1;
        }
        let got = r.poll(16);
        assert_eq!(got.len(), 7);
        for (i, b) in got.iter().enumerate() {
            let s = seq - 7 + i as u32;
            assert_eq!(r.bytes(b), frame(EEPROM_MAC, s, 60 + 3 * s as usize));
        }
        let back: Vec<Buffer> = got.iter().map(|b| Buffer { len: SLOT, ..*b }).collect();
        assert_eq!(r.nic.rx_post(&back), 7);
    }
    assert!(r.model().rx_wraps >= 5);
    let mut sent = 0;
    for _round in 0..6 {
        let frames: Vec<Vec<u8>> = (0..7).map(|i| frame(PEER_MAC, sent + i, 200)).collect();
        let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
        assert_eq!(r.nic.tx_submit(&bufs), 7);
        assert_eq!(r.model().transmit(usize::MAX), frames);
        assert_eq!(r.reclaim(16), bufs);
        sent += 7;
    }
    assert!(r.model().tx_wraps >= 5);
    let c = r.nic.counters();
    assert_eq!((c.rx_frames, c.tx_completed, c.hw_rx_missed), (42, 42, 0));
    r.assert_clean();
}

#[test]
fn full_rx_ring_drops_and_counts_then_recovers() {
    let mut r = rig::<8, 8>(config());
    r.post(7);
    let outcomes: Vec<RxOutcome> = (0..10).map(|s| r.model().inject(&frame(EEPROM_MAC, s, 64))).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == RxOutcome::Delivered).count(), 7);
    assert_eq!(outcomes.iter().filter(|o| **o == RxOutcome::Missed).count(), 3);
    assert_eq!(r.nic.counters().hw_rx_missed, 3);
    let got = r.poll(16);
    assert_eq!(got.len(), 7);
    assert_eq!(r.bytes(&got[6])[14..18], 6u32.to_be_bytes());
    let back: Vec<Buffer> = got.iter().map(|b| Buffer { len: SLOT, ..*b }).collect();
    assert_eq!(r.nic.rx_post(&back), 7);
    for s in 100..107 {
        assert_eq!(r.model().inject(&frame(EEPROM_MAC, s, 64)), RxOutcome::Delivered);
    }
    assert_eq!(r.poll(16).len(), 7);
    assert_eq!(r.nic.counters().hw_rx_missed, 3);
    r.assert_clean();
}

#[test]
fn full_tx_ring_pushes_back_without_overwriting() {
    let mut r = rig::<8, 8>(config());
    let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(PEER_MAC, i, 300)).collect();
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 7);
    assert_eq!(r.nic.tx_room(), 0);
    assert_eq!(r.nic.tx_submit(&bufs[7..]), 0);
    assert_eq!(r.model().reg(TDT0), 7);
    assert_eq!(r.model().transmit(3), frames[..3]);
    assert_eq!(r.nic.tx_room(), 0);
    assert_eq!(r.reclaim(16), bufs[..3]);
    assert_eq!(r.nic.tx_submit(&bufs[7..]), 3);
    assert_eq!(r.model().transmit(usize::MAX), frames[3..]);
    assert_eq!(r.reclaim(16), bufs[3..]);
    r.assert_clean();
}

#[test]
fn link_down_and_up() {
    let mut r = rig::<16, 16>(config());
    r.post(4);
    assert!(r.nic.link().up);
    let _ = r.nic.handle_interrupt();
    r.nic.set_interrupts(true);
    r.model().set_cable(false);
    assert_eq!(r.nic.link(), nic_core::LinkState::default());
    assert!(r.nic.handle_interrupt().link);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 64)), RxOutcome::NotReceiving);
    let b = r.tx_buffer(&frame(PEER_MAC, 2, 64));
    assert_eq!(r.nic.tx_submit(&[b]), 1);
    assert!(r.model().transmit(usize::MAX).is_empty());
    r.model().set_cable(true);
    assert!(r.nic.link().up);
    assert!(r.nic.handle_interrupt().link);
    assert_eq!(r.model().transmit(usize::MAX).len(), 1);
    assert_eq!(r.reclaim(4), vec![b]);
}

#[test]
fn interrupt_causes_follow_the_ivar_mapping() {
    let mut r = rig::<16, 16>(config());
    r.post(8);
    let _ = r.nic.handle_interrupt();
    let raised = r.model().interrupts_raised;
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    assert_eq!(r.model().interrupts_raised, raised, "masked");
    r.nic.set_interrupts(true);
    assert_eq!(r.model().reg(EIMS), INTERRUPT_CAUSES);
    assert_eq!(r.model().interrupts_raised, raised + 1);
    let acks = r.hal.irq_acks.get();
    let causes = r.nic.handle_interrupt();
    assert!(causes.rx && !causes.tx && !causes.link);
    assert_eq!(r.hal.irq_acks.get(), acks + 1);
    assert_eq!(r.model().reg(EICR), 0);
    let b = r.tx_buffer(&frame(PEER_MAC, 2, 64));
    r.nic.tx_submit(&[b]);
    r.model().transmit(usize::MAX);
    let causes = r.nic.handle_interrupt();
    assert!(causes.tx && !causes.rx);
    r.nic.set_interrupts(false);
    let raised = r.model().interrupts_raised;
    r.model().inject(&frame(EEPROM_MAC, 3, 64));
    assert_eq!(r.model().interrupts_raised, raised);
}

#[test]
fn eitr_moderates_interrupts() {
    fn burst(interval_us: u32) -> u32 {
        let mut r = rig::<64, 16>(Config { interrupt_interval_us: interval_us, ..config() });
        r.post(40);
        let _ = r.nic.handle_interrupt();
        r.nic.set_interrupts(true);
        let start = r.model().interrupts_raised;
        for seq in 0..10 {
            r.model().inject(&frame(EEPROM_MAC, seq, 64));
            r.nic.handle_interrupt();
            r.hal.advance(10);
        }
        let n = r.model().interrupts_raised - start;
        n
    }
    assert_eq!(burst(0), 10);
    assert_eq!(burst(200), 1);
}

#[test]
fn bad_frames_are_counted_and_buffers_reused() {
    let mut r = rig::<8, 8>(config());
    r.post(7);
    assert_eq!(r.model().inject_bad_crc(&frame(EEPROM_MAC, 1, 64)), RxOutcome::DroppedBad);
    assert_eq!(r.model().inject_with_errors(&frame(EEPROM_MAC, 2, 64), RXDADV_ERR_RXE), RxOutcome::Delivered);
    assert!(r.poll(8).is_empty());
    assert_eq!(r.nic.rx_room(), 0);
    for seq in 3..10 {
        assert_eq!(r.model().inject(&frame(EEPROM_MAC, seq, 64)), RxOutcome::Delivered);
    }
    assert_eq!(r.poll(16).len(), 7);
    let c = r.nic.counters();
    assert_eq!((c.rx_errors, c.hw_crc_errors, c.rx_frames), (1, 1, 7));
    r.assert_clean();
}

#[test]
fn frames_longer_than_a_buffer_are_dropped_whole() {
    let mut r = rig::<8, 8>(config());
    r.model().accept_long = true;
    r.post(7);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 9000)), RxOutcome::Delivered);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 2, 64)), RxOutcome::Delivered);
    let got = r.poll(8);
    assert_eq!(got.len(), 1);
    assert_eq!(r.bytes(&got[0])[14..18], 2u32.to_be_bytes());
    assert_eq!(r.nic.counters().rx_oversize, 1);
    assert_eq!(r.nic.rx_room(), 1);
}

#[test]
fn tx_rejects_empty_and_oversize_frames() {
    let mut r = rig::<16, 16>(config());
    let good = r.tx_buffer(&frame(PEER_MAC, 1, 64));
    assert_eq!(r.nic.tx_submit(&[good, Buffer { len: 1519, ..good }]), 1);
    assert_eq!(r.nic.tx_submit(&[Buffer { len: 0, ..good }]), 0);
    assert_eq!(r.model().transmit(usize::MAX).len(), 1);
}

/// What makes zero-copy work: the device is told the caller's buffer addresses as they are (a
/// PD ring slot's physical address), and a re-posted buffer gets its own address back.
#[test]
fn descriptors_carry_the_lent_buffers_physical_addresses() {
    let mut r = rig::<8, 8>(config());
    let posted = r.post(7);
    let reg64 = |r: &Rig<8, 8>, lo: usize, hi: usize| {
        let m = r.model();
        u64::from(m.reg(hi)) << 32 | u64::from(m.reg(lo))
    };
    let rdba = reg64(&r, RDBAL0, RDBAH0);
    for (i, b) in posted.iter().enumerate() {
        assert_eq!(r.hal.arena.read_u64(rdba + 16 * i as u64), b.phys, "RX descriptor {i}");
    }
    // Advanced write-back overwrites the packet address; the re-posted slot gets it back.
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    let got = r.poll(8);
    assert_eq!(got[0].phys, posted[0].phys);
    assert_eq!(r.nic.rx_post(&[Buffer { len: SLOT, ..got[0] }]), 1);
    assert_eq!(r.hal.arena.read_u64(rdba + 16 * 7), posted[0].phys, "re-posted slot");
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(PEER_MAC, i, 100)).collect();
    let bufs: Vec<Buffer> = frames.iter().map(|f| r.tx_buffer(f)).collect();
    assert_eq!(r.nic.tx_submit(&bufs), 3);
    let tdba = reg64(&r, TDBAL0, TDBAH0);
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(r.hal.arena.read_u64(tdba + 16 * i as u64), b.phys, "TX descriptor {i}");
    }
    r.model().transmit(usize::MAX);
    assert_eq!(r.reclaim(8), bufs, "the same tokens back, in order");
    r.assert_clean();
}

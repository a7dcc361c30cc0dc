//! The ixgbe driver against the register-level model in `model/`.

mod model;

use model::{IxgbeModel, Part, INIT_DONE_US, LINK_TRAIN_US, RESET_US};
use nic_testkit::conformance::{RxOutcome, WireModel};
use nic_core::{InitError, Nic};
use nic_ixgbe::regs::*;
use nic_ixgbe::{Config, Family, Ixgbe, INTERRUPT_CAUSES};
use nic_testkit::rig::{self, frame};
use nic_testkit::{TestHal, PHYS_BASE};

const EEPROM_MAC: [u8; 6] = [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C];

type Rig<const RX: usize, const TX: usize> = rig::Rig<Ixgbe<TestHal<IxgbeModel>, RX, TX>, IxgbeModel>;

fn config() -> Config {
    Config { all_multicast: false, ..Config::new(0x10FB) }
}

fn hal_for(part: Part) -> TestHal<IxgbeModel> {
    rig::hal(|arena| IxgbeModel::new(arena, part, EEPROM_MAC))
}

fn rig_on<const RX: usize, const TX: usize>(part: Part, config: Config) -> Rig<RX, TX> {
    let hal = hal_for(part);
    let nic = Ixgbe::new(hal.clone(), config).expect("init");
    // Let the serial link train, as the NIC PD would by waiting for the LSC interrupt.
    hal.advance(LINK_TRAIN_US);
    Rig::new(nic, hal)
}

nic_testkit::conformance_tests!(rig, config);

fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
    rig_on(Part::I82599, config)
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

/// Only the SFP+ parts get the 10G serial link mode; a KX4, CX4, XAUI, KR or 10GBASE-T 82599
/// keeps the mode its NVM put in AUTOC (forced to 10G serial its link would stay down), and its
/// link state machine is restarted with it.
#[test]
fn only_sfp_82599s_are_set_to_the_10g_serial_link() {
    for id in [0x10FB, 0x1529, 0x154D, 0x1557] {
        let r = rig::<16, 16>(Config { device_id: id, ..config() });
        assert_eq!(r.model().reg(AUTOC) & AUTOC_LMS_MASK, AUTOC_LMS_10G_SERIAL, "{id:#x}");
    }
    for id in [0x10F7, 0x10F9, 0x10FC, 0x1517, 0x151C, 0x152A] {
        let r = rig::<16, 16>(Config { device_id: id, ..config() });
        assert_eq!(r.nic.family(), Family::I82599, "{id:#x}");
        assert_eq!(r.model().reg(AUTOC) & AUTOC_LMS_MASK, 0b110 << AUTOC_LMS_SHIFT, "{id:#x}: the NVM's mode kept");
        let autoc_writes: Vec<u32> = r.hal.writes.borrow().iter().filter(|w| w.0 == AUTOC).map(|w| w.1).collect();
        assert_eq!(autoc_writes.len(), 1, "{id:#x}: only the restart");
        assert_ne!(autoc_writes[0] & AUTOC_AN_RESTART, 0, "{id:#x}: the link restarted");
    }
}

/// A device gone from the bus reads all ones: that looked like every cause at once and a link
/// up at 10 Gbit/s; it is a device fault that asks for a new bring-up, the link down.
#[test]
fn registers_reading_all_ones_ask_for_a_bring_up_and_show_the_link_down() {
    let mut r = rig::<16, 16>(config());
    r.nic.set_interrupts(true);
    let _ = r.nic.handle_interrupt();
    assert_eq!(r.nic.needs_bring_up(), None);
    r.model().gone = true;
    assert_eq!(r.nic.handle_interrupt(), nic_core::Interrupts::default());
    assert_eq!(r.nic.needs_bring_up(), Some("its registers reading all ones (gone from the bus?)"));
    assert!(!r.nic.link().up);
    assert_eq!(r.nic.counters().device_faults, 1);
}

#[test]
fn the_integrated_x550_macs_take_the_x550_path() {
    for id in [0x15AB, 0x15AD, 0x15C8, 0x15E4] {
        let mut r = rig_on::<16, 16>(Part::X550, Config { device_id: id, ..config() });
        assert_eq!(r.nic.family(), Family::X550Em, "{id:#x}");
        assert!(r.hal.first_write(AUTOC).is_none(), "{id:#x}: no 82599 link set-up");
        r.post(4);
        assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 64)), RxOutcome::Delivered);
        assert_eq!(r.poll(4).len(), 1);
        r.assert_clean();
    }
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
fn configured_mac_goes_into_ral0_rah0() {
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let r = rig::<16, 16>(Config { mac: Some(mac), ..config() });
    assert_eq!(r.model().reg(RAL0), 0x3322_1102);
    assert_eq!(r.model().reg(RAH0), 0x5544 | RAH_AV);
}

#[test]
fn interrupt_registers_hold_the_datasheet_values() {
    let mut r = rig::<16, 16>(config());
    // RX queue 0 -> EICR bit 0, TX queue 0 -> bit 1, both valid.
    assert_eq!(r.model().reg(IVAR0), IVAR_ALLOC_VAL | (1 | IVAR_ALLOC_VAL) << 8);
    r.post(8);
    r.nic.set_interrupts(true);
    assert_eq!(r.model().reg(EIMS), INTERRUPT_CAUSES);
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    assert_eq!(r.model().reg(EICR) & EICR_RTXQ_MASK, EICR_RX0);
    r.nic.handle_interrupt();
    assert_eq!(r.model().reg(EICR), 0, "EICR cleared by the read");
    r.nic.set_interrupts(false);
    assert_eq!(r.model().reg(EIMS), 0, "EIMC masks every cause");
    // EITR's interval field (bits 11:3) counts 2 us units.
    let r = rig::<16, 16>(Config { interrupt_interval_us: 200, ..config() });
    assert_eq!(r.model().reg(EITR0), 100 << 3);
}

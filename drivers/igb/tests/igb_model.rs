//! The igb driver against the register-level model in `model/`: the shared conformance tests on
//! an I350 port with MSI-X and on an 82576 with one interrupt line, then what is the family's
//! own (init order, the PHY and its semaphore, firmware's claims on the port, interrupt routing).

mod model;

use model::{IgbModel, Part, AUTONEG_US, RESET_US};
use nic_core::{InitError, InterruptMode, Interrupts, Nic};
use nic_igb::regs::*;
use nic_igb::{Config, Igb, LINE_CAUSES, OTHER_CAUSES};
use nic_testkit::conformance::{RxOutcome, WireModel};
use nic_testkit::rig::{self, frame};
use nic_testkit::{DeviceModel, TestHal, PHYS_BASE};

const EEPROM_MAC: [u8; 6] = [0x00, 0x25, 0x90, 0xAA, 0xBB, 0x01];

type Rig<const RX: usize, const TX: usize> = rig::Rig<Igb<TestHal<IgbModel>, RX, TX>, IgbModel>;

fn hal_for(part: Part, msix: bool) -> TestHal<IgbModel> {
    rig::hal(|arena| IgbModel::new(arena, part, 1, EEPROM_MAC, msix))
}

/// The driver on a port of `part`, its link negotiated (as the NIC PD waits for the link
/// interrupt).
fn rig_on<const RX: usize, const TX: usize>(part: Part, config: Config) -> Rig<RX, TX> {
    let hal = hal_for(part, config.interrupt == InterruptMode::MsiX);
    let nic = Igb::new(hal.clone(), config).expect("init");
    hal.advance(AUTONEG_US);
    Rig::new(nic, hal)
}

/// An I350 port (the box's) with MSI-X.
mod i350_msix {
    use super::*;

    pub fn config() -> Config {
        Config { all_multicast: false, interrupt: InterruptMode::MsiX, ..Config::new(0x1521) }
    }

    pub fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
        rig_on(Part::I350, config)
    }

    nic_testkit::conformance_tests!(rig, config);
}

/// An 82576 (QEMU's) with one interrupt line.
mod i82576_line {
    use super::*;

    pub fn config() -> Config {
        Config { all_multicast: false, ..Config::new(0x10C9) }
    }

    pub fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
        rig_on(Part::I82576, config)
    }

    nic_testkit::conformance_tests!(rig, config);
}

use i350_msix::{config, rig};

#[test]
fn init_follows_the_datasheet_order() {
    let r = rig::<64, 32>(config());
    let writes = r.hal.writes.borrow().clone();
    let first = |reg: usize, bits: u32| writes.iter().position(|&(r, v)| r == reg && v & bits == bits);
    let rst = first(CTRL, CTRL_RST).expect("CTRL.RST written");
    assert!(first(IMC, u32::MAX).unwrap() < rst && first(EIMC, u32::MAX).unwrap() < rst, "masked before reset");
    assert!(first(CTRL, CTRL_GIO_MASTER_DISABLE).unwrap() < rst, "mastering stopped before reset");
    assert!(r.hal.now_us.get() >= RESET_US, "waited for the reset");
    let m = r.model();
    assert_ne!(m.reg(CTRL_EXT) & CTRL_EXT_DRV_LOAD, 0, "the port is claimed from firmware");
    assert_ne!(m.reg(CTRL) & CTRL_SLU, 0);
    assert_eq!(m.reg(CTRL) & (CTRL_FRCSPD | CTRL_FRCDPX | CTRL_PHY_RST | CTRL_GIO_MASTER_DISABLE), 0);
    // The PHY: advertising every mode, auto-negotiation restarted, the semaphore given back.
    assert_eq!(m.phy_reg(PHY_AUTONEG_ADV), NWAY_AR_ALL_10_100);
    assert_eq!(m.phy_reg(PHY_1000T_CTRL), CR_1000T_FD_CAPS);
    assert_eq!(m.reg(SW_FW_SYNC), 0, "PHY semaphore released");
    assert_eq!(m.reg(SWSM) & (SWSM_SMBI | SWSM_SWESMBI), 0, "hardware semaphore released");
    // Rings, with the high address half, programmed while disabled, then enabled.
    assert_eq!((m.reg(RDBAH0), m.reg(TDBAH0)), ((PHYS_BASE >> 32) as u32, (PHYS_BASE >> 32) as u32));
    assert_eq!((m.reg(RDBAL0) % 128, m.reg(TDBAL0) % 128), (0, 0));
    assert_eq!((m.reg(RDLEN0), m.reg(TDLEN0)), (64 * 16, 32 * 16));
    let rx_off = writes.iter().position(|&(r, v)| r == RXDCTL0 && v & XDCTL_ENABLE == 0).unwrap();
    assert!(rx_off < first(RDBAL0, 0).unwrap(), "queue disabled before its ring is programmed");
    assert_eq!(m.reg(SRRCTL0), 2 | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN);
    assert_eq!(m.reg(RXDCTL0), 8 | 8 << 8 | 1 << 16 | XDCTL_ENABLE);
    assert_eq!(m.reg(TXDCTL0), 8 | 1 << 8 | XDCTL_ENABLE);
    assert_eq!(m.reg(TCTL), TCTL_EN | TCTL_PSP | TCTL_RTLC | 15 << TCTL_CT_SHIFT);
    assert_eq!(m.reg(TCTL_EXT) >> TCTL_EXT_COLD_SHIFT & 0x3FF, 63);
    // The receiver last, once its queue is enabled.
    assert_eq!(writes.last().unwrap().0, RCTL);
    assert_eq!(m.reg(RCTL), RCTL_EN | RCTL_BAM | RCTL_SECRC);
    // MSI-X: receive -> vector 0, transmit -> 1, the other causes -> 2.
    assert_eq!(m.reg(GPIE), GPIE_MSIX_MODE | GPIE_NSICR | GPIE_PBA);
    assert_eq!(m.reg(IVAR0), IVAR_VALID | (1 | IVAR_VALID) << 8);
    assert_eq!(m.reg(IVAR_MISC), (2 | IVAR_VALID) << 8);
    drop(m);
    assert_eq!(r.nic.part(), nic_igb::Part::I350);
    assert_eq!(r.nic.mac_address(), EEPROM_MAC);
    r.assert_clean();
}

#[test]
fn the_link_comes_up_after_autonegotiation_with_an_interrupt() {
    let hal = hal_for(Part::I350, true);
    let mut nic = Igb::<_, 16, 16>::new(hal.clone(), config()).unwrap();
    let _ = nic.handle_interrupt();
    nic.set_interrupts(true);
    assert!(!nic.link().up, "negotiating");
    hal.advance(AUTONEG_US);
    let link = nic.link();
    assert!(link.up && link.full_duplex && link.speed_mbps == 1000, "{link:?}");
    let causes = nic.handle_interrupt();
    assert!(causes.link && !causes.rx && !causes.tx, "{causes:?}");
    assert!(hal.device.borrow().core.protocol_errors.is_empty());
}

#[test]
fn a_phy_left_powered_down_and_a_disconnected_link_still_come_up() {
    let hal = hal_for(Part::I350, true);
    hal.device.borrow_mut().power_down_phy();
    hal.device.borrow_mut().set_go_linkd();
    let mut nic = Igb::<_, 16, 16>::new(hal.clone(), config()).unwrap();
    hal.advance(AUTONEG_US);
    assert!(nic.link().up);
    assert_eq!(hal.device.borrow().phy_reg(PHY_CONTROL) & MII_CR_POWER_DOWN, 0);
}

#[test]
fn firmware_that_blocks_phy_resets_is_obeyed() {
    let hal = hal_for(Part::I350, true);
    hal.device.borrow_mut().phy_reset_blocked = true;
    let mut nic = Igb::<_, 16, 16>::new(hal.clone(), config()).unwrap();
    hal.advance(AUTONEG_US);
    assert!(nic.link().up);
    assert!(hal.first_write(CTRL).is_some());
    assert!(hal.writes.borrow().iter().all(|&(r, v)| r != CTRL || v & CTRL_PHY_RST == 0), "no PHY reset");
    assert!(hal.device.borrow().core.protocol_errors.is_empty(), "{:?}", hal.device.borrow().core.protocol_errors);
}

#[test]
fn firmware_that_keeps_the_phy_is_an_error_not_a_hang() {
    let hal = hal_for(Part::I350, true);
    hal.device.borrow_mut().firmware_holds_phy = true;
    let err = Igb::<_, 16, 16>::new(hal.clone(), config()).err();
    assert_eq!(err, Some(InitError::PhyAccess));
    assert!(hal.now_us.get() < 5_000_000, "gave up within seconds");
    let m = hal.device.borrow();
    assert_eq!(m.reg(SWSM) & (SWSM_SMBI | SWSM_SWESMBI), 0, "hardware semaphore not left taken");
}

#[test]
fn a_reset_that_never_completes_is_an_error() {
    let hal = hal_for(Part::I350, true);
    hal.device.borrow_mut().reset_stuck = true;
    assert_eq!(Igb::<_, 16, 16>::new(hal, config()).err(), Some(InitError::ResetTimeout));
}

#[test]
fn unsupported_parts_are_refused_untouched() {
    // 8086:37d2 is the X722 (i40e family) of the same box.
    let hal = hal_for(Part::I350, true);
    let err = Igb::<_, 16, 16>::new(hal.clone(), Config { device_id: 0x37D2, ..config() }).err();
    assert_eq!(err, Some(InitError::UnsupportedDevice(0x37D2)));
    assert!(hal.writes.borrow().is_empty());
}

#[test]
fn one_line_routes_every_cause_through_icr() {
    let mut r = i82576_line::rig::<16, 16>(i82576_line::config());
    let m = r.model();
    assert_eq!(m.reg(GPIE), GPIE_NSICR);
    // QEMU's 82576 raises no TXDW unless queue 0's transmit entry is valid.
    assert_eq!(m.reg(IVAR0), IVAR_VALID | IVAR_VALID << 8);
    drop(m);
    r.nic.set_interrupts(true);
    assert_eq!(r.model().reg(IMS), LINE_CAUSES);
    r.post(4);
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    assert_ne!(r.model().reg(ICR) & ICR_RXDW, 0);
    assert!(r.nic.handle_interrupt().rx);
    assert_eq!(r.model().reg(ICR), 0, "ICR cleared by the read");
    r.assert_clean();
}

#[test]
fn msix_unmasks_three_vectors_and_the_other_causes() {
    let mut r = rig::<16, 16>(config());
    r.nic.set_interrupts(true);
    assert_eq!(r.model().reg(EIMS), 0b111);
    assert_eq!(r.model().reg(IMS), OTHER_CAUSES);
    r.nic.set_interrupts(false);
    assert_eq!(r.model().reg(EIMS), 0);
    assert_eq!(r.model().reg(IMS), 0);
    // EITR's interval field (bits 14:2) counts microseconds, for the queue vectors.
    let r = rig::<16, 16>(Config { interrupt_interval_us: 50, ..config() });
    assert_eq!(r.model().reg(EITR0), 50 << 2);
    assert_eq!(r.model().reg(EITR0 + 4), 50 << 2);
}

/// A reset the driver did not ask for (firmware, manageability: ICR.DRSTA) undoes the bring-up,
/// and a device gone from the bus reads all ones (which looked like a link change, and a link
/// up at 1000 Mbit/s): either way the driver asks for a new bring-up, in both interrupt modes.
#[test]
fn a_device_reset_or_registers_reading_all_ones_ask_for_a_bring_up() {
    for mode in [InterruptMode::MsiX, InterruptMode::Line] {
        let mut r = rig::<16, 16>(Config { interrupt: mode, ..config() });
        r.nic.set_interrupts(true);
        let _ = r.nic.handle_interrupt();
        assert_eq!(r.nic.needs_bring_up(), None);
        let raised = r.model().interrupts_raised();
        r.model().write(ICS, ICR_DRSTA);
        assert_eq!(r.model().interrupts_raised(), raised + 1, "{mode:?}: DRSTA is unmasked");
        let _ = r.nic.handle_interrupt();
        assert_eq!(r.nic.needs_bring_up(), Some("a device reset it did not ask for (ICR.DRSTA)"), "{mode:?}");

        let mut r = rig::<16, 16>(Config { interrupt: mode, ..config() });
        r.nic.set_interrupts(true);
        r.model().gone = true;
        assert_eq!(r.nic.handle_interrupt(), Interrupts::default(), "{mode:?}");
        assert_eq!(r.nic.needs_bring_up(), Some("its registers reading all ones (gone from the bus?)"), "{mode:?}");
    }
}

#[test]
fn the_software_rx_interrupt_brings_the_pd_back() {
    for mode in [InterruptMode::MsiX, InterruptMode::Line] {
        let mut r = rig::<16, 16>(Config { interrupt: mode, ..config() });
        let _ = r.nic.handle_interrupt();
        r.nic.set_interrupts(true);
        let raised = r.model().interrupts_raised();
        r.nic.raise_rx_interrupt();
        assert_eq!(r.model().interrupts_raised(), raised + 1, "{mode:?}");
        assert!(r.nic.handle_interrupt().rx, "{mode:?}");
    }
}

#[test]
fn frames_to_the_port_are_received_only_while_the_link_is_up() {
    let mut r = rig::<16, 16>(config());
    r.post(4);
    r.model().set_cable(false);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 1, 64)), RxOutcome::NotReceiving);
    r.model().set_cable(true);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 2, 64)), RxOutcome::NotReceiving, "renegotiating");
    r.hal.advance(AUTONEG_US);
    assert_eq!(r.model().inject(&frame(EEPROM_MAC, 3, 64)), RxOutcome::Delivered);
}

#[test]
fn without_an_auto_loaded_address_the_nvm_words_give_it() {
    let hal = hal_for(Part::I350, true);
    hal.device.borrow_mut().no_auto_load = true;
    let nic = Igb::<_, 16, 16>::new(hal.clone(), config()).unwrap();
    assert_eq!(nic.mac_address(), EEPROM_MAC);
    let first = hal.first_write(EERD).expect("read the NVM");
    assert_eq!(hal.writes.borrow()[first].1 >> EERD_ADDR_SHIFT, nvm_lan_offset(1), "port 1's section");
    let m = hal.device.borrow();
    assert_eq!((m.reg(RAL0), m.reg(RAH0) & RAH_AV), (u32::from_le_bytes([0x00, 0x25, 0x90, 0xAA]), RAH_AV), "programmed");
}

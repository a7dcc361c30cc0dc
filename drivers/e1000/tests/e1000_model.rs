//! The e1000 driver against the register-level model in `model/`.

mod model;

use model::{E1000Model, RESET_US};
use nic_testkit::conformance::WireModel;
use nic_core::Nic;
use nic_e1000::regs::*;
use nic_e1000::{Config, E1000, INTERRUPT_CAUSES};
use nic_testkit::rig::{self, frame, DESC_AREA};
use nic_testkit::{TestHal, PHYS_BASE};

const EEPROM_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

type Rig<const RX: usize, const TX: usize> = rig::Rig<E1000<TestHal<E1000Model>, RX, TX>, E1000Model>;

fn config() -> Config {
    Config { all_multicast: false, ..Config::new(0x100E) }
}

fn hal() -> TestHal<E1000Model> {
    rig::hal(|arena| E1000Model::new(arena, EEPROM_MAC))
}

nic_testkit::conformance_tests!(rig, config);

fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
    let hal = hal();
    Rig::new(E1000::new(hal.clone(), config).expect("init"), hal)
}

#[test]
fn init_resets_and_programs_the_datasheet_registers() {
    let r = rig::<64, 32>(config());
    let m = r.model();
    // Reset: RST written, and the driver waited for it to self-clear.
    let (rst_at, _) = r.hal.writes.borrow().iter().enumerate().find(|(_, &(reg, v))| reg == CTRL && v & CTRL_RST != 0).map(|(i, w)| (i, *w)).expect("CTRL.RST written");
    assert!(r.hal.now_us.get() >= RESET_US, "driver did not wait for reset");
    assert_eq!(m.reg(CTRL) & CTRL_RST, 0);
    assert_ne!(m.reg(CTRL) & CTRL_SLU, 0, "set link up");
    assert_eq!(m.reg(CTRL) & (CTRL_PHY_RST | CTRL_LRST), 0);
    // Rings: base within DMA memory (including the high half), length, head/tail.
    let rdba = u64::from(m.reg(RDBAH)) << 32 | u64::from(m.reg(RDBAL));
    let tdba = u64::from(m.reg(TDBAH)) << 32 | u64::from(m.reg(TDBAL));
    assert_eq!(m.reg(RDBAH), (PHYS_BASE >> 32) as u32);
    assert!(rdba >= PHYS_BASE && rdba + 64 * 16 <= PHYS_BASE + DESC_AREA as u64);
    assert!(tdba >= PHYS_BASE && tdba + 32 * 16 <= PHYS_BASE + DESC_AREA as u64);
    assert!(rdba + 64 * 16 <= tdba || tdba + 32 * 16 <= rdba, "rings overlap");
    assert_eq!(rdba % 16, 0);
    assert_eq!(m.reg(RDLEN), 64 * 16);
    assert_eq!(m.reg(TDLEN), 32 * 16);
    assert_eq!((m.reg(RDH), m.reg(RDT), m.reg(TDH), m.reg(TDT)), (0, 0, 0, 0));
    // Receiver: enabled, broadcast accepted, FCS stripped, 2 KiB buffers, not promiscuous.
    let rctl = m.reg(RCTL);
    assert_eq!(rctl & (RCTL_EN | RCTL_BAM | RCTL_SECRC), RCTL_EN | RCTL_BAM | RCTL_SECRC);
    assert_eq!(rctl & (RCTL_BSIZE_MASK | RCTL_BSEX | RCTL_UPE | RCTL_MPE | RCTL_LPE | RCTL_SBP), 0);
    // All multicast (for IPv6 neighbour discovery) without accepting others' unicast.
    let r = rig::<16, 16>(Config { all_multicast: true, ..config() });
    assert_eq!(r.model().reg(RCTL) & (RCTL_MPE | RCTL_UPE), RCTL_MPE);
    // Transmitter: enabled, short frames padded, datasheet collision and IPG values.
    let tctl = m.reg(TCTL);
    assert_eq!(tctl & (TCTL_EN | TCTL_PSP), TCTL_EN | TCTL_PSP);
    assert_eq!(tctl >> TCTL_CT_SHIFT & 0xFF, TCTL_CT_DEFAULT);
    assert_eq!(tctl >> TCTL_COLD_SHIFT & 0x3FF, TCTL_COLD_FULL_DUPLEX);
    assert_eq!(m.reg(TIPG), TIPG_COPPER);
    // Interrupts stay masked until asked for; multicast table cleared.
    assert_eq!(m.reg(IMS), 0);
    for i in 0..MTA_LEN {
        assert!(r.hal.last_write(MTA + 4 * i).is_some());
    }
    // Order: reset first; receiver enabled only after its ring is programmed.
    let rctl_at = r.hal.last_write(RCTL).unwrap();
    for reg in [RDBAL, RDBAH, RDLEN, RDH, RDT] {
        assert!(r.hal.last_write(reg).unwrap() < rctl_at, "{reg:#x} after RCTL");
        assert!(r.hal.first_write(reg).unwrap() > rst_at);
    }
    assert_eq!(r.nic.mac_address(), EEPROM_MAC, "MAC from RAL0/RAH0");
    drop(m);
    r.assert_clean();
}

#[test]
fn configured_mac_goes_into_ral0_rah0() {
    let mac = [0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE];
    let r = rig::<16, 16>(Config { mac: Some(mac), ..config() });
    assert_eq!(r.model().reg(RAL0), 0xCCBB_AA02);
    assert_eq!(r.model().reg(RAH0), 0xEEDD | RAH_AV);
}

#[test]
fn unknown_device_id_is_refused() {
    let hal = hal();
    let err = E1000::<_, 16, 16>::new(hal.clone(), Config { device_id: 0x1234, ..config() }).err();
    assert_eq!(err, Some(nic_core::InitError::UnsupportedDevice(0x1234)));
    assert!(hal.writes.borrow().is_empty(), "touched an unknown device");
}

#[test]
fn interrupt_registers_hold_the_datasheet_values() {
    let mut r = rig::<16, 16>(config());
    r.post(8);
    r.nic.set_interrupts(true);
    assert_eq!(r.model().reg(IMS), INTERRUPT_CAUSES);
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    assert_ne!(r.model().reg(ICR) & ICR_RXT0, 0);
    r.nic.handle_interrupt();
    assert_eq!(r.model().reg(ICR), 0, "ICR cleared by the read");
    r.nic.set_interrupts(false);
    assert_eq!(r.model().reg(IMS), 0, "IMC masks every cause");
    // ITR counts 256 ns units.
    let r = rig::<16, 16>(Config { interrupt_interval_us: 100, ..config() });
    assert_eq!(r.model().reg(ITR), 390);
}

/// A device gone from the bus reads all ones: that looked like every interrupt cause at once and
/// a link up at 1000 Mbit/s; it is a device fault that asks for a new bring-up, the link down.
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
fn the_82574l_runs_the_same_path() {
    let mut r = rig::<16, 16>(Config { device_id: 0x10D3, ..config() });
    assert_eq!(r.nic.model(), nic_e1000::Model::I82574L);
    r.post(4);
    r.model().inject(&frame(EEPROM_MAC, 1, 64));
    assert_eq!(r.poll(4).len(), 1);
}


//! The X722 driver against the model of the device and its firmware in `model/`.

mod model;

use model::firmware::{self, Filter, RC_EINVAL};
use model::{X722Model, AUTONEG_US, FIRST_QUEUE, PF_ID, PF_RESET_US, PORT};
use nic_core::{Buffer, InitError, Interrupts, Nic};
use nic_i40e::commands::{self as cmd, PROMISC_BROADCAST, PROMISC_MULTICAST};
use nic_i40e::hmc::{self, rxq, txq};
use nic_i40e::regs::*;
use nic_i40e::{Config, I40e};
use nic_testkit::conformance::{RxOutcome, WireModel};
use nic_testkit::rig::{self, frame, PEER_MAC};
use nic_testkit::{TestHal, PHYS_BASE};

const NVM_MAC: [u8; 6] = [0x3C, 0xEC, 0xEF, 0x10, 0x20, 0x31];

type Rig<const RX: usize, const TX: usize> = rig::Rig<I40e<TestHal<X722Model>, RX, TX>, X722Model>;

fn config() -> Config {
    Config { all_multicast: false, ..Config::new(0x37D2) }
}

fn hal() -> TestHal<X722Model> {
    rig::hal(|arena| X722Model::new(arena, NVM_MAC))
}

/// The driver with rings the X722 takes (multiples of 32, at least 64).
fn rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
    assert!(nic_i40e::ring_size_ok(RX) && nic_i40e::ring_size_ok(TX));
    let hal = hal();
    let nic = I40e::new(hal.clone(), config).expect("bring-up");
    Rig::new(nic, hal)
}

/// The shared conformance suite's rings are 8 and 16 descriptors: the model lets them be.
fn small_rig<const RX: usize, const TX: usize>(config: Config) -> Rig<RX, TX> {
    let hal = hal();
    hal.device.borrow_mut().allow_small_rings = true;
    let nic = I40e::new(hal.clone(), config).expect("bring-up");
    Rig::new(nic, hal)
}

/// Bring-up on a model changed by `setup`, expected to fail.
fn bring_up_error(setup: impl FnOnce(&mut X722Model)) -> (InitError, TestHal<X722Model>) {
    let hal = hal();
    setup(&mut hal.device.borrow_mut());
    let err = I40e::<_, 64, 64>::new(hal.clone(), config()).err().expect("bring-up must fail");
    (err, hal)
}

nic_testkit::conformance_tests!(small_rig, config);

#[test]
fn bring_up_talks_to_the_firmware_in_order() {
    let r = rig::<64, 64>(config());
    let m = r.model();
    assert_eq!(m.pf_resets, 1, "PF software reset done and waited for");
    assert!(r.hal.now_us.get() >= PF_RESET_US);
    assert_eq!(
        m.fw.commands,
        [
            cmd::GET_VERSION,
            cmd::CLEAR_PXE_MODE,
            cmd::MAC_ADDRESS_READ,
            cmd::GET_SWITCH_CONFIG,
            cmd::UPDATE_VSI_PARAMS,
            cmd::GET_VSI_PARAMS,
            cmd::REMOVE_MACVLAN,
            cmd::REMOVE_MACVLAN,
            cmd::ADD_MACVLAN,
            cmd::SET_VSI_PROMISCUOUS_MODES,
            cmd::SET_PHY_INT_MASK,
            cmd::GET_LINK_STATUS,
            cmd::DRIVER_VERSION,
        ]
    );
    assert!(m.fw.pxe_cleared);
    assert_eq!(m.reg(GLLAN_RCTL_0), GLLAN_RCTL_0_PXE_MODE, "PXE hand-over acknowledged");
    assert_eq!(m.fw.queue_map, Some((0, 1)), "one queue, PF queue 0");
    assert_eq!(m.fw.filters, [Filter { mac: NVM_MAC, any_vlan: true, vlan: 0 }], "NVM filter replaced by any-VLAN one");
    assert_eq!(m.fw.promiscuous, PROMISC_BROADCAST);
    assert_eq!(m.fw.phy_event_mask & cmd::PHY_EVENT_LINK_UPDOWN, 0, "link events unmasked");
    assert!(m.fw.lse_armed, "link status events armed");
    let (version, name) = m.fw.driver_version.clone().unwrap();
    assert_eq!((version, name.as_slice()), (nic_i40e::DRIVER_VERSION, &b"wg-encryptor-i40e"[..]));

    let fw = r.nic.firmware();
    assert_eq!((fw.pf_id, fw.port, fw.first_queue), (PF_ID as usize, PORT as usize, FIRST_QUEUE as usize));
    assert_eq!((fw.vsi_seid, fw.qs_handle), (firmware::VSI_SEID, firmware::QS_HANDLE));
    assert_eq!((fw.version.api, fw.version.fw), ((1, 12), (4, 10)));

    // LAN HMC for one queue pair of PF 1: transmit contexts at 0, receive at 512, direct SD 0.
    let pf = PF_ID as usize;
    assert_eq!((m.reg(GLHMC_LANTXBASE(pf)), m.reg(GLHMC_LANTXCNT(pf))), (0, 1));
    assert_eq!((m.reg(GLHMC_LANRXBASE(pf)), m.reg(GLHMC_LANRXCNT(pf))), (1, 1));
    let (lo, hi) = m.sd0.expect("segment descriptor 0 valid");
    assert_eq!(hi, (PHYS_BASE >> 32) as u32, "backing page's high address half");
    assert_ne!(lo & PFHMC_SDDATALOW_PMSDTYPE_DIRECT, 0);
    // The queues as their contexts describe them, with the high address half.
    let (rx, tx) = (m.rx.unwrap(), m.tx.unwrap());
    assert_eq!((rx.count, tx.count), (64, 64));
    assert_eq!((rx.base >> 32, tx.base >> 32), (PHYS_BASE >> 32, PHYS_BASE >> 32));
    assert_eq!(rx.buffer_or_rdylist, 2048);
    assert!(rx.crcstrip);
    assert_eq!(rx.rxmax, 1522);
    assert_eq!(tx.buffer_or_rdylist, u32::from(firmware::QS_HANDLE));
    assert_eq!(m.reg(QTX_CTL(0)), QTX_CTL_PFVF_Q_PF | PF_ID << QTX_CTL_PF_INDX_SHIFT);
    assert!(m.txpre_cleared.contains(&FIRST_QUEUE), "pre-disable lifted for absolute queue 64");
    assert_eq!(m.reg(QRX_ENA(0)) & QENA_STAT, QENA_STAT);
    assert_eq!(m.reg(QTX_ENA(0)) & QENA_STAT, QENA_STAT);
    // Vector 0: receive queue 0, then transmit queue 0, then the end; admin queue events and
    // fault causes on; the vector itself still masked.
    assert_eq!(m.reg(PFINT_LNKLST0), QUEUE_TYPE_RX << PFINT_LNKLST_FIRSTQ_TYPE_SHIFT);
    assert_eq!(m.reg(QINT_TQCTL(0)) >> QINT_NEXTQ_INDX_SHIFT & 0x7FF, QUEUE_END_OF_LIST);
    let faults = PFINT_ICR0_ECC_ERR | PFINT_ICR0_MAL_DETECT | PFINT_ICR0_GRST | PFINT_ICR0_PCI_EXCEPTION | PFINT_ICR0_HMC_ERR;
    assert_eq!(m.reg(PFINT_ICR0_ENA), PFINT_ICR0_ADMINQ | faults);
    assert_eq!(m.reg(PFINT_DYN_CTL0) & PFINT_DYN_CTL0_INTENA, 0);
    // Masked, descriptors are still written back when the ITR expires (as the open drivers
    // poll an X722).
    assert_ne!(m.reg(PFINT_DYN_CTL0) & PFINT_DYN_CTL0_WB_ON_ITR, 0);
    drop(m);
    r.assert_clean();
}

#[test]
fn contexts_carry_the_ring_addresses_in_128_byte_units() {
    let r = rig::<64, 64>(config());
    let m = r.model();
    let (lo, hi) = m.sd0.unwrap();
    let backing = u64::from(hi) << 32 | u64::from(lo & PFHMC_SDDATALOW_PMSDDATALOW_MASK);
    let mut ctx = [0u8; rxq::BYTES];
    r.hal.arena.dma_read(backing + 512, &mut ctx);
    assert_eq!(hmc::get(&ctx, rxq::BASE) * 128, m.rx.unwrap().base);
    assert_eq!(hmc::get(&ctx, rxq::DBUFF), 2048 / 128);
    assert_eq!((hmc::get(&ctx, rxq::DSIZE), hmc::get(&ctx, rxq::PREFENA)), (0, 1));
    let mut ctx = [0u8; txq::BYTES];
    r.hal.arena.dma_read(backing, &mut ctx);
    assert_eq!(hmc::get(&ctx, txq::QLEN), 64);
    assert_eq!(hmc::get(&ctx, txq::NEW_CONTEXT), 1);
    assert_eq!(hmc::get(&ctx, txq::HEAD_WB_ENA), 0, "completion by descriptor write-back");
}

#[test]
fn all_multicast_and_promiscuous_reach_the_firmware() {
    let mut r = rig::<64, 64>(Config { all_multicast: true, ..config() });
    r.post(4);
    assert_eq!(r.model().fw.promiscuous, PROMISC_BROADCAST | PROMISC_MULTICAST);
    assert_eq!(r.model().inject(&frame([0x33, 0x33, 0xFF, 0, 0, 1], 1, 64)), RxOutcome::Delivered);
    let mut r = rig::<64, 64>(config());
    r.post(4);
    assert_eq!(r.model().inject(&frame([0x33, 0x33, 0xFF, 0, 0, 1], 1, 64)), RxOutcome::Filtered);
}

#[test]
fn a_global_reset_in_progress_is_waited_out() {
    let hal = hal();
    hal.device.borrow_mut().global_reset_until = 450_000;
    let nic = I40e::<_, 64, 64>::new(hal.clone(), config()).expect("bring-up after the global reset");
    assert!(hal.now_us.get() >= 450_000);
    assert_eq!(hal.device.borrow().pf_resets, 0, "the global reset already reset the PF");
    let r = Rig::new(nic, hal);
    r.assert_clean();
}

#[test]
fn the_nvm_load_is_waited_for() {
    let hal = hal();
    hal.device.borrow_mut().nvm_done_at = 2_000_000;
    let _nic = I40e::<_, 64, 64>::new(hal.clone(), config()).expect("bring-up after the NVM load");
    assert!(hal.now_us.get() >= 2_000_000);
    assert!(hal.device.borrow().protocol_errors.is_empty(), "{:?}", hal.device.borrow().protocol_errors);
}

#[test]
fn firmware_that_never_becomes_ready_is_an_error() {
    let (err, hal) = bring_up_error(|m| m.nvm_done_at = u64::MAX);
    assert_eq!(err, InitError::FirmwareNotReady);
    assert!(hal.now_us.get() <= 11_000_000, "bounded wait");
}

#[test]
fn a_pf_reset_that_never_completes_is_an_error() {
    let (err, _) = bring_up_error(|m| m.pf_reset_stuck = true);
    assert_eq!(err, InitError::ResetTimeout);
}

#[test]
fn a_hung_firmware_times_out_the_first_command() {
    let (err, hal) = bring_up_error(|m| m.fw.hung = true);
    assert_eq!(err, InitError::AdminQueueTimeout(cmd::GET_VERSION));
    // Ten tries of 250 ms, 100 ms apart: bounded, not a hang.
    assert!(hal.now_us.get() >= 3_000_000 && hal.now_us.get() < 4_000_000, "{}", hal.now_us.get());
}

#[test]
fn a_firmware_still_starting_is_asked_again() {
    let hal = hal();
    hal.device.borrow_mut().fw_silent_until_us = 600_000;
    let r = Rig::new(I40e::<_, 64, 64>::new(hal.clone(), config()).expect("bring-up once the firmware answers"), hal);
    assert!(r.hal.now_us.get() >= 600_000);
    r.assert_clean();
}

#[test]
fn a_second_start_without_a_reset_of_the_device_works() {
    // PXE mode left and the station filter in place already: both "exists" answers are fine.
    let hal = hal();
    let first = I40e::<_, 64, 64>::new(hal.clone(), config()).expect("first start");
    drop(first);
    let second = I40e::<_, 64, 64>::new(hal.clone(), config()).expect("second start");
    let r = Rig::new(second, hal);
    assert_eq!(r.model().fw.filters, [Filter { mac: NVM_MAC, any_vlan: true, vlan: 0 }]);
    r.assert_clean();
}

#[test]
fn a_full_filter_table_is_an_error_not_a_deaf_port() {
    let (err, _) = bring_up_error(|m| m.fw.filter_table_full = true);
    assert_eq!(err, InitError::FirmwareError { opcode: cmd::ADD_MACVLAN, retval: cmd::RC_ENOSPC });
}

#[test]
fn impossible_identity_values_are_refused() {
    let (err, _) = bring_up_error(|m| {
        m.regs.set(GLPCI_CAPSUP, GLPCI_CAPSUP_ARI_EN);
        m.regs.set(PF_FUNC_RID, 0xB5 << 8 | 20);
    });
    assert_eq!(err, InitError::Implausible("PF number"));
    let (err, _) = bring_up_error(|m| m.regs.set(PFLAN_QALLOC, PFLAN_QALLOC_VALID | 1600 << PFLAN_QALLOC_LASTQ_SHIFT | 1590));
    assert_eq!(err, InitError::Implausible("queue range (PFLAN_QALLOC)"));
    let (err, _) = bring_up_error(|m| m.fw.qs_handle = 0xFFFF);
    assert_eq!(err, InitError::Implausible("queue set handle of traffic class 0"));
}

#[test]
fn fault_causes_are_counted() {
    let mut r = rig::<64, 64>(config());
    r.nic.set_interrupts(true);
    for cause in [PFINT_ICR0_MAL_DETECT, PFINT_ICR0_HMC_ERR, PFINT_ICR0_GRST] {
        let raised = r.model().interrupts_raised();
        r.model().raise_cause(cause);
        assert_eq!(r.model().interrupts_raised(), raised + 1, "{cause:#x} interrupts");
        r.nic.handle_interrupt();
    }
    assert_eq!(r.nic.device_faults(), 3);
    // The operator sees them: the NIC PD reports the driver's counters on the console.
    let mut shown = None;
    r.nic.counters().report(&mut |name, v| {
        if name == "device_faults" {
            shown = Some(v)
        }
    });
    assert_eq!(shown, Some(3));
}

#[test]
fn a_global_reset_or_mdd_asks_for_a_new_bring_up_and_an_hmc_error_does_not() {
    for (cause, why) in [(PFINT_ICR0_HMC_ERR, None), (PFINT_ICR0_GRST, Some("a global reset")), (PFINT_ICR0_MAL_DETECT, Some("malicious driver detection")), (PFINT_ICR0_ECC_ERR, Some("an ECC error")), (PFINT_ICR0_PCI_EXCEPTION, Some("a PCI exception"))] {
        let mut r = rig::<64, 64>(config());
        r.nic.set_interrupts(true);
        assert_eq!(r.nic.needs_bring_up(), None);
        r.model().raise_cause(cause);
        r.nic.handle_interrupt();
        assert_eq!(r.nic.needs_bring_up(), why, "{cause:#x}");
    }
}

/// A device gone from the bus reads all ones: ICR0 then looks like every cause at once, an
/// admin-queue event among them. The driver asks for a new bring-up at once instead of
/// draining events from it (which waited out a command timeout, 250 ms, inside the interrupt).
#[test]
fn registers_reading_all_ones_ask_for_a_bring_up_without_waiting() {
    let mut r = rig::<64, 64>(config());
    r.nic.set_interrupts(true);
    r.model().gone = true;
    let before = r.hal.now_us.get();
    assert_eq!(r.nic.handle_interrupt(), Interrupts::default());
    assert_eq!(r.nic.needs_bring_up(), Some("its registers reading all ones (gone from the bus?)"));
    assert!(r.hal.now_us.get() - before < 1000, "waited {} us", r.hal.now_us.get() - before);
}

#[test]
fn frames_the_x722_would_take_for_an_attack_are_refused() {
    // Under 17 bytes the device's malicious-driver detection stops the queue: never sent.
    let mut r = rig::<64, 64>(config());
    let short = r.tx_buffer(&frame(PEER_MAC, 1, 16)[..16]);
    assert_eq!(r.nic.tx_submit(&[short]), 0);
    let ok = r.tx_buffer(&frame(PEER_MAC, 2, 17)[..17]);
    assert_eq!(r.nic.tx_submit(&[ok]), 1);
    // Said to the NIC PD, which drops shorter frames before batching (submit stops at one).
    assert_eq!(r.nic.tx_min_len(), 17);
    assert_eq!(r.model().transmit(usize::MAX).len(), 1);
    r.assert_clean();
}

#[test]
fn a_firmware_error_reply_names_the_command_and_code() {
    let (err, _) = bring_up_error(|m| m.fw.fail = Some((cmd::UPDATE_VSI_PARAMS, RC_EINVAL)));
    assert_eq!(err, InitError::FirmwareError { opcode: cmd::UPDATE_VSI_PARAMS, retval: RC_EINVAL });
    assert_eq!(err.to_string(), "firmware refused admin command 0x0211 with error 14");
    let (err, _) = bring_up_error(|m| m.fw.fail = Some((cmd::GET_LINK_STATUS, 5)));
    assert_eq!(err, InitError::FirmwareError { opcode: cmd::GET_LINK_STATUS, retval: 5 });
}

#[test]
fn a_refused_removal_of_the_default_filter_does_not_stop_bring_up() {
    // Firmware versions differ in the spelling of their default filter; the open drivers
    // ignore both answers, and so does this one.
    let hal = hal();
    hal.device.borrow_mut().fw.fail = Some((cmd::REMOVE_MACVLAN, 12));
    let r = Rig::new(I40e::<_, 64, 64>::new(hal.clone(), config()).expect("bring-up"), hal);
    assert!(r.model().fw.filters.contains(&Filter { mac: NVM_MAC, any_vlan: true, vlan: 0 }));
}

#[test]
fn an_unknown_api_major_version_is_refused() {
    let (err, hal) = bring_up_error(|m| m.fw.api = (2, 0));
    assert_eq!(err, InitError::FirmwareApiVersion(2));
    assert_eq!(hal.device.borrow().fw.commands, [cmd::GET_VERSION], "nothing else sent");
}

#[test]
fn a_queue_that_never_reports_enabled_is_an_error() {
    let (err, _) = bring_up_error(|m| m.queue_stuck = true);
    assert_eq!(err, InitError::QueueEnableTimeout);
}

#[test]
fn other_ids_are_refused_without_touching_the_device() {
    let hal = hal();
    for id in [0x1572u16, 0x37CD, 0x1563] {
        let err = I40e::<_, 64, 64>::new(hal.clone(), Config::new(id)).err().unwrap();
        assert_eq!(err, InitError::UnsupportedDevice(id));
    }
    assert!(hal.writes.borrow().is_empty());
}

#[test]
fn every_link_flap_is_reported_because_the_driver_rearms_events() {
    let mut r = rig::<64, 64>(config());
    r.nic.set_interrupts(true);
    for flap in 0..3 {
        let raised = r.model().interrupts_raised();
        r.model().set_cable(false);
        assert!(r.model().interrupts_raised() > raised, "flap {flap}: the admin queue event interrupts");
        let causes = r.nic.handle_interrupt();
        assert!(causes.link, "flap {flap}: link change seen");
        assert!(!r.nic.link().up);
        r.model().set_cable(true);
        r.hal.advance(AUTONEG_US);
        assert!(r.nic.handle_interrupt().link, "flap {flap}: link return seen");
        let link = r.nic.link();
        assert!(link.up && link.speed_mbps == 10_000 && link.full_duplex, "{link:?}");
    }
    assert_eq!(r.model().fw.events_lost, 0);
    assert_eq!(r.nic.other_events(), 0);
    r.assert_clean();
}

/// A firmware that stops answering (the link re-ask after an event times out) leaves the link
/// unfollowed: a device fault, and the driver asks for a new bring-up (it was only counted among
/// the admin queue's other events, which nothing reports).
#[test]
fn a_firmware_that_stops_answering_asks_for_a_bring_up() {
    let mut r = rig::<64, 64>(config());
    r.nic.set_interrupts(true);
    let _ = r.nic.handle_interrupt();
    assert_eq!(r.nic.needs_bring_up(), None);
    r.model().fw.hung = true;
    r.model().set_cable(false);
    let _ = r.nic.handle_interrupt();
    assert_eq!(r.nic.needs_bring_up(), Some("its firmware no longer answering admin commands"));
    assert_eq!(r.nic.device_faults(), 1);
}

#[test]
fn more_events_than_the_receive_queue_holds_lose_none_once_drained() {
    // The driver re-posts each event descriptor as it handles it: forty flaps, polled.
    let mut r = rig::<64, 64>(config());
    for _ in 0..40 {
        r.model().set_cable(false);
        assert!(!r.nic.link().up);
        r.model().set_cable(true);
        r.hal.advance(AUTONEG_US);
        assert!(r.nic.link().up);
    }
    assert_eq!(r.model().fw.events_lost, 0);
    assert_eq!(r.model().reg(PF_ARQLEN) & AQLEN_OVFL, 0);
    r.assert_clean();
}

#[test]
fn statistics_are_deltas_across_the_48_bit_wrap() {
    // The model's octet counters start 200 bytes short of 2^48 and its frame counters at
    // non-zero values: the driver reports only what happened since it started.
    let mut r = rig::<64, 64>(config());
    r.post(8);
    for seq in 0..3 {
        assert_eq!(r.model().inject(&frame(NVM_MAC, seq, 1000)), RxOutcome::Delivered);
    }
    let c = r.nic.counters();
    assert_eq!((c.hw_rx_good_frames, c.hw_rx_good_bytes), (3, 3 * 1004));
    assert!(r.model().regs.get(GLPRT(GLPRT_GORCL + 4, PORT as usize)) < 0x10, "the model's counter wrapped");
    let b = r.tx_buffer(&frame(PEER_MAC, 9, 100));
    r.nic.tx_submit(&[b]);
    r.model().transmit(usize::MAX);
    let c = r.nic.counters();
    assert_eq!((c.hw_tx_good_frames, c.hw_tx_good_bytes), (1, 104));
    assert_eq!(c.hw_rx_good_frames, 3, "unchanged");
}

#[test]
fn a_write_back_on_a_descriptor_never_given_is_ignored() {
    let mut r = rig::<64, 64>(config());
    r.post(2);
    // A broken device marks descriptor 9 done: the driver never posted it.
    let (rx, _) = r.model().rings();
    r.hal.arena.write_u64(rx.base + 9 * 16 + 8, 1 | 1 << 1 | 64 << 38);
    assert!(r.poll(8).is_empty());
    assert_eq!(r.model().inject(&frame(NVM_MAC, 1, 64)), RxOutcome::Delivered);
    assert_eq!(r.poll(8).len(), 1);
    assert_eq!(r.nic.counters().rx_frames, 1);
}

#[test]
fn transmit_descriptors_are_data_descriptors_with_fcs_and_report_status() {
    let mut r = rig::<64, 64>(config());
    let b = r.tx_buffer(&frame(PEER_MAC, 1, 1514));
    assert_eq!(r.nic.tx_submit(&[b]), 1);
    let (_, tx) = r.model().rings();
    let hi = r.hal.arena.read_u64(tx.base + 8);
    assert_eq!(hi & 0xF, 0, "DTYPE data");
    assert_eq!(hi >> 4 & 0x3FF, 0x7, "EOP | RS | ICRC");
    assert_eq!(hi >> 34 & 0x3FFF, 1514);
    r.model().transmit(usize::MAX);
    assert_eq!(r.hal.arena.read_u64(tx.base + 8) & 0xF, 0xF, "written back DESC_DONE");
    assert_eq!(r.reclaim(4), vec![Buffer { ..b }]);
    r.assert_clean();
}

#[test]
fn a_software_interrupt_brings_the_pd_back_only_while_interrupts_are_on() {
    let mut r = rig::<64, 64>(config());
    let raised = r.model().interrupts_raised();
    r.nic.raise_interrupt();
    assert_eq!(r.model().interrupts_raised(), raised, "masked: no interrupt");
    r.nic.set_interrupts(true);
    r.nic.raise_interrupt();
    assert_eq!(r.model().interrupts_raised(), raised + 1);
    assert!(!r.nic.handle_interrupt().any(), "no cause but the software trigger");
    r.assert_clean();
}

//! Driver for the Intel X722 10 GbE controller's physical function (the "i40e" family, the
//! Xeon D-2100's integrated Ethernet; the SYS-E300-9D's 10GBASE-T ports are 8086:37d2): one
//! receive and one transmit queue of 16-byte descriptors with 2 KiB buffers, FCS stripped on
//! receive and inserted on transmit, every cause on interrupt vector 0.
//!
//! Unlike the older Intel NICs the X722 is run through its firmware: the driver resets its PF,
//! waits for the firmware, opens the admin queue ([`adminq`]) and asks the firmware for the
//! station address, the PF's VSI (its port on the internal switch) and the queue set its
//! transmit queue must join; it gives the VSI its queue and address filters, turns link events
//! on, lays out the LAN host memory cache ([`hmc`]) where the queue contexts live, writes the
//! contexts and enables the queues. Link state arrives as admin queue events.
//!
//! Facts come from the X710/XL710/X722 register map and admin queue interface as the open
//! drivers (Linux, DPDK) use them; written from those facts, tested against a model of the
//! device and its firmware (`tests/model`), not yet on hardware: see `drivers/README.md`.

#![no_std]
#![warn(missing_docs)]

pub mod adminq;
pub mod commands;
pub mod desc;
pub mod hmc;
pub mod regs;

use adminq::{AdminQueue, Data, Desc};
pub use nic_core::Config;
use nic_core::queue::{RxQueue, TxQueue};
use nic_core::{poll_until, Counters, Hal, InitError, Interrupts, LinkState, Nic};
use regs::*;

/// The descriptor format.
pub use desc::X722Desc;

/// PCI device ids of the X722's physical functions (vendor 8086).
pub const DEVICE_IDS: [u16; 7] = [0x37CE, 0x37CF, 0x37D0, 0x37D1, 0x37D2, 0x37D3, 0x0DDA];

/// Receive buffer size (the receive context's DBUFF, in 128-byte units).
pub const RX_BUFFER_SIZE: usize = 2048;
/// Largest frame the receive queue accepts (RXMAX): a tagged 1518-byte frame and its FCS.
pub const RX_MAX_FRAME: u64 = 1522;
/// The driver's version as it reports it to the firmware.
pub const DRIVER_VERSION: [u8; 4] = [0, 1, 0, 0];

/// A global reset the firmware started may take up to GRSTDEL × 100 ms; the open drivers wait
/// 20 times that, capped at 160 polls of 100 ms.
const GLOBAL_RESET_POLL_US: u32 = 100_000;
const GLOBAL_RESET_MAX_POLLS: u32 = 160;
/// The NVM configuration load after a reset: the open drivers allow 1000 polls of 10-20 ms.
const NVM_LOAD_TIMEOUT_US: u32 = 10_000_000;
/// The PF software reset self-clears within about a second.
const PF_RESET_TIMEOUT_US: u32 = 2_000_000;
/// A queue reports itself enabled within microseconds; allow 10 ms.
const QUEUE_ENABLE_TIMEOUT_US: u32 = 10_000;
/// Buffer for the switch configuration answer (what the open drivers use).
const SWITCH_CONFIG_BYTES: usize = 512;
/// The firmware may not answer its first command for a while after a reset: the open drivers
/// try get version 10 times, 100 ms apart, re-programming the queues each time.
const GET_VERSION_TRIES: u32 = 10;
const GET_VERSION_RETRY_US: u32 = 100_000;
/// Return code: the thing exists already (a filter added twice, PXE mode left already).
const RC_EEXIST: u16 = 13;
/// The PF numbers, queues and queue sets the register map has room for.
const MAX_PF: usize = 16;
const MAX_QUEUE: usize = 1536;
const MAX_QS_HANDLE: u16 = 0x400;
/// Interrupt causes besides the admin queue that mean the device is in trouble: the driver
/// counts them ([`I40e::device_faults`], and `device_faults` in the counters the console shows);
/// after those that undo the bring-up it says so ([`Nic::needs_bring_up`]), and the NIC PD asks
/// to be restarted, which brings the device up afresh.
const FAULT_CAUSES: u32 =
    PFINT_ICR0_ECC_ERR | PFINT_ICR0_MAL_DETECT | PFINT_ICR0_GRST | PFINT_ICR0_PCI_EXCEPTION | PFINT_ICR0_HMC_ERR;

/// Vector 0 off: no interrupt, but descriptors still written back when the ITR expires (the
/// X722 otherwise holds back a partial cache line of write-backs until an interrupt fires, and
/// a polled driver would not see the last frames).
const MASKED: u32 = PFINT_DYN_CTL0_WB_ON_ITR | ITR_NONE << PFINT_DYN_CTL0_ITR_INDX_SHIFT;

/// Whether a ring of `n` descriptors suits the X722: the open drivers use multiples of 32,
/// at least 64. (The register model also runs the shared conformance suite's 8- and
/// 16-descriptor rings.)
pub const fn ring_size_ok(n: usize) -> bool {
    n % 32 == 0 && n >= 64 && n <= 4096
}

/// What the driver learned from the firmware at bring-up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FirmwareInfo {
    /// Firmware and admin queue API versions.
    pub version: commands::Version,
    /// This PF's number (the HMC function and QTX_CTL.PF_INDX).
    pub pf_id: usize,
    /// The port (statistics index).
    pub port: usize,
    /// The first absolute queue of this PF.
    pub first_queue: usize,
    /// The PF's VSI.
    pub vsi_seid: u16,
    /// The queue set its transmit queue joins.
    pub qs_handle: u16,
}

/// Free-running 48- and 32-bit statistics, read as deltas from the last read.
#[derive(Clone, Copy, Default)]
struct StatSnapshot {
    values: [u64; STAT_COUNT],
}

const STAT_COUNT: usize = 10;

/// (register, width in bits) of every statistic read, in [`StatSnapshot`] order.
const STATS: [(usize, u32); STAT_COUNT] = [
    (GLPRT_GORCL, 48),
    (GLPRT_UPRCL, 48),
    (GLPRT_MPRCL, 48),
    (GLPRT_BPRCL, 48),
    (GLPRT_GOTCL, 48),
    (GLPRT_UPTCL, 48),
    (GLPRT_MPTCL, 48),
    (GLPRT_BPTCL, 48),
    (GLPRT_CRCERRS, 32),
    (GLPRT_RDPC, 32),
];

/// An X722 PF with `RX` receive and `TX` transmit descriptors.
pub struct I40e<H: Hal, const RX: usize = 512, const TX: usize = 512> {
    hal: H,
    aq: AdminQueue,
    _hmc: hmc::LanHmc,
    fw: FirmwareInfo,
    mac: [u8; 6],
    rx: RxQueue<X722Desc, RX>,
    tx: TxQueue<X722Desc, TX>,
    link: LinkState,
    interrupts_on: bool,
    /// A link change seen and not yet reported by [`Nic::handle_interrupt`].
    link_changed: bool,
    stats: StatSnapshot,
    counters: Counters,
    /// Admin queue events that were not link events, link re-arms that failed, lost events.
    aq_other_events: u64,
    /// Why the device needs a new bring-up, once a fault cause said so.
    bring_up: Option<&'static str>,
    /// The firmware stopped answering: no more admin commands (each would wait a timeout).
    aq_dead: bool,
}

fn read_stat<H: Hal>(hal: &H, reg: usize, bits: u32) -> u64 {
    if bits == 32 {
        return u64::from(hal.read32(reg));
    }
    // Read high, low, high: a carry between the halves shows as a changed high half, and the
    // low half is read again under the new one (bounded: a device changing it forever gets the
    // last pair).
    let mut hi = hal.read32(reg + 4) & 0xFFFF;
    let mut lo = hal.read32(reg);
    for _ in 0..3 {
        let again = hal.read32(reg + 4) & 0xFFFF;
        if again == hi {
            break;
        }
        hi = again;
        lo = hal.read32(reg);
    }
    u64::from(hi) << 32 | u64::from(lo)
}

impl StatSnapshot {
    fn read<H: Hal>(hal: &H, port: usize) -> Self {
        let mut s = Self::default();
        for (v, (reg, bits)) in s.values.iter_mut().zip(STATS) {
            *v = read_stat(hal, GLPRT(reg, port), bits);
        }
        s
    }

    /// What each counter advanced since `self`, modulo its width.
    fn delta(&self, now: &Self) -> [u64; STAT_COUNT] {
        let mut d = [0; STAT_COUNT];
        for (i, (_, bits)) in STATS.iter().enumerate() {
            d[i] = now.values[i].wrapping_sub(self.values[i]) & ((1u64 << bits) - 1);
        }
        d
    }
}

impl<H: Hal, const RX: usize, const TX: usize> I40e<H, RX, TX> {
    /// Resets the PF and brings it up through its firmware: admin queue, station address, VSI
    /// queue mapping and filters, link events, LAN HMC, queue contexts, queues enabled (receive
    /// ring empty until [`Nic::rx_post`]), interrupts routed to vector 0 and masked. Bus
    /// mastering must already be on.
    pub fn new(mut hal: H, config: Config) -> Result<Self, InitError> {
        if !DEVICE_IDS.contains(&config.device_id) {
            return Err(InitError::UnsupportedDevice(config.device_id));
        }
        pf_reset(&mut hal)?;
        // Nothing may interrupt during bring-up (the cause enables survive a PF reset).
        hal.write32(PFINT_ICR0_ENA, 0);
        hal.write32(PFINT_DYN_CTL0, MASKED);

        let rid = hal.read32(PF_FUNC_RID);
        let pf_id = if hal.read32(GLPCI_CAPSUP) & GLPCI_CAPSUP_ARI_EN != 0 { rid & 0xFF } else { rid & PF_FUNC_RID_FUNCTION_NUMBER_MASK } as usize;
        let port = (hal.read32(PFGEN_PORTNUM) & PFGEN_PORTNUM_PORT_NUM_MASK) as usize;
        let qalloc = hal.read32(PFLAN_QALLOC);
        let first_queue = (qalloc & PFLAN_QALLOC_FIRSTQ_MASK) as usize;
        let last_queue = ((qalloc & PFLAN_QALLOC_LASTQ_MASK) >> PFLAN_QALLOC_LASTQ_SHIFT) as usize;
        if qalloc & PFLAN_QALLOC_VALID == 0 || last_queue < first_queue {
            // The NVM gave this PF no LAN queues.
            return Err(InitError::FirmwareNotReady);
        }
        // Values that would index past the register arrays they select.
        if pf_id >= MAX_PF {
            return Err(InitError::Implausible("PF number"));
        }
        if last_queue >= MAX_QUEUE {
            return Err(InitError::Implausible("queue range (PFLAN_QALLOC)"));
        }

        let mut aq = AdminQueue::new(&mut hal)?;
        let mut tries = 0;
        let reply = loop {
            match aq.send(&mut hal, Desc::command(commands::GET_VERSION, [0; 16]), Data::None) {
                Err(InitError::AdminQueueTimeout(_)) if tries + 1 < GET_VERSION_TRIES => {
                    tries += 1;
                    hal.delay_us(GET_VERSION_RETRY_US);
                    aq.program(&mut hal)?;
                }
                other => break other?,
            }
        };
        let version = commands::Version::parse(&reply.params);
        if version.api.0 != commands::API_MAJOR {
            return Err(InitError::FirmwareApiVersion(version.api.0));
        }
        // Take the receive path over from a boot ROM that may still hold it ("exists": left
        // already, by an earlier start of this driver).
        match aq.send(&mut hal, Desc::command(commands::CLEAR_PXE_MODE, commands::clear_pxe_params()), Data::None) {
            Ok(_) | Err(InitError::FirmwareError { retval: RC_EEXIST, .. }) => {}
            Err(e) => return Err(e),
        }
        hal.write32(GLLAN_RCTL_0, GLLAN_RCTL_0_PXE_MODE);

        // The station address the NVM holds.
        let reply = aq.send(
            &mut hal,
            Desc::command(commands::MAC_ADDRESS_READ, [0; 16]),
            Data::FromFirmware(commands::MAC_READ_BUF_BYTES),
        )?;
        let mut buf = [0u8; commands::MAC_READ_BUF_BYTES];
        aq.response(&mut buf);
        let nvm_mac = commands::parse_mac_read(&reply.params, &buf);
        let mac = config.mac.or(nvm_mac).ok_or(InitError::NoMacAddress)?;

        // The PF's VSI and the queue set of its traffic class 0.
        aq.send(
            &mut hal,
            Desc::command(commands::GET_SWITCH_CONFIG, commands::switch_config_params()),
            Data::FromFirmware(SWITCH_CONFIG_BYTES),
        )?;
        let mut sw = [0u8; SWITCH_CONFIG_BYTES];
        aq.response(&mut sw);
        let vsi = commands::first_vsi(&sw)
            .ok_or(InitError::FirmwareError { opcode: commands::GET_SWITCH_CONFIG, retval: commands::RC_ENOENT })?;
        let vsi_seid = vsi.seid;
        // One queue, PF queue 0, traffic class 0; then the queue set the firmware gave TC 0.
        aq.send(
            &mut hal,
            Desc::command(commands::UPDATE_VSI_PARAMS, commands::vsi_params(vsi_seid)),
            Data::ToFirmware(&commands::queue_map_update(0, 1)),
        )?;
        aq.send(
            &mut hal,
            Desc::command(commands::GET_VSI_PARAMS, commands::vsi_params(vsi_seid)),
            Data::FromFirmware(commands::VSI_PROPERTIES_BYTES),
        )?;
        let mut props = [0u8; commands::VSI_PROPERTIES_BYTES];
        aq.response(&mut props);
        let qs_handle = commands::qs_handle_tc0(&props);
        if qs_handle >= MAX_QS_HANDLE {
            // 0xFFFF is "no queue set": the transmit context's 10-bit field cannot name it.
            return Err(InitError::Implausible("queue set handle of traffic class 0"));
        }

        // Address filters: the firmware's default filter goes (in either spelling; firmware
        // versions differ in which they hold, so a refusal is no error, as in the open
        // drivers), the station address (whatever VLAN) comes; broadcast always, multicast and
        // unicast promiscuity as configured.
        if let Some(nvm_mac) = nvm_mac {
            for flags in [
                commands::MACVLAN_DEL_PERFECT_MATCH,
                commands::MACVLAN_DEL_PERFECT_MATCH | commands::MACVLAN_DEL_IGNORE_VLAN,
            ] {
                let _ = aq.send(
                    &mut hal,
                    Desc::command(commands::REMOVE_MACVLAN, commands::macvlan_params(vsi_seid)),
                    Data::ToFirmware(&commands::macvlan_element(nvm_mac, flags)),
                );
            }
        }
        match aq.send(
            &mut hal,
            Desc::command(commands::ADD_MACVLAN, commands::macvlan_params(vsi_seid)),
            Data::ToFirmware(&commands::macvlan_element(
                mac,
                commands::MACVLAN_ADD_PERFECT_MATCH | commands::MACVLAN_ADD_IGNORE_VLAN,
            )),
        ) {
            Ok(_) => {
                // The firmware says per element how it matched; 0xFF: no room for the filter.
                let mut element = [0u8; commands::MACVLAN_ELEMENT_BYTES];
                aq.response(&mut element);
                if element[commands::MACVLAN_MATCH_METHOD] == commands::MACVLAN_MATCH_ERR_NO_RES {
                    return Err(InitError::FirmwareError { opcode: commands::ADD_MACVLAN, retval: commands::RC_ENOSPC });
                }
            }
            // The filter is there already (an earlier start of this driver).
            Err(InitError::FirmwareError { retval: RC_EEXIST, .. }) => {}
            Err(e) => return Err(e),
        }
        let mut promisc = commands::PROMISC_BROADCAST;
        if config.all_multicast || config.promiscuous {
            promisc |= commands::PROMISC_MULTICAST;
        }
        if config.promiscuous {
            promisc |= commands::PROMISC_UNICAST;
        }
        aq.send(
            &mut hal,
            Desc::command(commands::SET_VSI_PROMISCUOUS_MODES, commands::promiscuous_params(vsi_seid, promisc)),
            Data::None,
        )?;

        // Link: events for up/down, media and module changes; the state now, events on.
        aq.send(
            &mut hal,
            Desc::command(
                commands::SET_PHY_INT_MASK,
                commands::phy_int_mask_params(
                    commands::PHY_EVENT_LINK_UPDOWN | commands::PHY_EVENT_MEDIA_NA | commands::PHY_EVENT_MODULE_QUAL_FAIL,
                ),
            ),
            Data::None,
        )?;
        let reply = aq.send(&mut hal, Desc::command(commands::GET_LINK_STATUS, commands::link_status_params()), Data::None)?;
        let link = link_state(&reply.params);

        // Queue contexts live in the LAN HMC.
        let hmc = hmc::LanHmc::new(&mut hal, pf_id, 1)?;
        let rx = RxQueue::new(&mut hal, 128, QRX_TAIL(0), RX_BUFFER_SIZE)?;
        let tx = TxQueue::new(&mut hal, 128, QTX_TAIL(0))?;

        let mut ctx = [0u8; hmc::txq::BYTES];
        hmc::set(&mut ctx, hmc::txq::NEW_CONTEXT, 1);
        hmc::set(&mut ctx, hmc::txq::BASE, tx.phys() / 128);
        hmc::set(&mut ctx, hmc::txq::QLEN, TX as u64);
        hmc::set(&mut ctx, hmc::txq::RDYLIST, u64::from(qs_handle));
        hmc.write_tx_context(0, &ctx);
        hal.write32(QTX_CTL(0), QTX_CTL_PFVF_Q_PF | (pf_id as u32) << QTX_CTL_PF_INDX_SHIFT);

        let mut ctx = [0u8; hmc::rxq::BYTES];
        hmc::set(&mut ctx, hmc::rxq::BASE, rx.phys() / 128);
        hmc::set(&mut ctx, hmc::rxq::QLEN, RX as u64);
        hmc::set(&mut ctx, hmc::rxq::DBUFF, (RX_BUFFER_SIZE / 128) as u64);
        hmc::set(&mut ctx, hmc::rxq::CRCSTRIP, 1);
        hmc::set(&mut ctx, hmc::rxq::L2TSEL, 1);
        hmc::set(&mut ctx, hmc::rxq::RXMAX, RX_MAX_FRAME);
        hmc::set(&mut ctx, hmc::rxq::LRXQTHRESH, 1);
        hmc::set(&mut ctx, hmc::rxq::PREFENA, 1);
        hmc.write_rx_context(0, &ctx);
        hal.write32(QRX_TAIL(0), 0);

        // Interrupts, still masked: vector 0's list is receive queue 0, then transmit queue 0.
        let itr = (config.interrupt_interval_us / 2).min(PFINT_ITR_INTERVAL_MASK);
        hal.write32(PFINT_ITR0(ITR_RX), itr);
        hal.write32(PFINT_ITR0(ITR_TX), itr);
        hal.write32(PFINT_LNKLST0, QUEUE_TYPE_RX << PFINT_LNKLST_FIRSTQ_TYPE_SHIFT);
        hal.write32(
            QINT_RQCTL(0),
            QINT_CAUSE_ENA | (ITR_RX as u32) << QINT_ITR_INDX_SHIFT | QUEUE_TYPE_TX << QINT_NEXTQ_TYPE_SHIFT,
        );
        hal.write32(
            QINT_TQCTL(0),
            QINT_CAUSE_ENA
                | (ITR_TX as u32) << QINT_ITR_INDX_SHIFT
                | QUEUE_END_OF_LIST << QINT_NEXTQ_INDX_SHIFT
                | QUEUE_TYPE_RX << QINT_NEXTQ_TYPE_SHIFT,
        );
        hal.write32(PFINT_STAT_CTL0, 0);

        // Receive first, then transmit (the open drivers' order).
        hal.write32(QRX_ENA(0), QENA_REQ);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(QRX_ENA(0)) & QENA_STAT != 0) {
            return Err(InitError::QueueEnableTimeout);
        }
        // Lift the transmit pre-disable of the queue (absolute numbering), then enable it.
        let abs = first_queue;
        hal.write32(
            GLLAN_TXPRE_QDIS(abs / 128),
            GLLAN_TXPRE_QDIS_CLEAR_QDIS | (abs % 128) as u32 & GLLAN_TXPRE_QDIS_QINDX_MASK,
        );
        hal.write32(QTX_HEAD(0), 0);
        hal.write32(QTX_ENA(0), QENA_REQ);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(QTX_ENA(0)) & QENA_STAT != 0) {
            return Err(InitError::QueueEnableTimeout);
        }

        // Admin queue events (link changes) and the device's fault causes.
        let _ = hal.read32(PFINT_ICR0);
        hal.write32(PFINT_ICR0_ENA, PFINT_ICR0_ADMINQ | FAULT_CAUSES);

        driver_version(&mut aq, &mut hal)?;
        let stats = StatSnapshot::read(&hal, port);
        let fw = FirmwareInfo { version, pf_id, port, first_queue, vsi_seid, qs_handle };
        Ok(Self {
            hal,
            aq,
            _hmc: hmc,
            fw,
            mac,
            rx,
            tx,
            link,
            interrupts_on: false,
            link_changed: false,
            stats,
            counters: Counters::default(),
            aq_other_events: 0,
            bring_up: None,
            aq_dead: false,
        })
    }

    /// What the firmware told the driver at bring-up.
    pub fn firmware(&self) -> FirmwareInfo {
        self.fw
    }

    /// Admin queue events other than link changes, link re-arms that failed, and event
    /// overflows.
    pub fn other_events(&self) -> u64 {
        self.aq_other_events
    }

    /// Fault causes the device raised (ECC error, malicious driver detection, a global reset,
    /// a PCI exception, an HMC error). After a global reset the PF needs a new bring-up.
    pub fn device_faults(&self) -> u64 {
        self.counters.device_faults
    }

    /// The HAL, for the platform's own use.
    pub fn hal(&self) -> &H {
        &self.hal
    }

    /// Raises vector 0 from software (if interrupts are on), so that the PD comes back for work
    /// it left.
    pub fn raise_interrupt(&self) {
        if self.interrupts_on {
            // With the software ITR index enabled, as the open drivers force a write-back.
            self.hal.write32(
                PFINT_DYN_CTL0,
                PFINT_DYN_CTL0_INTENA
                    | PFINT_DYN_CTL0_SWINT_TRIG
                    | PFINT_DYN_CTL0_SW_ITR_INDX_ENA
                    | ITR_NONE << PFINT_DYN_CTL0_ITR_INDX_SHIFT,
            );
        }
    }

    /// Handles the firmware's events (a link change is remembered for the next
    /// [`Nic::handle_interrupt`]).
    fn drain_events(&mut self) {
        if self.aq_dead {
            return;
        }
        // Events lost for lack of descriptors: one may have been a link change, so ask.
        let mut ask = self.aq.take_overflow(&self.hal);
        if ask {
            self.aq_other_events += 1;
        }
        // Bounded: a firmware that posts events as fast as they are taken cannot hold the PD.
        for _ in 0..adminq::ARQ_LEN {
            let Some(event) = self.aq.next_event(&self.hal) else { break };
            if event.opcode == commands::GET_LINK_STATUS {
                let link = link_state(&event.params);
                self.link_changed |= link != self.link;
                self.link = link;
                ask = true;
            } else {
                self.aq_other_events += 1;
            }
        }
        if !ask {
            return;
        }
        // The firmware reports one change per request: ask again, which re-arms it and gives
        // the state as of now.
        match self.aq.send(&mut self.hal, Desc::command(commands::GET_LINK_STATUS, commands::link_status_params()), Data::None) {
            Ok(reply) => {
                let link = link_state(&reply.params);
                self.link_changed |= link != self.link;
                self.link = link;
            }
            Err(InitError::AdminQueueTimeout(_)) => {
                // Every later command would wait the same timeout, and the link would no longer
                // be followed: a device fault, which only a new bring-up (a PF reset) can undo.
                self.aq_dead = true;
                self.aq_other_events += 1;
                if self.bring_up.is_none() {
                    // (One fault: a global reset already asking for a bring-up explains it.)
                    self.counters.device_faults += 1;
                    self.bring_up = Some("its firmware no longer answering admin commands");
                }
            }
            Err(_) => self.aq_other_events += 1,
        }
    }
}

fn link_state(params: &[u8; 16]) -> LinkState {
    let (up, speed_mbps) = commands::parse_link_status(params);
    LinkState { up, speed_mbps, full_duplex: up }
}

/// The PF reset as the datasheet and the open drivers do it: wait out a global reset in
/// progress, wait for the NVM configuration, then the PF software reset.
fn pf_reset<H: Hal>(hal: &mut H) -> Result<(), InitError> {
    let grst_del = hal.read32(GLGEN_RSTCTL) & GLGEN_RSTCTL_GRSTDEL_MASK;
    let polls = (grst_del * 20).clamp(1, GLOBAL_RESET_MAX_POLLS);
    let global_reset_was_running = hal.read32(GLGEN_RSTAT) & GLGEN_RSTAT_DEVSTATE_MASK != 0;
    if !poll_until(hal, polls * GLOBAL_RESET_POLL_US, GLOBAL_RESET_POLL_US, |h| {
        h.read32(GLGEN_RSTAT) & GLGEN_RSTAT_DEVSTATE_MASK == 0
    }) {
        return Err(InitError::ResetTimeout);
    }
    let done = GLNVM_ULD_CONF_CORE_DONE | GLNVM_ULD_CONF_GLOBAL_DONE;
    if !poll_until(hal, NVM_LOAD_TIMEOUT_US, 10_000, |h| h.read32(GLNVM_ULD) & done == done) {
        return Err(InitError::FirmwareNotReady);
    }
    // A global reset just finished has reset the PF too.
    if !global_reset_was_running {
        hal.write32(PFGEN_CTRL, hal.read32(PFGEN_CTRL) | PFGEN_CTRL_PFSWR);
        if !poll_until(hal, PF_RESET_TIMEOUT_US, 1000, |h| h.read32(PFGEN_CTRL) & PFGEN_CTRL_PFSWR == 0) {
            return Err(InitError::ResetTimeout);
        }
    }
    Ok(())
}

/// Tells the firmware which driver runs the PF.
fn driver_version<H: Hal>(aq: &mut AdminQueue, hal: &mut H) -> Result<(), InitError> {
    const NAME: &[u8] = b"wg-encryptor-i40e";
    aq.send(
        hal,
        Desc::command(commands::DRIVER_VERSION, commands::driver_version_params(DRIVER_VERSION)),
        Data::ToFirmware(NAME),
    )?;
    Ok(())
}

impl<H: Hal, const RX: usize, const TX: usize> Nic for I40e<H, RX, TX> {
    fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    fn link(&mut self) -> LinkState {
        self.drain_events();
        self.link
    }

    nic_core::queue_methods!();

    fn handle_interrupt(&mut self) -> Interrupts {
        // Reading ICR0 clears it; vector 0 masks itself when it fires and is re-armed here.
        let icr0 = self.hal.read32(PFINT_ICR0);
        if icr0 == u32::MAX {
            // A device gone from the bus (or a PCIe error) reads all ones: not every cause at
            // once. Draining admin-queue "events" from it would wait out a command timeout.
            self.counters.device_faults += 1;
            self.bring_up = self.bring_up.or(Some("its registers reading all ones (gone from the bus?)"));
            self.hal.irq_ack();
            return Interrupts::default();
        }
        if icr0 & FAULT_CAUSES != 0 {
            self.counters.device_faults += 1;
            // After a global reset the hardware has undone the bring-up (the admin queue, the
            // HMC, the queue contexts); after malicious driver detection (which stops the
            // queue), an ECC error or a PCI exception the open drivers reset the PF. Only a new
            // bring-up restores the port. An HMC error is reported only, as they do.
            let why = if icr0 & PFINT_ICR0_GRST != 0 {
                Some("a global reset")
            } else if icr0 & PFINT_ICR0_MAL_DETECT != 0 {
                Some("malicious driver detection")
            } else if icr0 & PFINT_ICR0_ECC_ERR != 0 {
                Some("an ECC error")
            } else if icr0 & PFINT_ICR0_PCI_EXCEPTION != 0 {
                Some("a PCI exception")
            } else {
                None
            };
            self.bring_up = self.bring_up.or(why);
        }
        if icr0 & PFINT_ICR0_ADMINQ != 0 {
            self.drain_events();
        }
        if self.interrupts_on {
            self.arm();
        }
        self.hal.irq_ack();
        // QUEUE_0 says a queue on vector 0's list fired, not which: the rings say.
        let queue = icr0 & PFINT_ICR0_QUEUE_0 != 0;
        let (rx, tx) = if queue { (self.rx.newly_done(), self.tx.newly_done()) } else { (false, false) };
        Interrupts {
            rx: queue && rx,
            tx: queue && tx,
            link: core::mem::take(&mut self.link_changed),
            rx_overrun: false,
            rx_low: false,
        }
    }

    fn needs_bring_up(&self) -> Option<&'static str> {
        self.bring_up
    }

    fn set_interrupts(&mut self, enabled: bool) {
        self.interrupts_on = enabled;
        if enabled {
            self.arm();
        } else {
            self.hal.write32(PFINT_DYN_CTL0, MASKED);
        }
    }

    fn counters(&mut self) -> Counters {
        let now = StatSnapshot::read(&self.hal, self.fw.port);
        let d = self.stats.delta(&now);
        self.stats = now;
        let c = &mut self.counters;
        c.hw_rx_good_bytes += d[0];
        c.hw_rx_good_frames += d[1] + d[2] + d[3];
        c.hw_tx_good_bytes += d[4];
        c.hw_tx_good_frames += d[5] + d[6] + d[7];
        c.hw_crc_errors += d[8];
        c.hw_rx_missed += d[9];
        self.counters
    }
}

impl<H: Hal, const RX: usize, const TX: usize> I40e<H, RX, TX> {
    /// Enables vector 0 (no interval change).
    fn arm(&self) {
        self.hal.write32(
            PFINT_DYN_CTL0,
            PFINT_DYN_CTL0_INTENA | PFINT_DYN_CTL0_CLEARPBA | ITR_NONE << PFINT_DYN_CTL0_ITR_INDX_SHIFT,
        );
    }
}

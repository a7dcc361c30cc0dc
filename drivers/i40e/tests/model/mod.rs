//! A register-level model of one X722 PF and its firmware, as far as the driver uses them:
//!
//! - reset: a global reset can be in progress at start (GLGEN_RSTAT.DEVSTATE), the NVM load
//!   (GLNVM_ULD) finishes after a while, PFGEN_CTRL.PFSWR self-clears after a while and clears
//!   the PF's queue, HMC and interrupt state (not the admin queue, which only an EMP reset
//!   clears);
//! - the admin queue ([`firmware`]): commands complete some microseconds after the tail moves,
//!   events go into the receive queue's posted buffers;
//! - the LAN HMC: segment descriptor 0 (direct) and the FPM bases and counts; a queue's context
//!   is read from host memory through them when the queue is enabled (QENA_REQ), checked, and
//!   QENA_STAT set;
//! - queue 0 with 16-byte receive descriptors and transmit data descriptors written back as
//!   DESC_DONE, the tails in QRX_TAIL/QTX_TAIL, the VSI's filters (address, promiscuous
//!   modes) from the firmware;
//! - vector 0: PFINT_ICR0 (read clears) latching queue causes routed through PFINT_LNKLST0 and
//!   QINT_RQCTL/TQCTL and the admin queue cause (PFINT_ICR0_ENA), PFINT_DYN_CTL0.INTENA that
//!   the vector clears when it fires, ITR moderation from PFINT_ITR0;
//! - free-running 48- and 32-bit port statistics that start far from zero (the low 48 bits of
//!   the octet counters close to wrapping).
//!
//! What a real device would mishandle silently is recorded in `protocol_errors`. The model
//! follows the register map and the admin queue interface as the open drivers use them; where
//! it has to guess (what ICR0.QUEUE_0 latches, what a queue enable checks), its doc says so.

#![allow(dead_code)]

pub mod firmware;

use firmware::Firmware;
use nic_i40e::adminq::DESC_BYTES;
use nic_i40e::desc::*;
use nic_i40e::hmc::{self, rxq, txq};
use nic_i40e::regs::*;
use nic_testkit::conformance::{RxOutcome, WireModel};
use nic_testkit::queue::{self, DeviceFormat, RingRegs, RxDma, TxDesc};
use nic_testkit::{Arena, DeviceModel, Registers};
use std::rc::Rc;

/// The PF software reset takes this long (the driver must poll PFSWR).
pub const PF_RESET_US: u64 = 3_000;
/// The firmware completes an admin command this long after the tail moved.
pub const FW_LATENCY_US: u64 = 30;
/// A 10GBASE-T link negotiates for this long after the cable comes back.
pub const AUTONEG_US: u64 = 400_000;
/// Link speed code for 10 Gb/s.
const SPEED_10G: u8 = 0x08;

/// The PF's queues (PFLAN_QALLOC): absolute queues 64..=127, so PF queue 0 is absolute 64.
pub const FIRST_QUEUE: u32 = 64;
pub const LAST_QUEUE: u32 = 127;
/// The port and PF number (the box's second X722 port).
pub const PORT: u32 = 1;
pub const PF_ID: u32 = 1;
/// Object sizes the device reports (log2): 128-byte transmit, 32-byte receive contexts.
const TXOBJSZ: u32 = 7;
const RXOBJSZ: u32 = 5;
const LANQMAX: u32 = 1536;

/// Statistics at power-on: a previous driver's traffic, octets 200 bytes short of wrapping.
const STAT_START_48: u64 = (1 << 48) - 200;
const STAT_START_32: u32 = 0xFFFF_FFF0;

/// The 16-byte descriptors from the device's side.
pub struct X722Device;

impl DeviceFormat for X722Device {
    fn rx_buffer(lo: u64, _hi: u64) -> u64 {
        lo
    }

    fn rx_writeback(_lo: u64, _hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64) {
        let mut hi = RX_STATUS_DD | (len as u64) << RX_LEN_SHIFT;
        if eop {
            hi |= RX_STATUS_EOP | u64::from(errors) << RX_ERROR_SHIFT;
        }
        (0, hi)
    }

    fn rx_claim(lo: u64, hi: u64, len: u16) -> (u64, u64) {
        (lo, hi & !(RX_LEN_MASK << RX_LEN_SHIFT) | (u64::from(len) & RX_LEN_MASK) << RX_LEN_SHIFT)
    }

    fn tx_parse(lo: u64, hi: u64) -> Result<TxDesc, String> {
        if hi & TX_DTYPE_MASK != TX_DTYPE_DATA {
            return Err(format!("not a data descriptor: {hi:#x}"));
        }
        if hi >> 16 & 0x3FFFF != 0 {
            return Err(format!("offload offsets set without offload: {hi:#x}"));
        }
        let cmd = hi >> TX_CMD_SHIFT & 0x3FF;
        if cmd & !0x7 != 0 {
            return Err(format!("transmit commands the driver never asks for: {cmd:#x}"));
        }
        Ok(TxDesc {
            addr: lo,
            len: (hi >> TX_BUF_SIZE_SHIFT & TX_BUF_SIZE_MASK) as usize,
            eop: hi & TX_CMD_EOP != 0,
            report_status: hi & TX_CMD_RS != 0,
            insert_fcs: hi & TX_CMD_ICRC != 0,
        })
    }

    fn tx_writeback(lo: u64, hi: u64) -> (u64, u64) {
        (lo, hi & !TX_DTYPE_MASK | TX_DTYPE_DESC_DONE)
    }
}

/// A queue as its context describes it, once enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queue {
    pub base: u64,
    pub count: u32,
    pub head: u32,
    /// Receive: buffer bytes; transmit: the ready list.
    pub buffer_or_rdylist: u32,
    pub crcstrip: bool,
    pub rxmax: u32,
}

/// Where the model stands in a reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reset {
    None,
    /// PFSWR in progress until then.
    Pf(u64),
}

pub struct X722Model {
    pub mem: Rc<Arena>,
    pub regs: Registers,
    pub fw: Firmware,
    pub now_us: u64,
    pub protocol_errors: Vec<String>,
    pub interrupts_raised: u32,
    pub rx_wraps: u32,
    pub tx_wraps: u32,
    pub cable: bool,
    /// When the link comes (came) up with the cable in.
    link_at: u64,
    link_reported: bool,
    reset: Reset,
    /// A global reset runs until then (GLGEN_RSTAT.DEVSTATE).
    pub global_reset_until: u64,
    /// The NVM configuration has loaded from then on (GLNVM_ULD).
    pub nvm_done_at: u64,
    /// PF software resets done.
    pub pf_resets: u32,
    atq_pending_since: Option<u64>,
    pub rx: Option<Queue>,
    pub tx: Option<Queue>,
    /// A broken device: the queue never reports itself enabled.
    pub queue_stuck: bool,
    /// A broken device: PFSWR never clears.
    pub pf_reset_stuck: bool,
    /// Rings shorter than 64 or not a multiple of 32 descriptors are accepted (the shared
    /// conformance suite runs 8- and 16-descriptor rings; the open drivers never program such).
    pub allow_small_rings: bool,
    /// The firmware answers no command before then (it is still starting).
    pub fw_silent_until_us: u64,
    /// Absolute transmit queues whose pre-disable the driver lifted (GLLAN_TXPRE_QDIS).
    pub txpre_cleared: Vec<u32>,
    /// PFINT_ICR0 causes latched.
    icr0: u32,
    intena: bool,
    last_irq_us: Option<u64>,
    pub accept_long: bool,
    tx_partial: Vec<u8>,
    /// Segment descriptor 0 as written (low, high), if valid.
    pub sd0: Option<(u32, u32)>,
    /// The device is gone from the bus (surprise removal, a PCIe link down): every register
    /// reads all ones, as a PCIe read nobody completes does.
    pub gone: bool,
}

impl X722Model {
    pub fn new(mem: Rc<Arena>, nvm_mac: [u8; 6]) -> Self {
        let mut m = Self {
            mem,
            regs: Registers::default(),
            fw: Firmware::new(nvm_mac),
            now_us: 0,
            protocol_errors: Vec::new(),
            interrupts_raised: 0,
            rx_wraps: 0,
            tx_wraps: 0,
            cable: true,
            link_at: 0,
            link_reported: true,
            reset: Reset::None,
            global_reset_until: 0,
            nvm_done_at: 0,
            pf_resets: 0,
            atq_pending_since: None,
            rx: None,
            tx: None,
            queue_stuck: false,
            pf_reset_stuck: false,
            allow_small_rings: false,
            fw_silent_until_us: 0,
            txpre_cleared: Vec::new(),
            icr0: 0,
            intena: false,
            last_irq_us: None,
            accept_long: false,
            tx_partial: Vec::new(),
            sd0: None,
            gone: false,
        };
        // A previous owner (a boot ROM) left things behind that the driver must not trust.
        m.regs.set(PFLAN_QALLOC, PFLAN_QALLOC_VALID | LAST_QUEUE << PFLAN_QALLOC_LASTQ_SHIFT | FIRST_QUEUE);
        m.regs.set(PF_FUNC_RID, 0xB5 << 8 | PF_ID);
        m.regs.set(PFGEN_PORTNUM, PORT);
        m.regs.set(GLHMC_LANTXOBJSZ, TXOBJSZ);
        m.regs.set(GLHMC_LANRXOBJSZ, RXOBJSZ);
        m.regs.set(GLHMC_LANQMAX, LANQMAX);
        m.regs.set(GLGEN_RSTCTL, 1);
        m.regs.set(GLLAN_RCTL_0, GLLAN_RCTL_0_PXE_MODE);
        m.set48(GLPRT_GORCL, STAT_START_48);
        m.set48(GLPRT_GOTCL, STAT_START_48 + 100);
        for reg in [GLPRT_UPRCL, GLPRT_MPRCL, GLPRT_BPRCL, GLPRT_UPTCL, GLPRT_MPTCL, GLPRT_BPTCL] {
            m.set48(reg, (1 << 48) - 2);
        }
        for reg in [GLPRT_CRCERRS, GLPRT_RDPC] {
            m.regs.set(GLPRT(reg, PORT as usize), STAT_START_32);
        }
        m
    }

    fn get48(&self, reg: usize) -> u64 {
        let r = GLPRT(reg, PORT as usize);
        u64::from(self.regs.get(r + 4) & 0xFFFF) << 32 | u64::from(self.regs.get(r))
    }

    fn set48(&mut self, reg: usize, v: u64) {
        let r = GLPRT(reg, PORT as usize);
        self.regs.set(r, v as u32);
        self.regs.set(r + 4, (v >> 32) as u32 & 0xFFFF);
    }

    fn bump48(&mut self, reg: usize, by: u64) {
        let v = self.get48(reg).wrapping_add(by) & ((1 << 48) - 1);
        self.set48(reg, v);
    }

    fn bump32(&mut self, reg: usize) {
        self.regs.bump(GLPRT(reg, PORT as usize), 1);
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.regs.get(reg)
    }

    fn error(&mut self, e: impl Into<String>) {
        self.protocol_errors.push(e.into());
    }

    pub fn link_up(&self) -> bool {
        self.cable && self.now_us >= self.link_at
    }

    /// PFSWR completes: the PF's queues, HMC, interrupt and tail registers back to reset.
    fn finish_pf_reset(&mut self) {
        self.reset = Reset::None;
        self.pf_resets += 1;
        self.rx = None;
        self.tx = None;
        self.sd0 = None;
        self.icr0 = 0;
        self.intena = false;
        self.txpre_cleared.clear();
        for reg in [QRX_ENA(0), QTX_ENA(0), QTX_TAIL(0), QRX_TAIL(0), PFINT_DYN_CTL0, PFINT_LNKLST0, PFINT_ICR0_ENA] {
            self.regs.set(reg, 0);
        }
        self.regs.set(PFGEN_CTRL, 0);
    }

    /// The host address of FPM byte `fpm` through segment descriptor 0.
    fn fpm_to_host(&mut self, fpm: u64) -> Option<u64> {
        let Some((lo, hi)) = self.sd0 else {
            self.error("queue enabled with no valid HMC segment descriptor");
            return None;
        };
        if lo & PFHMC_SDDATALOW_PMSDTYPE_DIRECT == 0 {
            self.error("paged HMC segments are not modelled");
            return None;
        }
        if fpm >= hmc::SD_BYTES as u64 {
            self.error(format!("FPM offset {fpm:#x} beyond segment 0"));
            return None;
        }
        Some((u64::from(hi) << 32 | u64::from(lo & PFHMC_SDDATALOW_PMSDDATALOW_MASK)) + fpm)
    }

    fn read_context(&mut self, base_reg: usize, cnt_reg: usize, obj_log2: u32, q: usize, bytes: usize) -> Option<Vec<u8>> {
        let pf = PF_ID as usize;
        if self.reg(cnt_reg) as usize <= q {
            self.error(format!("queue {q} beyond the HMC count programmed for PF {pf}"));
            return None;
        }
        let fpm = u64::from(self.reg(base_reg)) * hmc::FPM_BASE_ALIGN as u64 + (q as u64) * (1u64 << obj_log2);
        let host = self.fpm_to_host(fpm)?;
        let mut ctx = vec![0u8; bytes];
        if !self.mem.dma_read(host, &mut ctx) {
            self.error(format!("HMC backing {host:#x} outside DMA memory"));
            return None;
        }
        Some(ctx)
    }

    fn enable_rx(&mut self) {
        let pf = PF_ID as usize;
        let Some(ctx) = self.read_context(GLHMC_LANRXBASE(pf), GLHMC_LANRXCNT(pf), RXOBJSZ, 0, rxq::BYTES) else {
            return;
        };
        let count = hmc::get(&ctx, rxq::QLEN) as u32;
        let dbuff = hmc::get(&ctx, rxq::DBUFF) as u32 * 128;
        if hmc::get(&ctx, rxq::DTYPE) != 0 || hmc::get(&ctx, rxq::DSIZE) != 0 {
            self.error("receive context: only one-buffer 16-byte descriptors are modelled");
        }
        if !(8..=8160).contains(&count) || count % 8 != 0 || dbuff == 0 {
            self.error(format!("receive context: {count} descriptors of {dbuff} bytes"));
            return;
        }
        self.check_ring_size("receive", count);
        if hmc::get(&ctx, rxq::HEAD) != 0 {
            self.error("receive context: head not 0 at enable");
        }
        let rxmax = hmc::get(&ctx, rxq::RXMAX) as u32;
        if rxmax < 1518 {
            self.error(format!("receive context: RXMAX {rxmax} refuses full-size frames"));
        }
        self.rx = Some(Queue {
            base: hmc::get(&ctx, rxq::BASE) * 128,
            count,
            head: 0,
            buffer_or_rdylist: dbuff,
            crcstrip: hmc::get(&ctx, rxq::CRCSTRIP) != 0,
            rxmax,
        });
        if !self.queue_stuck {
            self.regs.set(QRX_ENA(0), QENA_REQ | QENA_STAT);
        }
    }

    fn enable_tx(&mut self) {
        let pf = PF_ID as usize;
        if self.reg(QTX_CTL(0)) != QTX_CTL_PFVF_Q_PF | PF_ID << QTX_CTL_PF_INDX_SHIFT {
            self.error(format!("transmit queue enabled with QTX_CTL {:#x}: it belongs to no PF", self.reg(QTX_CTL(0))));
        }
        if !self.txpre_cleared.contains(&FIRST_QUEUE) {
            self.error("transmit queue enabled while still pre-disabled (GLLAN_TXPRE_QDIS)");
        }
        let Some(ctx) = self.read_context(GLHMC_LANTXBASE(pf), GLHMC_LANTXCNT(pf), TXOBJSZ, 0, txq::BYTES) else {
            return;
        };
        let count = hmc::get(&ctx, txq::QLEN) as u32;
        if !(8..=8160).contains(&count) || count % 8 != 0 {
            self.error(format!("transmit context: {count} descriptors"));
            return;
        }
        self.check_ring_size("transmit", count);
        if hmc::get(&ctx, txq::NEW_CONTEXT) != 1 {
            self.error("transmit context: NEW_CONTEXT not set");
        }
        if hmc::get(&ctx, txq::HEAD_WB_ENA) != 0 {
            self.error("transmit context: head write-back is not modelled");
        }
        let rdylist = hmc::get(&ctx, txq::RDYLIST) as u32;
        if rdylist != u32::from(firmware::QS_HANDLE) {
            self.error(format!("transmit context: ready list {rdylist:#x}, the VSI's queue set is {:#x}", firmware::QS_HANDLE));
        }
        self.tx = Some(Queue {
            base: hmc::get(&ctx, txq::BASE) * 128,
            count,
            head: 0,
            buffer_or_rdylist: rdylist,
            crcstrip: false,
            rxmax: 0,
        });
        if !self.queue_stuck {
            self.regs.set(QTX_ENA(0), QENA_REQ | QENA_STAT);
        }
    }

    fn check_ring_size(&mut self, what: &str, count: u32) {
        if !self.allow_small_rings && (count % 32 != 0 || count < 64) {
            self.error(format!("{what} ring of {count} descriptors: the X722 takes multiples of 32, at least 64"));
        }
    }

    /// A fault cause (an ICR0 bit) is raised, as the device would on an ECC error, a
    /// malicious-driver event or a global reset.
    pub fn raise_cause(&mut self, cause: u32) {
        if self.reg(PFINT_ICR0_ENA) & cause != 0 {
            self.icr0 |= cause | PFINT_ICR0_INTEVENT;
            self.update_irq();
        }
    }

    /// The firmware runs the commands between head and tail.
    fn run_firmware(&mut self) {
        if self.fw.hung || self.now_us < self.fw_silent_until_us {
            return;
        }
        let len = self.reg(PF_ATQLEN);
        if len & AQLEN_ENABLE == 0 {
            return;
        }
        let count = len & AQLEN_LEN_MASK;
        let base = u64::from(self.reg(PF_ATQBAH)) << 32 | u64::from(self.reg(PF_ATQBAL));
        let (mut head, tail) = (self.reg(PF_ATQH), self.reg(PF_ATQT));
        if count == 0 || tail >= count {
            self.error(format!("ATQT {tail} outside a ring of {count}"));
            return;
        }
        let link = (self.link_up(), SPEED_10G);
        while head != tail {
            if let Err(e) = self.fw.execute(&self.mem, base + u64::from(head) * DESC_BYTES as u64, link) {
                self.error(e);
            }
            head = (head + 1) % count;
        }
        self.regs.set(PF_ATQH, head);
    }

    /// The firmware posts an event into the receive queue; false if there was no room.
    fn post_event(&mut self, opcode: u16, params: [u8; 16]) -> bool {
        let len = self.reg(PF_ARQLEN);
        let count = len & AQLEN_LEN_MASK;
        if len & AQLEN_ENABLE == 0 || count == 0 {
            return false;
        }
        let (head, tail) = (self.reg(PF_ARQH), self.reg(PF_ARQT));
        if head == tail {
            self.regs.set(PF_ARQLEN, len | AQLEN_OVFL);
            return false;
        }
        let base = u64::from(self.reg(PF_ARQBAH)) << 32 | u64::from(self.reg(PF_ARQBAL));
        let at = base + u64::from(head) * DESC_BYTES as u64;
        let mut raw = [0u8; DESC_BYTES];
        self.mem.dma_read(at, &mut raw);
        let mut d = nic_i40e::adminq::Desc::from_bytes(&raw);
        if d.flags & nic_i40e::adminq::flags::BUF == 0 {
            self.error("receive queue descriptor posted without a buffer");
        }
        d.flags = nic_i40e::adminq::flags::DD | nic_i40e::adminq::flags::CMP;
        d.opcode = opcode;
        d.retval = 0;
        d.datalen = 0;
        d.params[..8].copy_from_slice(&params[..8]);
        self.mem.dma_write(at, &d.to_bytes());
        self.regs.set(PF_ARQH, (head + 1) % count);
        if self.reg(PFINT_ICR0_ENA) & PFINT_ICR0_ADMINQ != 0 {
            self.icr0 |= PFINT_ICR0_ADMINQ | PFINT_ICR0_INTEVENT;
            self.update_irq();
        }
        true
    }

    /// Reports a link change if the driver armed the report.
    fn link_event(&mut self) {
        let up = self.link_up();
        if self.link_reported == up {
            return;
        }
        if self.fw.take_link_event() {
            self.link_reported = up;
            if !self.post_event(nic_i40e::commands::GET_LINK_STATUS, firmware::link_params((up, SPEED_10G), false)) {
                self.fw.events_lost += 1;
            }
        }
    }

    /// Whether a queue (type, index) is on vector 0's list, and the ITR index of its cause.
    fn on_vector0(&self, ty: u32, q: u32) -> Option<usize> {
        let first = self.reg(PFINT_LNKLST0);
        let (mut ty_at, mut idx) = (first >> PFINT_LNKLST_FIRSTQ_TYPE_SHIFT & 0x3, first & 0x7FF);
        for _ in 0..4 {
            if idx == QUEUE_END_OF_LIST || idx != 0 {
                return None;
            }
            let ctl = self.reg(if ty_at == QUEUE_TYPE_RX { QINT_RQCTL(0) } else { QINT_TQCTL(0) });
            if ty_at == ty && idx == q {
                return (ctl & QINT_CAUSE_ENA != 0 && ctl & QINT_MSIX_INDX_MASK == 0)
                    .then_some((ctl >> QINT_ITR_INDX_SHIFT & 0x3) as usize);
            }
            ty_at = ctl >> QINT_NEXTQ_TYPE_SHIFT & 0x3;
            idx = ctl >> QINT_NEXTQ_INDX_SHIFT & 0x7FF;
        }
        None
    }

    /// A queue cause: latched in ICR0 if the queue is routed to vector 0.
    fn queue_cause(&mut self, ty: u32) {
        if self.on_vector0(ty, 0).is_some() {
            self.icr0 |= PFINT_ICR0_QUEUE_0 | PFINT_ICR0_INTEVENT;
            self.update_irq();
        }
    }

    /// Vector 0 fires if enabled, a cause is latched and its ITR interval has passed; firing
    /// clears INTENA (the driver re-arms it through PFINT_DYN_CTL0).
    fn update_irq(&mut self) {
        if !self.intena || self.icr0 == 0 {
            return;
        }
        let itr = self.on_vector0(QUEUE_TYPE_RX, 0).unwrap_or(ITR_RX);
        let interval = u64::from(self.reg(PFINT_ITR0(itr)) & PFINT_ITR_INTERVAL_MASK) * 2;
        if self.last_irq_us.is_some_and(|last| self.now_us - last < interval) && self.icr0 & PFINT_ICR0_ADMINQ == 0 {
            return;
        }
        self.interrupts_raised += 1;
        self.last_irq_us = Some(self.now_us);
        self.intena = false;
    }

    fn rx_ring(&self) -> Option<RingRegs> {
        self.rx.map(|q| RingRegs { base: q.base, len_bytes: q.count * 16, head: q.head, tail: self.reg(QRX_TAIL(0)) })
    }

    fn tx_ring(&self) -> Option<RingRegs> {
        self.tx.map(|q| RingRegs { base: q.base, len_bytes: q.count * 16, head: q.head, tail: self.reg(QTX_TAIL(0)) })
    }

    fn rx_enabled(&self) -> bool {
        self.rx.is_some() && self.reg(QRX_ENA(0)) & QENA_STAT != 0
    }

    fn tx_enabled(&self) -> bool {
        self.tx.is_some() && self.reg(QTX_ENA(0)) & QENA_STAT != 0
    }

    /// The VSI's filter: broadcast and multicast by promiscuous mode, unicast by the MAC filters
    /// (untagged frames match a filter for VLAN 0 or any VLAN) or unicast promiscuity.
    fn accepts(&self, dst: &[u8]) -> bool {
        let p = self.fw.promiscuous;
        if dst[..6] == [0xFF; 6] {
            return p & nic_i40e::commands::PROMISC_BROADCAST != 0;
        }
        if dst[0] & 1 != 0 {
            return p & nic_i40e::commands::PROMISC_MULTICAST != 0;
        }
        p & nic_i40e::commands::PROMISC_UNICAST != 0
            || self.fw.filters.iter().any(|f| f.mac == dst[..6] && (f.any_vlan || f.vlan == 0))
    }

    pub fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome {
        if !self.rx_enabled() || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        if bad_crc {
            self.bump32(GLPRT_CRCERRS);
            return RxOutcome::DroppedBad;
        }
        if !self.accepts(frame) {
            return RxOutcome::Filtered;
        }
        let q = self.rx.unwrap();
        if frame.len() + 4 > q.rxmax as usize && !self.accept_long {
            return RxOutcome::DroppedBad;
        }
        let mut data = frame.to_vec();
        if !q.crcstrip {
            data.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        }
        let ring = self.rx_ring().unwrap();
        match queue::receive::<X722Device>(&self.mem, ring, q.buffer_or_rdylist as usize, &data, errors, &mut self.protocol_errors) {
            RxDma::Written { head, wraps } => {
                self.rx_wraps += wraps;
                self.rx.as_mut().unwrap().head = head;
                self.bump48(GLPRT_GORCL, frame.len() as u64 + 4);
                let kind = if frame[..6] == [0xFF; 6] {
                    GLPRT_BPRCL
                } else if frame[0] & 1 != 0 {
                    GLPRT_MPRCL
                } else {
                    GLPRT_UPRCL
                };
                self.bump48(kind, 1);
                self.queue_cause(QUEUE_TYPE_RX);
                RxOutcome::Delivered
            }
            RxDma::NoRoom => {
                self.bump32(GLPRT_RDPC);
                RxOutcome::Missed
            }
            RxDma::BadRing => RxOutcome::NotReceiving,
        }
    }

    pub fn send(&mut self, max: usize) -> Vec<Vec<u8>> {
        if !self.tx_enabled() || !self.link_up() {
            return Vec::new();
        }
        let ring = self.tx_ring().unwrap();
        let sent = queue::transmit::<X722Device>(&self.mem, ring, max, &mut self.tx_partial, &mut self.protocol_errors);
        let mut wire = Vec::new();
        for (mut frame, icrc) in sent.frames {
            if !icrc {
                self.error("frame sent without ICRC: no FCS on the wire");
            }
            if frame.len() < 17 {
                self.error(format!("a {}-byte frame: malicious driver detection would stop the queue", frame.len()));
            }
            if frame.len() < 60 {
                frame.resize(60, 0);
            }
            self.bump48(GLPRT_GOTCL, frame.len() as u64 + 4);
            let kind = if frame[..6] == [0xFF; 6] {
                GLPRT_BPTCL
            } else if frame[0] & 1 != 0 {
                GLPRT_MPTCL
            } else {
                GLPRT_UPTCL
            };
            self.bump48(kind, 1);
            wire.push(frame);
        }
        self.tx_wraps += sent.wraps;
        self.tx.as_mut().unwrap().head = sent.head;
        if sent.written_back {
            self.queue_cause(QUEUE_TYPE_TX);
        }
        wire
    }
}

impl DeviceModel for X722Model {
    fn read(&mut self, reg: usize) -> u32 {
        if self.gone {
            return u32::MAX;
        }
        match reg {
            PFGEN_CTRL => self.reg(PFGEN_CTRL),
            GLGEN_RSTAT => u32::from(self.now_us < self.global_reset_until),
            GLNVM_ULD => {
                if self.now_us >= self.nvm_done_at {
                    GLNVM_ULD_CONF_CORE_DONE | GLNVM_ULD_CONF_GLOBAL_DONE | 0x7
                } else {
                    0x7
                }
            }
            PFINT_ICR0 => {
                let v = self.icr0;
                self.icr0 = 0;
                v
            }
            _ => self.regs.get(reg),
        }
    }

    fn write(&mut self, reg: usize, value: u32) {
        if let Reset::Pf(_) = self.reset {
            if reg != PFGEN_CTRL {
                self.error(format!("register {reg:#x} written during a PF reset"));
                return;
            }
        }
        if self.now_us < self.global_reset_until {
            self.error(format!("register {reg:#x} written during a global reset"));
            return;
        }
        match reg {
            PFGEN_CTRL => {
                if value & PFGEN_CTRL_PFSWR != 0 && self.reset == Reset::None {
                    if self.now_us < self.nvm_done_at {
                        self.error("PF reset before the NVM configuration loaded");
                    }
                    self.reset = Reset::Pf(self.now_us + PF_RESET_US);
                    self.regs.set(PFGEN_CTRL, PFGEN_CTRL_PFSWR);
                }
            }
            PF_ATQT => {
                self.regs.set(reg, value);
                self.atq_pending_since = Some(self.now_us);
            }
            PF_ATQLEN if value & AQLEN_ENABLE == 0 => {
                // The queue off: what was pending is dropped.
                self.regs.set(reg, value);
                self.atq_pending_since = None;
            }
            PF_ATQH | PF_ARQH if value != 0 => self.error("the driver moved a head the firmware owns"),
            PFHMC_SDCMD => {
                if value & PFHMC_SDCMD_PMSDWR == 0 || value & 0xFFF != 0 {
                    self.error(format!("SDCMD {value:#x}: only writes of segment 0 are modelled"));
                    return;
                }
                let (lo, hi) = (self.reg(PFHMC_SDDATALOW), self.reg(PFHMC_SDDATAHIGH));
                if lo & PFHMC_SDDATALOW_PMSDVALID != 0 {
                    if lo >> PFHMC_SDDATALOW_PMSDBPCOUNT_SHIFT & 0x3FF != HMC_MAX_BP_COUNT {
                        self.error("segment descriptor without its backing page count");
                    }
                    self.sd0 = Some((lo, hi));
                } else {
                    self.sd0 = None;
                }
            }
            QRX_ENA_0 if value & QENA_REQ != 0 => {
                if self.reg(QRX_ENA(0)) & QENA_REQ == 0 {
                    self.regs.set(reg, QENA_REQ);
                    self.enable_rx();
                }
            }
            QTX_ENA_0 if value & QENA_REQ != 0 => {
                if self.reg(QTX_ENA(0)) & QENA_REQ == 0 {
                    self.regs.set(reg, QENA_REQ);
                    self.enable_tx();
                }
            }
            QRX_ENA_0 | QTX_ENA_0 => {
                self.regs.set(reg, 0);
                if reg == QRX_ENA_0 {
                    self.rx = None;
                } else {
                    self.tx = None;
                }
            }
            r if (GLLAN_TXPRE_QDIS(0)..GLLAN_TXPRE_QDIS(12)).contains(&r) => {
                let abs = ((r - GLLAN_TXPRE_QDIS(0)) / 4 * 128) as u32 + (value & GLLAN_TXPRE_QDIS_QINDX_MASK);
                if value & GLLAN_TXPRE_QDIS_CLEAR_QDIS != 0 {
                    self.txpre_cleared.push(abs);
                } else if value & GLLAN_TXPRE_QDIS_SET_QDIS != 0 {
                    self.txpre_cleared.retain(|&q| q != abs);
                }
            }
            QRX_TAIL_0 | QTX_TAIL_0 => {
                let ring = if reg == QRX_TAIL_0 { self.rx } else { self.tx };
                if let Some(q) = ring {
                    if value >= q.count {
                        self.error(format!("tail {value} beyond a ring of {}", q.count));
                    }
                }
                self.regs.set(reg, value);
            }
            PFINT_DYN_CTL0 => {
                if value & 1 << 31 == 0 {
                    self.intena = value & PFINT_DYN_CTL0_INTENA != 0;
                }
                if value & PFINT_DYN_CTL0_SWINT_TRIG != 0 {
                    self.icr0 |= PFINT_ICR0_SWINT | PFINT_ICR0_INTEVENT;
                }
                self.regs.set(reg, value);
                self.update_irq();
            }
            PFINT_ICR0 => self.error("PFINT_ICR0 written (it is cleared by reading)"),
            _ => self.regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.now_us += us;
        if let Reset::Pf(until) = self.reset {
            if self.now_us >= until && !self.pf_reset_stuck {
                self.finish_pf_reset();
            }
        }
        if self.atq_pending_since.is_some_and(|t| self.now_us - t >= FW_LATENCY_US) && self.now_us >= self.fw_silent_until_us {
            self.atq_pending_since = None;
            self.run_firmware();
        }
        self.link_event();
        self.update_irq();
    }

    fn protocol_errors(&self) -> &[String] {
        &self.protocol_errors
    }
}

const QRX_ENA_0: usize = QRX_ENA(0);
const QTX_ENA_0: usize = QTX_ENA(0);
const QRX_TAIL_0: usize = QRX_TAIL(0);
const QTX_TAIL_0: usize = QTX_TAIL(0);

impl WireModel for X722Model {
    fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, false)
    }
    fn inject_flagged(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 1, false)
    }
    fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, true)
    }
    fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        let outcome = self.receive(frame, 0, false);
        if outcome == RxOutcome::Delivered {
            let q = self.rx.unwrap();
            let last = q.base + u64::from((q.head + q.count - 1) % q.count) * 16;
            let (lo, hi) = (self.mem.read_u64(last), self.mem.read_u64(last + 8));
            let (lo, hi) = X722Device::rx_claim(lo, hi, claimed);
            self.mem.write_u64(last, lo);
            self.mem.write_u64(last + 8, hi);
        }
        outcome
    }
    fn accept_long_frames(&mut self) {
        self.accept_long = true;
    }
    fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        self.send(max)
    }
    fn eeprom_mac(&self) -> [u8; 6] {
        self.fw.nvm_mac
    }
    fn wraps(&self) -> (u32, u32) {
        (self.rx_wraps, self.tx_wraps)
    }
    fn rings(&self) -> (RingRegs, RingRegs) {
        let none = RingRegs { base: 0, len_bytes: 0, head: 0, tail: 0 };
        (self.rx_ring().unwrap_or(none), self.tx_ring().unwrap_or(none))
    }
    fn interrupts_raised(&self) -> u32 {
        self.interrupts_raised
    }
    fn set_cable(&mut self, connected: bool) {
        if connected && !self.cable {
            self.link_at = self.now_us + AUTONEG_US;
        }
        self.cable = connected;
        self.link_event();
    }
}

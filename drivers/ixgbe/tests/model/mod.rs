//! A register-level model of an 82599 / X550 port, as far as the driver uses
//! it: global reset (CTRL.RST/LRST self-clear after a while), EEPROM auto-read
//! (EEC.ARD) and DMA init (RDRXCTL.DMAIDONE) completing after reset, the MAC
//! link (82599: up only after AUTOC selects 10G serial and restarts; X550: up
//! after reset), address filtering (RAL0, FCTRL.BAM/UPE/MPE), queue 0 with
//! advanced receive (one buffer, SRRCTL) and transmit data descriptors,
//! EICR/EIMS/EIMC with IVAR mapping and EITR moderation, clear-on-read statistics.
//!
//! What a real device would mishandle silently is recorded in `protocol_errors`.

#![allow(dead_code)]

use nic_ixgbe::regs::*;
use nic_testkit::conformance::WireModel;
use nic_testkit::queue::{self, DeviceFormat, RingRegs, RxDma, TxDesc};
use nic_testkit::{Arena, DeviceModel, Registers};
use std::rc::Rc;

/// Longer than the driver's 10 ms settle, so the driver must poll.
pub const RESET_US: u64 = 12_000;
/// EEPROM auto-read (which loads RAL0/RAH0) finishes this long after reset clears.
pub const INIT_DONE_US: u64 = 800;
/// Receive DMA init finishes sooner, so a driver that waits only for it reads no MAC.
pub const DMA_INIT_US: u64 = 200;
/// The 82599 serial link trains this long after AUTOC.AN_RESTART.
pub const LINK_TRAIN_US: u64 = 1000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    I82599,
    X550,
}

pub use nic_testkit::conformance::RxOutcome;

pub struct IxgbeModel {
    mem: Rc<Arena>,
    part: Part,
    regs: Registers,
    pub eeprom_mac: [u8; 6],
    cable: bool,
    last_link: bool,
    now_us: u64,
    reset_until: Option<u64>,
    init_done_at: u64,
    an_restart_at: Option<u64>,
    irq_asserted: bool,
    last_irq_us: Option<u64>,
    pub interrupts_raised: u32,
    pub accept_long: bool,
    /// A broken device: CTRL.RST never clears.
    pub reset_stuck: bool,
    gorc: u64,
    gotc: u64,
    pub rx_wraps: u32,
    pub tx_wraps: u32,
    pub protocol_errors: Vec<String>,
    tx_partial: Vec<u8>,
}

const FCS: [u8; 4] = [0xDE, 0xAD, 0xBE, 0xEF];
/// Reset values the driver must change (per the datasheet's defaults): legacy
/// descriptors in SRRCTL, reserved bit 12 set in DCA_RXCTRL, CRC strip on.
const SRRCTL_RESET: u32 = 2;
const DCA_RXCTRL_RESET: u32 = 1 << 12;

impl IxgbeModel {
    pub fn new(mem: Rc<Arena>, part: Part, eeprom_mac: [u8; 6]) -> Self {
        let mut m = Self {
            mem,
            part,
            regs: Registers::default(),
            eeprom_mac,
            cable: true,
            last_link: false,
            now_us: 0,
            reset_until: None,
            init_done_at: 0,
            an_restart_at: None,
            irq_asserted: false,
            last_irq_us: None,
            interrupts_raised: 0,
            accept_long: false,
            reset_stuck: false,
            gorc: 0,
            gotc: 0,
            rx_wraps: 0,
            tx_wraps: 0,
            protocol_errors: Vec::new(),
            tx_partial: Vec::new(),
        };
        m.defaults();
        m
    }

    fn defaults(&mut self) {
        self.regs.clear();
        let mac = self.eeprom_mac;
        self.regs.set(RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.regs.set(RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
        self.regs.set(SRRCTL0, SRRCTL_RESET);
        self.regs.set(DCA_RXCTRL0, DCA_RXCTRL_RESET);
        self.regs.set(HLREG0, HLREG0_TXCRCEN | HLREG0_RXCRCSTRP | HLREG0_TXPADEN);
        // RDRXCTL.CRCSTRIP resets to 0 although HLREG0.RXCRCSTRP resets to 1.
        // AUTOC resets to KX4/KX auto-negotiation (LMS 110), which a 10G SFP+ link never completes.
        self.regs.set(AUTOC, 0b110 << AUTOC_LMS_SHIFT);
        self.gorc = 0;
        self.gotc = 0;
        self.irq_asserted = false;
        self.an_restart_at = None;
        self.last_link = false;
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.regs.get(reg)
    }



    fn in_reset(&self) -> bool {
        self.reset_until.is_some_and(|t| self.reset_stuck || self.now_us < t)
    }

    /// EEPROM auto-read done (X550: no EEPROM wait modelled).
    fn init_done(&self) -> bool {
        !self.in_reset() && (self.part == Part::X550 || self.now_us >= self.init_done_at)
    }

    fn dma_init_done(&self) -> bool {
        !self.in_reset() && self.now_us + INIT_DONE_US >= self.init_done_at + DMA_INIT_US
    }

    pub fn link_up(&self) -> bool {
        if !self.cable || !self.init_done() {
            return false;
        }
        match self.part {
            Part::X550 => true,
            Part::I82599 => {
                self.reg(AUTOC) & AUTOC_LMS_MASK == AUTOC_LMS_10G_SERIAL
                    && self.an_restart_at.is_some_and(|t| self.now_us >= t + LINK_TRAIN_US)
            }
        }
    }

    pub fn set_cable(&mut self, connected: bool) {
        self.cable = connected;
        self.update_link();
    }

    fn update_link(&mut self) {
        let up = self.link_up();
        if up != self.last_link {
            self.last_link = up;
            self.raise(EICR_LSC);
        }
    }

    fn queue_cause(&self, shift: u32) -> u32 {
        let entry = self.reg(IVAR0) >> shift & 0xFF;
        if entry & IVAR_ALLOC_VAL != 0 {
            1 << (entry & 0x3F)
        } else {
            0
        }
    }

    fn raise(&mut self, causes: u32) {
        let v = self.reg(EICR) | causes;
        self.regs.set(EICR, v);
        self.check_irq();
    }

    fn check_irq(&mut self) {
        if self.irq_asserted || self.reg(EICR) & self.reg(EIMS) == 0 {
            return;
        }
        let interval_us = u64::from(self.reg(EITR0) >> 3 & 0x1FF) * 2;
        if self.last_irq_us.is_none_or(|t| self.now_us - t >= interval_us) {
            self.irq_asserted = true;
            self.interrupts_raised += 1;
            self.last_irq_us = Some(self.now_us);
        }
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let fctrl = self.reg(FCTRL);
        let (bam, mpe, upe) = (fctrl & FCTRL_BAM != 0, fctrl & FCTRL_MPE != 0, fctrl & FCTRL_UPE != 0);
        nic_testkit::rig::address_filter(frame, bam, mpe, upe, self.reg(RAL0), self.reg(RAH0))
    }

    pub fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, false)
    }

    /// The MAC stores the frame but flags `errors` in the write-back status/error word.
    pub fn inject_with_errors(&mut self, frame: &[u8], errors: u32) -> RxOutcome {
        self.receive(frame, errors, false)
    }

    /// The write-back claims `claimed` bytes, whatever was stored.
    pub fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        let outcome = self.receive(frame, 0, false);
        if outcome == RxOutcome::Delivered {
            let (rx, _) = WireModel::rings(self);
            let count = rx.len_bytes / 16;
            let last = rx.base + u64::from((rx.head + count - 1) % count) * 16;
            let hi = self.mem.read_u64(last + 8);
            self.mem.write_u64(last + 8, hi & !(0xFFFF << 32) | u64::from(claimed) << 32);
        }
        outcome
    }

    pub fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, true)
    }

    fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome {
        if self.reg(RXCTRL) & RXCTRL_RXEN == 0 || self.reg(RXDCTL0) & RXDCTL_ENABLE == 0 || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        if !self.accepts(frame) {
            return RxOutcome::Filtered;
        }
        if bad_crc {
            self.regs.bump(CRCERRS, 1);
            if self.reg(FCTRL) & FCTRL_SBP == 0 {
                return RxOutcome::DroppedBad;
            }
        }
        let hlreg0 = self.reg(HLREG0);
        if frame.len() > 1518 && hlreg0 & HLREG0_JUMBOEN == 0 && !self.accept_long {
            return RxOutcome::DroppedBad;
        }
        if (hlreg0 & HLREG0_RXCRCSTRP != 0) != (self.reg(RDRXCTL) & RDRXCTL_CRCSTRIP != 0) {
            self.protocol_errors.push("HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP disagree".into());
        }
        let srrctl = self.reg(SRRCTL0);
        if srrctl & SRRCTL_DESCTYPE_MASK != SRRCTL_DESCTYPE_ADV_ONEBUF {
            self.protocol_errors.push(format!("SRRCTL descriptor type {:#x}, not advanced one-buffer", srrctl >> 25 & 7));
            return RxOutcome::DroppedBad;
        }
        let bsize = (srrctl & SRRCTL_BSIZEPACKET_MASK) as usize * 1024;
        if bsize == 0 {
            self.protocol_errors.push("SRRCTL.BSIZEPACKET is 0".into());
            return RxOutcome::DroppedBad;
        }
        let mut data = frame.to_vec();
        if hlreg0 & HLREG0_RXCRCSTRP == 0 {
            data.extend_from_slice(&FCS);
        }
        let ring = RingRegs {
            base: u64::from(self.reg(RDBAH0)) << 32 | u64::from(self.reg(RDBAL0)),
            len_bytes: self.reg(RDLEN0),
            head: self.reg(RDH0),
            tail: self.reg(RDT0),
        };
        match queue::receive::<Advanced>(&self.mem, ring, bsize, &data, errors, &mut self.protocol_errors) {
            RxDma::Written { head, wraps } => {
                self.rx_wraps += wraps;
                self.regs.set(RDH0, head);
            }
            RxDma::NoRoom if srrctl & SRRCTL_DROP_EN != 0 => {
                self.regs.bump(QPRDC0, 1);
                return RxOutcome::Missed;
            }
            RxDma::NoRoom | RxDma::BadRing => {
                // Without DROP_EN the frame would sit in the packet buffer and block the port;
                // the model counts it as the overflow it becomes.
                self.regs.bump(MPC0, 1);
                return RxOutcome::Missed;
            }
        }
        self.regs.bump(GPRC, 1);
        self.gorc += frame.len() as u64 + 4;
        let cause = self.queue_cause(0);
        self.raise(cause);
        RxOutcome::Delivered
    }

    /// The device sends what was queued (at most `max` descriptors); the frames as on the wire.
    pub fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        let mut wire = Vec::new();
        if self.reg(DMATXCTL) & DMATXCTL_TE == 0 || self.reg(TXDCTL0) & TXDCTL_ENABLE == 0 || !self.link_up() {
            return wire;
        }
        let ring = RingRegs {
            base: u64::from(self.reg(TDBAH0)) << 32 | u64::from(self.reg(TDBAL0)),
            len_bytes: self.reg(TDLEN0),
            head: self.reg(TDH0),
            tail: self.reg(TDT0),
        };
        let sent = queue::transmit::<Advanced>(&self.mem, ring, max, &mut self.tx_partial, &mut self.protocol_errors);
        for (mut frame, ifcs) in sent.frames {
            if !ifcs || self.reg(HLREG0) & HLREG0_TXCRCEN == 0 {
                self.protocol_errors.push("frame sent without FCS".into());
            }
            if self.reg(HLREG0) & HLREG0_TXPADEN != 0 && frame.len() < 60 {
                frame.resize(60, 0);
            }
            self.regs.bump(GPTC, 1);
            self.gotc += frame.len() as u64 + 4;
            wire.push(frame);
        }
        self.tx_wraps += sent.wraps;
        self.regs.set(TDH0, sent.head);
        if sent.written_back {
            let cause = self.queue_cause(8);
            self.raise(cause);
        }
        wire
    }
}

/// The advanced descriptor formats, as the device reads and writes them.
struct Advanced;

impl DeviceFormat for Advanced {
    fn rx_buffer(lo: u64, _hi: u64) -> u64 {
        lo
    }

    fn rx_writeback(_lo: u64, _hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64) {
        // Write-back: packet info (lower qword), status/error and length (upper).
        let status = RXDADV_STAT_DD | if eop { RXDADV_STAT_EOP | errors } else { 0 };
        (0, u64::from(status) | (len as u64) << 32)
    }

    fn tx_parse(lo: u64, hi: u64) -> Result<TxDesc, String> {
        let cmd_type_len = hi as u32;
        let olinfo = (hi >> 32) as u32;
        if cmd_type_len & ADVTXD_DCMD_DEXT == 0 || cmd_type_len & (0xF << 20) != ADVTXD_DTYP_DATA {
            return Err(format!("not an advanced data descriptor: {cmd_type_len:#x}"));
        }
        let len = (cmd_type_len & 0xFFFF) as usize;
        let eop = cmd_type_len & ADVTXD_DCMD_EOP != 0;
        // One descriptor per frame here, so PAYLEN is the frame's length.
        if eop && (olinfo >> ADVTXD_PAYLEN_SHIFT) as usize != len {
            return Err(format!("PAYLEN {} for a {len}-byte frame", olinfo >> ADVTXD_PAYLEN_SHIFT));
        }
        Ok(TxDesc {
            addr: lo,
            len,
            eop,
            report_status: cmd_type_len & ADVTXD_DCMD_RS != 0,
            insert_fcs: cmd_type_len & ADVTXD_DCMD_IFCS != 0,
        })
    }

    fn tx_writeback(_lo: u64, _hi: u64) -> (u64, u64) {
        (0, u64::from(ADVTXD_STAT_DD) << 32)
    }
}

impl WireModel for IxgbeModel {
    fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        IxgbeModel::inject(self, frame)
    }
    fn inject_flagged(&mut self, frame: &[u8]) -> RxOutcome {
        self.inject_with_errors(frame, RXDADV_ERR_RXE)
    }
    fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        IxgbeModel::inject_bad_crc(self, frame)
    }
    fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        IxgbeModel::inject_claiming(self, frame, claimed)
    }
    fn accept_long_frames(&mut self) {
        self.accept_long = true;
    }
    fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        IxgbeModel::transmit(self, max)
    }
    fn eeprom_mac(&self) -> [u8; 6] {
        self.eeprom_mac
    }
    fn wraps(&self) -> (u32, u32) {
        (self.rx_wraps, self.tx_wraps)
    }
    fn rings(&self) -> (RingRegs, RingRegs) {
        let rx = RingRegs {
            base: u64::from(self.reg(RDBAH0)) << 32 | u64::from(self.reg(RDBAL0)),
            len_bytes: self.reg(RDLEN0),
            head: self.reg(RDH0),
            tail: self.reg(RDT0),
        };
        let tx = RingRegs {
            base: u64::from(self.reg(TDBAH0)) << 32 | u64::from(self.reg(TDBAL0)),
            len_bytes: self.reg(TDLEN0),
            head: self.reg(TDH0),
            tail: self.reg(TDT0),
        };
        (rx, tx)
    }
}

impl DeviceModel for IxgbeModel {
    fn protocol_errors(&self) -> &[String] {
        &self.protocol_errors
    }

    fn read(&mut self, reg: usize) -> u32 {
        match reg {
            CTRL => self.reg(CTRL) | if self.in_reset() { CTRL_RST_MASK } else { 0 },
            EEC => {
                if self.part == Part::X550 {
                    self.protocol_errors.push("EEC read on an X550 (it lives elsewhere there)".into());
                }
                if self.init_done() {
                    EEC_ARD
                } else {
                    0
                }
            }
            RDRXCTL => self.reg(RDRXCTL) | if self.dma_init_done() { RDRXCTL_DMAIDONE } else { 0 },
            // Not loaded from the EEPROM yet.
            RAL0 | RAH0 if !self.init_done() => 0,
            LINKS => {
                if self.link_up() {
                    LINKS_UP | LINKS_SPEED_10G
                } else {
                    0
                }
            }
            EICR => {
                let v = self.reg(EICR);
                self.regs.set(EICR, 0);
                self.irq_asserted = false;
                v
            }
            CRCERRS | MPC0 | QPRDC0 | GPRC | GPTC => {
                let v = self.reg(reg);
                self.regs.set(reg, 0);
                v
            }
            GORCL => self.gorc as u32,
            GORCH => {
                let v = (self.gorc >> 32) as u32 & 0xF;
                self.gorc = 0;
                v
            }
            GOTCL => self.gotc as u32,
            GOTCH => {
                let v = (self.gotc >> 32) as u32 & 0xF;
                self.gotc = 0;
                v
            }
            _ => self.reg(reg),
        }
    }

    fn write(&mut self, reg: usize, value: u32) {
        if self.in_reset() {
            self.protocol_errors.push(format!("write {reg:#x} during reset"));
            return;
        }
        match reg {
            CTRL => {
                if value & CTRL_RST_MASK != 0 {
                    self.defaults();
                    self.reset_until = Some(self.now_us + RESET_US);
                    self.init_done_at = self.now_us + RESET_US + INIT_DONE_US;
                } else {
                    self.regs.set(CTRL, value);
                }
                self.update_link();
            }
            AUTOC => {
                self.regs.set(AUTOC, value & !AUTOC_AN_RESTART);
                if value & AUTOC_AN_RESTART != 0 {
                    self.an_restart_at = Some(self.now_us);
                    self.update_link();
                }
            }
            RDRXCTL => self.regs.set(RDRXCTL, value & !RDRXCTL_DMAIDONE),
            EICR => {
                let v = self.reg(EICR) & !value;
                self.regs.set(EICR, v);
            }
            EICS => self.raise(value),
            EIMS => {
                let v = self.reg(EIMS) | value;
                self.regs.set(EIMS, v);
                self.check_irq();
            }
            EIMC => {
                let v = self.reg(EIMS) & !value;
                self.regs.set(EIMS, v);
            }
            RDT0 | TDT0 if value >= 8192 => {
                self.protocol_errors.push(format!("tail {value} written to {reg:#x}"));
            }
            LINKS | STATUS => {}
            _ => self.regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.now_us += us;
        if !self.reset_stuck && self.reset_until.is_some_and(|t| self.now_us >= t) {
            self.reset_until = None;
        }
        self.update_link();
        self.check_irq();
    }
}

//! A register-level model of the 82540EM/82574L, as far as the driver uses it:
//! reset (CTRL.RST self-clears after a while), EEPROM-loaded RAL0/RAH0, link
//! (STATUS.LU needs a cable and CTRL.SLU), address filtering (RAL0, BAM, UPE,
//! MPE), legacy receive and transmit descriptor rings in DMA memory, interrupt
//! causes (ICR/IMS/IMC/ICS) with ITR moderation, clear-on-read statistics.
//!
//! The model also records what a real device would silently misbehave on
//! (`protocol_errors`), so tests fail on a driver that, say, forgets IFCS.

#![allow(dead_code)]

use nic_e1000::regs::*;
use nic_testkit::conformance::WireModel;
use nic_testkit::queue::{self, DeviceFormat, RingRegs, RxDma, TxDesc};
use nic_testkit::{Arena, DeviceModel, Registers};
use std::rc::Rc;

/// How long CTRL.RST stays set after the driver writes it.
pub const RESET_US: u64 = 3000;

pub use nic_testkit::conformance::RxOutcome;

pub struct E1000Model {
    mem: Rc<Arena>,
    regs: Registers,
    pub eeprom_mac: [u8; 6],
    /// A link partner is connected.
    cable: bool,
    last_link: bool,
    now_us: u64,
    reset_until: Option<u64>,
    /// The interrupt line is asserted (until ICR is read).
    irq_asserted: bool,
    last_irq_us: Option<u64>,
    /// Interrupts delivered to the CPU.
    pub interrupts_raised: u32,
    /// Accept frames longer than 1522 bytes even with RCTL.LPE clear (to exercise
    /// the driver's multi-buffer path).
    pub accept_long: bool,
    gorc: u64,
    gotc: u64,
    /// Times the receive head wrapped to 0.
    pub rx_wraps: u32,
    /// Times the transmit head wrapped to 0.
    pub tx_wraps: u32,
    /// Things the driver did that a real device would not accept.
    pub protocol_errors: Vec<String>,
    tx_partial: Vec<u8>,
}

fn fcs_placeholder() -> [u8; 4] {
    [0xDE, 0xAD, 0xBE, 0xEF]
}

impl E1000Model {
    pub fn new(mem: Rc<Arena>, eeprom_mac: [u8; 6]) -> Self {
        let mut m = Self {
            mem,
            regs: Registers::default(),
            eeprom_mac,
            cable: true,
            last_link: false,
            now_us: 0,
            reset_until: None,
            irq_asserted: false,
            last_irq_us: None,
            interrupts_raised: 0,
            accept_long: false,
            gorc: 0,
            gotc: 0,
            rx_wraps: 0,
            tx_wraps: 0,
            protocol_errors: Vec::new(),
            tx_partial: Vec::new(),
        };
        m.power_on_defaults();
        m
    }

    fn power_on_defaults(&mut self) {
        self.regs.clear();
        let mac = self.eeprom_mac;
        self.regs.set(RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.regs.set(RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
        self.gorc = 0;
        self.gotc = 0;
        self.irq_asserted = false;
        self.last_link = false;
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.regs.get(reg)
    }



    fn in_reset(&self) -> bool {
        self.reset_until.is_some_and(|t| self.now_us < t)
    }

    pub fn link_up(&self) -> bool {
        self.cable && !self.in_reset() && self.reg(CTRL) & CTRL_SLU != 0
    }

    /// Connects or disconnects the link partner.
    pub fn set_cable(&mut self, connected: bool) {
        self.cable = connected;
        self.update_link();
    }

    fn update_link(&mut self) {
        let up = self.link_up();
        if up != self.last_link {
            self.last_link = up;
            self.raise(ICR_LSC);
        }
    }

    fn itr_ns(&self) -> u64 {
        u64::from(self.reg(ITR) & 0xFFFF) * 256
    }

    /// Latches causes and asserts the interrupt if unmasked and ITR allows.
    fn raise(&mut self, causes: u32) {
        let icr = self.reg(ICR) | causes;
        self.regs.set(ICR, icr);
        self.check_irq();
    }

    fn check_irq(&mut self) {
        if self.irq_asserted || self.reg(ICR) & self.reg(IMS) == 0 {
            return;
        }
        let allowed = match self.last_irq_us {
            None => true,
            Some(last) => (self.now_us - last) * 1000 >= self.itr_ns(),
        };
        if allowed {
            self.irq_asserted = true;
            self.interrupts_raised += 1;
            self.last_irq_us = Some(self.now_us);
        }
    }

    fn rx_buffer_size(&self) -> usize {
        let rctl = self.reg(RCTL);
        let bsize = (rctl & RCTL_BSIZE_MASK) >> 16;
        match (rctl & RCTL_BSEX != 0, bsize) {
            (false, 0) => 2048,
            (false, 1) => 1024,
            (false, 2) => 512,
            (false, _) => 256,
            (true, 1) => 16384,
            (true, 2) => 8192,
            (true, 3) => 4096,
            (true, _) => 0, // reserved encoding
        }
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let rctl = self.reg(RCTL);
        let (bam, mpe, upe) = (rctl & RCTL_BAM != 0, rctl & RCTL_MPE != 0, rctl & RCTL_UPE != 0);
        nic_testkit::rig::address_filter(frame, bam || mpe, mpe, upe, self.reg(RAL0), self.reg(RAH0))
    }

    /// A frame (without FCS) arrives from the wire.
    pub fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, false)
    }

    /// A frame arrives and the MAC flags it with `errors` (descriptor error byte)
    /// but stores it anyway (as it does for errors it cannot screen out).
    pub fn inject_with_errors(&mut self, frame: &[u8], errors: u8) -> RxOutcome {
        self.receive(frame, errors, false)
    }

    /// A frame arrives and the device (broken, or its descriptor memory corrupted) writes back
    /// `claimed` as its length, whatever it stored.
    pub fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        let outcome = self.receive(frame, 0, false);
        if outcome == RxOutcome::Delivered {
            let ring = self.rx_ring();
            let count = ring.len_bytes / 16;
            let last = ring.base + u64::from((ring.head + count - 1) % count) * 16;
            let hi = self.mem.read_u64(last + 8);
            self.mem.write_u64(last + 8, hi & !0xFFFF | u64::from(claimed));
        }
        outcome
    }

    /// A frame with a bad CRC arrives.
    pub fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, true)
    }

    fn receive(&mut self, frame: &[u8], errors: u8, bad_crc: bool) -> RxOutcome {
        assert!(frame.len() >= 14);
        if self.reg(RCTL) & RCTL_EN == 0 || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        if !self.accepts(frame) {
            return RxOutcome::Filtered;
        }
        let rctl = self.reg(RCTL);
        if bad_crc {
            self.regs.bump(CRCERRS, 1);
            if rctl & RCTL_SBP == 0 {
                return RxOutcome::DroppedBad;
            }
        }
        if frame.len() > 1518 && rctl & RCTL_LPE == 0 && !self.accept_long {
            return RxOutcome::DroppedBad;
        }
        let mut data = frame.to_vec();
        if rctl & RCTL_SECRC == 0 {
            data.extend_from_slice(&fcs_placeholder());
        }
        let bsize = self.rx_buffer_size();
        if bsize == 0 {
            self.protocol_errors.push("reserved RCTL.BSIZE encoding".into());
            return RxOutcome::Missed;
        }
        let ring = self.rx_ring();
        let tail = ring.tail as usize;
        let count = (ring.len_bytes / 16) as usize;
        let head = match queue::receive::<Legacy>(&self.mem, ring, bsize, &data, u32::from(errors), &mut self.protocol_errors) {
            RxDma::Written { head, wraps } => {
                self.rx_wraps += wraps;
                head as usize
            }
            RxDma::NoRoom => {
                self.regs.bump(MPC, 1);
                self.regs.bump(RNBC, 1);
                self.raise(ICR_RXO);
                return RxOutcome::Missed;
            }
            RxDma::BadRing => {
                self.regs.bump(MPC, 1);
                return RxOutcome::Missed;
            }
        };
        self.regs.set(RDH, head as u32);
        self.regs.bump(GPRC, 1);
        self.gorc += frame.len() as u64 + 4;
        let mut causes = ICR_RXT0;
        // RCTL.RDMTS = 00: half the ring.
        if (tail + count - head) % count < count / 2 {
            causes |= ICR_RXDMT0;
        }
        self.raise(causes);
        RxOutcome::Delivered
    }

    /// The device sends what the driver queued (at most `max` descriptors) and
    /// returns the frames as they appear on the wire.
    pub fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        let mut wire = Vec::new();
        if self.reg(TCTL) & TCTL_EN == 0 || !self.link_up() {
            return wire;
        }
        let ring = RingRegs {
            base: u64::from(self.reg(TDBAH)) << 32 | u64::from(self.reg(TDBAL)),
            len_bytes: self.reg(TDLEN),
            head: self.reg(TDH),
            tail: self.reg(TDT),
        };
        let sent = queue::transmit::<Legacy>(&self.mem, ring, max, &mut self.tx_partial, &mut self.protocol_errors);
        for (mut frame, ifcs) in sent.frames {
            if !ifcs {
                self.protocol_errors.push("frame sent without IFCS: no FCS on the wire".into());
            }
            if self.reg(TCTL) & TCTL_PSP != 0 && frame.len() < 60 {
                frame.resize(60, 0);
            }
            self.regs.bump(GPTC, 1);
            self.gotc += frame.len() as u64 + 4;
            wire.push(frame);
        }
        self.tx_wraps += sent.wraps;
        self.regs.set(TDH, sent.head);
        if sent.written_back {
            self.raise(ICR_TXDW);
        }
        wire
    }

    fn rx_ring(&self) -> RingRegs {
        RingRegs {
            base: u64::from(self.reg(RDBAH)) << 32 | u64::from(self.reg(RDBAL)),
            len_bytes: self.reg(RDLEN),
            head: self.reg(RDH),
            tail: self.reg(RDT),
        }
    }
}

/// The legacy descriptor format, as the device reads and writes it.
struct Legacy;

impl DeviceFormat for Legacy {
    fn rx_buffer(lo: u64, _hi: u64) -> u64 {
        lo
    }

    fn rx_writeback(lo: u64, _hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64) {
        let status = RXD_STAT_DD | if eop { RXD_STAT_EOP } else { 0 };
        (lo, len as u64 | u64::from(status) << 32 | u64::from(errors as u8) << 40)
    }

    fn tx_parse(lo: u64, hi: u64) -> Result<TxDesc, String> {
        let cmd = (hi >> 24) as u8;
        if cmd & (1 << 5) != 0 {
            return Err("extended (DEXT) descriptor in a legacy ring".into());
        }
        Ok(TxDesc {
            addr: lo,
            len: (hi & 0xFFFF) as usize,
            eop: cmd & TXD_CMD_EOP != 0,
            report_status: cmd & TXD_CMD_RS != 0,
            insert_fcs: cmd & TXD_CMD_IFCS != 0,
        })
    }

    fn tx_writeback(lo: u64, hi: u64) -> (u64, u64) {
        (lo, hi | u64::from(TXD_STAT_DD) << 32)
    }
}

impl WireModel for E1000Model {
    fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        E1000Model::inject(self, frame)
    }
    fn inject_flagged(&mut self, frame: &[u8]) -> RxOutcome {
        // RXE: a receive data error the MAC stores anyway.
        self.inject_with_errors(frame, 1 << 7)
    }
    fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        E1000Model::inject_bad_crc(self, frame)
    }
    fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        E1000Model::inject_claiming(self, frame, claimed)
    }
    fn accept_long_frames(&mut self) {
        self.accept_long = true;
    }
    fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        E1000Model::transmit(self, max)
    }
    fn eeprom_mac(&self) -> [u8; 6] {
        self.eeprom_mac
    }
    fn wraps(&self) -> (u32, u32) {
        (self.rx_wraps, self.tx_wraps)
    }
    fn rings(&self) -> (RingRegs, RingRegs) {
        let tx = RingRegs {
            base: u64::from(self.reg(TDBAH)) << 32 | u64::from(self.reg(TDBAL)),
            len_bytes: self.reg(TDLEN),
            head: self.reg(TDH),
            tail: self.reg(TDT),
        };
        (self.rx_ring(), tx)
    }
}

impl DeviceModel for E1000Model {
    fn protocol_errors(&self) -> &[String] {
        &self.protocol_errors
    }

    fn read(&mut self, reg: usize) -> u32 {
        match reg {
            CTRL => self.reg(CTRL) | if self.in_reset() { CTRL_RST } else { 0 },
            STATUS => {
                if self.link_up() {
                    STATUS_LU | STATUS_FD | 0b10 << STATUS_SPEED_SHIFT
                } else {
                    0
                }
            }
            ICR => {
                let v = self.reg(ICR);
                self.regs.set(ICR, 0);
                self.irq_asserted = false;
                v
            }
            CRCERRS | MPC | RNBC | GPRC | GPTC => {
                let v = self.reg(reg);
                self.regs.set(reg, 0);
                v
            }
            GORCL => self.gorc as u32,
            GORCH => {
                let v = (self.gorc >> 32) as u32;
                self.gorc = 0;
                v
            }
            GOTCL => self.gotc as u32,
            GOTCH => {
                let v = (self.gotc >> 32) as u32;
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
                if value & CTRL_RST != 0 {
                    self.power_on_defaults();
                    self.reset_until = Some(self.now_us + RESET_US);
                    // Every CTRL bit returns to its default (0 here) with the rest.
                    self.regs.set(CTRL, 0);
                } else {
                    self.regs.set(CTRL, value);
                }
                self.update_link();
            }
            ICR => {
                let v = self.reg(ICR) & !value;
                self.regs.set(ICR, v);
            }
            ICS => self.raise(value),
            IMS => {
                let v = self.reg(IMS) | value;
                self.regs.set(IMS, v);
                self.check_irq();
            }
            IMC => {
                let v = self.reg(IMS) & !value;
                self.regs.set(IMS, v);
            }
            STATUS => {}
            _ => self.regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.now_us += us;
        if self.reset_until.is_some_and(|t| self.now_us >= t) {
            self.reset_until = None;
            self.update_link();
        }
        self.check_irq();
    }
}

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
use nic_testkit::{Arena, DeviceModel};
use std::collections::HashMap;
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RxOutcome {
    Delivered,
    /// Queue 0 had no descriptor: dropped, counted in QPRDC (DROP_EN) or MPC.
    Missed,
    Filtered,
    DroppedBad,
    NotReceiving,
}

pub struct IxgbeModel {
    mem: Rc<Arena>,
    part: Part,
    regs: HashMap<usize, u32>,
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
            regs: HashMap::new(),
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
        self.regs.insert(RAL0, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.regs.insert(RAH0, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
        self.regs.insert(SRRCTL0, SRRCTL_RESET);
        self.regs.insert(DCA_RXCTRL0, DCA_RXCTRL_RESET);
        self.regs.insert(HLREG0, HLREG0_TXCRCEN | HLREG0_RXCRCSTRP | HLREG0_TXPADEN);
        // RDRXCTL.CRCSTRIP resets to 0 although HLREG0.RXCRCSTRP resets to 1.
        // AUTOC resets to KX4/KX auto-negotiation (LMS 110), which a 10G SFP+ link never completes.
        self.regs.insert(AUTOC, 0b110 << AUTOC_LMS_SHIFT);
        self.gorc = 0;
        self.gotc = 0;
        self.irq_asserted = false;
        self.an_restart_at = None;
        self.last_link = false;
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.regs.get(&reg).copied().unwrap_or(0)
    }

    fn set(&mut self, reg: usize, v: u32) {
        self.regs.insert(reg, v);
    }

    fn bump(&mut self, reg: usize, by: u32) {
        let v = self.reg(reg).wrapping_add(by);
        self.set(reg, v);
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
        self.set(EICR, v);
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
        let dst = &frame[..6];
        if dst == [0xFF; 6] {
            return fctrl & FCTRL_BAM != 0;
        }
        if dst[0] & 1 != 0 {
            return fctrl & FCTRL_MPE != 0;
        }
        if fctrl & FCTRL_UPE != 0 {
            return true;
        }
        let (ral, rah) = (self.reg(RAL0), self.reg(RAH0));
        rah & RAH_AV != 0 && dst[..4] == ral.to_le_bytes() && dst[4..6] == rah.to_le_bytes()[..2]
    }

    pub fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, false)
    }

    /// The MAC stores the frame but flags `errors` in the write-back status/error word.
    pub fn inject_with_errors(&mut self, frame: &[u8], errors: u32) -> RxOutcome {
        self.receive(frame, errors, false)
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
            self.bump(CRCERRS, 1);
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
        let count = (self.reg(RDLEN0) / 16) as usize;
        let (head, tail) = (self.reg(RDH0) as usize, self.reg(RDT0) as usize);
        if count == 0 || head >= count || tail >= count {
            self.protocol_errors.push(format!("RDH {head} / RDT {tail} outside ring of {count}"));
            return RxOutcome::Missed;
        }
        let chunks = data.len().div_ceil(bsize);
        if (tail + count - head) % count < chunks {
            if srrctl & SRRCTL_DROP_EN != 0 {
                self.bump(QPRDC0, 1);
            } else {
                // Without DROP_EN the frame would sit in the packet buffer and
                // block the port; the model counts it as the overflow it becomes.
                self.bump(MPC0, 1);
            }
            return RxOutcome::Missed;
        }
        let base = u64::from(self.reg(RDBAH0)) << 32 | u64::from(self.reg(RDBAL0));
        let mut head = head;
        for (i, chunk) in data.chunks(bsize).enumerate() {
            let desc = base + (head * 16) as u64;
            let addr = self.mem.read_u64(desc);
            if !self.mem.dma_write(addr, chunk) {
                self.protocol_errors.push(format!("receive buffer {addr:#x} outside DMA memory"));
            }
            let last = i + 1 == chunks;
            let status = RXDADV_STAT_DD | if last { RXDADV_STAT_EOP | errors } else { 0 };
            // Write-back: packet info (lower qword), status/error and length (upper).
            self.mem.write_u64(desc, 0);
            self.mem.write_u64(desc + 8, u64::from(status) | (chunk.len() as u64) << 32);
            head = (head + 1) % count;
            if head == 0 {
                self.rx_wraps += 1;
            }
        }
        self.set(RDH0, head as u32);
        self.bump(GPRC, 1);
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
        let count = (self.reg(TDLEN0) / 16) as usize;
        let base = u64::from(self.reg(TDBAH0)) << 32 | u64::from(self.reg(TDBAL0));
        let (mut head, tail) = (self.reg(TDH0) as usize, self.reg(TDT0) as usize);
        if count == 0 || tail >= count {
            self.protocol_errors.push(format!("TDT {tail} outside ring of {count}"));
            return wire;
        }
        let mut written_back = false;
        let mut done = 0;
        while head != tail && done < max {
            let desc = base + (head * 16) as u64;
            let addr = self.mem.read_u64(desc);
            let hi = self.mem.read_u64(desc + 8);
            let cmd_type_len = hi as u32;
            let olinfo = (hi >> 32) as u32;
            if cmd_type_len & ADVTXD_DCMD_DEXT == 0 || cmd_type_len & (0xF << 20) != ADVTXD_DTYP_DATA {
                self.protocol_errors.push(format!("not an advanced data descriptor: {cmd_type_len:#x}"));
            }
            let len = (cmd_type_len & 0xFFFF) as usize;
            if self.tx_partial.is_empty() && cmd_type_len & ADVTXD_DCMD_EOP != 0 && (olinfo >> ADVTXD_PAYLEN_SHIFT) as usize != len {
                self.protocol_errors.push(format!("PAYLEN {} for a {len}-byte frame", olinfo >> ADVTXD_PAYLEN_SHIFT));
            }
            let mut bytes = vec![0u8; len];
            if !self.mem.dma_read(addr, &mut bytes) {
                self.protocol_errors.push(format!("transmit buffer {addr:#x} outside DMA memory"));
            }
            self.tx_partial.extend_from_slice(&bytes);
            if cmd_type_len & ADVTXD_DCMD_RS != 0 {
                self.mem.write_u64(desc + 8, u64::from(ADVTXD_STAT_DD) << 32);
                written_back = true;
            }
            if cmd_type_len & ADVTXD_DCMD_EOP != 0 {
                let mut frame = std::mem::take(&mut self.tx_partial);
                if cmd_type_len & ADVTXD_DCMD_IFCS == 0 || self.reg(HLREG0) & HLREG0_TXCRCEN == 0 {
                    self.protocol_errors.push("frame sent without FCS".into());
                }
                if self.reg(HLREG0) & HLREG0_TXPADEN != 0 && frame.len() < 60 {
                    frame.resize(60, 0);
                }
                self.bump(GPTC, 1);
                self.gotc += frame.len() as u64 + 4;
                wire.push(frame);
            }
            head = (head + 1) % count;
            if head == 0 {
                self.tx_wraps += 1;
            }
            done += 1;
        }
        self.set(TDH0, head as u32);
        if written_back {
            let cause = self.queue_cause(8);
            self.raise(cause);
        }
        wire
    }
}

impl DeviceModel for IxgbeModel {
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
                self.set(EICR, 0);
                self.irq_asserted = false;
                v
            }
            CRCERRS | MPC0 | QPRDC0 | GPRC | GPTC => {
                let v = self.reg(reg);
                self.set(reg, 0);
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
                    self.set(CTRL, value);
                }
                self.update_link();
            }
            AUTOC => {
                self.set(AUTOC, value & !AUTOC_AN_RESTART);
                if value & AUTOC_AN_RESTART != 0 {
                    self.an_restart_at = Some(self.now_us);
                    self.update_link();
                }
            }
            RDRXCTL => self.set(RDRXCTL, value & !RDRXCTL_DMAIDONE),
            EICR => {
                let v = self.reg(EICR) & !value;
                self.set(EICR, v);
            }
            EICS => self.raise(value),
            EIMS => {
                let v = self.reg(EIMS) | value;
                self.set(EIMS, v);
                self.check_irq();
            }
            EIMC => {
                let v = self.reg(EIMS) & !value;
                self.set(EIMS, v);
            }
            RDT0 | TDT0 if value >= 8192 => {
                self.protocol_errors.push(format!("tail {value} written to {reg:#x}"));
            }
            LINKS | STATUS => {}
            _ => self.set(reg, value),
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

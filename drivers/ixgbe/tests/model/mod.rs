//! A register-level model of an 82599 / X550 port, as far as the driver uses
//! it: global reset (CTRL.RST/LRST self-clear after a while), EEPROM auto-read
//! (EEC.ARD) and DMA init (RDRXCTL.DMAIDONE) completing after reset, the MAC
//! link (82599: up only after AUTOC selects 10G serial and restarts; X550: up
//! after reset), address filtering (RAL0, FCTRL.BAM/UPE/MPE), queue 0 with
//! advanced receive (one buffer, SRRCTL) and transmit data descriptors,
//! EICR/EIMS/EIMC with IVAR mapping and EITR moderation, clear-on-read statistics.
//!
//! What every Intel MAC shares is `nic_testkit::mac`; this file is what the 82599/X550
//! datasheets say differently. What a real device would mishandle silently is recorded in
//! `protocol_errors`.

#![allow(dead_code)]

use nic_ixgbe::regs::*;
use nic_testkit::conformance::RxOutcome;
use nic_testkit::mac::{Layout, MacCore, MacModel, Received, RxControl, TxControl};
use nic_testkit::queue::AdvancedDevice as Advanced;
use nic_testkit::{Arena, DeviceModel};
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

static LAYOUT: Layout = Layout { rx: RX_QUEUE, tx: TX_QUEUE, address: RA0, stats: STATS };

/// Reset values the driver must change (per the datasheet's defaults): legacy
/// descriptors in SRRCTL, reserved bit 12 set in DCA_RXCTRL, CRC strip on.
const SRRCTL_RESET: u32 = 2;
const DCA_RXCTRL_RESET: u32 = 1 << 12;

pub struct IxgbeModel {
    pub core: MacCore,
    part: Part,
    reset_until: Option<u64>,
    init_done_at: u64,
    an_restart_at: Option<u64>,
    /// A broken device: CTRL.RST never clears.
    pub reset_stuck: bool,
    /// Gone from the bus (surprise removal, a PCIe error): every register reads all ones.
    pub gone: bool,
}

impl IxgbeModel {
    pub fn new(mem: Rc<Arena>, part: Part, eeprom_mac: [u8; 6]) -> Self {
        let mut m = Self {
            core: MacCore::new(mem, eeprom_mac, &LAYOUT),
            part,
            reset_until: None,
            init_done_at: 0,
            an_restart_at: None,
            reset_stuck: false,
            gone: false,
        };
        m.defaults();
        m
    }

    fn defaults(&mut self) {
        self.core.reset();
        let regs = &mut self.core.regs;
        regs.set(SRRCTL0, SRRCTL_RESET);
        regs.set(DCA_RXCTRL0, DCA_RXCTRL_RESET);
        regs.set(HLREG0, HLREG0_TXCRCEN | HLREG0_RXCRCSTRP | HLREG0_TXPADEN);
        // RDRXCTL.CRCSTRIP resets to 0 although HLREG0.RXCRCSTRP resets to 1.
        // AUTOC resets to KX4/KX auto-negotiation (LMS 110), which a 10G SFP+ link never completes.
        regs.set(AUTOC, 0b110 << AUTOC_LMS_SHIFT);
        self.an_restart_at = None;
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.core.reg(reg)
    }

    fn in_reset(&self) -> bool {
        self.reset_until.is_some_and(|t| self.reset_stuck || self.core.now_us < t)
    }

    /// EEPROM auto-read done (X550: no EEPROM wait modelled).
    fn init_done(&self) -> bool {
        !self.in_reset() && (self.part == Part::X550 || self.core.now_us >= self.init_done_at)
    }

    fn dma_init_done(&self) -> bool {
        !self.in_reset() && self.core.now_us + INIT_DONE_US >= self.init_done_at + DMA_INIT_US
    }

    pub fn link_up(&self) -> bool {
        if !self.core.cable || !self.init_done() {
            return false;
        }
        match self.part {
            Part::X550 => true,
            Part::I82599 => {
                self.reg(AUTOC) & AUTOC_LMS_MASK == AUTOC_LMS_10G_SERIAL
                    && self.an_restart_at.is_some_and(|t| self.core.now_us >= t + LINK_TRAIN_US)
            }
        }
    }

    fn update_link(&mut self) {
        let up = self.link_up();
        if self.core.link_changed(up) {
            self.raise(EICR_LSC);
        }
    }

    /// The EICR bit IVAR0 maps a queue cause to (RX queue 0 in bits 7:0, TX queue 0 in 15:8).
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
        self.core.regs.set(EICR, v);
        self.check_irq();
    }

    fn check_irq(&mut self) {
        // EITR's interval (bits 11:3) counts 2 us units.
        let interval_us = u64::from(self.reg(EITR0) >> 3 & 0x1FF) * 2;
        let pending = self.reg(EICR) & self.reg(EIMS) != 0;
        self.core.update_irq(pending, interval_us);
    }
}

impl MacModel for IxgbeModel {
    type Format = Advanced;
    const RX_ERROR: u32 = RXDADV_ERR_RXE;

    fn core(&self) -> &MacCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut MacCore {
        &mut self.core
    }

    fn link_partner(&mut self, connected: bool) {
        self.core.cable = connected;
        self.update_link();
    }

    fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome {
        if self.reg(RXCTRL) & RXCTRL_RXEN == 0 || self.reg(RXDCTL0) & RXDCTL_ENABLE == 0 || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        let (hlreg0, fctrl, srrctl) = (self.reg(HLREG0), self.reg(FCTRL), self.reg(SRRCTL0));
        if (hlreg0 & HLREG0_RXCRCSTRP != 0) != (self.reg(RDRXCTL) & RDRXCTL_CRCSTRIP != 0) {
            self.core.error("HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP disagree");
        }
        if srrctl & SRRCTL_DESCTYPE_MASK != SRRCTL_DESCTYPE_ADV_ONEBUF {
            self.core.error(format!("SRRCTL descriptor type {:#x}, not advanced one-buffer", srrctl >> 25 & 7));
            return RxOutcome::DroppedBad;
        }
        let buffer_size = (srrctl & SRRCTL_BSIZEPACKET_MASK) as usize * 1024;
        if buffer_size == 0 {
            self.core.error("SRRCTL.BSIZEPACKET is 0");
            return RxOutcome::DroppedBad;
        }
        let ctl = RxControl {
            broadcast: fctrl & FCTRL_BAM != 0,
            all_multicast: fctrl & FCTRL_MPE != 0,
            promiscuous: fctrl & FCTRL_UPE != 0,
            store_bad: fctrl & FCTRL_SBP != 0,
            long_frames: hlreg0 & HLREG0_JUMBOEN != 0,
            strip_fcs: hlreg0 & HLREG0_RXCRCSTRP != 0,
            buffer_size,
        };
        match self.core.receive::<Advanced>(&ctl, frame, errors, bad_crc) {
            Received::Delivered { .. } => {
                let cause = self.queue_cause(0);
                self.raise(cause);
                RxOutcome::Delivered
            }
            Received::Refused(outcome) => outcome,
            Received::NoRoom if srrctl & SRRCTL_DROP_EN != 0 => {
                self.core.regs.bump(QPRDC0, 1);
                RxOutcome::Missed
            }
            Received::NoRoom | Received::BadRing => {
                // Without DROP_EN the frame would sit in the packet buffer and block the port;
                // the model counts it as the overflow it becomes.
                self.core.regs.bump(MPC0, 1);
                RxOutcome::Missed
            }
        }
    }

    fn send(&mut self, max: usize) -> Vec<Vec<u8>> {
        if self.reg(DMATXCTL) & DMATXCTL_TE == 0 || self.reg(TXDCTL0) & TXDCTL_ENABLE == 0 || !self.link_up() {
            return Vec::new();
        }
        let hlreg0 = self.reg(HLREG0);
        let ctl = TxControl { fcs: hlreg0 & HLREG0_TXCRCEN != 0, pad: hlreg0 & HLREG0_TXPADEN != 0 };
        let (wire, written_back) = self.core.transmit::<Advanced>(&ctl, max);
        if written_back {
            let cause = self.queue_cause(8);
            self.raise(cause);
        }
        wire
    }
}

impl DeviceModel for IxgbeModel {
    fn protocol_errors(&self) -> &[String] {
        &self.core.protocol_errors
    }

    fn read(&mut self, reg: usize) -> u32 {
        if self.gone {
            return u32::MAX;
        }
        if let Some(v) = self.core.read_stat(reg) {
            return v;
        }
        match reg {
            CTRL => self.reg(CTRL) | if self.in_reset() { CTRL_RST_MASK } else { 0 },
            EEC => {
                if self.part == Part::X550 {
                    self.core.error("EEC read on an X550 (it lives elsewhere there)");
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
            LINKS if self.link_up() => LINKS_UP | LINKS_SPEED_10G,
            LINKS => 0,
            EICR => {
                self.core.deassert();
                self.core.regs.take(EICR)
            }
            _ => self.reg(reg),
        }
    }

    fn write(&mut self, reg: usize, value: u32) {
        if self.in_reset() {
            self.core.error(format!("write {reg:#x} during reset"));
            return;
        }
        let regs = &mut self.core.regs;
        match reg {
            CTRL if value & CTRL_RST_MASK != 0 => {
                self.defaults();
                self.reset_until = Some(self.core.now_us + RESET_US);
                self.init_done_at = self.core.now_us + RESET_US + INIT_DONE_US;
                self.update_link();
            }
            CTRL => {
                regs.set(CTRL, value);
                self.update_link();
            }
            AUTOC => {
                regs.set(AUTOC, value & !AUTOC_AN_RESTART);
                if value & AUTOC_AN_RESTART != 0 {
                    self.an_restart_at = Some(self.core.now_us);
                    self.update_link();
                }
            }
            RDRXCTL => regs.set(RDRXCTL, value & !RDRXCTL_DMAIDONE),
            EICR => regs.set(EICR, regs.get(EICR) & !value),
            EICS => self.raise(value),
            EIMS => {
                regs.set(EIMS, regs.get(EIMS) | value);
                self.check_irq();
            }
            EIMC => regs.set(EIMS, regs.get(EIMS) & !value),
            RDT0 | TDT0 if value >= 8192 => self.core.error(format!("tail {value} written to {reg:#x}")),
            LINKS | STATUS => {}
            _ => regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.core.now_us += us;
        if !self.reset_stuck && self.reset_until.is_some_and(|t| self.core.now_us >= t) {
            self.reset_until = None;
        }
        self.update_link();
        self.check_irq();
    }
}

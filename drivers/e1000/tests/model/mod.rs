//! A register-level model of the 82540EM/82574L, as far as the driver uses it: reset (CTRL.RST
//! self-clears after a while), EEPROM-loaded RAL0/RAH0, link (STATUS.LU needs a cable and
//! CTRL.SLU), address filtering (RAL0, BAM, UPE, MPE), legacy receive and transmit descriptor
//! rings in DMA memory, interrupt causes (ICR/IMS/IMC/ICS) with ITR moderation, clear-on-read
//! statistics. What every Intel MAC shares is `nic_testkit::mac`; this file is what the
//! 8254x/82574 datasheets say differently.
//!
//! The model also records what a real device would silently misbehave on
//! (`protocol_errors`), so tests fail on a driver that, say, forgets IFCS.

#![allow(dead_code)]

use nic_e1000::regs::*;
use nic_testkit::conformance::RxOutcome;
use nic_testkit::mac::{Layout, MacCore, MacModel, Received, RxControl, TxControl};
use nic_testkit::queue::{DeviceFormat, TxDesc};
use nic_testkit::{Arena, DeviceModel};
use std::rc::Rc;

/// How long CTRL.RST stays set after the driver writes it.
pub const RESET_US: u64 = 3000;

static LAYOUT: Layout = Layout { rx: RX_QUEUE, tx: TX_QUEUE, address: RA0, stats: STATS };

pub struct E1000Model {
    pub core: MacCore,
    reset_until: Option<u64>,
    /// Gone from the bus (surprise removal, a PCIe error): every register reads all ones.
    pub gone: bool,
}

impl E1000Model {
    pub fn new(mem: Rc<Arena>, eeprom_mac: [u8; 6]) -> Self {
        Self { core: MacCore::new(mem, eeprom_mac, &LAYOUT), reset_until: None, gone: false }
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.core.reg(reg)
    }

    fn in_reset(&self) -> bool {
        self.reset_until.is_some_and(|t| self.core.now_us < t)
    }

    pub fn link_up(&self) -> bool {
        self.core.cable && !self.in_reset() && self.reg(CTRL) & CTRL_SLU != 0
    }

    fn update_link(&mut self) {
        let up = self.link_up();
        if self.core.link_changed(up) {
            self.raise(ICR_LSC);
        }
    }

    /// Latches causes in ICR and asserts the interrupt if unmasked and ITR allows.
    fn raise(&mut self, causes: u32) {
        let icr = self.reg(ICR) | causes;
        self.core.regs.set(ICR, icr);
        self.check_irq();
    }

    fn check_irq(&mut self) {
        // ITR counts 256 ns units.
        let interval_us = u64::from(self.reg(ITR) & 0xFFFF) * 256 / 1000;
        let pending = self.reg(ICR) & self.reg(IMS) != 0;
        self.core.update_irq(pending, interval_us);
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
}

impl MacModel for E1000Model {
    type Format = Legacy;
    /// RXE: a receive data error the MAC stores anyway.
    const RX_ERROR: u32 = 1 << 7;

    fn core(&self) -> &MacCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut MacCore {
        &mut self.core
    }

    fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome {
        let rctl = self.reg(RCTL);
        if rctl & RCTL_EN == 0 || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        let buffer_size = self.rx_buffer_size();
        if buffer_size == 0 {
            self.core.error("reserved RCTL.BSIZE encoding");
            return RxOutcome::Missed;
        }
        let mut ctl = RxControl::from_rctl(rctl, buffer_size);
        // Broadcast is a multicast address: on these parts MPE lets it through too.
        ctl.broadcast |= ctl.all_multicast;
        match self.core.receive::<Legacy>(&ctl, frame, errors, bad_crc) {
            Received::Delivered { free, count } => {
                // RCTL.RDMTS = 00: the threshold is half the ring.
                let low = if free < count / 2 { ICR_RXDMT0 } else { 0 };
                self.raise(ICR_RXT0 | low);
                RxOutcome::Delivered
            }
            Received::Refused(outcome) => outcome,
            Received::NoRoom => {
                self.core.regs.bump(MPC, 1);
                self.core.regs.bump(RNBC, 1);
                self.raise(ICR_RXO);
                RxOutcome::Missed
            }
            Received::BadRing => {
                self.core.regs.bump(MPC, 1);
                RxOutcome::Missed
            }
        }
    }

    fn link_partner(&mut self, connected: bool) {
        self.core.cable = connected;
        self.update_link();
    }

    fn send(&mut self, max: usize) -> Vec<Vec<u8>> {
        let tctl = self.reg(TCTL);
        if tctl & TCTL_EN == 0 || !self.link_up() {
            return Vec::new();
        }
        let (wire, written_back) = self.core.transmit::<Legacy>(&TxControl { fcs: true, pad: tctl & TCTL_PSP != 0 }, max);
        if written_back {
            self.raise(ICR_TXDW);
        }
        wire
    }
}

/// The legacy descriptor format, as the device reads and writes it.
pub struct Legacy;

impl DeviceFormat for Legacy {
    fn rx_buffer(lo: u64, _hi: u64) -> u64 {
        lo
    }

    fn rx_writeback(lo: u64, _hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64) {
        let status = RXD_STAT_DD | if eop { RXD_STAT_EOP } else { 0 };
        (lo, len as u64 | u64::from(status) << 32 | u64::from(errors as u8) << 40)
    }

    fn rx_claim(lo: u64, hi: u64, len: u16) -> (u64, u64) {
        (lo, hi & !0xFFFF | u64::from(len))
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

impl DeviceModel for E1000Model {
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
            CTRL => self.reg(CTRL) | if self.in_reset() { CTRL_RST } else { 0 },
            STATUS if self.link_up() => STATUS_LU | STATUS_FD | 0b10 << STATUS_SPEED_SHIFT,
            STATUS => 0,
            ICR => {
                self.core.deassert();
                self.core.regs.take(ICR)
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
            CTRL if value & CTRL_RST != 0 => {
                // Every register, CTRL included, returns to its default (0 here).
                self.core.reset();
                self.reset_until = Some(self.core.now_us + RESET_US);
                self.update_link();
            }
            CTRL => {
                regs.set(CTRL, value);
                self.update_link();
            }
            ICR => regs.set(ICR, regs.get(ICR) & !value),
            ICS => self.raise(value),
            IMS => {
                regs.set(IMS, regs.get(IMS) | value);
                self.check_irq();
            }
            IMC => regs.set(IMS, regs.get(IMS) & !value),
            STATUS => {}
            _ => regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.core.now_us += us;
        if self.reset_until.is_some_and(|t| self.core.now_us >= t) {
            self.reset_until = None;
            self.update_link();
        }
        self.check_irq();
    }
}

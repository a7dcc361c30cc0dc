//! A register-level model of one 82576 or I350 port, as far as the driver uses it, from the
//! 82576 and I350 datasheets (and, where they are silent, what QEMU's 82576 does):
//! - reset: CTRL.RST self-clears after a while; writes meanwhile are lost; a reset while PCIe
//!   mastering is still enabled (CTRL.GIO_MASTER_DISABLE clear) is a protocol error; the NVM
//!   auto-read (EECD.AUTO_RD) then loads RAL0/RAH0; queue 0 comes out of reset enabled;
//! - the copper PHY behind MDIC (address 1 only; READY some microseconds after the command),
//!   under the software/firmware semaphore (SWSM.SMBI set by reading, SWESMBI, SW_FW_SYNC): a
//!   PHY access without owning the port's PHY bit is a protocol error, and so is a PHY reset
//!   (CTRL.PHY_RST) while manageability blocks it (MANC.BLK_PHY_RST_ON_IDE);
//! - the link: up only with a cable, CTRL.SLU, the PHY powered up and out of reset, the I350's
//!   PHPM.GO_LINKD clear, and auto-negotiation restarted since the last reset and finished
//!   ([`AUTONEG_US`] later); a change raises ICR.LSC;
//! - queues: RXDCTL/TXDCTL.ENABLE take effect some microseconds after the write; ring base and
//!   length written while a queue is enabled, or RDT written while it is disabled (ignored), are
//!   protocol errors; SRRCTL must select advanced one-buffer descriptors;
//! - interrupts: with GPIE.MSIX_MODE, queue causes go to EICR bits through IVAR0 and the other
//!   causes (if unmasked in IMS) through IVAR_MISC, moderated per vector by EITR; without it,
//!   everything is ICR/IMS with EITR0; the mode must match what the platform set up in PCI
//!   configuration space ([`IgbModel::msix`]).
//!
//! What every Intel MAC shares (filtering, descriptor DMA, statistics) is `nic_testkit::mac`.

#![allow(dead_code)]

use nic_igb::regs::*;
use nic_testkit::conformance::RxOutcome;
use nic_testkit::mac::{Layout, MacCore, MacModel, Received, RxControl, TxControl};
use nic_testkit::queue::AdvancedDevice;
use nic_testkit::{Arena, DeviceModel};
use std::rc::Rc;

/// How long CTRL.RST stays set.
pub const RESET_US: u64 = 2_000;
/// The NVM auto-read finishes this long after reset clears.
pub const AUTO_READ_US: u64 = 1_000;
/// A queue enable or disable takes effect this long after the write.
pub const QUEUE_ENABLE_US: u64 = 20;
/// An MDIC command completes this long after it is written.
pub const MDIC_US: u64 = 10;
/// The PHY's configuration reload after a PHY reset.
pub const PHY_CFG_US: u64 = 1_000;
/// Auto-negotiation takes this long (QEMU's 82576 takes 500 ms; real copper 2-3 s).
pub const AUTONEG_US: u64 = 500_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    I82576,
    I350,
}

static LAYOUT: Layout = Layout { rx: RX_QUEUE, tx: TX_QUEUE, address: RA0, stats: STATS };

const PHY_CONTROL_DEFAULT: u16 = MII_CR_AUTO_NEG_EN;
/// IEEE defaults after a PHY reset: 10/100 half and full duplex advertised; 1000BASE-T full.
const PHY_AUTONEG_ADV_DEFAULT: u16 = 0x01E1;
const PHY_1000T_CTRL_DEFAULT: u16 = CR_1000T_FD_CAPS;

/// A queue enable bit that takes effect a while after it is written.
#[derive(Default)]
struct QueueEnable {
    enabled: bool,
    pending: Option<(bool, u64)>,
}

impl QueueEnable {
    fn write(&mut self, on: bool, now: u64) {
        self.pending = (on != self.enabled).then_some((on, now + QUEUE_ENABLE_US));
    }
    fn tick(&mut self, now: u64) {
        if let Some((on, at)) = self.pending {
            if now >= at {
                self.enabled = on;
                self.pending = None;
            }
        }
    }
}

pub struct IgbModel {
    pub core: MacCore,
    part: Part,
    /// The port (PCI function) number, STATUS.LAN_ID.
    port: u32,
    /// The platform enabled MSI-X in PCI configuration space (else one line: INTx or MSI).
    pub msix: bool,
    reset_until: Option<u64>,
    auto_read_at: u64,
    rx_queue: QueueEnable,
    tx_queue: QueueEnable,
    // The PHY.
    phy_control: u16,
    phy_autoneg_adv: u16,
    phy_1000t_ctrl: u16,
    an_restart_at: Option<u64>,
    phy_cfg_done_at: Option<u64>,
    mdic: u32,
    mdic_done_at: u64,
    /// Manageability firmware owns the port's PHY (SW_FW_SYNC) and never lets go.
    pub firmware_holds_phy: bool,
    /// Manageability firmware blocks PHY resets (MANC.BLK_PHY_RST_ON_IDE).
    pub phy_reset_blocked: bool,
    /// A broken device: CTRL.RST never clears.
    pub reset_stuck: bool,
    /// The NVM's auto-read loads no address into RAL0/RAH0 (the address is still in the NVM,
    /// word 0 of the port's section, for EERD).
    pub no_auto_load: bool,
    /// The device is gone from the bus (surprise removal, a PCIe link down): every register
    /// reads all ones, as a PCIe read nobody completes does.
    pub gone: bool,
    eerd: u32,
}

impl IgbModel {
    pub fn new(mem: Rc<Arena>, part: Part, port: u32, eeprom_mac: [u8; 6], msix: bool) -> Self {
        let mut m = Self {
            core: MacCore::new(mem, eeprom_mac, &LAYOUT),
            part,
            port,
            msix,
            reset_until: None,
            auto_read_at: 0,
            rx_queue: QueueEnable::default(),
            tx_queue: QueueEnable::default(),
            phy_control: PHY_CONTROL_DEFAULT,
            phy_autoneg_adv: PHY_AUTONEG_ADV_DEFAULT,
            phy_1000t_ctrl: PHY_1000T_CTRL_DEFAULT,
            an_restart_at: None,
            phy_cfg_done_at: Some(0),
            mdic: 0,
            mdic_done_at: 0,
            firmware_holds_phy: false,
            phy_reset_blocked: false,
            reset_stuck: false,
            no_auto_load: false,
            gone: false,
            eerd: 0,
        };
        m.defaults();
        m
    }

    fn defaults(&mut self) {
        self.core.reset();
        // Queue 0 of each direction is enabled out of reset.
        self.rx_queue = QueueEnable { enabled: true, pending: None };
        self.tx_queue = QueueEnable { enabled: true, pending: None };
        self.core.regs.set(RXDCTL0, XDCTL_ENABLE);
        self.core.regs.set(TXDCTL0, XDCTL_ENABLE);
        self.core.regs.set(SRRCTL0, 2);
        // The reset renegotiates: the link stays down until auto-negotiation is restarted.
        self.an_restart_at = None;
        if self.no_auto_load {
            self.core.regs.set(RAL0, 0);
            self.core.regs.set(RAH0, 0);
        }
    }

    /// The PHY is left powered down (as a previous driver or firmware may leave it).
    pub fn power_down_phy(&mut self) {
        self.phy_control |= MII_CR_POWER_DOWN;
    }

    /// Firmware leaves the I350's link disconnected (PHPM.GO_LINKD).
    pub fn set_go_linkd(&mut self) {
        let v = self.reg(PHPM) | PHPM_GO_LINKD;
        self.core.regs.set(PHPM, v);
    }

    pub fn reg(&self, reg: usize) -> u32 {
        self.core.reg(reg)
    }

    /// What the PHY register `reg` holds.
    pub fn phy_reg(&self, reg: u32) -> u16 {
        match reg {
            PHY_CONTROL => self.phy_control,
            PHY_STATUS => {
                let up = self.link_up();
                // Extended capability, link up, auto-negotiation able and complete.
                1 | if up { 1 << 2 | 1 << 5 } else { 0 } | 1 << 3
            }
            PHY_AUTONEG_ADV => self.phy_autoneg_adv,
            PHY_1000T_CTRL => self.phy_1000t_ctrl,
            2 => 0x0154,
            3 => 0x03B0,
            _ => 0,
        }
    }

    fn in_reset(&self) -> bool {
        self.reset_until.is_some_and(|t| self.reset_stuck || self.core.now_us < t)
    }

    fn auto_read_done(&self) -> bool {
        !self.in_reset() && self.core.now_us >= self.auto_read_at
    }

    fn phy_in_reset(&self) -> bool {
        self.reg(CTRL) & CTRL_PHY_RST != 0
    }

    pub fn link_up(&self) -> bool {
        let now = self.core.now_us;
        self.core.cable
            && !self.in_reset()
            && !self.phy_in_reset()
            && self.reg(CTRL) & CTRL_SLU != 0
            && self.phy_control & MII_CR_POWER_DOWN == 0
            && !(self.part == Part::I350 && self.reg(PHPM) & PHPM_GO_LINKD != 0)
            && (self.phy_autoneg_adv != 0 || self.phy_1000t_ctrl & CR_1000T_FD_CAPS != 0)
            && self.an_restart_at.is_some_and(|t| now >= t + AUTONEG_US)
    }

    fn update_link(&mut self) {
        let up = self.link_up();
        if self.core.link_changed(up) {
            self.raise_other(ICR_LSC);
        }
    }

    fn msix_mode(&self) -> bool {
        self.reg(GPIE) & GPIE_MSIX_MODE != 0
    }

    /// The EICR bit an IVAR entry (8 bits at `shift` of `reg`) points at, if valid.
    fn ivar_bit(&self, reg: usize, shift: u32) -> u32 {
        let entry = self.reg(reg) >> shift & 0xFF;
        if entry & IVAR_VALID != 0 {
            1 << (entry & 0x1F)
        } else {
            0
        }
    }

    fn check_mode(&mut self) {
        if self.msix_mode() != self.msix {
            self.core.error("GPIE.MSIX_MODE does not match the interrupt mode the platform set up");
        }
    }

    /// A queue cause: receive (`tx` false) or transmit written back.
    fn raise_queue(&mut self, tx: bool) {
        self.check_mode();
        if self.msix_mode() {
            let bit = self.ivar_bit(IVAR0, if tx { 8 } else { 0 });
            let v = self.reg(EICR) | bit;
            self.core.regs.set(EICR, v);
        } else {
            let v = self.reg(ICR) | if tx { ICR_TXDW } else { ICR_RXDW };
            self.core.regs.set(ICR, v);
        }
        self.check_irq();
    }

    /// One of the other causes (link change, overrun, descriptors low).
    fn raise_other(&mut self, cause: u32) {
        let v = self.reg(ICR) | cause;
        self.core.regs.set(ICR, v);
        if self.msix_mode() && cause & self.reg(IMS) != 0 {
            let bit = self.ivar_bit(IVAR_MISC, 8);
            let v = self.reg(EICR) | bit;
            self.core.regs.set(EICR, v);
        }
        self.check_irq();
    }

    fn check_irq(&mut self) {
        let (pending, eitr) = if self.msix_mode() {
            let pending = self.reg(EICR) & self.reg(EIMS);
            // The moderation of the lowest vector with a pending cause.
            let vector = pending.trailing_zeros().min(24) as usize;
            (pending != 0, self.reg(EITR0 + 4 * vector))
        } else {
            (self.reg(ICR) & self.reg(IMS) != 0, self.reg(EITR0))
        };
        let interval_us = u64::from((eitr & EITR_INTERVAL_MASK) >> EITR_INTERVAL_SHIFT);
        self.core.update_irq(pending, interval_us);
    }

    fn mdic_command(&mut self, value: u32) {
        let owned = self.reg(SW_FW_SYNC) & sw_fw_sync_phy(self.port) != 0;
        if !owned {
            self.core.error("MDIC access without the PHY's SW_FW_SYNC bit");
        }
        self.mdic_done_at = self.core.now_us + MDIC_US;
        let phy = value >> MDIC_PHYADD_SHIFT & 0x1F;
        let reg = value >> MDIC_REGADD_SHIFT & 0x1F;
        if phy != PHY_ADDRESS {
            self.mdic = value | MDIC_ERROR;
            return;
        }
        if self.phy_in_reset() {
            self.core.error("MDIC access while the PHY is held in reset");
        }
        match value & (0b11 << 26) {
            MDIC_OP_READ => self.mdic = value & !MDIC_DATA_MASK | u32::from(self.phy_reg(reg)),
            MDIC_OP_WRITE => {
                self.mdic = value;
                let data = (value & MDIC_DATA_MASK) as u16;
                match reg {
                    PHY_CONTROL => {
                        self.phy_control = data & !(1 << 15 | MII_CR_RESTART_AUTO_NEG);
                        if data & 1 << 15 != 0 {
                            self.phy_control = PHY_CONTROL_DEFAULT;
                        }
                        if data & MII_CR_RESTART_AUTO_NEG != 0 && data & MII_CR_AUTO_NEG_EN != 0 {
                            self.an_restart_at = Some(self.core.now_us);
                        }
                    }
                    PHY_AUTONEG_ADV => self.phy_autoneg_adv = data,
                    PHY_1000T_CTRL => self.phy_1000t_ctrl = data,
                    _ => self.mdic |= MDIC_ERROR,
                }
                self.update_link();
            }
            _ => self.mdic = value | MDIC_ERROR,
        }
    }

    fn phy_reset(&mut self) {
        if self.phy_reset_blocked {
            self.core.error("PHY reset while manageability blocks it (MANC.BLK_PHY_RST_ON_IDE)");
        }
        self.phy_control = PHY_CONTROL_DEFAULT;
        self.phy_autoneg_adv = PHY_AUTONEG_ADV_DEFAULT;
        self.phy_1000t_ctrl = PHY_1000T_CTRL_DEFAULT;
        self.an_restart_at = None;
        self.phy_cfg_done_at = None;
    }

    fn queue_write(&mut self, reg: usize, value: u32) {
        let now = self.core.now_us;
        let (rx_on, tx_on) = (self.rx_queue.enabled, self.tx_queue.enabled);
        match reg {
            RDBAL0 | RDBAH0 | RDLEN0 | RDH0 if rx_on => {
                self.core.error(format!("receive ring register {reg:#x} written while the queue is enabled"))
            }
            TDBAL0 | TDBAH0 | TDLEN0 | TDH0 if tx_on => {
                self.core.error(format!("transmit ring register {reg:#x} written while the queue is enabled"))
            }
            // The datasheets: RDT writes are ignored while the queue is disabled (zeroing it
            // during set-up loses nothing).
            RDT0 if !rx_on && value != self.core.reg(RDT0) => {
                self.core.error("RDT written while receive queue 0 is disabled (ignored)");
                return;
            }
            RXDCTL0 => self.rx_queue.write(value & XDCTL_ENABLE != 0, now),
            TXDCTL0 => self.tx_queue.write(value & XDCTL_ENABLE != 0, now),
            _ => {}
        }
        self.core.regs.set(reg, value);
    }
}

impl MacModel for IgbModel {
    type Format = AdvancedDevice;
    const RX_ERROR: u32 = RXDEXT_ERR_RXE;

    fn core(&self) -> &MacCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut MacCore {
        &mut self.core
    }

    fn link_partner(&mut self, connected: bool) {
        self.core.cable = connected;
        if connected {
            // A partner plugged in negotiates afresh.
            if self.an_restart_at.is_some() {
                self.an_restart_at = Some(self.core.now_us);
            }
        }
        self.update_link();
    }

    fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome {
        let rctl = self.reg(RCTL);
        if rctl & RCTL_EN == 0 || !self.rx_queue.enabled || !self.link_up() {
            return RxOutcome::NotReceiving;
        }
        let srrctl = self.reg(SRRCTL0);
        if srrctl & SRRCTL_DESCTYPE_MASK != SRRCTL_DESCTYPE_ADV_ONEBUF {
            self.core.error(format!("SRRCTL descriptor type {:#x}, not advanced one-buffer", srrctl >> 25 & 7));
            return RxOutcome::DroppedBad;
        }
        let buffer_size = (srrctl & SRRCTL_BSIZEPACKET_MASK) as usize * 1024;
        if buffer_size == 0 {
            self.core.error("SRRCTL.BSIZEPACKET is 0");
            return RxOutcome::DroppedBad;
        }
        let ctl = RxControl::from_rctl(rctl, buffer_size);
        match self.core.receive::<AdvancedDevice>(&ctl, frame, errors, bad_crc) {
            Received::Delivered { free, .. } => {
                self.raise_queue(false);
                // SRRCTL.RDMTS (bits 24:20) counts 16 descriptors.
                if free <= (srrctl >> 20 & 0x1F) as usize * 16 {
                    self.raise_other(ICR_RXDMT0);
                }
                RxOutcome::Delivered
            }
            Received::Refused(outcome) => outcome,
            Received::NoRoom if srrctl & SRRCTL_DROP_EN != 0 => {
                self.core.regs.bump(RQDPC0, 1);
                self.core.regs.bump(RNBC, 1);
                RxOutcome::Missed
            }
            Received::NoRoom | Received::BadRing => {
                self.core.regs.bump(MPC, 1);
                self.core.regs.bump(RNBC, 1);
                self.raise_other(ICR_RXO);
                RxOutcome::Missed
            }
        }
    }

    fn send(&mut self, max: usize) -> Vec<Vec<u8>> {
        let tctl = self.reg(TCTL);
        if tctl & TCTL_EN == 0 || !self.tx_queue.enabled || !self.link_up() {
            return Vec::new();
        }
        let (wire, written_back) = self.core.transmit::<AdvancedDevice>(&TxControl { fcs: true, pad: tctl & TCTL_PSP != 0 }, max);
        if written_back {
            self.raise_queue(true);
        }
        wire
    }
}

impl DeviceModel for IgbModel {
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
            STATUS => {
                let mut v = self.port << STATUS_LAN_ID_SHIFT | self.reg(STATUS) & STATUS_DEV_RST_SET;
                if self.reg(CTRL) & CTRL_GIO_MASTER_DISABLE == 0 {
                    v |= STATUS_GIO_MASTER_ENABLE;
                }
                if self.link_up() {
                    v |= STATUS_LU | STATUS_FD | 0b10 << STATUS_SPEED_SHIFT;
                }
                v
            }
            EECD => {
                if self.auto_read_done() {
                    EECD_AUTO_RD
                } else {
                    0
                }
            }
            // Not loaded from the NVM yet (or never, on a port whose NVM load is broken).
            RAL0 | RAH0 if !self.auto_read_done() => 0,
            EERD => self.eerd,
            EEMNGCTL => {
                let done = self.phy_cfg_done_at.is_some_and(|t| self.core.now_us >= t);
                if done {
                    0xF << 18
                } else {
                    0
                }
            }
            MDIC if self.core.now_us < self.mdic_done_at => self.mdic & !MDIC_DATA_MASK & !MDIC_READY,
            MDIC => self.mdic | MDIC_READY,
            MANC if self.phy_reset_blocked => self.reg(MANC) | MANC_BLK_PHY_RST_ON_IDE,
            SWSM => {
                // Reading takes the software semaphore bit (it reads 0 if it was free).
                let v = self.reg(SWSM);
                self.core.regs.set(SWSM, v | SWSM_SMBI);
                v
            }
            SW_FW_SYNC => self.reg(SW_FW_SYNC) | if self.firmware_holds_phy { sw_fw_sync_phy(self.port) << 16 } else { 0 },
            RXDCTL0 => self.reg(RXDCTL0) & !XDCTL_ENABLE | if self.rx_queue.enabled { XDCTL_ENABLE } else { 0 },
            TXDCTL0 => self.reg(TXDCTL0) & !XDCTL_ENABLE | if self.tx_queue.enabled { XDCTL_ENABLE } else { 0 },
            ICR => {
                // GPIE.NSICR, or one line: reading clears.
                if !self.msix_mode() {
                    self.core.deassert();
                    return self.core.regs.take(ICR);
                }
                if self.reg(GPIE) & GPIE_NSICR != 0 {
                    return self.core.regs.take(ICR);
                }
                self.reg(ICR)
            }
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
            CTRL if value & CTRL_RST != 0 => {
                if regs.get(CTRL) & CTRL_GIO_MASTER_DISABLE == 0 {
                    self.core.error("CTRL.RST with PCIe mastering still enabled (GIO_MASTER_DISABLE clear)");
                }
                self.defaults();
                let now = self.core.now_us;
                self.reset_until = Some(now + RESET_US);
                self.auto_read_at = now + RESET_US + AUTO_READ_US;
                if self.part == Part::I350 {
                    self.core.regs.set(STATUS, STATUS_DEV_RST_SET);
                }
                self.update_link();
            }
            CTRL => {
                let was_phy_reset = regs.get(CTRL) & CTRL_PHY_RST != 0;
                regs.set(CTRL, value);
                if value & CTRL_PHY_RST != 0 && !was_phy_reset {
                    self.phy_reset();
                } else if value & CTRL_PHY_RST == 0 && was_phy_reset {
                    self.phy_cfg_done_at = Some(self.core.now_us + PHY_CFG_US);
                }
                self.update_link();
            }
            // STATUS.DEV_RST_SET is write-one-to-clear; the rest is read-only.
            STATUS => regs.set(STATUS, regs.get(STATUS) & !(value & STATUS_DEV_RST_SET)),
            MDIC => self.mdic_command(value),
            EERD if value & EERD_START != 0 => {
                // Answered at once: the address words of the port's section, else erased (all ones).
                let addr = value >> EERD_ADDR_SHIFT & 0x3FFF;
                let base = nvm_lan_offset(self.port);
                let m = self.core.eeprom_mac;
                let word = match addr.checked_sub(base) {
                    Some(i @ 0..=2) => u16::from_le_bytes([m[2 * i as usize], m[2 * i as usize + 1]]),
                    _ => 0xFFFF,
                };
                self.eerd = value & 0xFFFF & !EERD_START | EERD_DONE | u32::from(word) << EERD_DATA_SHIFT;
            }
            PHPM => {
                regs.set(PHPM, value);
                self.update_link();
            }
            ICR => regs.set(ICR, regs.get(ICR) & !value),
            ICS => self.raise_other(value),
            IMS => {
                regs.set(IMS, regs.get(IMS) | value);
                self.check_irq();
            }
            IMC => regs.set(IMS, regs.get(IMS) & !value),
            EICR => regs.set(EICR, regs.get(EICR) & !value),
            EICS => {
                regs.set(EICR, regs.get(EICR) | value);
                self.check_irq();
            }
            EIMS => {
                regs.set(EIMS, regs.get(EIMS) | value);
                self.check_irq();
            }
            EIMC => regs.set(EIMS, regs.get(EIMS) & !value),
            RDBAL0 | RDBAH0 | RDLEN0 | RDH0 | RDT0 | RXDCTL0 | TDBAL0 | TDBAH0 | TDLEN0 | TDH0 | TXDCTL0 => {
                self.queue_write(reg, value)
            }
            _ => regs.set(reg, value),
        }
    }

    fn advance(&mut self, us: u64) {
        self.core.now_us += us;
        let now = self.core.now_us;
        if !self.reset_stuck && self.reset_until.is_some_and(|t| now >= t) {
            self.reset_until = None;
        }
        self.rx_queue.tick(now);
        self.tx_queue.tick(now);
        self.update_link();
        self.check_irq();
    }
}

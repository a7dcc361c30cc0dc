//! Driver for the Intel 82599 and X550 10 GbE controllers (the "ixgbe" family, with the X550's
//! MAC as integrated in the Xeon D-1500 and Atom C3000, see [`Family::X550Em`]):
//! one receive queue of advanced one-buffer descriptors with 2 KiB buffers, one
//! transmit queue of advanced data descriptors, FCS stripped on receive and
//! appended on transmit, interrupts mapped to two causes plus link change.
//!
//! Written from the 82599 datasheet's initialisation flow (section 4.6):
//! global reset, EEPROM auto-read and DMA init done, MAC link setup (82599),
//! statistics cleared, receive and transmit queue set-up, queue enables, then
//! the receiver. Tested against a register-level model of the device
//! (`tests/model`), not yet on hardware: see `drivers/README.md`.

#![no_std]
#![warn(missing_docs)]

pub mod regs;

use nic_core::queue::{RxQueue, TxQueue};
use nic_core::{poll_until, Counters, Hal, InitError, Interrupts, LinkState, Nic};
pub use nic_core::Config;
use regs::*;

/// The advanced descriptors; RXE marks a bad frame.
type Advanced = nic_core::advanced::Advanced<RXDADV_ERR_RXE>;

/// Which member of the family the driver runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    /// 82599 (e.g. 8086:10fb SFP+, 10f7 KX4, 1517 KR, 151c 10GBASE-T). The driver selects the
    /// 10G serial link only on the SFP+ parts ([`is_82599_sfp`]); the others keep the link mode
    /// their NVM loaded into AUTOC (backplane, CX4, XAUI, the 10GBASE-T PHY).
    I82599,
    /// X550 10GBASE-T (8086:1563, 15d1).
    X550,
    /// The X550's MAC integrated in the Xeon D-1500 (X550EM_x: 8086:15aa, 15ab, 15ac, 15ad,
    /// 15ae, 15b0) and in the Atom C3000 (X553, "X550EM_a": 15c2, 15c3, 15c4, 15c6, 15c7, 15c8,
    /// 15ce, 15e4, 15e5). The queues, filters, interrupts and statistics are the X550's, and so
    /// is the driver's path; the link is not: their backplane (KR/KX4), SFI and SGMII links and
    /// external PHYs need set-up through the IOSF sideband, MDIO or firmware commands that this
    /// driver does not send, so only a link the PHY or firmware brings up by itself comes up.
    X550Em,
}

impl Family {
    /// The family member with PCI device id `device_id` (vendor 8086), if supported.
    pub fn from_device_id(device_id: u16) -> Option<Self> {
        match device_id {
            0x10F7 | 0x10F9 | 0x10FB | 0x10FC | 0x1517 | 0x151C | 0x1529 | 0x152A | 0x154D | 0x1557 => {
                Some(Self::I82599)
            }
            0x1563 | 0x15D1 => Some(Self::X550),
            0x15AA | 0x15AB | 0x15AC | 0x15AD | 0x15AE | 0x15B0 | 0x15C2 | 0x15C3 | 0x15C4 | 0x15C6 | 0x15C7
            | 0x15C8 | 0x15CE | 0x15E4 | 0x15E5 => Some(Self::X550Em),
            _ => None,
        }
    }
}

/// Whether the 82599 with PCI device id `device_id` has SFP+ cages (SFP, SFP FCoE, SFP SF2,
/// 82599EN SFP), whose link is 10G serial: the link mode the driver sets in AUTOC.
pub fn is_82599_sfp(device_id: u16) -> bool {
    matches!(device_id, 0x10FB | 0x1529 | 0x154D | 0x1557)
}

/// Receive buffer size programmed in SRRCTL.BSIZEPACKET.
pub const RX_BUFFER_SIZE: usize = 2048;

/// Causes unmasked by [`Nic::set_interrupts`].
pub const INTERRUPT_CAUSES: u32 = EICR_RX0 | EICR_TX0 | EICR_LSC;

/// Every maskable cause (EIMC bits 30:0).
const ALL_CAUSES: u32 = 0x7FFF_FFFF;
/// The datasheet asks for at least 10 ms after a global reset before polling it.
const RESET_SETTLE_US: u32 = 10_000;
const RESET_TIMEOUT_US: u32 = 100_000;
/// EEPROM auto-read and DMA init finish within a few ms of reset.
const INIT_DONE_TIMEOUT_US: u32 = 50_000;
const QUEUE_ENABLE_TIMEOUT_US: u32 = 10_000;
/// Transmit descriptor prefetch threshold and host threshold; write-back
/// threshold 0 so each RS descriptor is written back at once (no stuck tail).
const TXDCTL_PTHRESH: u32 = 36;
const TXDCTL_HTHRESH: u32 = 8;

/// An 82599 or X550 with `RX` receive and `TX` transmit descriptors.
pub struct Ixgbe<H: Hal, const RX: usize = 512, const TX: usize = 512> {
    hal: H,
    family: Family,
    mac: [u8; 6],
    rx: RxQueue<Advanced, RX>,
    tx: TxQueue<Advanced, TX>,
    counters: Counters,
    /// Why the device needs a new bring-up, once an interrupt showed it ([`Nic::needs_bring_up`]).
    bring_up: Option<&'static str>,
}

fn set_bits<H: Hal>(hal: &H, reg: usize, bits: u32) {
    hal.write32(reg, hal.read32(reg) | bits);
}

fn clear_bits<H: Hal>(hal: &H, reg: usize, bits: u32) {
    hal.write32(reg, hal.read32(reg) & !bits);
}

impl<H: Hal, const RX: usize, const TX: usize> Ixgbe<H, RX, TX> {
    /// Resets and initialises the device (datasheet 4.6.3): interrupts masked,
    /// link set up, rings programmed (receive ring empty until
    /// [`Nic::rx_post`]), queues, transmitter and receiver enabled. Bus mastering
    /// must already be on.
    pub fn new(mut hal: H, config: Config) -> Result<Self, InitError> {
        let family =
            Family::from_device_id(config.device_id).ok_or(InitError::UnsupportedDevice(config.device_id))?;
        if config.interrupt != nic_core::InterruptMode::Line {
            // The driver handles one interrupt line (INTx or MSI), not MSI-X.
            return Err(InitError::UnsupportedInterruptMode);
        }

        hal.write32(EIMC, ALL_CAUSES);
        let ctrl = hal.read32(CTRL);
        hal.write32(CTRL, ctrl | CTRL_RST_MASK);
        hal.delay_us(RESET_SETTLE_US);
        if !poll_until(&mut hal, RESET_TIMEOUT_US, 100, |h| h.read32(CTRL) & CTRL_RST_MASK == 0) {
            return Err(InitError::ResetTimeout);
        }
        // Reset leaves the masks clear, but mask again so nothing fires mid-init.
        hal.write32(EIMC, ALL_CAUSES);
        let _ = hal.read32(EICR);

        // The 82599's EEPROM auto-read loads RAL0/RAH0; the X550 keeps EEC
        // elsewhere and its firmware has finished by the time reset clears.
        if family == Family::I82599
            && !poll_until(&mut hal, INIT_DONE_TIMEOUT_US, 100, |h| h.read32(EEC) & EEC_ARD != 0)
        {
            return Err(InitError::EepromTimeout);
        }
        if !poll_until(&mut hal, INIT_DONE_TIMEOUT_US, 100, |h| h.read32(RDRXCTL) & RDRXCTL_DMAIDONE != 0) {
            return Err(InitError::DmaInitTimeout);
        }

        if family == Family::I82599 {
            // SFP+: 10 GbE serial link, no auto-negotiation, XAUI PMA/PMD field cleared. The
            // other 82599 parts keep the mode their NVM chose for the board (forcing 10G serial
            // on a KX4 or CX4 port would keep its link down). Then the link state machine is
            // restarted with that mode.
            let mut autoc = hal.read32(AUTOC);
            if is_82599_sfp(config.device_id) {
                autoc = (autoc & !(AUTOC_LMS_MASK | AUTOC_10G_PMA_PMD_MASK)) | AUTOC_LMS_10G_SERIAL;
                hal.write32(AUTOC, autoc);
            }
            hal.write32(AUTOC, autoc | AUTOC_AN_RESTART);
        }

        // Statistics are clear-on-read: start from zero.
        STATS.accumulate(&hal, &mut Counters::default());

        // Loaded by the EEPROM auto-read waited for above (or programmed from the config).
        let mac = RA0.station_address(&mut hal, config.mac, 0)?;
        for i in 0..MTA_LEN {
            hal.write32(MTA + 4 * i, 0);
        }

        // Rings: the datasheet wants 128-byte aligned bases and lengths.
        let rx = RxQueue::new(&mut hal, 128, RDT0, RX_BUFFER_SIZE)?;
        let tx = TxQueue::new(&mut hal, 128, TDT0)?;

        // Receive path, with the receiver off until the queue is ready.
        clear_bits(&hal, RXCTRL, RXCTRL_RXEN);
        let hlreg0 = hal.read32(HLREG0);
        hal.write32(
            HLREG0,
            (hlreg0 | HLREG0_RXCRCSTRP | HLREG0_TXCRCEN | HLREG0_TXPADEN) & !(HLREG0_JUMBOEN | HLREG0_LPBK),
        );
        // Must agree with HLREG0.RXCRCSTRP.
        set_bits(&hal, RDRXCTL, RDRXCTL_CRCSTRIP);
        let mut fctrl = (hal.read32(FCTRL) | FCTRL_BAM) & !(FCTRL_SBP | FCTRL_UPE | FCTRL_MPE);
        if config.promiscuous {
            fctrl |= FCTRL_UPE | FCTRL_MPE;
        }
        if config.all_multicast {
            fctrl |= FCTRL_MPE;
        }
        hal.write32(FCTRL, fctrl);

        RX_QUEUE.program(&hal, rx.phys(), rx.bytes());
        // Advanced one-buffer descriptors, 2 KiB buffers; drop (and count) frames
        // when the ring is empty instead of holding up the shared packet buffer.
        let srrctl = hal.read32(SRRCTL0) & !(SRRCTL_BSIZEPACKET_MASK | SRRCTL_DESCTYPE_MASK);
        hal.write32(SRRCTL0, srrctl | (RX_BUFFER_SIZE / 1024) as u32 | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN);
        clear_bits(&hal, DCA_RXCTRL0, DCA_RXCTRL_RESERVED_12 | DCA_RXCTRL_DATA_WRO_EN | DCA_RXCTRL_HEAD_WRO_EN);
        set_bits(&hal, CTRL_EXT, CTRL_EXT_NS_DIS);

        // Transmit path: one queue, no DCB or virtualisation (MTQC 0), set with the
        // descriptor arbiter held off as the datasheet requires.
        set_bits(&hal, RTTDCS, RTTDCS_ARBDIS);
        hal.write32(MTQC, 0);
        clear_bits(&hal, RTTDCS, RTTDCS_ARBDIS);
        TX_QUEUE.program(&hal, tx.phys(), tx.bytes());
        let txdctl = hal.read32(TXDCTL0) & !TXDCTL_THRESH_MASK;
        hal.write32(
            TXDCTL0,
            txdctl | TXDCTL_PTHRESH << TXDCTL_PTHRESH_SHIFT | TXDCTL_HTHRESH << TXDCTL_HTHRESH_SHIFT,
        );
        set_bits(&hal, DMATXCTL, DMATXCTL_TE);
        set_bits(&hal, TXDCTL0, TXDCTL_ENABLE);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(TXDCTL0) & TXDCTL_ENABLE != 0) {
            return Err(InitError::QueueEnableTimeout);
        }

        set_bits(&hal, RXDCTL0, RXDCTL_ENABLE);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(RXDCTL0) & RXDCTL_ENABLE != 0) {
            return Err(InitError::QueueEnableTimeout);
        }
        set_bits(&hal, RXCTRL, RXCTRL_RXEN);

        // Interrupt routing, still masked: RX queue 0 -> EICR bit 0, TX queue 0 -> bit 1.
        hal.write32(IVAR0, IVAR_ALLOC_VAL | (1 | IVAR_ALLOC_VAL) << 8);
        hal.write32(EITR0, eitr_value(config.interrupt_interval_us));

        Ok(Self { hal, family, mac, rx, tx, counters: Counters::default(), bring_up: None })
    }

    /// Which family member this is.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The HAL, for the platform's own use.
    pub fn hal(&self) -> &H {
        &self.hal
    }

}

/// EITR interval field (bits 11:3) in 2 µs units.
fn eitr_value(interval_us: u32) -> u32 {
    ((interval_us / 2).min(0x1FF)) << 3
}

impl<H: Hal, const RX: usize, const TX: usize> Nic for Ixgbe<H, RX, TX> {
    fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    fn link(&mut self) -> LinkState {
        let links = self.hal.read32(LINKS);
        // All ones: a device gone from the bus, not a link.
        let up = links != u32::MAX && links & LINKS_UP != 0;
        let speed_mbps = match links & LINKS_SPEED_MASK {
            LINKS_SPEED_10G => 10_000,
            LINKS_SPEED_1G => 1000,
            LINKS_SPEED_100M => 100,
            _ => 0,
        };
        LinkState { up, speed_mbps: if up { speed_mbps } else { 0 }, full_duplex: up }
    }

    nic_core::queue_methods!();

    fn handle_interrupt(&mut self) -> Interrupts {
        // Legacy/MSI mode (GPIE.OCD clear): reading EICR clears it.
        let eicr = self.hal.read32(EICR);
        self.hal.irq_ack();
        // All ones is a device gone from the bus (or a PCIe error), not every cause at once.
        if eicr == u32::MAX {
            self.counters.device_faults += 1;
            self.bring_up = self.bring_up.or(Some("its registers reading all ones (gone from the bus?)"));
            return Interrupts::default();
        }
        Interrupts {
            rx: eicr & EICR_RX0 != 0,
            tx: eicr & EICR_TX0 != 0,
            link: eicr & EICR_LSC != 0,
            rx_overrun: false,
            rx_low: false,
        }
    }

    fn needs_bring_up(&self) -> Option<&'static str> {
        self.bring_up
    }

    fn set_interrupts(&mut self, enabled: bool) {
        if enabled {
            self.hal.write32(EIMS, INTERRUPT_CAUSES);
        } else {
            self.hal.write32(EIMC, ALL_CAUSES);
        }
    }

    fn counters(&mut self) -> Counters {
        STATS.accumulate(&self.hal, &mut self.counters);
        self.counters
    }
}

//! Driver for the Intel 82540EM ("e1000", QEMU `-device e1000`) and 82574L
//! ("e1000e", QEMU `-device e1000e`): one receive and one transmit queue of
//! legacy descriptors, 2 KiB receive buffers, FCS stripped on receive and
//! appended on transmit, interrupt moderation through ITR.
//!
//! Both parts share this register-level path. The 82574L interrupts through
//! MSI, which the driver of the device programs itself: see [`configure_msi`].

#![no_std]
#![warn(missing_docs)]

pub mod regs;

mod desc;

use desc::Legacy;
use nic_core::pci::{self, ConfigSpace, MsiError};
use nic_core::queue::{RxQueue, TxQueue};
use nic_core::{poll_until, Counters, Hal, InitError, Interrupts, LinkState, Nic};
pub use nic_core::Config;
use regs::*;

/// Which part the driver runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Model {
    /// 82540EM (PCI 8086:100e).
    I82540Em,
    /// 82574L (PCI 8086:10d3).
    I82574L,
}

impl Model {
    /// The part with PCI device id `device_id` (vendor 8086), if supported.
    pub fn from_device_id(device_id: u16) -> Option<Self> {
        match device_id {
            0x100E => Some(Self::I82540Em),
            0x10D3 => Some(Self::I82574L),
            _ => None,
        }
    }
}

/// Receive buffer size programmed in RCTL.BSIZE.
pub const RX_BUFFER_SIZE: usize = 2048;

/// Causes unmasked by [`Nic::set_interrupts`]: receive timer, receive overrun,
/// receive descriptors low, link change, transmit written back.
pub const INTERRUPT_CAUSES: u32 = ICR_RXT0 | ICR_RXO | ICR_RXDMT0 | ICR_LSC | ICR_TXDW;

/// Reset completes in microseconds; allow 100 ms before calling the device dead.
const RESET_TIMEOUT_US: u32 = 100_000;
/// The EEPROM load of RAL0/RAH0 after reset takes a few milliseconds.
const MAC_LOAD_TIMEOUT_US: u32 = 20_000;

/// An 82540EM or 82574L with `RX` receive and `TX` transmit descriptors.
pub struct E1000<H: Hal, const RX: usize = 256, const TX: usize = 256> {
    hal: H,
    model: Model,
    mac: [u8; 6],
    rx: RxQueue<Legacy, RX>,
    tx: TxQueue<Legacy, TX>,
    counters: Counters,
    /// Why the device needs a new bring-up, once an interrupt showed it ([`Nic::needs_bring_up`]).
    bring_up: Option<&'static str>,
}

impl<H: Hal, const RX: usize, const TX: usize> E1000<H, RX, TX> {
    /// Resets and initialises the device: interrupts masked, link up requested,
    /// rings programmed (receive ring empty until [`Nic::rx_post`]), receiver and
    /// transmitter enabled. Bus mastering must already be on (see
    /// [`nic_core::pci::enable_memory_and_bus_master`]).
    pub fn new(mut hal: H, config: Config) -> Result<Self, InitError> {
        let model = Model::from_device_id(config.device_id).ok_or(InitError::UnsupportedDevice(config.device_id))?;
        if config.interrupt != nic_core::InterruptMode::Line {
            // The driver handles one interrupt line (INTx or MSI), not MSI-X.
            return Err(InitError::UnsupportedInterruptMode);
        }

        // Global reset with every interrupt masked, before and after (reset unmasks nothing,
        // but a cause latched before it must not fire into a half-built driver).
        hal.write32(IMC, u32::MAX);
        let ctrl = hal.read32(CTRL);
        hal.write32(CTRL, ctrl | CTRL_RST);
        hal.delay_us(1000);
        if !poll_until(&mut hal, RESET_TIMEOUT_US, 100, |h| h.read32(CTRL) & CTRL_RST == 0) {
            return Err(InitError::ResetTimeout);
        }
        hal.write32(IMC, u32::MAX);
        let _ = hal.read32(ICR);

        // MAC/PHY link: set link up with speed auto-detection; no forced speed,
        // no VLAN tag handling, PHY out of reset.
        let ctrl = hal.read32(CTRL);
        let ctrl = (ctrl | CTRL_SLU | CTRL_ASDE)
            & !(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_FRCSPD | CTRL_FRCDPLX | CTRL_VME);
        hal.write32(CTRL, ctrl);

        // No flow control frames: the datasheet asks for these zeroed if unused.
        for reg in [FCAL, FCAH, FCT, FCTTV] {
            hal.write32(reg, 0);
        }
        for i in 0..MTA_LEN {
            hal.write32(MTA + 4 * i, 0);
        }

        let mac = RA0.station_address(&mut hal, config.mac, MAC_LOAD_TIMEOUT_US)?;

        // Descriptor rings: 16-byte alignment is the datasheet minimum; 128 keeps each
        // ring on whole cache lines.
        let rx = RxQueue::new(&mut hal, 128, RDT, RX_BUFFER_SIZE)?;
        let tx = TxQueue::new(&mut hal, 128, TDT)?;
        RX_QUEUE.program(&hal, rx.phys(), rx.bytes());
        // Moderation is ITR's job; the per-queue delay timers would only add latency.
        hal.write32(RDTR, 0);
        hal.write32(RADV, 0);
        TX_QUEUE.program(&hal, tx.phys(), tx.bytes());
        hal.write32(TIDV, 0);
        hal.write32(TADV, 0);
        hal.write32(TIPG, TIPG_COPPER);

        hal.write32(ITR, itr_value(config.interrupt_interval_us));

        hal.write32(
            TCTL,
            TCTL_EN | TCTL_PSP | TCTL_CT_DEFAULT << TCTL_CT_SHIFT | TCTL_COLD_FULL_DUPLEX << TCTL_COLD_SHIFT,
        );
        // Receiver last, once its ring is in place: 2 KiB buffers (BSIZE 00, BSEX 0),
        // broadcast accepted, FCS stripped, no long frames, no bad frames stored.
        let mut rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC;
        if config.promiscuous {
            rctl |= RCTL_UPE | RCTL_MPE;
        }
        if config.all_multicast {
            rctl |= RCTL_MPE;
        }
        hal.write32(RCTL, rctl);

        Ok(Self { hal, model, mac, rx, tx, counters: Counters::default(), bring_up: None })
    }

    /// Which part this is.
    pub fn model(&self) -> Model {
        self.model
    }

    /// The HAL, for the platform's own use (e.g. reading a register in a diagnostic).
    pub fn hal(&self) -> &H {
        &self.hal
    }

}

/// ITR counts in 256 ns units; the register field is 16 bits.
fn itr_value(interval_us: u32) -> u32 {
    (interval_us.saturating_mul(1000) / 256).min(0xFFFF)
}

/// Programs the 82574L's MSI capability (via `cfg`, the function's config
/// space) to send `vector` to local APIC `apic_id` (address 0xFEE00000, data =
/// vector), enables MSI and disables INTx. Call before [`Nic::set_interrupts`].
pub fn configure_msi(cfg: &mut impl ConfigSpace, apic_id: u8, vector: u8) -> Result<u16, MsiError> {
    pci::configure_msi(cfg, apic_id, vector)
}

impl<H: Hal, const RX: usize, const TX: usize> Nic for E1000<H, RX, TX> {
    fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    fn link(&mut self) -> LinkState {
        nic_core::intel::gigabit_link_state(self.hal.read32(STATUS))
    }

    nic_core::queue_methods!();

    fn handle_interrupt(&mut self) -> Interrupts {
        // Reading ICR clears it (and deasserts the interrupt).
        let icr = self.hal.read32(ICR);
        self.hal.irq_ack();
        // All ones is a device gone from the bus (or a PCIe error), not every cause at once.
        if icr == u32::MAX {
            self.counters.device_faults += 1;
            self.bring_up = self.bring_up.or(Some("its registers reading all ones (gone from the bus?)"));
            return Interrupts::default();
        }
        Interrupts {
            rx: icr & ICR_RXT0 != 0,
            tx: icr & (ICR_TXDW | ICR_TXQE) != 0,
            link: icr & ICR_LSC != 0,
            rx_overrun: icr & ICR_RXO != 0,
            rx_low: icr & ICR_RXDMT0 != 0,
        }
    }

    fn needs_bring_up(&self) -> Option<&'static str> {
        self.bring_up
    }

    fn set_interrupts(&mut self, enabled: bool) {
        if enabled {
            self.hal.write32(IMS, INTERRUPT_CAUSES);
        } else {
            self.hal.write32(IMC, u32::MAX);
        }
    }

    fn counters(&mut self) -> Counters {
        STATS.accumulate(&self.hal, &mut self.counters);
        self.counters
    }
}

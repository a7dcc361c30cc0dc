//! Driver for the Intel igb family: the 82576 (8086:10c9, QEMU `-device igb`) and the I350
//! (8086:1521–1524, the SuperMicro SYS-E300-9D's four 1GbE ports): one receive queue of advanced
//! one-buffer descriptors with 2 KiB buffers, one transmit queue of advanced data descriptors,
//! FCS stripped on receive and appended on transmit, interrupt moderation through EITR.
//!
//! Written from the 82576 and I350 datasheets' initialisation flow: interrupts masked, PCIe
//! mastering stopped, global reset, NVM auto-read, the driver's claim on the port (DRV_LOAD),
//! the station address (RAL0/RAH0 as the auto-read left them, else the NVM words), copper link bring-up through the PHY (under the software/firmware
//! semaphore the I350's manageability firmware shares it by), then queue 0 of each direction
//! programmed while disabled, enabled, and polled until the device says so.
//!
//! Interrupts: with one line (INTx or MSI) every cause is read from ICR; with MSI-X the driver
//! routes receive, transmit and the other causes (link change) to vectors 0, 1 and 2, which the
//! platform points at the same interrupt ([`nic_core::InterruptMode::MsiX`]): EICR then says
//! which fired.
//!
//! Tested against a register-level model (`tests/model`) for both parts, and on QEMU's 82576
//! (the NIC PD tests); not yet on an I350: see `drivers/README.md`.

#![no_std]
#![warn(missing_docs)]

pub mod regs;

use nic_core::queue::{RxQueue, TxQueue};
use nic_core::{poll_until, Counters, Hal, InitError, InterruptMode, Interrupts, LinkState, Nic};
pub use nic_core::Config;
use regs::*;

/// The advanced descriptors; any frame error bit marks a bad frame.
type Advanced = nic_core::advanced::Advanced<RXDEXT_ERR_FRAME>;

/// Which part the driver runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    /// 82576 (8086:10c9, copper).
    I82576,
    /// I350 (8086:1521 copper, 1522 fiber, 1523 SerDes, 1524 SGMII).
    I350,
}

impl Part {
    /// The part with PCI device id `device_id` (vendor 8086), if supported.
    pub fn from_device_id(device_id: u16) -> Option<Self> {
        match device_id {
            0x10C9 => Some(Self::I82576),
            0x1521..=0x1524 => Some(Self::I350),
            _ => None,
        }
    }
}

/// Receive buffer size programmed in SRRCTL.BSIZEPACKET.
pub const RX_BUFFER_SIZE: usize = 2048;

/// Causes unmasked with one interrupt line: receive written back, transmit written back, link
/// change, receive overrun, receive descriptors low, a device reset nobody asked for.
pub const LINE_CAUSES: u32 = ICR_RXDW | ICR_TXDW | ICR_LSC | ICR_RXO | ICR_RXDMT0 | ICR_DRSTA;
/// MSI-X vectors (EICR bits): receive queue 0, transmit queue 0, other causes.
pub const VECTOR_RX: u32 = 0;
/// See [`VECTOR_RX`].
pub const VECTOR_TX: u32 = 1;
/// See [`VECTOR_RX`].
pub const VECTOR_OTHER: u32 = 2;
/// The other causes unmasked in MSI-X mode (forwarded to [`VECTOR_OTHER`]).
pub const OTHER_CAUSES: u32 = ICR_LSC | ICR_RXO | ICR_RXDMT0 | ICR_DRSTA;

const ALL_CAUSES: u32 = u32::MAX;
/// Outstanding master requests drain within this (Intel's shared code allows 80 ms).
const MASTER_DISABLE_TIMEOUT_US: u32 = 80_000;
/// The datasheets ask software to wait after RST before touching the device.
const RESET_SETTLE_US: u32 = 5_000;
const RESET_TIMEOUT_US: u32 = 100_000;
/// The NVM auto-read (which loads RAL0/RAH0) finishes within 10 ms of reset.
const AUTO_READ_TIMEOUT_US: u32 = 10_000;
const MAC_LOAD_TIMEOUT_US: u32 = 20_000;
/// An NVM word read takes microseconds.
const NVM_READ_TIMEOUT_US: u32 = 10_000;
const QUEUE_ENABLE_TIMEOUT_US: u32 = 10_000;
/// MDIC transactions take microseconds; Intel's code gives up after ~100 ms.
const MDIC_TIMEOUT_US: u32 = 100_000;
/// PHY reset: hold CTRL.PHY_RST this long, then let the PHY come out of it.
const PHY_RESET_HOLD_US: u32 = 100;
const PHY_RESET_SETTLE_US: u32 = 150;
/// The PHY's configuration after its reset is loaded within 100 ms (EEMNGCTL.CFG_DONE).
const PHY_CFG_TIMEOUT_US: u32 = 100_000;
/// Semaphores: the hardware one is polled in 50 µs steps for 100 ms; a busy software/firmware
/// resource is retried every 5 ms for a second.
const SEMAPHORE_TIMEOUT_US: u32 = 100_000;
const SWFW_RETRY_US: u32 = 5_000;
const SWFW_TIMEOUT_US: u32 = 1_000_000;
/// Queue thresholds: receive prefetch 8, host 8, write-back 1 (every descriptor is written
/// back at once, so a polling PD sees DD promptly); transmit prefetch 8, host 1, write-back 0.
const RXDCTL_THRESHOLDS: u32 = 8 << XDCTL_PTHRESH_SHIFT | 8 << XDCTL_HTHRESH_SHIFT | 1 << XDCTL_WTHRESH_SHIFT;
const TXDCTL_THRESHOLDS: u32 = 8 << XDCTL_PTHRESH_SHIFT | 1 << XDCTL_HTHRESH_SHIFT;
/// Collision threshold and distance the datasheets recommend (full duplex needs neither, but
/// half duplex at 10/100 does).
const TCTL_CT: u32 = 15;
const TCTL_EXT_COLD: u32 = 63;

/// An 82576 or I350 port with `RX` receive and `TX` transmit descriptors.
pub struct Igb<H: Hal, const RX: usize = 256, const TX: usize = 256> {
    hal: H,
    part: Part,
    interrupt: InterruptMode,
    mac: [u8; 6],
    rx: RxQueue<Advanced, RX>,
    tx: TxQueue<Advanced, TX>,
    counters: Counters,
    /// Why the port needs a new bring-up, once it does ([`Nic::needs_bring_up`]).
    bring_up: Option<&'static str>,
}

fn set_bits<H: Hal + ?Sized>(hal: &H, reg: usize, bits: u32) {
    hal.write32(reg, hal.read32(reg) | bits);
}

fn clear_bits<H: Hal + ?Sized>(hal: &H, reg: usize, bits: u32) {
    hal.write32(reg, hal.read32(reg) & !bits);
}

impl<H: Hal, const RX: usize, const TX: usize> Igb<H, RX, TX> {
    /// Resets and initialises the port: interrupts masked, link bring-up started (the link comes
    /// up later, with a link-change interrupt), rings programmed (receive ring empty until
    /// [`Nic::rx_post`]), queues, transmitter and receiver enabled. Bus mastering must already be
    /// on.
    pub fn new(mut hal: H, config: Config) -> Result<Self, InitError> {
        let part = Part::from_device_id(config.device_id).ok_or(InitError::UnsupportedDevice(config.device_id))?;

        // Nothing may fire into a half-built driver, and no DMA may be in flight at reset.
        hal.write32(IMC, ALL_CAUSES);
        hal.write32(EIMC, ALL_CAUSES);
        set_bits(&hal, CTRL, CTRL_GIO_MASTER_DISABLE);
        // A device that never drains is reset anyway, as Intel's code does.
        let _ = poll_until(&mut hal, MASTER_DISABLE_TIMEOUT_US, 100, |h| h.read32(STATUS) & STATUS_GIO_MASTER_ENABLE == 0);
        hal.write32(RCTL, 0);
        hal.write32(TCTL, TCTL_PSP);
        let _ = hal.read32(STATUS);
        hal.delay_us(10_000);

        set_bits(&hal, CTRL, CTRL_RST);
        hal.delay_us(RESET_SETTLE_US);
        if !poll_until(&mut hal, RESET_TIMEOUT_US, 100, |h| h.read32(CTRL) & CTRL_RST == 0) {
            return Err(InitError::ResetTimeout);
        }
        // QEMU's 82576 never sets AUTO_RD; RAL0/RAH0 are waited for below either way.
        let _ = poll_until(&mut hal, AUTO_READ_TIMEOUT_US, 1000, |h| h.read32(EECD) & EECD_AUTO_RD != 0);
        if part == Part::I350 {
            hal.write32(STATUS, STATUS_DEV_RST_SET);
        }
        hal.write32(IMC, ALL_CAUSES);
        hal.write32(EIMC, ALL_CAUSES);
        let _ = hal.read32(ICR);
        // Manageability firmware keeps its hands off the port while a driver has it.
        set_bits(&hal, CTRL_EXT, CTRL_EXT_DRV_LOAD);
        STATS.accumulate(&hal, &mut Counters::default());

        // The NVM's address, loaded into RAL0/RAH0 by the auto-read; if the load left no valid
        // entry, the address words read from the NVM directly (and programmed).
        let mac = match RA0.station_address(&mut hal, config.mac, MAC_LOAD_TIMEOUT_US) {
            Err(InitError::NoMacAddress) => {
                let mac = nvm_mac(&mut hal)?;
                RA0.write(&hal, mac);
                mac
            }
            other => other?,
        };
        for i in 0..MTA_LEN {
            hal.write32(MTA + 4 * i, 0);
        }

        // Link: auto-negotiated speed and duplex, no VLAN tag handling.
        let ctrl = hal.read32(CTRL);
        hal.write32(CTRL, (ctrl | CTRL_SLU) & !(CTRL_FRCSPD | CTRL_FRCDPX | CTRL_LRST | CTRL_PHY_RST | CTRL_VME));
        if hal.read32(CTRL_EXT) & CTRL_EXT_LINK_MODE_MASK == 0 {
            copper_link(&mut hal, part)?;
        }
        // Other link modes (fiber, SerDes, SGMII ports) come up as the NVM configured them.

        // Rings: 128-byte aligned bases and lengths, as the datasheets require.
        let rx = RxQueue::new(&mut hal, 128, RDT0, RX_BUFFER_SIZE)?;
        let tx = TxQueue::new(&mut hal, 128, TDT0)?;

        // Receive queue 0: disabled while it is programmed (it may come out of reset enabled).
        hal.write32(RXDCTL0, 0);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(RXDCTL0) & XDCTL_ENABLE == 0) {
            return Err(InitError::QueueEnableTimeout);
        }
        RX_QUEUE.program(&hal, rx.phys(), rx.bytes());
        // Advanced one-buffer descriptors, 2 KiB buffers; drop (and count) frames when the ring
        // is empty instead of holding up the shared packet buffer.
        hal.write32(SRRCTL0, (RX_BUFFER_SIZE / 1024) as u32 | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN);
        hal.write32(RXDCTL0, RXDCTL_THRESHOLDS | XDCTL_ENABLE);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(RXDCTL0) & XDCTL_ENABLE != 0) {
            return Err(InitError::QueueEnableTimeout);
        }

        // Transmit queue 0, likewise.
        hal.write32(TXDCTL0, 0);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(TXDCTL0) & XDCTL_ENABLE == 0) {
            return Err(InitError::QueueEnableTimeout);
        }
        TX_QUEUE.program(&hal, tx.phys(), tx.bytes());
        hal.write32(TXDCTL0, TXDCTL_THRESHOLDS | XDCTL_ENABLE);
        if !poll_until(&mut hal, QUEUE_ENABLE_TIMEOUT_US, 10, |h| h.read32(TXDCTL0) & XDCTL_ENABLE != 0) {
            return Err(InitError::QueueEnableTimeout);
        }
        let tctl_ext = hal.read32(TCTL_EXT) & !TCTL_EXT_COLD_MASK;
        hal.write32(TCTL_EXT, tctl_ext | TCTL_EXT_COLD << TCTL_EXT_COLD_SHIFT);
        let tctl = hal.read32(TCTL) & !TCTL_CT_MASK;
        hal.write32(TCTL, tctl | TCTL_CT << TCTL_CT_SHIFT | TCTL_PSP | TCTL_RTLC | TCTL_EN);

        // Interrupt routing, still masked.
        let eitr = eitr_value(config.interrupt_interval_us);
        match config.interrupt {
            InterruptMode::Line => {
                // Queue 0's causes are valid entries (the 82576 raises no TXDW without one).
                hal.write32(GPIE, GPIE_NSICR);
                hal.write32(IVAR0, IVAR_VALID | IVAR_VALID << 8);
                hal.write32(EITR0, eitr);
            }
            InterruptMode::MsiX => {
                hal.write32(GPIE, GPIE_MSIX_MODE | GPIE_NSICR | GPIE_PBA);
                hal.write32(IVAR0, (VECTOR_RX | IVAR_VALID) | (VECTOR_TX | IVAR_VALID) << 8);
                hal.write32(IVAR_MISC, (VECTOR_OTHER | IVAR_VALID) << 8);
                hal.write32(EITR0 + 4 * VECTOR_RX as usize, eitr);
                hal.write32(EITR0 + 4 * VECTOR_TX as usize, eitr);
                hal.write32(EITR0 + 4 * VECTOR_OTHER as usize, 0);
            }
        }

        // Receiver last, once its queue is in place: broadcast accepted, FCS stripped, no long
        // frames, no bad frames stored.
        let mut rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC;
        if config.promiscuous {
            rctl |= RCTL_UPE | RCTL_MPE;
        }
        if config.all_multicast {
            rctl |= RCTL_MPE;
        }
        hal.write32(RCTL, rctl);

        Ok(Self { hal, part, interrupt: config.interrupt, mac, rx, tx, counters: Counters::default(), bring_up: None })
    }

    /// Which part this is.
    pub fn part(&self) -> Part {
        self.part
    }

    /// The HAL, for the platform's own use.
    pub fn hal(&self) -> &H {
        &self.hal
    }

    /// Raises the receive cause in software, so that an interrupt brings the PD back for work it
    /// left (EICS in MSI-X mode, ICS otherwise).
    pub fn raise_rx_interrupt(&self) {
        match self.interrupt {
            InterruptMode::Line => self.hal.write32(ICS, ICR_RXDW),
            InterruptMode::MsiX => self.hal.write32(EICS, 1 << VECTOR_RX),
        }
    }
}

/// The port's MAC address from its NVM section (EERD, word by word), or `NoMacAddress` when the
/// NVM does not answer or holds no usable address.
fn nvm_mac<H: Hal + ?Sized>(hal: &mut H) -> Result<[u8; 6], InitError> {
    let port = hal.read32(STATUS) >> STATUS_LAN_ID_SHIFT & 0b11;
    let mut mac = [0u8; 6];
    for (i, pair) in mac.chunks_mut(2).enumerate() {
        let addr = nvm_lan_offset(port) + i as u32;
        hal.write32(EERD, addr << EERD_ADDR_SHIFT | EERD_START);
        let mut word = 0;
        if !poll_until(hal, NVM_READ_TIMEOUT_US, 5, |h| {
            word = h.read32(EERD);
            word & EERD_DONE != 0
        }) {
            return Err(InitError::NoMacAddress);
        }
        pair.copy_from_slice(&((word >> EERD_DATA_SHIFT) as u16).to_le_bytes());
    }
    // Erased NVM reads all ones; a multicast or zero address cannot be a station's.
    if mac == [0; 6] || mac == [0xFF; 6] || mac[0] & 1 != 0 {
        return Err(InitError::NoMacAddress);
    }
    Ok(mac)
}

/// EITR's interval field (bits 14:2) counts microseconds.
fn eitr_value(interval_us: u32) -> u32 {
    interval_us.min(EITR_INTERVAL_MASK >> EITR_INTERVAL_SHIFT) << EITR_INTERVAL_SHIFT
}

/// Copper link bring-up through the internal PHY (address 1): the I350's link-disconnect bit
/// cleared, the PHY reset (unless manageability firmware blocks that) and powered up, every
/// 10/100/1000 full- and half-duplex mode (1000 full only) and pause advertised, and
/// auto-negotiation restarted. The link comes up when negotiation completes, seconds later on
/// real copper; the link-change interrupt says when.
fn copper_link<H: Hal + ?Sized>(hal: &mut H, part: Part) -> Result<(), InitError> {
    if part == Part::I350 {
        clear_bits(hal, PHPM, PHPM_GO_LINKD);
    }
    let port = hal.read32(STATUS) >> STATUS_LAN_ID_SHIFT & 0b11;
    let phy = sw_fw_sync_phy(port);
    acquire_swfw(hal, phy)?;
    let result = (|| {
        if hal.read32(MANC) & MANC_BLK_PHY_RST_ON_IDE == 0 {
            set_bits(hal, CTRL, CTRL_PHY_RST);
            hal.delay_us(PHY_RESET_HOLD_US);
            clear_bits(hal, CTRL, CTRL_PHY_RST);
            hal.delay_us(PHY_RESET_SETTLE_US);
            // The port's PHY configuration reloads after its reset (bit 18 + port); QEMU's 82576
            // never reports it, so a timeout is not an error.
            let done = 1 << (18 + port);
            let _ = poll_until(hal, PHY_CFG_TIMEOUT_US, 1000, |h| h.read32(EEMNGCTL) & done != 0);
        }
        let control = phy_read(hal, PHY_CONTROL)? & !MII_CR_POWER_DOWN;
        phy_write(hal, PHY_AUTONEG_ADV, NWAY_AR_ALL_10_100)?;
        phy_write(hal, PHY_1000T_CTRL, CR_1000T_FD_CAPS)?;
        phy_write(hal, PHY_CONTROL, control | MII_CR_AUTO_NEG_EN | MII_CR_RESTART_AUTO_NEG)
    })();
    release_swfw(hal, phy);
    result
}

/// One MDIC transaction with the internal PHY; the completed MDIC value.
fn mdic<H: Hal + ?Sized>(hal: &mut H, op: u32, reg: u32, data: u16) -> Result<u32, InitError> {
    hal.write32(MDIC, op | PHY_ADDRESS << MDIC_PHYADD_SHIFT | reg << MDIC_REGADD_SHIFT | u32::from(data));
    let mut done = 0;
    if !poll_until(hal, MDIC_TIMEOUT_US, 50, |h| {
        done = h.read32(MDIC);
        done & MDIC_READY != 0
    }) || done & MDIC_ERROR != 0
        || (done >> MDIC_REGADD_SHIFT & 0x1F) != reg
    {
        return Err(InitError::PhyAccess);
    }
    Ok(done)
}

fn phy_read<H: Hal + ?Sized>(hal: &mut H, reg: u32) -> Result<u16, InitError> {
    Ok((mdic(hal, MDIC_OP_READ, reg, 0)? & MDIC_DATA_MASK) as u16)
}

fn phy_write<H: Hal + ?Sized>(hal: &mut H, reg: u32, value: u16) -> Result<(), InitError> {
    mdic(hal, MDIC_OP_WRITE, reg, value).map(|_| ())
}

/// The hardware semaphore that guards SW_FW_SYNC: SMBI (reading SWSM sets it, so reading 0
/// means it is ours), then SWESMBI (set, and read back to see that firmware did not win).
fn take_hw_semaphore<H: Hal + ?Sized>(hal: &mut H) -> Result<(), InitError> {
    if !poll_until(hal, SEMAPHORE_TIMEOUT_US, 50, |h| h.read32(SWSM) & SWSM_SMBI == 0) {
        return Err(InitError::PhyAccess);
    }
    let got = poll_until(hal, SEMAPHORE_TIMEOUT_US, 50, |h| {
        h.write32(SWSM, h.read32(SWSM) | SWSM_SWESMBI);
        h.read32(SWSM) & SWSM_SWESMBI != 0
    });
    if !got {
        give_hw_semaphore(hal);
        return Err(InitError::PhyAccess);
    }
    Ok(())
}

fn give_hw_semaphore<H: Hal + ?Sized>(hal: &H) {
    clear_bits(hal, SWSM, SWSM_SMBI | SWSM_SWESMBI);
}

/// Takes the software side of a resource shared with firmware (`mask` in SW_FW_SYNC), waiting
/// while firmware or another driver holds it.
fn acquire_swfw<H: Hal + ?Sized>(hal: &mut H, mask: u32) -> Result<(), InitError> {
    let mut waited = 0;
    loop {
        take_hw_semaphore(hal)?;
        let sync = hal.read32(SW_FW_SYNC);
        if sync & (mask | mask << 16) == 0 {
            hal.write32(SW_FW_SYNC, sync | mask);
            give_hw_semaphore(hal);
            return Ok(());
        }
        give_hw_semaphore(hal);
        if waited >= SWFW_TIMEOUT_US {
            return Err(InitError::PhyAccess);
        }
        hal.delay_us(SWFW_RETRY_US);
        waited += SWFW_RETRY_US;
    }
}

fn release_swfw<H: Hal + ?Sized>(hal: &mut H, mask: u32) {
    // Released even if the hardware semaphore cannot be had: holding the PHY for ever is worse.
    let took = take_hw_semaphore(hal).is_ok();
    clear_bits(hal, SW_FW_SYNC, mask);
    if took {
        give_hw_semaphore(hal);
    }
}

impl<H: Hal, const RX: usize, const TX: usize> Nic for Igb<H, RX, TX> {
    fn mac_address(&self) -> [u8; 6] {
        self.mac
    }

    fn link(&mut self) -> LinkState {
        nic_core::intel::gigabit_link_state(self.hal.read32(STATUS))
    }

    nic_core::queue_methods!();

    fn handle_interrupt(&mut self) -> Interrupts {
        let (rx, tx, icr) = match self.interrupt {
            // GPIE.NSICR: reading ICR clears it.
            InterruptMode::Line => {
                let icr = self.hal.read32(ICR);
                (icr & ICR_RXDW != 0, icr & ICR_TXDW != 0, icr)
            }
            InterruptMode::MsiX => {
                // EICR clears on read; writing the bits back clears them where it does not.
                let eicr = self.hal.read32(EICR);
                if eicr != 0 {
                    self.hal.write32(EICR, eicr);
                }
                let icr = if eicr & 1 << VECTOR_OTHER != 0 { self.hal.read32(ICR) } else { 0 };
                (eicr & 1 << VECTOR_RX != 0, eicr & 1 << VECTOR_TX != 0, icr)
            }
        };
        self.hal.irq_ack();
        // A cause register reading all ones is a device gone from the bus (or a PCIe error),
        // not every cause at once; DRSTA, a reset by firmware or manageability, undid the
        // bring-up. Either way only a new bring-up restores the port.
        if icr == u32::MAX {
            self.counters.device_faults += 1;
            self.bring_up = self.bring_up.or(Some("its registers reading all ones (gone from the bus?)"));
            return Interrupts::default();
        }
        if icr & ICR_DRSTA != 0 {
            self.counters.device_faults += 1;
            self.bring_up = self.bring_up.or(Some("a device reset it did not ask for (ICR.DRSTA)"));
        }
        Interrupts { rx, tx, link: icr & ICR_LSC != 0, rx_overrun: icr & ICR_RXO != 0, rx_low: icr & ICR_RXDMT0 != 0 }
    }

    fn needs_bring_up(&self) -> Option<&'static str> {
        self.bring_up
    }

    fn set_interrupts(&mut self, enabled: bool) {
        match (self.interrupt, enabled) {
            (InterruptMode::Line, true) => self.hal.write32(IMS, LINE_CAUSES),
            (InterruptMode::MsiX, true) => {
                // The other causes reach vector 2 only while unmasked in IMS.
                self.hal.write32(IMS, OTHER_CAUSES);
                self.hal.write32(EIMS, 1 << VECTOR_RX | 1 << VECTOR_TX | 1 << VECTOR_OTHER);
            }
            (_, false) => {
                self.hal.write32(EIMC, ALL_CAUSES);
                self.hal.write32(IMC, ALL_CAUSES);
            }
        }
    }

    fn counters(&mut self) -> Counters {
        STATS.accumulate(&self.hal, &mut self.counters);
        self.counters
    }
}

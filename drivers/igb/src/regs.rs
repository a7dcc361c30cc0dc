//! 82576 / I350 register offsets and bits (queue 0 where a register is per queue), named as in
//! the Intel 82576 and I350 datasheets. Constants carry the datasheet's own names; a doc line
//! marks each group.
#![allow(missing_docs)]

use nic_core::intel::{QueueRegs, ReceiveAddress, StatRegs};

/// Device Control.
pub const CTRL: usize = 0x0000;
/// Device Status.
pub const STATUS: usize = 0x0008;
/// EEPROM/Flash Control.
pub const EECD: usize = 0x0010;
/// EEPROM Read: one NVM word at a time.
pub const EERD: usize = 0x0014;
/// Extended Device Control.
pub const CTRL_EXT: usize = 0x0018;
/// MDI Control: PHY register access.
pub const MDIC: usize = 0x0020;
/// Interrupt Cause Read, Cause Set, Mask Set/Read, Mask Clear, Auto Mask.
pub const ICR: usize = 0x00C0;
pub const ICS: usize = 0x00C8;
pub const IMS: usize = 0x00D0;
pub const IMC: usize = 0x00D8;
pub const IAM: usize = 0x00E0;
/// Receive Control.
pub const RCTL: usize = 0x0100;
/// Transmit Control, Extended Transmit Control.
pub const TCTL: usize = 0x0400;
pub const TCTL_EXT: usize = 0x0404;
/// PHY Power Management (I350): link disconnect and low-power link-up controls.
pub const PHPM: usize = 0x0E14;
/// Manageability EEPROM Control: per-port configuration done.
pub const EEMNGCTL: usize = 0x1010;
/// General Purpose Interrupt Enable.
pub const GPIE: usize = 0x1514;
/// Extended Interrupt Cause Set, Mask Set/Read, Mask Clear, Auto Clear, Auto Mask, Cause Read.
pub const EICS: usize = 0x1520;
pub const EIMS: usize = 0x1524;
pub const EIMC: usize = 0x1528;
pub const EIAC: usize = 0x152C;
pub const EIAM: usize = 0x1530;
pub const EICR: usize = 0x1580;
/// Extended Interrupt Throttle, vector 0.
pub const EITR0: usize = 0x1680;
/// Interrupt Vector Allocation: queue pair 0 (RX queue 0 in bits 7:0, TX queue 0 in 15:8),
/// and the "other causes" entry (bits 15:8 of IVAR_MISC).
pub const IVAR0: usize = 0x1700;
pub const IVAR_MISC: usize = 0x1740;
/// Statistics (clear on read): CRC errors, missed packets, good packets received/transmitted,
/// good octets received/transmitted (low, high), receive no buffers.
pub const CRCERRS: usize = 0x4000;
pub const MPC: usize = 0x4010;
pub const GPRC: usize = 0x4074;
pub const GPTC: usize = 0x4080;
pub const GORCL: usize = 0x4088;
pub const GORCH: usize = 0x408C;
pub const GOTCL: usize = 0x4090;
pub const GOTCH: usize = 0x4094;
pub const RNBC: usize = 0x40A0;
/// Multicast Table Array, 128 dwords.
pub const MTA: usize = 0x5200;
pub const MTA_LEN: usize = 128;
/// Receive Address 0, low and high.
pub const RAL0: usize = 0x5400;
pub const RAH0: usize = 0x5404;
/// Manageability Control.
pub const MANC: usize = 0x5820;
/// Software Semaphore, Software–Firmware Synchronisation.
pub const SWSM: usize = 0x5B50;
pub const SW_FW_SYNC: usize = 0x5B5C;
/// Receive queue 0: base low/high, length, split and replication control, head, tail, queue
/// control, drop count (the 0xC000 block; 0x2800 aliases it on these parts).
pub const RDBAL0: usize = 0xC000;
pub const RDBAH0: usize = 0xC004;
pub const RDLEN0: usize = 0xC008;
pub const SRRCTL0: usize = 0xC00C;
pub const RDH0: usize = 0xC010;
pub const RDT0: usize = 0xC018;
pub const RXDCTL0: usize = 0xC028;
pub const RQDPC0: usize = 0xC030;
/// Transmit queue 0: base low/high, length, head, tail, queue control (the 0xE000 block).
pub const TDBAL0: usize = 0xE000;
pub const TDBAH0: usize = 0xE004;
pub const TDLEN0: usize = 0xE008;
pub const TDH0: usize = 0xE010;
pub const TDT0: usize = 0xE018;
pub const TXDCTL0: usize = 0xE028;

// CTRL
pub const CTRL_GIO_MASTER_DISABLE: u32 = 1 << 2;
pub const CTRL_LRST: u32 = 1 << 3;
pub const CTRL_SLU: u32 = 1 << 6;
pub const CTRL_FRCSPD: u32 = 1 << 11;
pub const CTRL_FRCDPX: u32 = 1 << 12;
pub const CTRL_RST: u32 = 1 << 26;
pub const CTRL_VME: u32 = 1 << 30;
pub const CTRL_PHY_RST: u32 = 1 << 31;

// STATUS
pub const STATUS_FD: u32 = 1 << 0;
pub const STATUS_LU: u32 = 1 << 1;
/// LAN function (port) number, bits 3:2.
pub const STATUS_LAN_ID_SHIFT: u32 = 2;
pub const STATUS_SPEED_SHIFT: u32 = 6;
pub const STATUS_SPEED_MASK: u32 = 0b11 << STATUS_SPEED_SHIFT;
pub const STATUS_GIO_MASTER_ENABLE: u32 = 1 << 19;
/// I350: a device reset happened (write 1 to clear).
pub const STATUS_DEV_RST_SET: u32 = 1 << 20;

// EECD
/// The NVM auto-read after reset is done.
pub const EECD_AUTO_RD: u32 = 1 << 9;

// EERD
/// Start a read of the word at the address in bits 15:2.
pub const EERD_START: u32 = 1 << 0;
pub const EERD_DONE: u32 = 1 << 1;
pub const EERD_ADDR_SHIFT: u32 = 2;
pub const EERD_DATA_SHIFT: u32 = 16;
/// NVM word offset of a port's section: port 0 at 0, port n (I350) at 0x40 + 0x40 * n; the MAC
/// address is its first three words.
pub const fn nvm_lan_offset(port: u32) -> u32 {
    if port == 0 {
        0
    } else {
        0x40 + 0x40 * port
    }
}

// CTRL_EXT
/// Link mode (bits 23:22): 00 internal copper PHY; 01 1000BASE-KX; 10 SGMII; 11 SerDes.
pub const CTRL_EXT_LINK_MODE_MASK: u32 = 0b11 << 22;
/// Tells manageability firmware that a driver owns the port.
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

// MDIC
pub const MDIC_DATA_MASK: u32 = 0xFFFF;
pub const MDIC_REGADD_SHIFT: u32 = 16;
pub const MDIC_PHYADD_SHIFT: u32 = 21;
pub const MDIC_OP_WRITE: u32 = 0b01 << 26;
pub const MDIC_OP_READ: u32 = 0b10 << 26;
pub const MDIC_READY: u32 = 1 << 28;
pub const MDIC_ERROR: u32 = 1 << 30;
/// The internal copper PHY's MDIO address on both parts.
pub const PHY_ADDRESS: u32 = 1;

// PHY registers (IEEE 802.3 clause 22) and bits.
pub const PHY_CONTROL: u32 = 0;
pub const PHY_STATUS: u32 = 1;
pub const PHY_AUTONEG_ADV: u32 = 4;
pub const PHY_1000T_CTRL: u32 = 9;
pub const MII_CR_RESTART_AUTO_NEG: u16 = 1 << 9;
pub const MII_CR_POWER_DOWN: u16 = 1 << 11;
pub const MII_CR_AUTO_NEG_EN: u16 = 1 << 12;
/// Advertise 10/100 half and full duplex, symmetric and asymmetric pause; selector IEEE 802.3.
pub const NWAY_AR_ALL_10_100: u16 = 0x01 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 11;
/// Advertise 1000BASE-T full duplex (not half: the parts do not support it).
pub const CR_1000T_FD_CAPS: u16 = 1 << 9;

// ICR / ICS / IMS / IMC cause bits (legacy and MSI mode; in MSI-X mode "other" causes).
pub const ICR_TXDW: u32 = 1 << 0;
pub const ICR_LSC: u32 = 1 << 2;
pub const ICR_RXDMT0: u32 = 1 << 4;
pub const ICR_RXO: u32 = 1 << 6;
pub const ICR_RXDW: u32 = 1 << 7;
/// ICR.DRSTA: Device Reset Asserted, a reset the driver did not ask for (firmware or
/// manageability): the rings, RCTL and TCTL are gone and only a new bring-up restores the port.
pub const ICR_DRSTA: u32 = 1 << 30;

// GPIE
/// Non-selective interrupt clear on read: reading ICR clears it in every mode.
pub const GPIE_NSICR: u32 = 1 << 0;
/// MSI-X mode: causes go to EICR bits by IVAR, one MSI-X vector per EICR bit.
pub const GPIE_MSIX_MODE: u32 = 1 << 4;
pub const GPIE_PBA: u32 = 1 << 31;

// IVAR entries: vector number (bits 4:0) and valid (bit 7).
pub const IVAR_VALID: u32 = 1 << 7;

// EICR in MSI-X mode: bit n is vector n.
pub const EICR_VECTOR0: u32 = 1 << 0;

// EITR
/// Interval field (bits 14:2), in microseconds.
pub const EITR_INTERVAL_SHIFT: u32 = 2;
pub const EITR_INTERVAL_MASK: u32 = 0x1FFF << EITR_INTERVAL_SHIFT;
/// Counter ignore: a write does not restart the moderation counter.
pub const EITR_CNT_INGR: u32 = 1 << 31;

// RCTL
pub const RCTL_EN: u32 = 1 << 1;
pub const RCTL_SBP: u32 = 1 << 2;
pub const RCTL_UPE: u32 = 1 << 3;
pub const RCTL_MPE: u32 = 1 << 4;
pub const RCTL_LPE: u32 = 1 << 5;
pub const RCTL_BAM: u32 = 1 << 15;
pub const RCTL_SECRC: u32 = 1 << 26;

// SRRCTL
/// Receive buffer size in 1 KiB units (bits 6:0).
pub const SRRCTL_BSIZEPACKET_MASK: u32 = 0x7F;
/// Descriptor type (bits 27:25): 001 = advanced, one buffer.
pub const SRRCTL_DESCTYPE_MASK: u32 = 0b111 << 25;
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 0b001 << 25;
/// Drop (and count in RQDPC) a frame when the queue has no descriptor, rather than hold it.
pub const SRRCTL_DROP_EN: u32 = 1 << 31;

// RXDCTL / TXDCTL: prefetch (bits 4:0), host (12:8) and write-back (20:16) thresholds, enable.
pub const XDCTL_PTHRESH_SHIFT: u32 = 0;
pub const XDCTL_HTHRESH_SHIFT: u32 = 8;
pub const XDCTL_WTHRESH_SHIFT: u32 = 16;
pub const XDCTL_ENABLE: u32 = 1 << 25;

// TCTL
pub const TCTL_EN: u32 = 1 << 1;
pub const TCTL_PSP: u32 = 1 << 3;
/// Collision threshold (bits 11:4).
pub const TCTL_CT_SHIFT: u32 = 4;
pub const TCTL_CT_MASK: u32 = 0xFF << TCTL_CT_SHIFT;
/// Re-transmit on late collision.
pub const TCTL_RTLC: u32 = 1 << 24;
/// TCTL_EXT collision distance (bits 19:10).
pub const TCTL_EXT_COLD_SHIFT: u32 = 10;
pub const TCTL_EXT_COLD_MASK: u32 = 0x3FF << TCTL_EXT_COLD_SHIFT;

// PHPM (I350)
/// Go Link Disconnect: keeps the link down while set.
pub const PHPM_GO_LINKD: u32 = 1 << 5;

// MANC
/// Firmware blocks PHY resets.
pub const MANC_BLK_PHY_RST_ON_IDE: u32 = 1 << 18;

// SWSM
pub const SWSM_SMBI: u32 = 1 << 0;
pub const SWSM_SWESMBI: u32 = 1 << 1;

// SW_FW_SYNC: software ownership bits 15:0, firmware's the same bits << 16.
/// The PHY of port n (0..3).
pub const fn sw_fw_sync_phy(port: u32) -> u32 {
    match port {
        0 => 1 << 1,
        1 => 1 << 2,
        2 => 1 << 5,
        _ => 1 << 6,
    }
}

// Advanced descriptors (shared with ixgbe: `nic_core::advanced`).
pub use nic_core::advanced::*;
/// Receive write-back errors that make the frame bad: CRC/alignment (CE), symbol (SE),
/// sequence (SEQ), carrier extension (CXE), and RXE, any MAC error.
pub const RXDEXT_ERR_FRAME: u32 = 1 << 24 | 1 << 25 | 1 << 26 | 1 << 28 | 1 << 31;
/// RXE alone.
pub const RXDEXT_ERR_RXE: u32 = 1 << 31;

pub use nic_core::intel::RAH_AV;

/// Receive queue 0's registers.
pub const RX_QUEUE: QueueRegs = QueueRegs { bal: RDBAL0, bah: RDBAH0, len: RDLEN0, head: RDH0, tail: RDT0 };
/// Transmit queue 0's registers.
pub const TX_QUEUE: QueueRegs = QueueRegs { bal: TDBAL0, bah: TDBAH0, len: TDLEN0, head: TDH0, tail: TDT0 };
/// Receive address 0: the port's station address.
pub const RA0: ReceiveAddress = ReceiveAddress { ral: RAL0, rah: RAH0 };
/// The statistics the driver accumulates: missed frames are the MAC's (MPC) plus queue 0's drops
/// for want of a descriptor (RQDPC, with SRRCTL.DROP_EN).
pub const STATS: StatRegs = StatRegs {
    crc_errors: CRCERRS,
    missed: &[MPC, RQDPC0],
    no_buffer: Some(RNBC),
    good_rx_frames: GPRC,
    good_tx_frames: GPTC,
    good_rx_octets: (GORCL, GORCH),
    good_tx_octets: (GOTCL, GOTCH),
    octets_high_mask: u32::MAX,
};

//! 82599 register offsets and bits (queue 0 where a register is per queue), named
//! as in the Intel 82599 10 GbE Controller datasheet; the X550 keeps these for
//! the subset used here.
//! Constants carry the datasheet's own names; a doc line marks each group.
#![allow(missing_docs)]

/// Device Control.
pub const CTRL: usize = 0x00000;
/// Device Status.
pub const STATUS: usize = 0x00008;
/// Extended Device Control.
pub const CTRL_EXT: usize = 0x00018;
/// Extended Interrupt Cause Read (clear on read in this driver's mode).
pub const EICR: usize = 0x00800;
/// Extended Interrupt Cause Set.
pub const EICS: usize = 0x00808;
/// Extended Interrupt Throttle, vector 0 (also the legacy/MSI interrupt).
pub const EITR0: usize = 0x00820;
/// Extended Interrupt Mask Set/Read.
pub const EIMS: usize = 0x00880;
/// Extended Interrupt Mask Clear.
pub const EIMC: usize = 0x00888;
/// General Purpose Interrupt Enable.
pub const GPIE: usize = 0x00898;
/// Interrupt Vector Allocation, queue pair 0 (RX queue 0 in bits 7:0, TX queue 0 in 15:8).
pub const IVAR0: usize = 0x00900;
/// Receive descriptor ring 0: base low/high, length, head, tail, control.
pub const RDBAL0: usize = 0x01000;
pub const RDBAH0: usize = 0x01004;
pub const RDLEN0: usize = 0x01008;
pub const RDH0: usize = 0x01010;
pub const RDT0: usize = 0x01018;
pub const RXDCTL0: usize = 0x01028;
/// Split and Replication Receive Control, queue 0.
pub const SRRCTL0: usize = 0x02100;
/// Receive DCA control, queue 0.
pub const DCA_RXCTRL0: usize = 0x02200;
/// Receive DMA Control.
pub const RDRXCTL: usize = 0x02F00;
/// Receive Control.
pub const RXCTRL: usize = 0x03000;
/// Statistics (clear on read): CRC errors, missed packets (packet buffer 0),
/// good packets received/transmitted, good octets received/transmitted (low, high).
pub const CRCERRS: usize = 0x04000;
pub const MPC0: usize = 0x03FA0;
pub const GPRC: usize = 0x04074;
pub const GPTC: usize = 0x04080;
pub const GORCL: usize = 0x04088;
pub const GORCH: usize = 0x0408C;
pub const GOTCL: usize = 0x04090;
pub const GOTCH: usize = 0x04094;
/// Queue Packets Received Drop Count, queue 0: frames dropped for want of a
/// descriptor while SRRCTL.DROP_EN is set (clear on read).
pub const QPRDC0: usize = 0x01430;
/// MAC Core Control 0.
pub const HLREG0: usize = 0x04240;
/// Auto-Negotiation Control (82599 MAC link setup).
pub const AUTOC: usize = 0x042A0;
/// Link Status.
pub const LINKS: usize = 0x042A4;
/// DCB Transmit Descriptor Plane Control and Status.
pub const RTTDCS: usize = 0x04900;
/// DMA Transmit Control.
pub const DMATXCTL: usize = 0x04A80;
/// Filter Control.
pub const FCTRL: usize = 0x05080;
/// Multicast Table Array, 128 dwords.
pub const MTA: usize = 0x05200;
pub const MTA_LEN: usize = 128;
/// Transmit descriptor ring 0: base low/high, length, head, tail, control.
pub const TDBAL0: usize = 0x06000;
pub const TDBAH0: usize = 0x06004;
pub const TDLEN0: usize = 0x06008;
pub const TDH0: usize = 0x06010;
pub const TDT0: usize = 0x06018;
pub const TXDCTL0: usize = 0x06028;
/// Multiple Transmit Queues Command.
pub const MTQC: usize = 0x08120;
/// Receive Address 0, low and high.
pub const RAL0: usize = 0x0A200;
pub const RAH0: usize = 0x0A204;
/// EEPROM/Flash Control (82599 location).
pub const EEC: usize = 0x10010;

// CTRL
pub const CTRL_LRST: u32 = 1 << 3;
pub const CTRL_RST: u32 = 1 << 26;
/// Both resets: the 82599 datasheet's software reset sets both.
pub const CTRL_RST_MASK: u32 = CTRL_LRST | CTRL_RST;

// CTRL_EXT
/// No Snoop Disable: descriptors and buffers stay cache-coherent.
pub const CTRL_EXT_NS_DIS: u32 = 1 << 16;

// EICR / EIMS / EIMC
/// Queue interrupt causes (as mapped by IVAR) live in bits 15:0.
pub const EICR_RTXQ_MASK: u32 = 0xFFFF;
/// Link Status Change.
pub const EICR_LSC: u32 = 1 << 20;
/// EICR bit the driver maps RX queue 0 to, and TX queue 0 to (via IVAR0).
pub const EICR_RX0: u32 = 1 << 0;
pub const EICR_TX0: u32 = 1 << 1;
/// IVAR entry valid.
pub const IVAR_ALLOC_VAL: u32 = 1 << 7;

// EEC
/// EEPROM Auto Read Done.
pub const EEC_ARD: u32 = 1 << 9;

// RDRXCTL
pub const RDRXCTL_CRCSTRIP: u32 = 1 << 1;
/// DMA initialisation done.
pub const RDRXCTL_DMAIDONE: u32 = 1 << 3;

// RXCTRL
pub const RXCTRL_RXEN: u32 = 1 << 0;

// RXDCTL / TXDCTL
pub const RXDCTL_ENABLE: u32 = 1 << 25;
pub const TXDCTL_ENABLE: u32 = 1 << 25;
/// TXDCTL thresholds: prefetch (bits 6:0), host (14:8), write-back (22:16).
pub const TXDCTL_PTHRESH_SHIFT: u32 = 0;
pub const TXDCTL_HTHRESH_SHIFT: u32 = 8;
pub const TXDCTL_WTHRESH_SHIFT: u32 = 16;
pub const TXDCTL_THRESH_MASK: u32 = 0x7F | 0x7F << 8 | 0x7F << 16;

// SRRCTL
/// Receive buffer size, in 1 KiB units (bits 4:0).
pub const SRRCTL_BSIZEPACKET_MASK: u32 = 0x1F;
/// Descriptor type (bits 27:25): 001 = advanced, one buffer.
pub const SRRCTL_DESCTYPE_MASK: u32 = 0b111 << 25;
pub const SRRCTL_DESCTYPE_ADV_ONEBUF: u32 = 0b001 << 25;
/// Drop frames for this queue when it has no descriptors (instead of stalling the packet buffer).
pub const SRRCTL_DROP_EN: u32 = 1 << 28;

// DCA_RXCTRL
/// Relaxed ordering of receive data and header writes: off, so the device's
/// descriptor write-back (DD) can never overtake the frame data it describes.
pub const DCA_RXCTRL_DATA_WRO_EN: u32 = 1 << 13;
pub const DCA_RXCTRL_HEAD_WRO_EN: u32 = 1 << 15;
/// Bit 12 resets to 1 but the 82599 datasheet lists it as reserved, write 0.
pub const DCA_RXCTRL_RESERVED_12: u32 = 1 << 12;

// HLREG0
pub const HLREG0_TXCRCEN: u32 = 1 << 0;
pub const HLREG0_RXCRCSTRP: u32 = 1 << 1;
pub const HLREG0_JUMBOEN: u32 = 1 << 2;
pub const HLREG0_TXPADEN: u32 = 1 << 10;
pub const HLREG0_LPBK: u32 = 1 << 15;

// AUTOC
/// Restart auto-negotiation.
pub const AUTOC_AN_RESTART: u32 = 1 << 12;
/// Link Mode Select (bits 15:13).
pub const AUTOC_LMS_SHIFT: u32 = 13;
pub const AUTOC_LMS_MASK: u32 = 0b111 << AUTOC_LMS_SHIFT;
/// 10 GbE serial link without auto-negotiation (SFP+ direct attach / optics).
pub const AUTOC_LMS_10G_SERIAL: u32 = 0b011 << AUTOC_LMS_SHIFT;
/// 10G PMA/PMD for parallel interfaces (bits 8:7); 00 = XAUI.
pub const AUTOC_10G_PMA_PMD_MASK: u32 = 0b11 << 7;

// LINKS
pub const LINKS_UP: u32 = 1 << 30;
pub const LINKS_SPEED_MASK: u32 = 0b11 << 28;
pub const LINKS_SPEED_10G: u32 = 0b11 << 28;
pub const LINKS_SPEED_1G: u32 = 0b10 << 28;
pub const LINKS_SPEED_100M: u32 = 0b01 << 28;

// RTTDCS
/// Transmit descriptor arbiter disable, held while the transmit queue layout changes.
pub const RTTDCS_ARBDIS: u32 = 1 << 6;

// DMATXCTL
pub const DMATXCTL_TE: u32 = 1 << 0;

// FCTRL
pub const FCTRL_SBP: u32 = 1 << 1;
pub const FCTRL_MPE: u32 = 1 << 8;
pub const FCTRL_UPE: u32 = 1 << 9;
pub const FCTRL_BAM: u32 = 1 << 10;

// RAH
pub use nic_core::intel::RAH_AV;

use nic_core::intel::{QueueRegs, ReceiveAddress, StatRegs};

/// Receive queue 0's registers.
pub const RX_QUEUE: QueueRegs = QueueRegs { bal: RDBAL0, bah: RDBAH0, len: RDLEN0, head: RDH0, tail: RDT0 };
/// Transmit queue 0's registers.
pub const TX_QUEUE: QueueRegs = QueueRegs { bal: TDBAL0, bah: TDBAH0, len: TDLEN0, head: TDH0, tail: TDT0 };
/// Receive address 0: the station address.
pub const RA0: ReceiveAddress = ReceiveAddress { ral: RAL0, rah: RAH0 };
/// The statistics the driver accumulates: missed frames are the packet buffer's (MPC) plus
/// queue 0's drops for want of a descriptor (QPRDC, with SRRCTL.DROP_EN); octets are 36 bits.
pub const STATS: StatRegs = StatRegs {
    crc_errors: CRCERRS,
    missed: &[MPC0, QPRDC0],
    no_buffer: None,
    good_rx_frames: GPRC,
    good_tx_frames: GPTC,
    good_rx_octets: (GORCL, GORCH),
    good_tx_octets: (GOTCL, GOTCH),
    octets_high_mask: 0xF,
};

// Advanced descriptors (shared with igb: `nic_core::advanced`).
pub use nic_core::advanced::*;
/// Receive write-back error: any MAC error (CRC, length, symbol...).
pub const RXDADV_ERR_RXE: u32 = 1 << 29;

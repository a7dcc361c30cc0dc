//! 8254x / 82574 register offsets and bits, named as in the Intel datasheets
//! (8254x Family of Gigabit Ethernet Controllers SDM, 82574 GbE Controller datasheet).
//! Constants carry the datasheet's own names; a doc line marks each group.
#![allow(missing_docs)]

/// Device Control.
pub const CTRL: usize = 0x0000;
/// Device Status.
pub const STATUS: usize = 0x0008;
/// Flow Control Address Low / High, Type, Transmit Timer Value.
pub const FCAL: usize = 0x0028;
pub const FCAH: usize = 0x002C;
pub const FCT: usize = 0x0030;
pub const FCTTV: usize = 0x0170;
/// Interrupt Cause Read (clear on read).
pub const ICR: usize = 0x00C0;
/// Interrupt Throttling Rate (interval in 256 ns units).
pub const ITR: usize = 0x00C4;
/// Interrupt Cause Set.
pub const ICS: usize = 0x00C8;
/// Interrupt Mask Set/Read.
pub const IMS: usize = 0x00D0;
/// Interrupt Mask Clear.
pub const IMC: usize = 0x00D8;
/// Receive Control.
pub const RCTL: usize = 0x0100;
/// Transmit Control.
pub const TCTL: usize = 0x0400;
/// Transmit Inter Packet Gap.
pub const TIPG: usize = 0x0410;
/// Receive descriptor ring: base low/high, length, head, tail, delay timer, absolute delay.
pub const RDBAL: usize = 0x2800;
pub const RDBAH: usize = 0x2804;
pub const RDLEN: usize = 0x2808;
pub const RDH: usize = 0x2810;
pub const RDT: usize = 0x2818;
pub const RDTR: usize = 0x2820;
pub const RADV: usize = 0x282C;
/// Transmit descriptor ring: base low/high, length, head, tail, interrupt delay, absolute delay.
pub const TDBAL: usize = 0x3800;
pub const TDBAH: usize = 0x3804;
pub const TDLEN: usize = 0x3808;
pub const TDH: usize = 0x3810;
pub const TDT: usize = 0x3818;
pub const TIDV: usize = 0x3820;
pub const TADV: usize = 0x382C;
/// Statistics (clear on read): CRC errors, missed packets, receive no buffers,
/// good packets received/transmitted, good octets received/transmitted (low, high).
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

// CTRL
pub const CTRL_FD: u32 = 1 << 0;
pub const CTRL_LRST: u32 = 1 << 3;
pub const CTRL_ASDE: u32 = 1 << 5;
pub const CTRL_SLU: u32 = 1 << 6;
pub const CTRL_ILOS: u32 = 1 << 7;
pub const CTRL_FRCSPD: u32 = 1 << 11;
pub const CTRL_FRCDPLX: u32 = 1 << 12;
pub const CTRL_RST: u32 = 1 << 26;
pub const CTRL_VME: u32 = 1 << 30;
pub const CTRL_PHY_RST: u32 = 1 << 31;

// STATUS
pub const STATUS_FD: u32 = 1 << 0;
pub const STATUS_LU: u32 = 1 << 1;
pub const STATUS_SPEED_SHIFT: u32 = 6;
pub const STATUS_SPEED_MASK: u32 = 0b11 << STATUS_SPEED_SHIFT;

// ICR / IMS / IMC cause bits
pub const ICR_TXDW: u32 = 1 << 0;
pub const ICR_TXQE: u32 = 1 << 1;
pub const ICR_LSC: u32 = 1 << 2;
pub const ICR_RXDMT0: u32 = 1 << 4;
pub const ICR_RXO: u32 = 1 << 6;
pub const ICR_RXT0: u32 = 1 << 7;

// RCTL
pub const RCTL_EN: u32 = 1 << 1;
pub const RCTL_SBP: u32 = 1 << 2;
pub const RCTL_UPE: u32 = 1 << 3;
pub const RCTL_MPE: u32 = 1 << 4;
pub const RCTL_LPE: u32 = 1 << 5;
pub const RCTL_BAM: u32 = 1 << 15;
/// Buffer size field (bits 17:16); 00 with BSEX = 0 is 2048 bytes.
pub const RCTL_BSIZE_MASK: u32 = 0b11 << 16;
pub const RCTL_BSEX: u32 = 1 << 25;
pub const RCTL_SECRC: u32 = 1 << 26;

// TCTL
pub const TCTL_EN: u32 = 1 << 1;
pub const TCTL_PSP: u32 = 1 << 3;
pub const TCTL_CT_SHIFT: u32 = 4;
pub const TCTL_COLD_SHIFT: u32 = 12;
/// Collision threshold the datasheet recommends (16 attempts).
pub const TCTL_CT_DEFAULT: u32 = 0x0F;
/// Collision distance for full duplex (64 byte times).
pub const TCTL_COLD_FULL_DUPLEX: u32 = 0x40;

/// TIPG for copper: IPGT 10, IPGR1 8, IPGR2 6 (datasheet recommended values).
pub const TIPG_COPPER: u32 = 10 | 8 << 10 | 6 << 20;

pub use nic_core::intel::RAH_AV;

use nic_core::intel::{QueueRegs, ReceiveAddress, StatRegs};

/// The receive queue's registers.
pub const RX_QUEUE: QueueRegs = QueueRegs { bal: RDBAL, bah: RDBAH, len: RDLEN, head: RDH, tail: RDT };
/// The transmit queue's registers.
pub const TX_QUEUE: QueueRegs = QueueRegs { bal: TDBAL, bah: TDBAH, len: TDLEN, head: TDH, tail: TDT };
/// Receive address 0: the station address.
pub const RA0: ReceiveAddress = ReceiveAddress { ral: RAL0, rah: RAH0 };
/// The statistics the driver accumulates (64-bit octet counters).
pub const STATS: StatRegs = StatRegs {
    crc_errors: CRCERRS,
    missed: &[MPC],
    no_buffer: Some(RNBC),
    good_rx_frames: GPRC,
    good_tx_frames: GPTC,
    good_rx_octets: (GORCL, GORCH),
    good_tx_octets: (GOTCL, GOTCH),
    octets_high_mask: u32::MAX,
};

// Legacy receive descriptor: status (byte 12) and errors (byte 13).
pub const RXD_STAT_DD: u8 = 1 << 0;
pub const RXD_STAT_EOP: u8 = 1 << 1;
/// CE, SE, SEQ, CXE, RXE: the frame itself is bad (checksum errors are not, and are off).
pub const RXD_ERR_FRAME: u8 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 | 1 << 7;

// Legacy transmit descriptor: command (byte 11) and status (byte 12).
pub const TXD_CMD_EOP: u8 = 1 << 0;
pub const TXD_CMD_IFCS: u8 = 1 << 1;
pub const TXD_CMD_RS: u8 = 1 << 3;
pub const TXD_STAT_DD: u8 = 1 << 0;

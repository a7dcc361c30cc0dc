//! The advanced descriptor format that the igb (82575 and later) and ixgbe families share (82576
//! datasheet 7.1.5 and 7.2.2.3; 82599 datasheet 7.1.6 and 7.2.3.2): one-buffer receive
//! descriptors and data transmit descriptors, 16 bytes each. The families differ only in which
//! write-back error bits mean a bad frame, which is `Advanced`'s parameter.

use crate::queue::{DescFormat, RxDone};
use crate::Buffer;

// Receive write-back, upper qword: extended status and errors (bytes 8-11), length (12-13).
/// Descriptor Done.
pub const RXDADV_STAT_DD: u32 = 1 << 0;
/// End Of Packet: the frame's last buffer.
pub const RXDADV_STAT_EOP: u32 = 1 << 1;

// Transmit data descriptor, read format: cmd_type_len (bytes 8-11), olinfo_status (12-15).
/// Descriptor type: data.
pub const ADVTXD_DTYP_DATA: u32 = 0b0011 << 20;
/// End Of Packet.
pub const ADVTXD_DCMD_EOP: u32 = 1 << 24;
/// Insert FCS.
pub const ADVTXD_DCMD_IFCS: u32 = 1 << 25;
/// Report Status: write DD back.
pub const ADVTXD_DCMD_RS: u32 = 1 << 27;
/// Descriptor extension: an advanced descriptor.
pub const ADVTXD_DCMD_DEXT: u32 = 1 << 29;
/// Payload length field of olinfo_status (bits 31:14).
pub const ADVTXD_PAYLEN_SHIFT: u32 = 14;
/// Transmit write-back: Descriptor Done, in bit 0 of bytes 12-15.
pub const ADVTXD_STAT_DD: u32 = 1 << 0;

/// Advanced one-buffer receive and data transmit descriptors; a write-back with any of
/// `RX_ERRORS` set in its extended error bits is a bad frame.
pub struct Advanced<const RX_ERRORS: u32>;

impl<const RX_ERRORS: u32> DescFormat for Advanced<RX_ERRORS> {
    fn rx_desc(buffer: &Buffer) -> (u64, u64) {
        // Read format: packet address, header address 0 (its bit 0 is where DD lands).
        (buffer.phys, 0)
    }

    fn rx_done(hi: u64) -> Option<RxDone> {
        let status_error = hi as u32;
        (status_error & RXDADV_STAT_DD != 0).then(|| RxDone {
            len: (hi >> 32) as u16,
            eop: status_error & RXDADV_STAT_EOP != 0,
            error: status_error & RX_ERRORS != 0,
        })
    }

    fn tx_desc(frame: &Buffer) -> (u64, u64) {
        // One data descriptor per frame: end of packet, insert FCS, report status.
        let cmd_type_len =
            frame.len | ADVTXD_DTYP_DATA | ADVTXD_DCMD_DEXT | ADVTXD_DCMD_EOP | ADVTXD_DCMD_IFCS | ADVTXD_DCMD_RS;
        let olinfo_status = frame.len << ADVTXD_PAYLEN_SHIFT;
        (frame.phys, u64::from(cmd_type_len) | u64::from(olinfo_status) << 32)
    }

    fn tx_done(hi: u64) -> bool {
        (hi >> 32) as u32 & ADVTXD_STAT_DD != 0
    }
}

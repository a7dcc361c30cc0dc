//! The advanced descriptor format of the 82599/X550 (82599 datasheet, sections 7.1.6 receive
//! and 7.2.3.2 transmit): one-buffer receive descriptors, data transmit descriptors.

use crate::regs::*;
use nic_core::queue::{DescFormat, RxDone};
use nic_core::Buffer;

/// Advanced one-buffer receive and data transmit descriptors.
pub struct Advanced;

impl DescFormat for Advanced {
    fn rx_desc(buffer: &Buffer) -> (u64, u64) {
        // Read format: packet address, header address 0 (its bit 0 is where DD lands).
        (buffer.phys, 0)
    }

    fn rx_done(hi: u64) -> Option<RxDone> {
        // Write-back upper qword: extended status and errors (bytes 8-11), length (12-13).
        let status_error = hi as u32;
        (status_error & RXDADV_STAT_DD != 0).then(|| RxDone {
            len: (hi >> 32) as u16,
            eop: status_error & RXDADV_STAT_EOP != 0,
            error: status_error & RXDADV_ERR_RXE != 0,
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

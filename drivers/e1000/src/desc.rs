//! The legacy descriptor format of the 8254x/82574 (datasheets, section 3.2.3 receive and 3.3.3
//! transmit): 16 bytes, the buffer address in the lower eight, length, status and errors in the
//! upper eight.

use crate::regs::*;
use nic_core::queue::{DescFormat, RxDone};
use nic_core::Buffer;

/// Legacy receive and transmit descriptors.
pub struct Legacy;

impl DescFormat for Legacy {
    fn rx_desc(buffer: &Buffer) -> (u64, u64) {
        // Buffer address; the rest (where the device writes back) zeroed so that DD reads clear.
        (buffer.phys, 0)
    }

    fn rx_done(hi: u64) -> Option<RxDone> {
        // Length (bytes 8-9), checksum (10-11), status (12), errors (13), special (14-15).
        let status = (hi >> 32) as u8;
        (status & RXD_STAT_DD != 0).then(|| RxDone {
            len: hi as u16,
            eop: status & RXD_STAT_EOP != 0,
            error: (hi >> 40) as u8 & RXD_ERR_FRAME != 0,
        })
    }

    fn tx_desc(frame: &Buffer) -> (u64, u64) {
        // Length (bytes 8-9), CSO 0, CMD (byte 11): end of packet, insert FCS, report status (so
        // every descriptor gets DD and is reclaimed in order).
        let cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
        (frame.phys, u64::from(frame.len) | u64::from(cmd) << 24)
    }

    fn tx_done(hi: u64) -> bool {
        (hi >> 32) as u8 & TXD_STAT_DD != 0
    }
}

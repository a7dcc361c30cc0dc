//! The X722's LAN descriptors, 16 bytes each: the 16-byte receive descriptor (the receive queue
//! context's DSIZE = 0) and the transmit data descriptor, with completion seen as the descriptor
//! type DESC_DONE that the device writes back into a descriptor whose RS bit was set.

use nic_core::queue::{DescFormat, RxDone};
use nic_core::Buffer;

// Receive write-back, qword 1: status (bits 18:0), error (26:19), packet type (37:30), packet
// buffer length (51:38).
/// Descriptor Done.
pub const RX_STATUS_DD: u64 = 1 << 0;
/// End Of Packet: the frame's last buffer.
pub const RX_STATUS_EOP: u64 = 1 << 1;
/// First bit of the error field.
pub const RX_ERROR_SHIFT: u32 = 19;
/// Receive error (CRC, symbol, size, ...): the MAC's own judgement that the frame is bad.
pub const RX_ERROR_RXE: u64 = 1 << RX_ERROR_SHIFT;
/// Header buffer overflow (header split only; never set with one buffer).
pub const RX_ERROR_HBO: u64 = 1 << (RX_ERROR_SHIFT + 2);
/// The frame exceeded the queue context's RXMAX.
pub const RX_ERROR_OVERSIZE: u64 = 1 << (RX_ERROR_SHIFT + 6);
/// Errors that make a frame bad (the IP/L4 checksum errors do not: the stack checks those).
pub const RX_ERRORS_BAD: u64 = RX_ERROR_RXE | RX_ERROR_HBO | RX_ERROR_OVERSIZE;
/// First bit of the packet buffer length.
pub const RX_LEN_SHIFT: u32 = 38;
/// Width mask of the packet buffer length.
pub const RX_LEN_MASK: u64 = 0x3FFF;

// Transmit data descriptor, qword 1: type (3:0), command (13:4), offsets (33:16), buffer size
// (47:34), L2 tag (63:48).
/// Descriptor type: data.
pub const TX_DTYPE_DATA: u64 = 0x0;
/// Descriptor type the device writes back when it is done with a descriptor (RS set).
pub const TX_DTYPE_DESC_DONE: u64 = 0xF;
/// Mask of the descriptor type.
pub const TX_DTYPE_MASK: u64 = 0xF;
/// First bit of the command field.
pub const TX_CMD_SHIFT: u32 = 4;
/// End Of Packet.
pub const TX_CMD_EOP: u64 = 1 << TX_CMD_SHIFT;
/// Report Status: write the descriptor back when done.
pub const TX_CMD_RS: u64 = 1 << (TX_CMD_SHIFT + 1);
/// Insert the FCS (ICRC).
pub const TX_CMD_ICRC: u64 = 1 << (TX_CMD_SHIFT + 2);
/// First bit of the buffer size.
pub const TX_BUF_SIZE_SHIFT: u32 = 34;
/// Width mask of the buffer size.
pub const TX_BUF_SIZE_MASK: u64 = 0x3FFF;

/// The X722's 16-byte receive and transmit data descriptors.
pub struct X722Desc;

impl DescFormat for X722Desc {
    fn rx_desc(buffer: &Buffer) -> (u64, u64) {
        // Read format: packet buffer address, header buffer address 0 (where DD lands).
        (buffer.phys, 0)
    }

    fn rx_done(hi: u64) -> Option<RxDone> {
        (hi & RX_STATUS_DD != 0).then(|| RxDone {
            len: (hi >> RX_LEN_SHIFT & RX_LEN_MASK) as u16,
            eop: hi & RX_STATUS_EOP != 0,
            error: hi & RX_ERRORS_BAD != 0,
        })
    }

    fn tx_desc(frame: &Buffer) -> (u64, u64) {
        // One data descriptor per frame: end of packet, insert the FCS, report status.
        let hi = TX_DTYPE_DATA | TX_CMD_EOP | TX_CMD_RS | TX_CMD_ICRC | u64::from(frame.len) << TX_BUF_SIZE_SHIFT;
        (frame.phys, hi)
    }

    fn tx_done(hi: u64) -> bool {
        hi & TX_DTYPE_MASK == TX_DTYPE_DESC_DONE
    }

    /// The open drivers never hand the X722 a frame under 17 bytes (they pad): the device
    /// treats one as a malicious driver's and stops the queue.
    const MIN_TX_LEN: u32 = 17;
}

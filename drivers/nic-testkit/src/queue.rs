//! The device side of a descriptor queue, as every register model does it: fetch the
//! descriptors between head and tail, DMA frames into and out of the buffers they name, write
//! the descriptors back, and move the head. A model supplies its descriptor format
//! ([`DeviceFormat`]) and its registers' values ([`RingRegs`]); what it does with frames
//! (address filters, statistics, interrupt causes) stays in the model.

use crate::Arena;
use nic_core::advanced::*;

/// A ring as its registers describe it: base address, length in bytes, head and tail.
#[derive(Clone, Copy, Debug)]
pub struct RingRegs {
    /// Base address (BAL | BAH << 32).
    pub base: u64,
    /// Length register (bytes).
    pub len_bytes: u32,
    /// Head register.
    pub head: u32,
    /// Tail register.
    pub tail: u32,
}

impl RingRegs {
    fn count(&self) -> usize {
        (self.len_bytes / 16) as usize
    }

    fn desc(&self, index: usize) -> u64 {
        self.base + (index * 16) as u64
    }
}

/// A transmit descriptor as the device reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TxDesc {
    /// Buffer address.
    pub addr: u64,
    /// Bytes to send from it.
    pub len: usize,
    /// The frame's last descriptor.
    pub eop: bool,
    /// Write status back.
    pub report_status: bool,
    /// Append the FCS.
    pub insert_fcs: bool,
}

/// A device family's descriptor format, from the device's side.
pub trait DeviceFormat {
    /// The buffer address a posted receive descriptor names.
    fn rx_buffer(lo: u64, hi: u64) -> u64;

    /// The descriptor (`lo`, `hi`) after write-back of `len` bytes, end of packet `eop`, with the
    /// family's error bits `errors` (on the frame's last descriptor only).
    fn rx_writeback(lo: u64, hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64);

    /// The receive write-back (`lo`, `hi`) with its length field set to `len`.
    fn rx_claim(lo: u64, hi: u64, len: u16) -> (u64, u64);

    /// A transmit descriptor, or what is wrong with it (a protocol error the real device would
    /// misbehave on).
    fn tx_parse(lo: u64, hi: u64) -> Result<TxDesc, String>;

    /// The transmit descriptor (`lo`, `hi`) after status write-back.
    fn tx_writeback(lo: u64, hi: u64) -> (u64, u64);
}

/// What receiving a frame did to a ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RxDma {
    /// Written; the head's new value and how many times it wrapped to 0.
    Written { head: u32, wraps: u32 },
    /// Not enough descriptors between head and tail for the frame's buffers.
    NoRoom,
    /// The registers make no ring (head or tail past its end, or no length).
    BadRing,
}

/// Receives `data` (the frame as stored, FCS included if not stripped) into the ring in buffers
/// of `buffer_size` bytes, writing each descriptor back. Problems a real device would silently
/// misbehave on go into `protocol_errors`.
pub fn receive<F: DeviceFormat>(
    mem: &Arena,
    ring: RingRegs,
    buffer_size: usize,
    data: &[u8],
    errors: u32,
    protocol_errors: &mut Vec<String>,
) -> RxDma {
    let count = ring.count();
    let (head, tail) = (ring.head as usize, ring.tail as usize);
    if count == 0 || head >= count || tail >= count {
        if count != 0 {
            protocol_errors.push(format!("RDH {head} / RDT {tail} outside ring of {count}"));
        }
        return RxDma::BadRing;
    }
    let chunks = data.len().div_ceil(buffer_size);
    if (tail + count - head) % count < chunks {
        return RxDma::NoRoom;
    }
    let (mut head, mut wraps) = (head, 0);
    for (i, chunk) in data.chunks(buffer_size).enumerate() {
        let desc = ring.desc(head);
        let (lo, hi) = (mem.read_u64(desc), mem.read_u64(desc + 8));
        let addr = F::rx_buffer(lo, hi);
        if !mem.dma_write(addr, chunk) {
            protocol_errors.push(format!("receive buffer {addr:#x} outside DMA memory"));
        }
        let last = i + 1 == chunks;
        let (lo, hi) = F::rx_writeback(lo, hi, chunk.len(), last, if last { errors } else { 0 });
        mem.write_u64(desc, lo);
        mem.write_u64(desc + 8, hi);
        head = (head + 1) % count;
        wraps += u32::from(head == 0);
    }
    RxDma::Written { head: head as u32, wraps }
}

/// What a transmit pass did.
#[derive(Debug, Default)]
pub struct TxDma {
    /// Frames that left, each with whether the descriptor asked for the FCS.
    pub frames: Vec<(Vec<u8>, bool)>,
    /// The head's new value.
    pub head: u32,
    /// Times the head wrapped to 0.
    pub wraps: u32,
    /// Some descriptor had its status written back.
    pub written_back: bool,
}

/// Sends what the driver queued, at most `max` descriptors: reads each descriptor and its buffer,
/// gathers buffers up to the end of packet into a frame (`partial` holds a frame cut off by
/// `max`), writes status back where asked.
pub fn transmit<F: DeviceFormat>(
    mem: &Arena,
    ring: RingRegs,
    max: usize,
    partial: &mut Vec<u8>,
    protocol_errors: &mut Vec<String>,
) -> TxDma {
    let count = ring.count();
    let (mut head, tail) = (ring.head as usize, ring.tail as usize);
    let mut out = TxDma { head: ring.head, ..TxDma::default() };
    if count == 0 || tail >= count {
        protocol_errors.push(format!("TDT {tail} outside ring of {count}"));
        return out;
    }
    let mut done = 0;
    while head != tail && done < max {
        let desc = ring.desc(head);
        let (lo, hi) = (mem.read_u64(desc), mem.read_u64(desc + 8));
        match F::tx_parse(lo, hi) {
            Ok(d) => {
                let mut bytes = vec![0u8; d.len];
                if !mem.dma_read(d.addr, &mut bytes) {
                    protocol_errors.push(format!("transmit buffer {:#x} outside DMA memory", d.addr));
                }
                partial.extend_from_slice(&bytes);
                if d.report_status {
                    let (lo, hi) = F::tx_writeback(lo, hi);
                    mem.write_u64(desc, lo);
                    mem.write_u64(desc + 8, hi);
                    out.written_back = true;
                }
                if d.eop {
                    out.frames.push((std::mem::take(partial), d.insert_fcs));
                }
            }
            Err(e) => protocol_errors.push(e),
        }
        head = (head + 1) % count;
        out.wraps += u32::from(head == 0);
        done += 1;
    }
    out.head = head as u32;
    out
}

/// The advanced descriptor formats (igb, ixgbe) as the device reads and writes them: one-buffer
/// receive descriptors, data transmit descriptors with one buffer per frame.
pub struct AdvancedDevice;

impl DeviceFormat for AdvancedDevice {
    fn rx_buffer(lo: u64, _hi: u64) -> u64 {
        lo
    }

    fn rx_writeback(_lo: u64, _hi: u64, len: usize, eop: bool, errors: u32) -> (u64, u64) {
        // Write-back: packet info (lower qword), status/error and length (upper).
        let status = RXDADV_STAT_DD | if eop { RXDADV_STAT_EOP | errors } else { 0 };
        (0, u64::from(status) | (len as u64) << 32)
    }

    fn rx_claim(lo: u64, hi: u64, len: u16) -> (u64, u64) {
        (lo, hi & !(0xFFFF << 32) | u64::from(len) << 32)
    }

    fn tx_parse(lo: u64, hi: u64) -> Result<TxDesc, String> {
        let cmd_type_len = hi as u32;
        let olinfo = (hi >> 32) as u32;
        if cmd_type_len & ADVTXD_DCMD_DEXT == 0 || cmd_type_len & (0xF << 20) != ADVTXD_DTYP_DATA {
            return Err(format!("not an advanced data descriptor: {cmd_type_len:#x}"));
        }
        let len = (cmd_type_len & 0xFFFF) as usize;
        let eop = cmd_type_len & ADVTXD_DCMD_EOP != 0;
        // One descriptor per frame here, so PAYLEN is the frame's length.
        if eop && (olinfo >> ADVTXD_PAYLEN_SHIFT) as usize != len {
            return Err(format!("PAYLEN {} for a {len}-byte frame", olinfo >> ADVTXD_PAYLEN_SHIFT));
        }
        Ok(TxDesc {
            addr: lo,
            len,
            eop,
            report_status: cmd_type_len & ADVTXD_DCMD_RS != 0,
            insert_fcs: cmd_type_len & ADVTXD_DCMD_IFCS != 0,
        })
    }

    fn tx_writeback(_lo: u64, _hi: u64) -> (u64, u64) {
        (0, u64::from(ADVTXD_STAT_DD) << 32)
    }
}

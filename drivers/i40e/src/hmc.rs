//! The LAN host memory cache (HMC): where the X722 keeps its queue contexts.
//!
//! The device has no registers for a queue's ring address or length: they live in a context
//! object in host memory, which the device reaches through its own "function private memory"
//! (FPM) address space. The driver lays the FPM out (transmit contexts, then receive contexts,
//! each part aligned to 512 bytes, bases and counts in the GLHMC_LAN* registers), backs it with
//! host memory through segment descriptor 0 (direct: FPM offset = offset in one physically
//! contiguous buffer, as the Linux and DPDK drivers program it, sized to the objects rather than
//! the 2 MiB a segment could cover) and writes each queue's context into that buffer as the
//! datasheet's bit layout says. One queue pair fits in one 4 KiB page.

use crate::regs::*;
use nic_core::{DmaRegion, Hal, InitError};

/// FPM alignment of each object type's base (bases are programmed in these units).
pub const FPM_BASE_ALIGN: usize = 512;
/// Bytes of FPM one segment descriptor covers.
pub const SD_BYTES: usize = 2 << 20;
/// Bytes of the backing page.
pub const PAGE_BYTES: usize = 4096;

/// A field of a context: its first bit and its width, as the datasheet lists them.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Bit offset from the start of the context.
    pub lsb: usize,
    /// Width in bits (at most 64).
    pub width: usize,
}

const fn field(width: usize, lsb: usize) -> Field {
    Field { lsb, width }
}

/// The receive queue context (32 bytes).
pub mod rxq {
    use super::{field, Field};
    /// Bytes of the context.
    pub const BYTES: usize = 32;
    /// Head (the device's; 0 at enable).
    pub const HEAD: Field = field(13, 0);
    /// Ring base address in 128-byte units.
    pub const BASE: Field = field(57, 32);
    /// Descriptors in the ring.
    pub const QLEN: Field = field(13, 89);
    /// Data buffer size in 128-byte units.
    pub const DBUFF: Field = field(7, 102);
    /// Header buffer size in 64-byte units (no header split: 0).
    pub const HBUFF: Field = field(5, 109);
    /// Descriptor type: 0 = one buffer, no header split.
    pub const DTYPE: Field = field(2, 114);
    /// Descriptor size: 0 = 16 bytes, 1 = 32 bytes.
    pub const DSIZE: Field = field(1, 116);
    /// Strip the FCS.
    pub const CRCSTRIP: Field = field(1, 117);
    /// Where a stripped VLAN tag goes: 1 = L2TAG1 of the write-back.
    pub const L2TSEL: Field = field(1, 119);
    /// Largest frame the queue accepts, in bytes.
    pub const RXMAX: Field = field(14, 174);
    /// Low receive queue threshold (descriptors, units of 64).
    pub const LRXQTHRESH: Field = field(3, 198);
    /// Descriptor prefetch enabled.
    pub const PREFENA: Field = field(1, 201);
}

/// The transmit queue context (128 bytes).
pub mod txq {
    use super::{field, Field};
    /// Bytes of the context.
    pub const BYTES: usize = 128;
    /// Head (the device's; 0 at enable).
    pub const HEAD: Field = field(13, 0);
    /// The context is new (the device resets its cached state).
    pub const NEW_CONTEXT: Field = field(1, 30);
    /// Ring base address in 128-byte units.
    pub const BASE: Field = field(57, 32);
    /// Head write-back to host memory enabled (not used: descriptors are written back).
    pub const HEAD_WB_ENA: Field = field(1, 160);
    /// Descriptors in the ring.
    pub const QLEN: Field = field(13, 161);
    /// The queue set (ready list) the queue belongs to: the VSI's qs_handle for its TC.
    pub const RDYLIST: Field = field(10, 980);
    /// Ready list active (the driver leaves it 0).
    pub const RDYLIST_ACT: Field = field(1, 990);
}

/// Writes `value` into `field` of the little-endian context `ctx`.
pub fn set(ctx: &mut [u8], f: Field, value: u64) {
    for bit in 0..f.width {
        let at = f.lsb + bit;
        let (byte, shift) = (at / 8, at % 8);
        if value >> bit & 1 != 0 {
            ctx[byte] |= 1 << shift;
        } else {
            ctx[byte] &= !(1 << shift);
        }
    }
}

/// Reads `field` of the little-endian context `ctx`.
pub fn get(ctx: &[u8], f: Field) -> u64 {
    (0..f.width).fold(0, |v, bit| {
        let at = f.lsb + bit;
        v | u64::from(ctx[at / 8] >> (at % 8) & 1) << bit
    })
}

/// The LAN HMC of one PF with one transmit and one receive queue: its FPM layout and the host
/// page behind it.
pub struct LanHmc {
    /// The backing page of FPM bytes 0..4096.
    backing: DmaRegion,
    tx_base: usize,
    rx_base: usize,
    tx_obj: usize,
    rx_obj: usize,
}

impl LanHmc {
    /// Lays out the FPM of PF `pf_id` for `queues` queue pairs from the object sizes the device
    /// reports, programs the base and count registers, allocates the one backing page and
    /// installs segment descriptor 0 (direct) over it. A direct segment spans 2 MiB of FPM; only
    /// its first 4 KiB are backed, and the layout keeps every object the counts enable inside
    /// them (checked here), so the device has no reason to reach past the page (the open drivers
    /// back a direct segment with a whole 2 MiB; a paged segment would bound it by
    /// construction). Under VT-d the device reaches only the NIC PD's own DMA region anyway.
    pub fn new<H: Hal + ?Sized>(hal: &mut H, pf_id: usize, queues: usize) -> Result<Self, InitError> {
        let tx_obj = 1usize << (hal.read32(GLHMC_LANTXOBJSZ) & 0xF);
        let rx_obj = 1usize << (hal.read32(GLHMC_LANRXOBJSZ) & 0xF);
        let qmax = hal.read32(GLHMC_LANQMAX) as usize & GLHMC_LANQMAX_PMLANQMAX_MASK;
        if tx_obj < txq::BYTES || rx_obj < rxq::BYTES || queues == 0 || queues > qmax {
            return Err(InitError::DmaLayout);
        }
        let tx_base = 0;
        let rx_base = (tx_base + queues * tx_obj).next_multiple_of(FPM_BASE_ALIGN);
        let end = (rx_base + queues * rx_obj).next_multiple_of(FPM_BASE_ALIGN);
        if end > PAGE_BYTES {
            // One backing page is all this driver installs.
            return Err(InitError::DmaLayout);
        }
        hal.write32(GLHMC_LANTXBASE(pf_id), (tx_base / FPM_BASE_ALIGN) as u32);
        hal.write32(GLHMC_LANTXCNT(pf_id), queues as u32);
        hal.write32(GLHMC_LANRXBASE(pf_id), (rx_base / FPM_BASE_ALIGN) as u32);
        hal.write32(GLHMC_LANRXCNT(pf_id), queues as u32);
        // No FCoE objects: their parts start where the LAN's end and hold nothing.
        let none = (end / FPM_BASE_ALIGN) as u32;
        hal.write32(GLHMC_FCOEDDPBASE(pf_id), none);
        hal.write32(GLHMC_FCOEDDPCNT(pf_id), 0);
        hal.write32(GLHMC_FCOEFBASE(pf_id), none);
        hal.write32(GLHMC_FCOEFCNT(pf_id), 0);

        let backing = hal.dma_alloc(PAGE_BYTES, PAGE_BYTES).ok_or(InitError::DmaAlloc)?;
        // Segment descriptor 0, direct: FPM byte n is byte n of the backing page. High half first;
        // the command register's write bit makes the entry take effect.
        let sd = backing.phys();
        hal.write32(PFHMC_SDDATAHIGH, (sd >> 32) as u32);
        hal.write32(
            PFHMC_SDDATALOW,
            (sd as u32 & PFHMC_SDDATALOW_PMSDDATALOW_MASK)
                | HMC_MAX_BP_COUNT << PFHMC_SDDATALOW_PMSDBPCOUNT_SHIFT
                | PFHMC_SDDATALOW_PMSDTYPE_DIRECT
                | PFHMC_SDDATALOW_PMSDVALID,
        );
        hal.write32(PFHMC_SDCMD, PFHMC_SDCMD_PMSDWR);
        Ok(Self { backing, tx_base, rx_base, tx_obj, rx_obj })
    }
    /// Writes the transmit context of queue `q`.
    pub fn write_tx_context(&self, q: usize, ctx: &[u8; txq::BYTES]) {
        self.backing.write_bytes(self.tx_base + q * self.tx_obj, ctx);
    }

    /// Writes the receive context of queue `q`.
    pub fn write_rx_context(&self, q: usize, ctx: &[u8; rxq::BYTES]) {
        self.backing.write_bytes(self.rx_base + q * self.rx_obj, ctx);
    }
}

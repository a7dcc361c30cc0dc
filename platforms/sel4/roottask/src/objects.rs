//! Kernel objects for the system, retyped from the boot info's RAM untypeds into free slots of
//! the root CNode; and mapping frames into address spaces, creating paging structures on demand.

use alloc::vec::Vec;
use sel4_abi::generated::error::seL4_FailedLookup;
use sel4_abi::generated::error::seL4_NotEnoughMemory;
use sel4_abi::{init_cap, label, object_type as ty, BootInfo, CPtr, CapRights, Error, Word};

/// Depth of a cptr in the root CNode (the kernel gives its cap a guard for 64-bit lookups).
pub const ROOT_DEPTH: Word = 64;

/// An allocator of slots and objects.
pub struct Objects {
    next_slot: Word,
    first_slot: Word,
    end_slot: Word,
    /// RAM untypeds (cptr, size bits), largest first.
    untypeds: Vec<(CPtr, u8)>,
    current: usize,
    bytes: u64,
    /// Unused pieces of device untypeds (physical address, size bits, cptr), split on demand.
    device: Vec<(Word, u8, CPtr)>,
    /// Device frames made so far, by physical address: a page asked for again (the MSI-X table
    /// inside a BAR a PD maps too) gets a copy of the same frame.
    device_frames: Vec<(Word, CPtr)>,
}

impl Objects {
    /// The allocator over the boot info's empty slots and RAM untypeds.
    pub fn new(bi: &BootInfo) -> Self {
        let (empty, untyped) = (bi.empty, bi.untyped);
        let mut untypeds: Vec<(CPtr, u8)> = (untyped.start..untyped.end)
            .zip(bi.untyped_list.iter())
            .filter(|(_, d)| d.is_device == 0)
            .map(|(cptr, d)| (cptr, d.size_bits))
            .collect();
        untypeds.sort_by_key(|u| core::cmp::Reverse(u.1));
        let device = (untyped.start..untyped.end)
            .zip(bi.untyped_list.iter())
            .filter(|(_, d)| d.is_device != 0)
            .map(|(cptr, d)| (d.paddr, d.size_bits, cptr))
            .collect();
        Self { next_slot: empty.start, first_slot: empty.start, end_slot: empty.end, untypeds, current: 0, bytes: 0, device, device_frames: Vec::new() }
    }

    /// Slots used so far.
    pub fn slots_used(&self) -> Word {
        self.next_slot - self.first_slot
    }

    /// Bytes of objects created so far (approximate: object sizes, not alignment padding).
    pub fn bytes_used(&self) -> u64 {
        self.bytes
    }

    /// A free slot of the root CNode.
    pub fn slot(&mut self) -> CPtr {
        if self.next_slot >= self.end_slot {
            crate::console::fatal(format_args!("the root CNode is full ({} slots used)", self.slots_used()));
        }
        self.next_slot += 1;
        self.next_slot - 1
    }

    /// Creates one object of `object_type` (`size_bits` for CNodes and untypeds) and returns
    /// its cap.
    pub fn create(&mut self, object_type: Word, size_bits: Word) -> CPtr {
        let slot = self.slot();
        while let Some(&(untyped, _)) = self.untypeds.get(self.current) {
            match sel4_abi::untyped_retype(untyped, object_type, size_bits, init_cap::seL4_CapInitThreadCNode, 0, 0, slot, 1) {
                Ok(()) => {
                    self.bytes += object_bytes(object_type, size_bits);
                    return slot;
                }
                Err(Error(e)) if e == seL4_NotEnoughMemory => self.current += 1,
                Err(e) => crate::console::fatal(format_args!("retype of object type {object_type}: {e}")),
            }
        }
        crate::console::fatal(format_args!("out of memory after {} KiB", self.bytes / 1024))
    }

    /// `pages` frames of physically contiguous RAM, in address order (for DMA: the first frame's
    /// address locates them all). They come from one fresh untyped of the next power-of-two size.
    pub fn contiguous_frames(&mut self, pages: Word) -> Vec<CPtr> {
        let bits = (pages * 4096).next_power_of_two().trailing_zeros().max(12) as Word;
        let untyped = self.create(ty::seL4_UntypedObject, bits);
        (0..pages)
            .map(|_| {
                let frame = self.slot();
                let root = init_cap::seL4_CapInitThreadCNode;
                if let Err(e) = sel4_abi::untyped_retype(untyped, ty::seL4_X86_4K, 0, root, 0, 0, frame, 1) {
                    crate::console::fatal(format_args!("frame from a {bits}-bit untyped: {e}"));
                }
                frame
            })
            .collect()
    }

    /// The device frame at physical address `paddr` (device registers, or memory a device
    /// exposes), split out of the device untyped that covers it: each step halves the piece
    /// that contains `paddr` and keeps the other half for later requests. Every call returns a
    /// fresh copy of the frame's cap (to map once), so a page may be asked for again.
    pub fn device_frame(&mut self, paddr: Word) -> Result<CPtr, &'static str> {
        if let Some(&(_, frame)) = self.device_frames.iter().find(|&&(p, _)| p == paddr) {
            return Ok(self.copy(frame, CapRights::ALL));
        }
        let i = self
            .device
            .iter()
            .position(|&(base, bits, _)| paddr >= base && paddr - base < 1 << bits)
            .ok_or("no free device memory there (RAM, kernel-reserved, or already given out)")?;
        let (mut base, mut bits, mut cap) = self.device.swap_remove(i);
        let root = init_cap::seL4_CapInitThreadCNode;
        while bits > 12 {
            let (low, high) = (self.slot(), self.slot());
            sel4_abi::untyped_retype(cap, ty::seL4_UntypedObject, bits as Word - 1, root, 0, 0, low, 2)
                .map_err(|_| "splitting a device untyped failed")?;
            bits -= 1;
            if paddr < base + (1 << bits) {
                self.device.push((base + (1 << bits), bits, high));
                cap = low;
            } else {
                self.device.push((base, bits, low));
                cap = high;
                base += 1 << bits;
            }
        }
        let frame = self.slot();
        sel4_abi::untyped_retype(cap, ty::seL4_X86_4K, 0, root, 0, 0, frame, 1).map_err(|_| "device frame retype failed")?;
        self.device_frames.push((paddr, frame));
        // The original stays unmapped; every user maps a copy.
        Ok(self.copy(frame, CapRights::ALL))
    }

    /// Copies a cap of the root CNode into a new slot with `rights`.
    pub fn copy(&mut self, cap: CPtr, rights: CapRights) -> CPtr {
        let slot = self.slot();
        let root = init_cap::seL4_CapInitThreadCNode;
        if let Err(e) = sel4_abi::cnode_copy(root, slot, ROOT_DEPTH, root, cap, ROOT_DEPTH, rights) {
            crate::console::fatal(format_args!("copy of cap {cap}: {e}"));
        }
        slot
    }

    /// Maps `frame` at `vaddr` in `vspace`, creating missing page tables, directories and PDPTs.
    pub fn map_frame(&mut self, vspace: CPtr, frame: CPtr, vaddr: Word, rights: CapRights, attributes: Word) -> Result<(), Error> {
        loop {
            match sel4_abi::page_map(frame, vspace, vaddr, rights, attributes) {
                Err(Error(e)) if e == seL4_FailedLookup => self.map_table(vspace, vaddr, 0)?,
                other => return other,
            }
        }
    }

    /// Creates and maps the paging structure of `level` (0: page table, 1: page directory,
    /// 2: PDPT) covering `vaddr`, and the levels above it if they are missing too.
    fn map_table(&mut self, vspace: CPtr, vaddr: Word, level: usize) -> Result<(), Error> {
        const LEVELS: [(Word, Word); 3] = [
            (ty::seL4_X86_PageTableObject, label::X86PageTableMap),
            (ty::seL4_X86_PageDirectoryObject, label::X86PageDirectoryMap),
            (ty::seL4_X86_PDPTObject, label::X86PDPTMap),
        ];
        let (object_type, map_label) = LEVELS[level];
        let table = self.create(object_type, 0);
        match sel4_abi::paging_map(table, map_label, vspace, vaddr) {
            Err(Error(e)) if e == seL4_FailedLookup && level < 2 => {
                self.map_table(vspace, vaddr, level + 1)?;
                sel4_abi::paging_map(table, map_label, vspace, vaddr)
            }
            other => other,
        }
    }
}

fn object_bytes(object_type: Word, size_bits: Word) -> u64 {
    use sel4_abi::generated::consts::*;
    match object_type {
        t if t == ty::seL4_CapTableObject => (1 << size_bits) * (1 << seL4_SlotBits),
        t if t == ty::seL4_UntypedObject => 1 << size_bits,
        t if t == ty::seL4_TCBObject => 1 << seL4_TCBBits,
        t if t == ty::seL4_EndpointObject => 1 << seL4_EndpointBits,
        t if t == ty::seL4_NotificationObject => 1 << seL4_NotificationBits,
        _ => 1 << seL4_PageBits,
    }
}

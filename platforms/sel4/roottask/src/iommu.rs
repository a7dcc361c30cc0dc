//! DMA confinement with VT-d: each PCI device with an `<io_address_space>` gets an IO space
//! (seL4 5.0's x86 IOMMU interface) that holds exactly its declared regions, each at its physical
//! address (so drivers program the addresses they already know), and nothing else.
//!
//! Facts of seL4 5.0 this relies on (kernel sources: src/plat/pc99/machine/intel-vtd.c and
//! src/arch/x86/object/iospace.c):
//! - Once the kernel has enabled translation, a device without a context entry cannot DMA at all;
//!   one gets a context entry when the first IO page table is mapped into its IO space.
//! - `numIOPTLevels` in the boot info is all ones when the kernel was built without IOMMU
//!   support and 0 when it found none (no DMAR table, VT-d off in the firmware, `disable_iommu`).
//! - IO spaces are minted from the master cap with `domain << 16 | bus << 8 | dev << 3 | fn`;
//!   domain 0 is reserved, and the firmware's RMRR devices hold the lowest ones.
//! - `IOPageTable_Map` fills the first empty slot on the path to the address, a leaf slot
//!   included, where the table itself would become a page the device can write. So this module
//!   tracks which tables exist and maps one only where `Page_MapIO` reported `FailedLookup` on a
//!   level it knows to be missing.
//! - A frame cap holds one mapping: each IO mapping is a copy of the region's frame cap.

use crate::objects::{Objects, ROOT_DEPTH};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sel4_abi::generated::error::seL4_FailedLookup;
use sel4_abi::{init_cap, object_type as ty, CPtr, CapRights, Error, Word};

const PAGE: Word = 4096;

/// What the kernel reports about the IOMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Iommu {
    /// VT-d translation is on, with IO page tables of this many levels.
    On {
        /// IO page-table levels (3 on QEMU and most Xeons: 39-bit IO addresses).
        levels: Word,
    },
    /// No DMA translation; why.
    Off(&'static str),
}

impl Iommu {
    /// From the boot info's `numIOPTLevels`.
    pub fn from_levels(levels: Word) -> Self {
        match levels {
            Word::MAX => Self::Off("the kernel was built without IOMMU support"),
            0 => Self::Off("the kernel found no IOMMU (no ACPI DMAR table: VT-d off in the firmware, or none)"),
            levels => Self::On { levels },
        }
    }
}

/// One region a device may reach: its name, its frames (contiguous, in address order) and
/// whether the device may write it.
pub struct IoRegion<'a> {
    /// The region's name (for the boot log).
    pub name: &'a str,
    /// Its frames.
    pub frames: &'a [CPtr],
    /// The device may write it (else only read).
    pub write: bool,
}

/// Gives the device `bus:dev.func` an IO space in VT-d domain `domain_id` holding exactly
/// `regions`, each at its physical address. Returns the boot log's description of it.
pub fn confine(objects: &mut Objects, levels: Word, domain_id: u16, (bus, dev, func): (u8, u8, u8), regions: &[IoRegion]) -> Result<String, String> {
    let iospace = objects.slot();
    let root = init_cap::seL4_CapInitThreadCNode;
    let request_id = (bus as Word) << 8 | (dev as Word) << 3 | func as Word;
    sel4_abi::cnode_mint(root, iospace, ROOT_DEPTH, root, init_cap::seL4_CapIOSpace, ROOT_DEPTH, CapRights::ALL, (domain_id as Word) << 16 | request_id)
        .map_err(|e| format!("IO space for domain {domain_id}: {e} (the domain id is reserved by the firmware's RMRR devices or beyond what the IOMMU supports)"))?;
    let io_top: Word = 1 << (12 + 9 * levels).min(63);
    let mut tables = IoTables { levels, present: Vec::new() };
    let mut described = String::new();
    for region in regions {
        let Some(&first) = region.frames.first() else { continue };
        let base = sel4_abi::page_get_address(first).map_err(|e| format!("{}: {e}", region.name))?;
        let rights = if region.write { CapRights::READ_WRITE } else { CapRights::READ };
        for (k, &frame) in region.frames.iter().enumerate() {
            let ioaddr = base + k as Word * PAGE;
            if ioaddr >= io_top {
                return Err(format!("{} at {ioaddr:#x} is above the IOMMU's {}-bit IO addresses", region.name, 12 + 9 * levels));
            }
            let copy = objects.copy(frame, CapRights::ALL);
            loop {
                match sel4_abi::page_map_io(copy, iospace, rights, ioaddr) {
                    Ok(()) => break,
                    Err(Error(e)) if e == seL4_FailedLookup => tables.add_missing(objects, iospace, ioaddr)?,
                    Err(e) => return Err(format!("{} page {ioaddr:#x}: {e}", region.name)),
                }
            }
        }
        let size = region.frames.len() as Word * PAGE;
        described += &format!(" {} {:#x}+{size:#x} {}", region.name, base, if region.write { "rw" } else { "r" });
    }
    Ok(described)
}

/// The IO page tables of one IO space, by level and the address bits above what they cover.
struct IoTables {
    levels: Word,
    present: Vec<(Word, Word)>,
}

impl IoTables {
    /// Maps the first missing table on the path to `ioaddr`; an error if none is missing (the
    /// kernel would then map the table as a leaf page).
    fn add_missing(&mut self, objects: &mut Objects, iospace: CPtr, ioaddr: Word) -> Result<(), String> {
        for depth in 0..self.levels {
            // A table at depth d translates bits below 12 + 9 * (levels - d).
            let key = (depth, ioaddr >> (12 + 9 * (self.levels - depth)));
            if self.present.contains(&key) {
                continue;
            }
            let table = objects.create(ty::seL4_X86_IOPageTableObject, 0);
            sel4_abi::io_page_table_map(table, iospace, ioaddr).map_err(|e| format!("IO page table for {ioaddr:#x}: {e}"))?;
            self.present.push(key);
            return Ok(());
        }
        Err(format!("the kernel reports {ioaddr:#x} unreachable although its IO page tables are mapped"))
    }
}

//! Bindings to the seL4 5.0.0 x86_64 ABI, for the root task and the PD runtime.
//!
//! Only what the system uses: the system calls, IPC-buffer access, and the invocations that build
//! address spaces, threads and channels. Label numbers, object types, error codes and fault
//! layouts come from [`generated`], which `platforms/sel4/kernel/gen-constants` writes from the configured
//! kernel build. Names follow rust-sel4's `sel4` crate where 5.0 has the same thing.

#![no_std]

use core::fmt;

pub mod freestanding;
pub mod syscalls;
pub use syscalls::*;

/// Constants generated from the kernel build (invocation labels, syscalls, object types, errors,
/// fault labels and message layouts, initial cap slots).
#[allow(clippy::all)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/sel4_constants.rs"));
}
pub use generated::{cap as init_cap, error as error_code, fault_label, invocation_label as label, object_type};

/// A capability address in the caller's CSpace.
pub type CPtr = u64;
/// A machine word.
pub type Word = u64;

/// The header of an IPC message: label, extra caps and length in message registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MessageInfo(pub Word);

impl MessageInfo {
    /// A message with `label`, `extra_caps` capabilities and `length` message registers.
    pub const fn new(label: Word, caps_unwrapped: Word, extra_caps: Word, length: Word) -> Self {
        Self(label << 12 | (caps_unwrapped & 7) << 9 | (extra_caps & 3) << 7 | (length & 0x7f))
    }
    /// The message label.
    pub const fn label(self) -> Word {
        self.0 >> 12
    }
    /// How many message registers the message carries.
    pub const fn length(self) -> Word {
        self.0 & 0x7f
    }
    /// How many extra capabilities the message carries.
    pub const fn extra_caps(self) -> Word {
        (self.0 >> 7) & 3
    }
}

/// An error returned by an invocation: the seL4 error code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error(pub Word);

impl Error {
    /// The kernel's name for this error code.
    pub fn name(self) -> &'static str {
        use generated::error::*;
        match self.0 {
            x if x == seL4_InvalidArgument => "InvalidArgument",
            x if x == seL4_InvalidCapability => "InvalidCapability",
            x if x == seL4_IllegalOperation => "IllegalOperation",
            x if x == seL4_RangeError => "RangeError",
            x if x == seL4_AlignmentError => "AlignmentError",
            x if x == seL4_FailedLookup => "FailedLookup",
            x if x == seL4_TruncatedMessage => "TruncatedMessage",
            x if x == seL4_DeleteFirst => "DeleteFirst",
            x if x == seL4_RevokeFirst => "RevokeFirst",
            x if x == seL4_NotEnoughMemory => "NotEnoughMemory",
            _ => "unknown error",
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seL4 error {} ({})", self.0, self.name())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Capability rights (`seL4_CapRights_t` in 5.0: grant, read, write bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CapRights(pub Word);

impl CapRights {
    /// Read, write and grant.
    pub const ALL: Self = Self(0b111);
    /// Read and write.
    pub const READ_WRITE: Self = Self(0b011);
    /// Read only.
    pub const READ: Self = Self(0b010);
    /// Write only (what a notification or endpoint needs to be signalled or called).
    pub const WRITE: Self = Self(0b001);
}

/// CNode guard data for TCB_Configure and CNode_Mint (`cnode_capdata` in 5.0).
pub const fn cnode_cap_data(guard: Word, guard_size: Word) -> Word {
    (guard & 0x3ffff) << 8 | (guard_size & 0x3f) << 2
}

/// Priority and maximum controlled priority for TCB_Configure (`seL4_PrioProps_t` in 5.0).
pub const fn prio_props(mcp: u8, prio: u8) -> Word {
    (mcp as Word) << 8 | prio as Word
}

/// x86 VM attributes: write-back cached, and uncached for device memory.
pub mod vm_attributes {
    /// Default (write-back).
    pub const DEFAULT: u64 = 0;
    /// Page-level cache disable (for device registers).
    pub const CACHE_DISABLED: u64 = 2;
}

/// Bits of a badged endpoint cap in seL4 5.0 (the endpoint badge field is 28 bits wide).
pub const ENDPOINT_BADGE_BITS: u32 = 28;

/// One untyped region described by the boot info (5.0 field order).
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct UntypedDesc {
    /// Physical address of the region.
    pub paddr: Word,
    padding1: u8,
    padding2: u8,
    /// log2 of the region size.
    pub size_bits: u8,
    /// Non-zero for device memory (not RAM).
    pub is_device: u8,
}

/// A range of CNode slots `[start, end)`.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug)]
pub struct SlotRegion {
    /// First slot.
    pub start: Word,
    /// First slot after the range.
    pub end: Word,
}

/// The boot info the kernel hands the root task (`seL4_BootInfo` in 5.0, packed).
#[repr(C, packed)]
pub struct BootInfo {
    /// Bytes of extra boot info after the first page.
    pub extra_len: Word,
    /// This node's id.
    pub node_id: Word,
    /// Number of nodes.
    pub num_nodes: Word,
    /// IOMMU page-table levels (0: none found; all ones: the kernel has no IOMMU support).
    pub num_io_pt_levels: Word,
    /// The root task's IPC buffer.
    pub ipc_buffer: Word,
    /// Empty slots of the root CNode.
    pub empty: SlotRegion,
    /// Frames shared between nodes.
    pub shared_frames: SlotRegion,
    /// Frames of the root task's image.
    pub user_image_frames: SlotRegion,
    /// Paging structures of the root task's image.
    pub user_image_paging: SlotRegion,
    /// IOSpace caps.
    pub io_space_caps: SlotRegion,
    /// Frames of the extra boot info.
    pub extra_bi_pages: SlotRegion,
    /// log2 of the root CNode's slot count.
    pub init_thread_cnode_size_bits: u8,
    /// The root task's scheduling domain.
    pub init_thread_domain: Word,
    /// TSC frequency in MHz on x86.
    pub arch_info: Word,
    /// Slots of the untyped caps.
    pub untyped: SlotRegion,
    /// One entry per untyped cap.
    pub untyped_list: [UntypedDesc; generated::config::CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS as usize],
}

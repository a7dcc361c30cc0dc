//! The page the root task maps read-only into every PD at [`crate::layout::INFO_VADDR`]: the
//! PD's name and its regions by `setvar_vaddr` name.

/// Bytes of a name in the info page.
pub const NAME_LEN: usize = 32;
/// Most regions one PD can look up by name.
pub const MAX_REGIONS: usize = 48;
/// Most PCI functions one PD can own.
pub const MAX_PCI: usize = 4;
/// First word of a valid info page.
pub const MAGIC: u64 = 0x5345_4c34_5044_4931;

/// A region the PD maps, by name.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RegionInfo {
    /// NUL-padded name.
    pub name: [u8; NAME_LEN],
    /// Virtual address in the PD.
    pub vaddr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Physical address of the first page (for DMA), or 0 if not known.
    pub paddr: u64,
}

/// A PCI function the PD owns, as the root task found and set it up.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciInfo {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Bus.
    pub bus: u8,
    /// Device.
    pub dev: u8,
    /// Function.
    pub func: u8,
    /// How its interrupt is delivered: 0 INTx, 1 MSI, 2 MSI-X (`crate::PciIrq`).
    pub irq: u8,
}

/// The info page.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PdInfo {
    /// [`MAGIC`].
    pub magic: u64,
    /// NUL-padded PD name.
    pub name: [u8; NAME_LEN],
    /// Channels the PD may notify (bit = id).
    pub notify_channels: u64,
    /// Channels the PD may make protected calls on (bit = id).
    pub ppcall_channels: u64,
    /// IRQ channels (bit = id).
    pub irq_channels: u64,
    /// TSC frequency in MHz (from the kernel's boot info), for the monotonic clock.
    pub tsc_mhz: u64,
    /// Wall-clock time (ns since the Unix epoch, from the CMOS RTC) when the TSC read `boot_tsc`;
    /// 0 if the root task could not read the RTC.
    pub boot_unix_ns: u64,
    /// The TSC value that goes with `boot_unix_ns`.
    pub boot_tsc: u64,
    /// The PD's heap: its size in bytes, mapped at [`crate::layout::HEAP_VADDR`] (system.xml's
    /// `heap_size`, plus `heap_per_peer` for each peer, `heap_per_prefix` for each prefix and the
    /// text's size, of the config named by `heap_peers_of`).
    pub heap_bytes: u64,
    /// I/O port ranges by id: (first port, number of ports); size 0 where the id is unused.
    pub ioports: [[u16; 2]; crate::layout::MAX_IOPORT_RANGES as usize],
    /// Entries used in `pci`.
    pub pci_count: u64,
    /// The PCI functions, in the order of system.xml's `<pci_device>` elements.
    pub pci: [PciInfo; MAX_PCI],
    /// Entries used in `regions`.
    pub region_count: u64,
    /// The regions.
    pub regions: [RegionInfo; MAX_REGIONS],
}

const _: () = assert!(core::mem::size_of::<PdInfo>() <= 4096);

/// A NUL-padded name from a string (cut at [`NAME_LEN`] bytes).
pub fn name_bytes(s: &str) -> [u8; NAME_LEN] {
    let mut b = [0; NAME_LEN];
    let n = s.len().min(NAME_LEN);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    b
}

/// The string of a NUL-padded name.
pub fn name_str(b: &[u8; NAME_LEN]) -> &str {
    let n = b.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&b[..n]).unwrap_or("?")
}

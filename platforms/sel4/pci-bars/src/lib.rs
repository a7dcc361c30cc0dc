//! PCI BAR arithmetic, kept apart from the root task's configuration-space access so that it is
//! tested on the build machine: a BAR's size from what its registers read back after all ones
//! were written (PCI Local Bus 3.0, 6.2.5.1), and the search for another function's BAR in the
//! pages a driver is about to be given.

#![no_std]

/// Kinds of BAR.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BarKind {
    /// I/O ports.
    Io,
    /// 32-bit memory.
    Mem32,
    /// 64-bit memory (occupies two BAR registers).
    Mem64,
}

/// A BAR's size from its probe: `low` is what its register read back after all ones were
/// written, `high` the same for the next register (only for [`BarKind::Mem64`]). The size is
/// the lowest address bit the BAR implements (the bits below it read back as zeros), whatever
/// the bits above read: an I/O BAR decodes 16 bits and may read zeros above them, and a
/// device may hard-wire high address bits to zero. 0: the BAR decodes nothing.
pub fn size_from_probe(kind: BarKind, low: u32, high: u32) -> u64 {
    let implemented = match kind {
        BarKind::Io => u64::from(low & !0x3),
        BarKind::Mem32 => u64::from(low & !0xf),
        BarKind::Mem64 => u64::from(high) << 32 | u64::from(low & !0xf),
    };
    implemented & implemented.wrapping_neg()
}

/// The first of `bars` (an identifier, a base and a size each) that overlaps the addresses
/// `start..end`. BARs of size 0 decode nothing and overlap nothing; a BAR reaching past the end
/// of the address space counts up to its end.
pub fn first_overlap<T>(bars: impl IntoIterator<Item = (T, u64, u64)>, start: u64, end: u64) -> Option<T> {
    bars.into_iter()
        .find(|&(_, base, size)| size != 0 && base < end && start < base.saturating_add(size))
        .map(|(id, _, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_from_probes() {
        // The I350's BAR 0 (128 KiB, 32-bit), its BAR 3 (16 KiB, 64-bit), its I/O BAR (32 ports).
        assert_eq!(size_from_probe(BarKind::Mem32, 0xfffe_0000, 0), 0x2_0000);
        assert_eq!(size_from_probe(BarKind::Mem64, 0xffff_c00c, 0xffff_ffff), 0x4000);
        assert_eq!(size_from_probe(BarKind::Io, 0xffff_ffe1, 0), 0x20);
        // An I/O BAR that reads zeros above its 16 decoded bits.
        assert_eq!(size_from_probe(BarKind::Io, 0x0000_ffe1, 0), 0x20);
        // A 64-bit BAR of 8 GiB: nothing in its low register but the type bits.
        assert_eq!(size_from_probe(BarKind::Mem64, 0x0000_000c, 0xffff_fffe), 0x2_0000_0000);
        // A 32-bit BAR whose top address bits are hard-wired to zero (64 KiB).
        assert_eq!(size_from_probe(BarKind::Mem32, 0x0fff_0000, 0), 0x1_0000);
        // A prefetchable 32-bit BAR: the flag bits are not address bits.
        assert_eq!(size_from_probe(BarKind::Mem32, 0xffff_f008, 0), 0x1000);
        // Nothing implemented.
        assert_eq!(size_from_probe(BarKind::Mem32, 0, 0), 0);
        assert_eq!(size_from_probe(BarKind::Mem64, 0x4, 0), 0);
        assert_eq!(size_from_probe(BarKind::Io, 0x1, 0), 0);
    }

    #[test]
    fn overlaps_in_mapped_pages() {
        let page = 0x1000;
        // A 256-byte BAR at a page start: a BAR in the rest of its page is found.
        let others = [("tail", 0xfe80_0800, 0x100), ("next page", 0xfe80_1000, 0x1000)];
        assert_eq!(first_overlap(others, 0xfe80_0000, 0xfe80_0000 + page), Some("tail"));
        // Adjacent BARs are not overlaps, on either side.
        assert_eq!(first_overlap([("before", 0xfe7f_f000, 0x1000), ("after", 0xfe80_1000, 0x1000)], 0xfe80_0000, 0xfe80_1000), None);
        // One that starts before and runs into the range, or covers it whole.
        assert_eq!(first_overlap([("into", 0xfe7f_f000, 0x1001)], 0xfe80_0000, 0xfe80_1000), Some("into"));
        assert_eq!(first_overlap([("around", 0xfe00_0000, 0x100_0000)], 0xfe80_0000, 0xfe80_1000), Some("around"));
        // A BAR that decodes nothing overlaps nothing; one at the top of the address space ends there.
        assert_eq!(first_overlap([("empty", 0xfe80_0000, 0)], 0xfe80_0000, 0xfe80_1000), None);
        assert_eq!(first_overlap([("top", u64::MAX - 0xfff, 0x2000)], u64::MAX - 0xfff, u64::MAX), Some("top"));
    }
}

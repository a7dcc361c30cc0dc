//! The PCI inventory: every function on every bus, read through configuration mechanism #1
//! (ports 0xCF8/0xCFC) with the root task's I/O-port cap. This is what the thesis had to boot
//! Linux and run lspci for: it identifies NICs and their BARs and interrupts on new hardware.
//!
//! Line format: `PCI bb:dd.f vvvv:dddd class cc.ss.pp irq line N pin X [bar<i> mem32|mem64|io
//! 0xADDR size 0xSIZE]... [msi@0xOFF] [msix@0xOFF]`.

use crate::out;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use sel4_abi::CPtr;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;

pub use pci_bars::BarKind;

/// A BAR: kind, base address, size.
pub type Bar = Option<(BarKind, u64, u64)>;

/// One PCI function as found at boot.
#[derive(Clone, Debug)]
pub struct Function {
    /// Bus number.
    pub bus: u8,
    /// Device number.
    pub dev: u8,
    /// Function number.
    pub func: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// The interrupt line register: what firmware routed INTx to for the legacy PIC. On the pc
    /// machine that is also the IOAPIC pin; on PCIe chipsets it is not (see `acpi`).
    pub irq_line: u8,
    /// The interrupt pin register: 1..4 for INTA..INTD, 0 for none.
    pub irq_pin: u8,
    /// A PCI-to-PCI bridge's secondary bus number.
    pub secondary_bus: Option<u8>,
    /// BARs by number.
    pub bars: [Bar; 6],
    /// Config-space offset of the MSI capability.
    pub msi_cap: Option<u8>,
    /// Config-space offset of the MSI-X capability.
    pub msix_cap: Option<u8>,
}

/// Configuration space through the legacy mechanism (CONFIG_ADDRESS/CONFIG_DATA): the root
/// task's, and the AML interpreter's (acpi.rs), which may access 1, 2 or 4 bytes.
pub(crate) struct Config {
    pub(crate) ioport: CPtr,
}

impl Config {
    fn address(bus: u8, dev: u8, func: u8, offset: u8) -> u32 {
        1 << 31 | (bus as u32) << 16 | (dev as u32 & 0x1f) << 11 | (func as u32 & 7) << 8 | (offset as u32 & 0xfc)
    }

    /// The `bytes` (1, 2 or 4) at `offset`, in the low bits (the rest of their dword above).
    pub(crate) fn read_sized(&self, bus: u8, dev: u8, func: u8, offset: u8) -> u32 {
        self.read32(bus, dev, func, offset) >> ((offset & 3) * 8)
    }

    /// Writes the low `bytes` (1, 2 or 4) of `value` at `offset`, keeping the rest of the dword.
    pub(crate) fn write_sized(&self, bus: u8, dev: u8, func: u8, offset: u8, value: u32, bytes: u8) {
        let shift = (offset & 3) * 8;
        let mask = if bytes >= 4 { u32::MAX } else { ((1u32 << (bytes * 8)) - 1) << shift };
        let old = self.read32(bus, dev, func, offset);
        self.write32(bus, dev, func, offset, (old & !mask) | (value << shift & mask));
    }

    fn read32(&self, bus: u8, dev: u8, func: u8, offset: u8) -> u32 {
        let _ = sel4_abi::ioport_out32(self.ioport, CONFIG_ADDRESS, Self::address(bus, dev, func, offset));
        sel4_abi::ioport_in32(self.ioport, CONFIG_DATA).unwrap_or(u32::MAX)
    }

    fn write32(&self, bus: u8, dev: u8, func: u8, offset: u8, value: u32) {
        let _ = sel4_abi::ioport_out32(self.ioport, CONFIG_ADDRESS, Self::address(bus, dev, func, offset));
        let _ = sel4_abi::ioport_out32(self.ioport, CONFIG_DATA, value);
    }

    /// A BAR's size: write all ones, read back the mask, restore (`pci_bars::size_from_probe`
    /// reads the size from it). Decoding is switched off meanwhile so that the device never
    /// answers at the probe address. A 64-bit BAR is probed in both its registers (a size of
    /// 4 GiB or more has no bit in the low one). 0: the BAR decodes nothing.
    fn bar_size(&self, bus: u8, dev: u8, func: u8, offset: u8, kind: BarKind) -> u64 {
        let command = self.read32(bus, dev, func, 0x04);
        self.write32(bus, dev, func, 0x04, command & !0x3 & 0xffff);
        let probe = |offset: u8| {
            let original = self.read32(bus, dev, func, offset);
            self.write32(bus, dev, func, offset, u32::MAX);
            let mask = self.read32(bus, dev, func, offset);
            self.write32(bus, dev, func, offset, original);
            mask
        };
        let low = probe(offset);
        let high = if kind == BarKind::Mem64 { probe(offset + 4) } else { 0 };
        self.write32(bus, dev, func, 0x04, command & 0xffff);
        pci_bars::size_from_probe(kind, low, high)
    }
}

/// A memory BAR of a function other than `of` that overlaps the addresses `start..end`: that
/// function and its BAR number. For pages about to be mapped into `of`'s driver: a small BAR
/// does not fill its page, and firmware may put another function's registers in the rest.
pub fn other_memory_bar_in<'a>(pci: &'a [Function], of: &Function, start: u64, end: u64) -> Option<(&'a Function, usize)> {
    let others = pci.iter().filter(|g| (g.bus, g.dev, g.func) != (of.bus, of.dev, of.func));
    let memory_bars = others.flat_map(|g| {
        g.bars.iter().enumerate().filter_map(move |(i, bar)| match *bar {
            Some((BarKind::Mem32 | BarKind::Mem64, base, size)) => Some(((g, i), base, size)),
            _ => None,
        })
    });
    pci_bars::first_overlap(memory_bars, start, end)
}

/// Prints one line per PCI function and returns them.
pub fn print_inventory(ioport: CPtr) -> Vec<Function> {
    let config = Config { ioport };
    let mut found = Vec::new();
    for bus in 0..=255u8 {
        for dev in 0..32u8 {
            let id = config.read32(bus, dev, 0, 0);
            if id & 0xffff == 0xffff {
                continue;
            }
            let multifunction = config.read32(bus, dev, 0, 0x0c) >> 16 & 0x80 != 0;
            for func in 0..if multifunction { 8 } else { 1 } {
                if config.read32(bus, dev, func, 0) & 0xffff != 0xffff {
                    found.push(print_function(&config, bus, dev, func));
                }
            }
        }
    }
    out!("PCI {} functions", found.len());
    found
}

/// Command register: Interrupt Disable (the INTx line stays deasserted while set).
const COMMAND_INTX_DISABLE: u32 = 1 << 10;

/// Switches on memory decoding and bus mastering (DMA) of a function given to a driver PD, with
/// its INTx line disabled or enabled (`intx`). MSI leaves INTx disabled (see [`program_msi`]).
pub fn enable(ioport: CPtr, f: &Function, intx: bool) {
    let c = Config { ioport };
    let command = c.read32(f.bus, f.dev, f.func, 0x04) & 0xffff;
    let command = if intx { command & !COMMAND_INTX_DISABLE } else { command | COMMAND_INTX_DISABLE };
    // Writing zeros to the status half leaves its write-one-to-clear bits alone.
    c.write32(f.bus, f.dev, f.func, 0x04, command | 0x6);
}

/// Switches off bus mastering: the function can no longer write (or read) memory. For the
/// device of a PD that faulted, until its restarted driver has reset it.
pub fn stop_dma(ioport: CPtr, f: &Function) {
    let c = Config { ioport };
    let command = c.read32(f.bus, f.dev, f.func, 0x04) & 0xffff;
    c.write32(f.bus, f.dev, f.func, 0x04, command & !0x4);
}

/// The message address that delivers to the local APIC `apic_id` (fixed delivery, physical
/// destination mode, no redirection hint): the x86 MSI format, whose destination field has 8
/// bits (an x2APIC ID above 255 needs interrupt remapping, which this system does not use).
pub fn msi_address(apic_id: u8) -> u32 {
    0xfee0_0000 | (apic_id as u32) << 12
}

/// Points the function's MSI capability at local APIC `apic_id` with `vector` (fixed delivery,
/// edge), enables it, and masks the INTx line.
pub fn program_msi(ioport: CPtr, f: &Function, apic_id: u8, vector: u8) -> Result<(), &'static str> {
    let cap = f.msi_cap.ok_or("has no MSI capability")?;
    let c = Config { ioport };
    let (b, d, fu) = (f.bus, f.dev, f.func);
    let header = c.read32(b, d, fu, cap);
    let control = header >> 16;
    let is_64bit = control & 0x80 != 0;
    c.write32(b, d, fu, cap + 4, msi_address(apic_id));
    let data_offset = if is_64bit {
        c.write32(b, d, fu, cap + 8, 0);
        cap + 12
    } else {
        cap + 8
    };
    // The data register is 16 bits; the dword's upper half is reserved (or mask bits, which
    // stay zero: unmasked).
    c.write32(b, d, fu, data_offset, vector as u32);
    // Enable with one message (multiple-message enable = 0).
    c.write32(b, d, fu, cap, (header & 0xffff) | ((control & !0x70) | 1) << 16);
    let command = c.read32(b, d, fu, 0x04) & 0xffff;
    c.write32(b, d, fu, 0x04, command | COMMAND_INTX_DISABLE);
    Ok(())
}

/// Where a function's MSI-X table lives (from its capability): the BAR that holds it, the
/// offset in that BAR, and the number of entries.
pub struct MsixTable {
    /// BAR Indicator Register: which BAR.
    pub bar: u8,
    /// Byte offset of entry 0 in the BAR.
    pub offset: u32,
    /// Table size.
    pub entries: u16,
}

/// Bytes of one MSI-X table entry: message address (low, high), data, vector control.
pub const MSIX_ENTRY_BYTES: u64 = 16;

const MSIX_ENABLE: u32 = 1 << 15;
const MSIX_FUNCTION_MASK: u32 = 1 << 14;

/// The function's MSI-X table, from its capability.
pub fn msix_table(ioport: CPtr, f: &Function) -> Result<MsixTable, &'static str> {
    let cap = f.msix_cap.ok_or("has no MSI-X capability")?;
    let c = Config { ioport };
    let control = c.read32(f.bus, f.dev, f.func, cap) >> 16;
    let table = c.read32(f.bus, f.dev, f.func, cap + 4);
    Ok(MsixTable { bar: (table & 7) as u8, offset: table & !7, entries: (control & 0x7ff) as u16 + 1 })
}

/// Sets MSI-X's enable bit (INTx and MSI are then off) with the function mask set, so that no
/// vector sends while the table is being written.
pub fn msix_enable_masked(ioport: CPtr, f: &Function) -> Result<(), &'static str> {
    let cap = f.msix_cap.ok_or("has no MSI-X capability")?;
    let c = Config { ioport };
    let header = c.read32(f.bus, f.dev, f.func, cap);
    c.write32(f.bus, f.dev, f.func, cap, header & 0xffff | (header >> 16 | MSIX_ENABLE | MSIX_FUNCTION_MASK) << 16);
    let command = c.read32(f.bus, f.dev, f.func, 0x04) & 0xffff;
    c.write32(f.bus, f.dev, f.func, 0x04, command | COMMAND_INTX_DISABLE);
    Ok(())
}

/// Clears the function mask: the table's unmasked entries may send.
pub fn msix_unmask(ioport: CPtr, f: &Function) -> Result<(), &'static str> {
    let cap = f.msix_cap.ok_or("has no MSI-X capability")?;
    let c = Config { ioport };
    let header = c.read32(f.bus, f.dev, f.func, cap);
    c.write32(f.bus, f.dev, f.func, cap, header & 0xffff | (header >> 16 & !MSIX_FUNCTION_MASK) << 16);
    Ok(())
}

fn print_function(c: &Config, bus: u8, dev: u8, func: u8) -> Function {
    let id = c.read32(bus, dev, func, 0);
    let class = c.read32(bus, dev, func, 0x08);
    let header = (c.read32(bus, dev, func, 0x0c) >> 16) as u8 & 0x7f;
    let irq = c.read32(bus, dev, func, 0x3c);
    let status = c.read32(bus, dev, func, 0x04) >> 16;
    let mut line = String::new();
    let _ = write!(
        line,
        "PCI {bus:02x}:{dev:02x}.{func} {:04x}:{:04x} class {:02x}.{:02x}.{:02x} irq line {} pin {}",
        id & 0xffff,
        id >> 16,
        class >> 24,
        class >> 16 & 0xff,
        class >> 8 & 0xff,
        irq & 0xff,
        match irq >> 8 & 0xff {
            1 => "A",
            2 => "B",
            3 => "C",
            4 => "D",
            _ => "-",
        }
    );
    // Type 0 headers have six BARs, PCI-to-PCI bridges two.
    let bars = match header {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    let mut found = [None; 6];
    let mut i = 0;
    while i < bars {
        let offset = 0x10 + 4 * i as u8;
        let bar = c.read32(bus, dev, func, offset);
        if bar == 0 {
            i += 1;
            continue;
        }
        if bar & 1 == 1 {
            let size = c.bar_size(bus, dev, func, offset, BarKind::Io);
            let _ = write!(line, " bar{i} io {:#x} size {size:#x}", bar & !0x3);
            found[i] = Some((BarKind::Io, (bar & !0x3) as u64, size));
            i += 1;
        } else if bar >> 1 & 0x3 == 2 && i + 1 == bars {
            // A 64-bit BAR needs the next register, which this header does not have: probing it
            // would write into whatever follows the BAR table.
            let _ = write!(line, " bar{i} mem64 without its upper register: ignored");
            i += 1;
        } else if bar >> 1 & 0x3 == 2 {
            let high = c.read32(bus, dev, func, offset + 4) as u64;
            let size = c.bar_size(bus, dev, func, offset, BarKind::Mem64);
            let _ = write!(line, " bar{i} mem64 {:#x} size {size:#x}", high << 32 | (bar & !0xf) as u64);
            found[i] = Some((BarKind::Mem64, high << 32 | (bar & !0xf) as u64, size));
            i += 2;
        } else {
            let size = c.bar_size(bus, dev, func, offset, BarKind::Mem32);
            let _ = write!(line, " bar{i} mem32 {:#x} size {size:#x}", bar & !0xf);
            found[i] = Some((BarKind::Mem32, (bar & !0xf) as u64, size));
            i += 1;
        }
    }
    // Capability list (status bit 4): report MSI and MSI-X, which the NIC drivers need.
    let (mut msi_cap, mut msix_cap) = (None, None);
    if status & 0x10 != 0 {
        let mut ptr = (c.read32(bus, dev, func, 0x34) & 0xfc) as u8;
        let mut guard = 0;
        while ptr != 0 && guard < 48 {
            let cap = c.read32(bus, dev, func, ptr);
            // A capability lies whole in the header space after the standard header: one the
            // device puts too near its end would have its later registers wrap to offset 0
            // (the command register). The lengths are those of the registers written here.
            let fits = |len: usize| usize::from(ptr) >= 0x40 && usize::from(ptr) + len <= 0x100;
            match cap & 0xff {
                0x05 if fits(if cap >> 16 & 0x80 != 0 { 16 } else { 12 }) => {
                    let _ = write!(line, " msi@{ptr:#x}");
                    msi_cap = Some(ptr);
                }
                0x11 if fits(12) => {
                    let _ = write!(line, " msix@{ptr:#x}");
                    msix_cap = Some(ptr);
                }
                0x05 | 0x11 => {
                    let _ = write!(line, " (capability {:#x} at {ptr:#x} overruns configuration space: ignored)", cap & 0xff);
                }
                _ => {}
            }
            ptr = (cap >> 8 & 0xfc) as u8;
            guard += 1;
        }
    }
    out!("{line}");
    let secondary_bus = (header == 1).then(|| (c.read32(bus, dev, func, 0x18) >> 8) as u8);
    Function {
        bus,
        dev,
        func,
        vendor: id as u16,
        device: (id >> 16) as u16,
        irq_line: irq as u8,
        irq_pin: (irq >> 8) as u8,
        secondary_bus,
        bars: found,
        msi_cap,
        msix_cap,
    }
}

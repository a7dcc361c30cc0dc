//! The system spec: what `platforms/sel4/sysinit` makes of a `system.xml` and links into the root
//! task, and what the root task hands each PD (its info page at [`layout::INFO_VADDR`]).
//!
//! The encoding is a flat little-endian byte stream (no serde in a root task): strings and lists
//! carry a u32 length. PD program images follow the spec in the same image; a PD names its ELF by
//! offset and length from the image's start.

#![no_std]
extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub mod layout;
pub mod pd_info;

/// First bytes of an encoded system image.
pub const MAGIC: &[u8; 8] = b"SEL4SYS9";

/// A memory region (`<memory_region>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Its name, which `<map mr=...>` refers to.
    pub name: String,
    /// Size in bytes, a multiple of 4 KiB.
    pub size: u64,
    /// Required physical address (device memory or DMA with a known address), if any.
    pub phys_addr: Option<u64>,
    /// Initial contents: (offset, length) of bytes in the image that the root task copies to
    /// the start of the region before any PD runs (with `boot_module`, only when the machine
    /// was booted without that module).
    pub fill: Option<(u64, u64)>,
    /// Initial contents from the boot loader's module N (1 = the first after the root task),
    /// which the kernel passes to the root task (the crypto PD's configuration).
    pub boot_module: Option<u32>,
    /// Initial contents: those of region K (an index into [`System::regions`]) with their key
    /// material taken out by the root task at boot (the stack PDs' configuration).
    pub without_keys_of: Option<u32>,
}

/// Access a PD gets to a mapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable (x86 in seL4 5.0 cannot forbid execution; recorded for the isolation report).
    pub execute: bool,
}

/// One `<map>` of a region into a PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Index into [`System::regions`].
    pub region: u32,
    /// Where it appears in the PD.
    pub vaddr: u64,
    /// Access rights.
    pub perms: Perms,
    /// Mapped uncached (device registers).
    pub uncached: bool,
    /// The name under which the PD looks the region up (`setvar_vaddr`); empty if none.
    pub setvar: String,
}

/// How an interrupt reaches the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqSource {
    /// An IOAPIC pin (level-triggered, active-low when `level_low`).
    IoApic {
        /// The IOAPIC pin.
        pin: u32,
        /// Level-triggered (else edge).
        level: bool,
        /// Active low (else high).
        active_low: bool,
    },
}

/// One `<irq>` of a PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// The channel id the interrupt is delivered on.
    pub id: u32,
    /// Where it comes from.
    pub source: IrqSource,
}

/// A range of I/O ports given to a PD (x86 extension `<ioport>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPortRange {
    /// The id the PD names the range by (`sel4_pd_runtime::ioport(id)`).
    pub id: u32,
    /// First port.
    pub base: u16,
    /// Number of ports.
    pub size: u16,
}

/// How a `<pci_device>` names its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciSelect {
    /// The `index`-th function (in bus order, from 0) with this vendor and device id.
    Id {
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
        /// Which of several equal devices.
        index: u32,
    },
    /// A fixed bus:device.function.
    Address {
        /// Bus.
        bus: u8,
        /// Device.
        dev: u8,
        /// Function.
        func: u8,
    },
}

/// A memory BAR of a PCI device mapped into the PD (uncached).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciBar {
    /// BAR number (0..6).
    pub index: u8,
    /// Where the BAR appears in the PD.
    pub vaddr: u64,
    /// Most bytes to map (the BAR's size is only known at boot; a smaller BAR maps less).
    pub size: u64,
    /// Region name for `memory_region` lookups.
    pub setvar: String,
}

/// A PCI device given to a PD (x86 extension): its BARs, and its INTx interrupt (the IOAPIC pin
/// the firmware wrote into the interrupt-line register) on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// Which device.
    pub select: PciSelect,
    /// BARs to map.
    pub bars: Vec<PciBar>,
    /// Channel id of its interrupt, if the PD takes it.
    pub irq_id: Option<u32>,
    /// How the interrupt is delivered (the root task programs MSI and MSI-X).
    pub irq: PciIrq,
    /// What the device may reach by DMA, if declared: the root task gives it an IOMMU address
    /// space holding exactly these regions, each at its physical address.
    pub io_space: Option<IoSpace>,
}

/// A device's IO address space (`<io_address_space>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoSpace {
    /// The VT-d domain id (1..=65535, unique in the system).
    pub domain_id: u16,
    /// (region index, device may write) pairs.
    pub maps: Vec<(u32, bool)>,
}

/// How a PCI function's interrupt reaches the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciIrq {
    /// The INTx line, through the IOAPIC pin in the interrupt-line register.
    Intx = 0,
    /// MSI, one message.
    Msi = 1,
    /// MSI-X, every table entry the same message.
    MsiX = 2,
}

/// A protection domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectionDomain {
    /// Its name (in logs and fault reports).
    pub name: String,
    /// Scheduling priority, 1..=254 (0 and 255 are the root task's).
    pub priority: u8,
    /// The core it runs on (`cpu`); one the machine does not run means `cpu % cores`.
    pub cpu: u8,
    /// Offset of the program's ELF in the image.
    pub elf_offset: u64,
    /// Length of the program's ELF.
    pub elf_len: u64,
    /// Stack size in 4 KiB pages.
    pub stack_pages: u32,
    /// Heap: this many 4 KiB pages, plus `heap_bytes_per_peer` for each `[Peer]`,
    /// `heap_bytes_per_prefix` for each AllowedIPs network and explicit rule, and the text's own
    /// size, of the config that fills region `heap_peers_of` (counted by the root task at boot),
    /// rounded up to pages.
    pub heap_pages: u32,
    /// See `heap_pages`.
    pub heap_bytes_per_peer: u32,
    /// See `heap_pages`.
    pub heap_bytes_per_prefix: u32,
    /// See `heap_pages`.
    pub heap_peers_of: Option<u32>,
    /// Mapped regions.
    pub maps: Vec<Mapping>,
    /// Interrupts.
    pub irqs: Vec<Irq>,
    /// PCI devices.
    pub pci_devices: Vec<PciDevice>,
    /// I/O port ranges.
    pub ioports: Vec<IoPortRange>,
    /// The root task may restart the PD after a fault: it shares no memory that another PD
    /// also writes (no ring), so a fresh copy of it meets no state it does not know.
    pub restartable: bool,
    /// The PDs restarted together with this one (indices; empty: it restarts alone): those it
    /// writes memory with, crypto and its workers (sysinit's `restart_group`).
    pub restart_with: Vec<u32>,
    /// Tests only: make the PD fault this many ms after boot (0: never).
    pub inject_fault_ms: u32,
    /// Tests only: stop the PD's thread, without a fault, this many ms after boot (0: never).
    pub inject_stall_ms: u32,
}

/// One `<channel>`: two ends, each a PD index and the channel id that PD uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// PD index and id of end A.
    pub a: (u32, u32),
    /// PD index and id of end B.
    pub b: (u32, u32),
    /// A may make protected calls to B.
    pub a_calls_b: bool,
    /// B may make protected calls to A.
    pub b_calls_a: bool,
    /// A may notify B.
    pub a_notifies_b: bool,
    /// B may notify A.
    pub b_notifies_a: bool,
}

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct System {
    /// When every PD is blocked, the root task says so and ends the machine (tests).
    pub exit_when_idle: bool,
    /// Devices' IO address spaces are required: without an IOMMU the root task refuses to start
    /// the PDs (else it says so and goes on).
    pub iommu_required: bool,
    /// Memory regions.
    pub regions: Vec<MemoryRegion>,
    /// Protection domains, in the order the root task starts them.
    pub pds: Vec<ProtectionDomain>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// The region the root task writes console lines to once PDs run (index), if any: the
    /// serial PD that maps it owns COM1 from then on.
    pub console_log: Option<u32>,
}

/// Why an image could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The image does not start with [`MAGIC`].
    BadMagic,
    /// The image ends in the middle of an item.
    Truncated,
    /// A string is not UTF-8.
    BadString,
    /// An index or enum tag is out of range.
    BadValue,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadMagic => "not a system image (bad magic)",
            Self::Truncated => "system image truncated",
            Self::BadString => "system image has a non-UTF-8 name",
            Self::BadValue => "system image has an out-of-range value",
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b).map(String::from).map_err(|_| DecodeError::BadString)
    }
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>) -> Result<Vec<T>, DecodeError> {
        let n = self.u32()? as usize;
        // Bounded by the bytes left, so a corrupt count cannot exhaust the heap.
        let mut v = Vec::with_capacity(n.min(self.0.len()));
        for _ in 0..n {
            v.push(item(self)?);
        }
        Ok(v)
    }
}

impl System {
    /// Encodes the spec (without program images; the caller appends them).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u8(self.exit_when_idle as u8);
        w.u8(self.iommu_required as u8);
        w.u32(self.regions.len() as u32);
        for r in &self.regions {
            w.str(&r.name);
            w.u64(r.size);
            w.u64(r.phys_addr.unwrap_or(u64::MAX));
            let (offset, len) = r.fill.unwrap_or((u64::MAX, 0));
            w.u64(offset);
            w.u64(len);
            w.u32(r.boot_module.unwrap_or(u32::MAX));
            w.u32(r.without_keys_of.unwrap_or(u32::MAX));
        }
        w.u32(self.pds.len() as u32);
        for pd in &self.pds {
            w.str(&pd.name);
            w.u8(pd.priority);
            w.u8(pd.cpu);
            w.u64(pd.elf_offset);
            w.u64(pd.elf_len);
            w.u32(pd.stack_pages);
            w.u32(pd.heap_pages);
            w.u32(pd.heap_bytes_per_peer);
            w.u32(pd.heap_bytes_per_prefix);
            w.u32(pd.heap_peers_of.unwrap_or(u32::MAX));
            w.u8(pd.restartable as u8);
            w.u32(pd.restart_with.len() as u32);
            for &k in &pd.restart_with {
                w.u32(k);
            }
            w.u32(pd.inject_fault_ms);
            w.u32(pd.inject_stall_ms);
            w.u32(pd.maps.len() as u32);
            for m in &pd.maps {
                w.u32(m.region);
                w.u64(m.vaddr);
                w.u8(m.perms.read as u8);
                w.u8(m.perms.write as u8);
                w.u8(m.perms.execute as u8);
                w.u8(m.uncached as u8);
                w.str(&m.setvar);
            }
            w.u32(pd.irqs.len() as u32);
            for irq in &pd.irqs {
                w.u32(irq.id);
                match irq.source {
                    IrqSource::IoApic { pin, level, active_low } => {
                        w.u8(0);
                        w.u32(pin);
                        w.u8(level as u8);
                        w.u8(active_low as u8);
                    }
                }
            }
            w.u32(pd.pci_devices.len() as u32);
            for d in &pd.pci_devices {
                match d.select {
                    PciSelect::Id { vendor, device, index } => {
                        w.u8(0);
                        w.u32(vendor as u32);
                        w.u32(device as u32);
                        w.u32(index);
                    }
                    PciSelect::Address { bus, dev, func } => {
                        w.u8(1);
                        w.u32(bus as u32);
                        w.u32(dev as u32);
                        w.u32(func as u32);
                    }
                }
                w.u32(d.bars.len() as u32);
                for b in &d.bars {
                    w.u8(b.index);
                    w.u64(b.vaddr);
                    w.u64(b.size);
                    w.str(&b.setvar);
                }
                w.u32(d.irq_id.map_or(u32::MAX, |i| i));
                w.u8(d.irq as u8);
                match &d.io_space {
                    None => w.u32(u32::MAX),
                    Some(space) => {
                        w.u32(space.domain_id as u32);
                        w.u32(space.maps.len() as u32);
                        for &(region, write) in &space.maps {
                            w.u32(region);
                            w.u8(write as u8);
                        }
                    }
                }
            }
            w.u32(pd.ioports.len() as u32);
            for io in &pd.ioports {
                w.u32(io.id);
                w.u32(io.base as u32);
                w.u32(io.size as u32);
            }
        }
        w.u32(self.channels.len() as u32);
        for c in &self.channels {
            w.u32(c.a.0);
            w.u32(c.a.1);
            w.u32(c.b.0);
            w.u32(c.b.1);
            w.u8(c.a_calls_b as u8);
            w.u8(c.b_calls_a as u8);
            w.u8(c.a_notifies_b as u8);
            w.u8(c.b_notifies_a as u8);
        }
        w.u32(self.console_log.unwrap_or(u32::MAX));
        w.0
    }

    /// Decodes the spec at the start of an image.
    pub fn decode(image: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(image);
        if r.take(8)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let exit_when_idle = r.bool()?;
        let iommu_required = r.bool()?;
        let regions = r.list(|r| {
            let name = r.str()?;
            let size = r.u64()?;
            let phys = r.u64()?;
            let (offset, len) = (r.u64()?, r.u64()?);
            let (module, source) = (r.u32()?, r.u32()?);
            Ok(MemoryRegion {
                name,
                size,
                phys_addr: (phys != u64::MAX).then_some(phys),
                fill: (offset != u64::MAX).then_some((offset, len)),
                boot_module: (module != u32::MAX).then_some(module),
                without_keys_of: (source != u32::MAX).then_some(source),
            })
        })?;
        let pds = r.list(|r| {
            let name = r.str()?;
            let priority = r.u8()?;
            let cpu = r.u8()?;
            let elf_offset = r.u64()?;
            let elf_len = r.u64()?;
            let stack_pages = r.u32()?;
            let heap_pages = r.u32()?;
            let heap_bytes_per_peer = r.u32()?;
            let heap_bytes_per_prefix = r.u32()?;
            let heap_peers_of = match r.u32()? {
                u32::MAX => None,
                k => Some(k),
            };
            let restartable = r.bool()?;
            let restart_with = r.list(|r| r.u32())?;
            let inject_fault_ms = r.u32()?;
            let inject_stall_ms = r.u32()?;
            let maps = r.list(|r| {
                let region = r.u32()?;
                let vaddr = r.u64()?;
                let perms = Perms { read: r.bool()?, write: r.bool()?, execute: r.bool()? };
                let uncached = r.bool()?;
                let setvar = r.str()?;
                Ok(Mapping { region, vaddr, perms, uncached, setvar })
            })?;
            let irqs = r.list(|r| {
                let id = r.u32()?;
                let source = match r.u8()? {
                    0 => IrqSource::IoApic { pin: r.u32()?, level: r.bool()?, active_low: r.bool()? },
                    _ => return Err(DecodeError::BadValue),
                };
                Ok(Irq { id, source })
            })?;
            let pci_devices = r.list(|r| {
                let tag = r.u8()?;
                let (a, b, c) = (r.u32()?, r.u32()?, r.u32()?);
                let select = match tag {
                    0 => PciSelect::Id { vendor: a as u16, device: b as u16, index: c },
                    1 => PciSelect::Address { bus: a as u8, dev: b as u8, func: c as u8 },
                    _ => return Err(DecodeError::BadValue),
                };
                let bars = r.list(|r| Ok(PciBar { index: r.u8()?, vaddr: r.u64()?, size: r.u64()?, setvar: r.str()? }))?;
                let irq = r.u32()?;
                let kind = match r.u8()? {
                    0 => PciIrq::Intx,
                    1 => PciIrq::Msi,
                    2 => PciIrq::MsiX,
                    _ => return Err(DecodeError::BadValue),
                };
                let io_space = match r.u32()? {
                    u32::MAX => None,
                    did @ 1..=0xffff => Some(IoSpace { domain_id: did as u16, maps: r.list(|r| Ok((r.u32()?, r.bool()?)))? }),
                    _ => return Err(DecodeError::BadValue),
                };
                Ok(PciDevice { select, bars, irq_id: (irq != u32::MAX).then_some(irq), irq: kind, io_space })
            })?;
            let ioports = r.list(|r| Ok(IoPortRange { id: r.u32()?, base: r.u32()? as u16, size: r.u32()? as u16 }))?;
            Ok(ProtectionDomain {
                name,
                priority,
                cpu,
                elf_offset,
                elf_len,
                stack_pages,
                heap_pages,
                heap_bytes_per_peer,
                heap_bytes_per_prefix,
                heap_peers_of,
                maps,
                irqs,
                pci_devices,
                ioports,
                restartable,
                restart_with,
                inject_fault_ms,
                inject_stall_ms,
            })
        })?;
        let channels = r.list(|r| {
            Ok(Channel {
                a: (r.u32()?, r.u32()?),
                b: (r.u32()?, r.u32()?),
                a_calls_b: r.bool()?,
                b_calls_a: r.bool()?,
                a_notifies_b: r.bool()?,
                b_notifies_a: r.bool()?,
            })
        })?;
        let console_log = r.u32()?;
        let console_log = (console_log != u32::MAX).then_some(console_log);
        let system = Self { exit_when_idle, iommu_required, regions, pds, channels, console_log };
        system.check_indices(image.len())?;
        Ok(system)
    }

    fn check_indices(&self, image_len: usize) -> Result<(), DecodeError> {
        let pds = self.pds.len() as u32;
        let regions = self.regions.len() as u32;
        let bad_pd = self.pds.iter().any(|pd| {
            pd.elf_offset.checked_add(pd.elf_len).is_none_or(|end| end > image_len as u64)
                || pd.maps.iter().any(|m| m.region >= regions)
                || pd.heap_peers_of.is_some_and(|r| r >= regions)
                || pd.restart_with.iter().any(|&k| k >= pds)
                || (!pd.restartable && !pd.restart_with.is_empty())
                || pd.pci_devices.iter().flat_map(|d| d.io_space.iter().flat_map(|s| &s.maps)).any(|m| m.0 >= regions)
                // What the root task indexes or shifts by: a BAR of the six, an I/O-port range
                // of its table, an IRQ's notification bit, the info page's regions.
                || pd.pci_devices.iter().flat_map(|d| &d.bars).any(|b| b.index >= 6)
                || pd.pci_devices.iter().any(|d| d.irq_id.is_some_and(|id| id >= layout::MAX_CHANNELS))
                || pd.ioports.iter().any(|io| io.id >= layout::MAX_IOPORT_RANGES)
                || pd.irqs.iter().any(|irq| irq.id >= layout::MAX_CHANNELS)
                || pd.maps.iter().filter(|m| !m.setvar.is_empty()).count()
                    + pd.pci_devices.iter().flat_map(|d| &d.bars).filter(|b| !b.setvar.is_empty()).count()
                    > pd_info::MAX_REGIONS
        });
        // A restart group lists the others, each of them restartable and listing this PD back.
        let bad_group = self.pds.iter().enumerate().any(|(i, pd)| {
            pd.restart_with.iter().any(|&k| {
                let other = self.pds.get(k as usize);
                k as usize == i || other.is_none_or(|o| !o.restartable || !o.restart_with.contains(&(i as u32)))
            })
        });
        let bad_channel = self.channels.iter().any(|c| c.a.0 >= pds || c.b.0 >= pds || c.a.1 >= layout::MAX_CHANNELS || c.b.1 >= layout::MAX_CHANNELS)
            || self.console_log.is_some_and(|r| r >= regions);
        let bad_fill = self.regions.iter().any(|r| {
            r.fill.is_some_and(|(o, l)| l > r.size || o.checked_add(l).is_none_or(|end| end > image_len as u64))
                || r.without_keys_of.is_some_and(|k| k >= regions)
        });
        if bad_pd || bad_group || bad_channel || bad_fill {
            return Err(DecodeError::BadValue);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec;

    /// A system with one of everything the image encodes.
    fn sample() -> System {
        System {
            exit_when_idle: true,
            iommu_required: true,
            console_log: Some(0),
            regions: vec![
                MemoryRegion { name: "ring".into(), size: 8192, phys_addr: None, fill: None, boot_module: Some(1), without_keys_of: None },
                MemoryRegion { name: "public".into(), size: 4096, phys_addr: None, fill: None, boot_module: None, without_keys_of: Some(0) },
            ],
            pds: vec![ProtectionDomain {
                name: "a".into(),
                priority: 100,
                cpu: 2,
                elf_offset: 0,
                elf_len: 0,
                stack_pages: 16,
                heap_pages: 64,
                heap_bytes_per_peer: 0x800,
                heap_bytes_per_prefix: 200,
                heap_peers_of: Some(0),
                restartable: true,
                restart_with: vec![],
                inject_fault_ms: 2500,
                inject_stall_ms: 7,
                maps: vec![Mapping {
                    region: 0,
                    vaddr: 0x2000_0000,
                    perms: Perms { read: true, write: true, execute: false },
                    uncached: false,
                    setvar: "ring".into(),
                }],
                irqs: vec![Irq { id: 3, source: IrqSource::IoApic { pin: 11, level: true, active_low: false } }],
                pci_devices: vec![
                    PciDevice {
                        select: PciSelect::Id { vendor: 0x8086, device: 0x100e, index: 1 },
                        bars: vec![PciBar { index: 0, vaddr: 0x5000_0000, size: 0x20000, setvar: "regs".into() }],
                        irq_id: Some(4),
                        irq: PciIrq::MsiX,
                        io_space: Some(IoSpace { domain_id: 7, maps: vec![(0, true), (1, false)] }),
                    },
                    PciDevice { select: PciSelect::Address { bus: 0, dev: 3, func: 0 }, bars: vec![], irq_id: None, irq: PciIrq::Intx, io_space: None },
                ],
                ioports: vec![IoPortRange { id: 2, base: 0x3f8, size: 8 }],
            }],
            channels: vec![Channel { a: (0, 1), b: (0, 2), a_calls_b: true, b_calls_a: false, a_notifies_b: true, b_notifies_a: false }],
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let sys = sample();
        assert_eq!(System::decode(&sys.encode()), Ok(sys.clone()));
        // A restart group of two PDs, each listing the other: kept; one-sided, or listing
        // itself: refused.
        let mut two = sys.clone();
        two.pds[0].restart_with = vec![1];
        two.pds.push(ProtectionDomain { name: "b".into(), restart_with: vec![0], ..two.pds[0].clone() });
        assert_eq!(System::decode(&two.encode()), Ok(two.clone()));
        let mut one_sided = two.clone();
        one_sided.pds[1].restart_with.clear();
        assert_eq!(System::decode(&one_sided.encode()), Err(DecodeError::BadValue));
        let mut itself = sys;
        itself.pds[0].restart_with = vec![0];
        assert_eq!(System::decode(&itself.encode()), Err(DecodeError::BadValue));
    }

    #[test]
    fn truncated_and_bad_images_are_errors() {
        assert_eq!(System::decode(b"nope"), Err(DecodeError::Truncated));
        assert_eq!(System::decode(b"NOTSEL4S\0\0\0\0\0"), Err(DecodeError::BadMagic));
        let mut img = System::default().encode();
        img.pop();
        assert_eq!(System::decode(&img), Err(DecodeError::Truncated));
    }

    /// An image sysinit would never write (a corrupt one) is refused at decode, not met later as
    /// an index out of bounds or a shift past the badge in the root task.
    #[test]
    fn out_of_range_ids_in_an_image_are_errors() {
        let corrupt: [fn(&mut ProtectionDomain, &mut Vec<Channel>); 6] = [
            |pd, _| pd.pci_devices[0].bars[0].index = 6,
            |pd, _| pd.pci_devices[0].irq_id = Some(layout::MAX_CHANNELS),
            |pd, _| pd.ioports[0].id = layout::MAX_IOPORT_RANGES,
            |pd, _| pd.irqs[0].id = layout::MAX_CHANNELS,
            |_, channels| channels[0].b.1 = layout::MAX_CHANNELS,
            |pd, _| {
                let map = pd.maps[0].clone();
                pd.maps = (0..pd_info::MAX_REGIONS).map(|k| Mapping { setvar: alloc::format!("v{k}"), ..map.clone() }).collect();
            },
        ];
        for (k, corrupt) in corrupt.iter().enumerate() {
            let mut sys = sample();
            let (pd, channels) = (&mut sys.pds[0], &mut sys.channels);
            corrupt(pd, channels);
            assert_eq!(System::decode(&sys.encode()), Err(DecodeError::BadValue), "case {k}");
        }
    }
}

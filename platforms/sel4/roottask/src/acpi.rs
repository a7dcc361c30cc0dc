//! PCI INTx routing from the firmware's ACPI tables.
//!
//! A function's interrupt line register is what firmware wrote for the legacy PIC; on a PCIe
//! chipset (q35, the Xeon D's PCH) the IOAPIC input that INTA..INTD reach is another one, and
//! only the root bridge's `_PRT` (in the DSDT's AML) says which. So for a PD given an INTx
//! device the root task finds the RSDP where the kernel does (the BIOS area), reads the
//! RSDT/XSDT, the FADT and from it the DSDT, parses the DSDT and SSDTs with the `aml` crate,
//! tells the firmware the IOAPIC is in use (`\_PIC(1)`) and asks the `_PRT` (through a link
//! device's `_CRS` when the entry names one). Behind a PCI-to-PCI bridge the pin is swizzled
//! to the bridge's (PCI-to-PCI Bridge spec 9.1) unless ACPI gives the bridge a `_PRT` of its
//! own.
//!
//! Only the table walk is written here (a few checked headers); AML is the `aml` crate's.
//! Physical memory is read through a callback the caller provides (device frames mapped for a
//! moment), so this module holds no unsafe code.

use crate::pci::Function;
use aml::pci_routing::{Pin, PciRoutingTable};
use aml::resource::{InterruptPolarity, InterruptTrigger};
use aml::{AmlContext, AmlName, AmlValue, DebugVerbosity, LevelType};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use sel4_abi::CPtr;

/// Reads `buf.len()` bytes of physical memory at an address.
pub type ReadPhys<'a> = dyn FnMut(u64, &mut [u8]) -> Result<(), &'static str> + 'a;

/// Where the kernel, too, looks for the RSDP (seL4 5.0 scans only this; so does PC firmware
/// booted through BIOS/CSM, which is how the box and QEMU start it).
const BIOS_AREA: (u64, usize) = (0xe0000, 0x20000);
/// No table the walk reads is larger (a DSDT is tens of KiB on server boards).
const MAX_TABLE_BYTES: usize = 1 << 20;

/// Where an INTx line arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntxRoute {
    /// The global system interrupt (IOAPIC input).
    pub gsi: u32,
    /// Level-triggered (PCI INTx always is; an ACPI link may say otherwise).
    pub level: bool,
    /// Active low as the IOAPIC sees it.
    pub active_low: bool,
}

/// The firmware's AML and what it says about the PCI root bridges.
pub struct Router {
    ctx: AmlContext,
    /// Every Device object in the namespace (for `_ADR` lookups under a bridge).
    devices: Vec<AmlName>,
    /// Root bridges (`PNP0A03`/`PNP0A08`) as (bus number from `_BBN`, path).
    roots: Vec<(u8, AmlName)>,
}

impl Router {
    /// Reads the tables and parses their AML. Errors name what was missing or malformed.
    pub fn new(read: &mut ReadPhys, ioport: CPtr) -> Result<Self, String> {
        let rsdp = find_rsdp(read)?;
        let (revision, rsdt) = (rsdp[15], u32::from_le_bytes(rsdp[16..20].try_into().unwrap()) as u64);
        let xsdt = if revision >= 2 { u64::from_le_bytes(rsdp[24..32].try_into().unwrap()) } else { 0 };
        let (root, entry) = if xsdt != 0 { (read_table(read, xsdt, b"XSDT")?, 8) } else { (read_table(read, rsdt, b"RSDT")?, 4) };
        let mut fadt = None;
        let mut ssdts = Vec::new();
        for e in root[36..].chunks_exact(entry) {
            let at = if entry == 8 { u64::from_le_bytes(e.try_into().unwrap()) } else { u32::from_le_bytes(e.try_into().unwrap()) as u64 };
            let mut sig = [0u8; 8];
            // An entry pointing nowhere costs that table, not the walk.
            if let Err(e) = read(at, &mut sig) {
                crate::println!("acpi: table at {at:#x} (from the {}): {e}: skipped", if entry == 8 { "XSDT" } else { "RSDT" });
                continue;
            }
            match &sig[..4] {
                b"FACP" => fadt = Some(read_table(read, at, b"FACP")?),
                // A bad checksum or header costs that SSDT (what it describes: CPUs,
                // hot-plug), not the routing; firmware ships such tables, and Linux only warns.
                b"SSDT" => match read_table(read, at, b"SSDT") {
                    Ok(t) => ssdts.push(t),
                    Err(e) => crate::println!("acpi: {e}: skipped"),
                },
                _ => {}
            }
        }
        let fadt = fadt.ok_or("no FADT")?;
        let field = |at: usize, n: usize| fadt.get(at..at + n).map(|b| b.iter().rev().fold(0u64, |v, &x| v << 8 | x as u64));
        // X_DSDT (ACPI 2.0+, offset 140) when set, else DSDT (offset 40).
        let dsdt_at = field(140, 8).filter(|&x| x != 0).or(field(40, 4)).filter(|&x| x != 0).ok_or("the FADT names no DSDT")?;
        let dsdt = read_table(read, dsdt_at, b"DSDT")?;

        let mut ctx = AmlContext::new(Box::new(AmlHost { ioport }), DebugVerbosity::None);
        ctx.parse_table(&dsdt[36..]).map_err(|e| format!("DSDT: {e:?}"))?;
        for (i, ssdt) in ssdts.iter().enumerate() {
            // A broken SSDT costs what it describes (CPUs, hot-plug), not the routing.
            if let Err(e) = ctx.parse_table(&ssdt[36..]) {
                crate::println!("acpi: SSDT {i}: {e:?}: skipped");
            }
        }
        // "The OS uses the IOAPIC" (ACPI 5.8.1): firmware then returns the IOAPIC _PRT.
        let pic = AmlName::from_str("\\_PIC").unwrap();
        if ctx.namespace.get_by_path(&pic).is_ok() {
            let args = aml::value::Args::from_list(alloc::vec![AmlValue::Integer(1)]).map_err(|e| format!("_PIC: {e:?}"))?;
            ctx.invoke_method(&pic, args).map_err(|e| format!("\\_PIC(1): {e:?}"))?;
        }
        let mut devices = Vec::new();
        ctx.namespace
            .traverse(|name, level| {
                if level.typ == LevelType::Device {
                    devices.push(name.clone());
                }
                Ok(true)
            })
            .map_err(|e| format!("namespace: {e:?}"))?;
        let mut roots = Vec::new();
        let ids = [AmlName::from_str("_HID").unwrap(), AmlName::from_str("_CID").unwrap()];
        for d in &devices {
            let is_root = ids.iter().any(|n| {
                let v = integer(&mut ctx, d, n);
                v == Some(eisa_id("PNP0A03")) || v == Some(eisa_id("PNP0A08"))
            });
            if is_root {
                let bus = integer(&mut ctx, d, &AmlName::from_str("_BBN").unwrap()).unwrap_or(0);
                roots.push((bus as u8, d.clone()));
            }
        }
        if roots.is_empty() {
            return Err("no PCI root bridge (PNP0A03/PNP0A08) in the namespace".to_string());
        }
        Ok(Self { ctx, devices, roots })
    }

    /// Where function `f`'s INTx pin (1 = INTA .. 4 = INTD) arrives. `functions` is the PCI
    /// inventory (to find the bridges above `f`). Also returns how it was found, for the log.
    pub fn route(&mut self, functions: &[Function], f: &Function, pin: u8) -> Result<(IntxRoute, String), String> {
        if !(1..=4).contains(&pin) {
            return Err("the function has no interrupt pin".to_string());
        }
        // Bridges from the function up to its root bus: (bridge, pin at that bridge).
        let (mut bus, mut dev, mut func, mut pin) = (f.bus, f.dev, f.func, pin - 1);
        let mut path = Vec::new();
        // A bridge firmware left unconfigured says secondary bus 0 (or one not above its own):
        // it leads nowhere.
        while let Some(bridge) = functions.iter().find(|b| b.secondary_bus == Some(bus) && bus > b.bus) {
            path.push((bridge.clone(), dev, func, pin));
            pin = (pin + dev) % 4;
            (bus, dev, func) = (bridge.bus, bridge.dev, bridge.func);
        }
        let root = self.roots.iter().find(|r| r.0 == bus).map(|r| r.1.clone()).ok_or(format!("no ACPI root bridge for bus {bus:#x}"))?;
        // Going down from the root: the deepest bridge with a _PRT of its own decides.
        let mut scope = root;
        let (mut at_dev, mut at_func, mut at_pin) = (dev, func, pin);
        let mut table_scope = scope.clone();
        for (bridge, below_dev, below_func, below_pin) in path.iter().rev() {
            let Some(node) = self.child_with_adr(&scope, bridge.dev, bridge.func) else { break };
            if self.ctx.namespace.get_by_path(&AmlName::from_str("_PRT").unwrap().resolve(&node).map_err(|e| format!("{e:?}"))?).is_ok() {
                table_scope = node.clone();
                (at_dev, at_func, at_pin) = (*below_dev, *below_func, *below_pin);
            }
            scope = node;
        }
        let prt = AmlName::from_str("_PRT").unwrap().resolve(&table_scope).map_err(|e| format!("{e:?}"))?;
        let table = PciRoutingTable::from_prt_path(&prt, &mut self.ctx).map_err(|e| format!("{}: {e:?}", prt.as_string()))?;
        let pin_name = [Pin::IntA, Pin::IntB, Pin::IntC, Pin::IntD][at_pin as usize];
        let irq = table
            .route(at_dev as u16, at_func as u16, pin_name, &mut self.ctx)
            .map_err(|e| format!("{} has no entry for device {at_dev:#x} INT{}: {e:?}", prt.as_string(), (b'A' + at_pin) as char))?;
        // IRQ 0 is the timer, never a PCI line: a link that is disabled, or one whose _CRS builds
        // its answer in a way the crate does not carry out (QEMU pc's LNKx store the PIIX's
        // routing register into a buffer field, which comes back as the template's 0).
        if irq.irq == 0 {
            return Err(format!("{} device {at_dev:#x} INT{} leads to IRQ 0 (a disabled link, or AML not understood)", prt.as_string(), (b'A' + at_pin) as char));
        }
        let route = IntxRoute {
            gsi: irq.irq,
            level: irq.trigger == InterruptTrigger::Level,
            active_low: irq.polarity == InterruptPolarity::ActiveLow,
        };
        let how = format!("{} device {at_dev:#x} INT{}", prt.as_string(), (b'A' + at_pin) as char);
        Ok((route, how))
    }

    /// The Device under `parent` whose `_ADR` is (dev, func) (0xffff: any function).
    fn child_with_adr(&mut self, parent: &AmlName, dev: u8, func: u8) -> Option<AmlName> {
        let adr = AmlName::from_str("_ADR").unwrap();
        let children: Vec<AmlName> = self.devices.iter().filter(|d| d.parent().ok().as_ref() == Some(parent)).cloned().collect();
        children.into_iter().find(|c| {
            let v = integer(&mut self.ctx, c, &adr);
            v == Some((dev as u64) << 16 | func as u64) || v == Some((dev as u64) << 16 | 0xffff)
        })
    }
}

/// An object's integer value under `device`: a Name or a Method returning one.
fn integer(ctx: &mut AmlContext, device: &AmlName, name: &AmlName) -> Option<u64> {
    let path = name.resolve(device).ok()?;
    let value = ctx.namespace.get_by_path(&path).ok()?.clone();
    let value = match value {
        AmlValue::Method { .. } => ctx.invoke_method(&path, aml::value::Args::EMPTY).ok()?,
        v => v,
    };
    match value {
        AmlValue::Integer(v) => Some(v),
        AmlValue::String(s) if s.len() == 7 => Some(eisa_id(&s) as u64),
        _ => None,
    }
}

/// The compressed EISA id of a string like `PNP0A08` (ACPI 19.6.35's EISAID macro).
fn eisa_id(id: &str) -> u64 {
    let b = id.as_bytes();
    let letter = |c: u8| (c.wrapping_sub(0x40) & 0x1f) as u16;
    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let vendor = letter(b[0]) << 10 | letter(b[1]) << 5 | letter(b[2]);
    let bytes = [(vendor >> 8) as u8, vendor as u8, hex(b[3]) << 4 | hex(b[4]), hex(b[5]) << 4 | hex(b[6])];
    u32::from_le_bytes(bytes) as u64
}

/// The RSDP in the BIOS area: "RSD PTR " on a 16-byte boundary with a good checksum.
fn find_rsdp(read: &mut ReadPhys) -> Result<[u8; 36], String> {
    let mut area = alloc::vec![0u8; BIOS_AREA.1];
    read(BIOS_AREA.0, &mut area).map_err(|e| format!("BIOS area: {e}"))?;
    for at in (0..area.len() - 36).step_by(16) {
        let c = &area[at..at + 36];
        if &c[..8] == b"RSD PTR " && checksum(&c[..20]) == 0 {
            return Ok(c.try_into().unwrap());
        }
    }
    Err("no RSDP in the BIOS area (booted through UEFI without CSM?)".to_string())
}

/// A whole table at `at` with signature `sig`, its length and checksum checked.
fn read_table(read: &mut ReadPhys, at: u64, sig: &[u8; 4]) -> Result<Vec<u8>, String> {
    let name = core::str::from_utf8(sig).unwrap_or("?");
    let mut header = [0u8; 36];
    read(at, &mut header).map_err(|e| format!("{name} at {at:#x}: {e}"))?;
    let len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
    if &header[..4] != sig || !(36..=MAX_TABLE_BYTES).contains(&len) {
        return Err(format!("{name} at {at:#x}: bad header"));
    }
    let mut table = alloc::vec![0u8; len];
    read(at, &mut table).map_err(|e| format!("{name} at {at:#x}: {e}"))?;
    if checksum(&table) != 0 {
        return Err(format!("{name} at {at:#x}: bad checksum"));
    }
    Ok(table)
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// What AML may touch while it runs: I/O ports and PCI configuration space through the root
/// task's I/O-port cap. System memory operation regions are not mapped for AML (routing on the
/// machines here needs none): reads give 0 and writes are dropped, each said once on the console.
struct AmlHost {
    ioport: CPtr,
}

static MEMORY_WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

fn memory_unsupported(address: usize) {
    if !MEMORY_WARNED.swap(true, core::sync::atomic::Ordering::Relaxed) {
        crate::println!("acpi: AML touched system memory at {address:#x}: not mapped for AML (reads 0, writes dropped)");
    }
}

impl AmlHost {
    /// Segment 0's configuration space (the legacy mechanism reaches no other, nor offsets
    /// above 0xff): an absent register reads all ones, a write to one is dropped.
    fn config(&self, segment: u16, offset: u16) -> Option<(crate::pci::Config, u8)> {
        (segment == 0 && offset <= 0xff).then(|| (crate::pci::Config { ioport: self.ioport }, offset as u8))
    }

    fn pci_read(&self, segment: u16, bus: u8, dev: u8, func: u8, offset: u16) -> u32 {
        self.config(segment, offset).map_or(u32::MAX, |(c, o)| c.read_sized(bus, dev, func, o))
    }

    fn pci_write(&self, segment: u16, bus: u8, dev: u8, func: u8, offset: u16, value: u32, bytes: u8) {
        if let Some((c, o)) = self.config(segment, offset) {
            c.write_sized(bus, dev, func, o, value, bytes);
        }
    }
}

impl aml::Handler for AmlHost {
    fn read_u8(&self, a: usize) -> u8 {
        memory_unsupported(a);
        0
    }
    fn read_u16(&self, a: usize) -> u16 {
        memory_unsupported(a);
        0
    }
    fn read_u32(&self, a: usize) -> u32 {
        memory_unsupported(a);
        0
    }
    fn read_u64(&self, a: usize) -> u64 {
        memory_unsupported(a);
        0
    }
    fn write_u8(&mut self, a: usize, _: u8) {
        memory_unsupported(a)
    }
    fn write_u16(&mut self, a: usize, _: u16) {
        memory_unsupported(a)
    }
    fn write_u32(&mut self, a: usize, _: u32) {
        memory_unsupported(a)
    }
    fn write_u64(&mut self, a: usize, _: u64) {
        memory_unsupported(a)
    }
    fn read_io_u8(&self, port: u16) -> u8 {
        sel4_abi::ioport_in8(self.ioport, port).unwrap_or(u8::MAX)
    }
    fn read_io_u16(&self, port: u16) -> u16 {
        sel4_abi::ioport_in16(self.ioport, port).unwrap_or(u16::MAX)
    }
    fn read_io_u32(&self, port: u16) -> u32 {
        sel4_abi::ioport_in32(self.ioport, port).unwrap_or(u32::MAX)
    }
    fn write_io_u8(&self, port: u16, v: u8) {
        let _ = sel4_abi::ioport_out8(self.ioport, port, v);
    }
    fn write_io_u16(&self, port: u16, v: u16) {
        let _ = sel4_abi::ioport_out16(self.ioport, port, v);
    }
    fn write_io_u32(&self, port: u16, v: u32) {
        let _ = sel4_abi::ioport_out32(self.ioport, port, v);
    }
    fn read_pci_u8(&self, s: u16, b: u8, d: u8, f: u8, o: u16) -> u8 {
        self.pci_read(s, b, d, f, o) as u8
    }
    fn read_pci_u16(&self, s: u16, b: u8, d: u8, f: u8, o: u16) -> u16 {
        self.pci_read(s, b, d, f, o) as u16
    }
    fn read_pci_u32(&self, s: u16, b: u8, d: u8, f: u8, o: u16) -> u32 {
        self.pci_read(s, b, d, f, o)
    }
    fn write_pci_u8(&self, s: u16, b: u8, d: u8, f: u8, o: u16, v: u8) {
        self.pci_write(s, b, d, f, o, v as u32, 1)
    }
    fn write_pci_u16(&self, s: u16, b: u8, d: u8, f: u8, o: u16, v: u16) {
        self.pci_write(s, b, d, f, o, v as u32, 2)
    }
    fn write_pci_u32(&self, s: u16, b: u8, d: u8, f: u8, o: u16, v: u32) {
        self.pci_write(s, b, d, f, o, v, 4)
    }
    fn handle_fatal_error(&self, fatal_type: u8, code: u32, arg: u64) {
        // The crate then returns AmlError::FatalError: routing fails, with this line as the why.
        crate::println!("acpi: the firmware's AML raised Fatal (type {fatal_type}, code {code:#x}, arg {arg:#x})");
    }
}

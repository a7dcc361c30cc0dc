//! Turns a Microkit-style `system.xml` into the seL4 system image (see the `sel4-system-spec`
//! crate for the encoding).
//!
//! Accepted elements (Microkit's System Description File, plus the marked extensions):
//! - `<system exit_when_idle="true">` (extension, for tests): when every PD is blocked the root
//!   task prints `SYSTEM idle` and ends QEMU through the isa-debug-exit port.
//! - `<memory_region name size [phys_addr] [fill]>`: sizes and addresses in decimal or `0x` hex,
//!   multiples of 4 KiB. Without `phys_addr` the region is RAM, physically contiguous (the PD
//!   finds its physical address for DMA); with it, device memory at that address. `fill` names
//!   a file (relative to the description) copied to the start of the region at boot; the
//!   command line's `--fill region=file` replaces it (one description, per-encryptor configs).
//! - `<protection_domain name priority [stack_size]>` with `<program_image path>`,
//!   `<map mr vaddr [perms="rw"] [cached="true"] [setvar_vaddr]>` and (x86 extension)
//!   `<irq pin id [trigger="level"|"edge"] [polarity="high"|"low"]>` for an IOAPIC pin, and
//!   (x86 extension) `<pci_device vendor device [index] | bdf="bb:dd.f" [irq_id]>` with
//!   `<bar index vaddr size [setvar_vaddr]>` children, and `[irq="intx"|"msi"]`: the root task
//!   finds the device at boot, maps its memory BARs uncached (at most `size` bytes), enables
//!   memory decoding and bus mastering, and delivers its interrupt on channel `irq_id`, either
//!   the INTx line through the IOAPIC or MSI (the root task programs the MSI capability); and
//!   (x86 extension) `<ioport [id] base size>`: a range of I/O ports the PD reaches with
//!   `sel4_pd_runtime::ioport(id)` (ids default to document order). A range may belong to one
//!   PD only.
//! - The spellings of the host side's `support/sdf` are accepted too: `<pci_device
//!   id="vvvv:dddd" [index]>`, `<irq pci="K" id>` (the interrupt of the PD's pci_device, or of
//!   its K-th one if it has several),
//!   `<irq ioapic="pin">` or `<irq irq="pin">`; attributes and elements for other tools
//!   (`domain`, `secret`, `<host_tap>`) are ignored here.
//! - `<channel><end pd id [pp="true"]/><end pd id/></channel>`: `pp` lets that end make
//!   protected calls to the other, which must have a higher priority.
//!
//! Errors name the element and attribute: an unknown region or PD, a misaligned or overlapping
//! mapping (also against the program's segments and the runtime's fixed pages), a duplicate
//! channel id, a protected call to a PD of equal or lower priority.

use sel4_system_spec::{
    layout, Channel, IoPortRange, Irq, IrqSource, Mapping, MemoryRegion, PciBar, PciDevice, PciSelect, Perms, ProtectionDomain,
    System,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PAGE: u64 = 4096;

/// Parses a decimal or `0x` hexadecimal number.
fn number(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    node.attribute(name).ok_or_else(|| format!("<{}> at {}: missing attribute {name}", node.tag_name().name(), pos(node)))
}

fn num_attr(node: roxmltree::Node, name: &str) -> Result<u64, String> {
    let v = attr(node, name)?;
    number(v).ok_or_else(|| format!("<{}> at {}: {name}=\"{v}\" is not a number", node.tag_name().name(), pos(node)))
}

fn bool_attr(node: roxmltree::Node, name: &str, default: bool) -> Result<bool, String> {
    match node.attribute(name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("<{}> at {}: {name}=\"{v}\" must be true or false", node.tag_name().name(), pos(node))),
    }
}

fn pos(node: roxmltree::Node) -> String {
    let p = node.document().text_pos_at(node.range().start);
    format!("line {}", p.row)
}

/// A PD with the program file it names, before images are laid out.
struct PdSource {
    pd: ProtectionDomain,
    program: String,
}

/// Parses and checks a system description; the PDs' ELF offsets are left zero.
pub fn parse(text: &str) -> Result<(System, Vec<String>), String> {
    parse_with_fills(text).map(|(sys, programs, _)| (sys, programs))
}

/// A `fill` file named in a description: region name, path as written.
pub type Fill = (String, PathBuf);

/// Parses like [`parse`], and also returns the `fill` files named in the description.
pub fn parse_with_fills(text: &str) -> Result<(System, Vec<String>, Vec<Fill>), String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not valid XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "system" {
        return Err("the root element must be <system>".into());
    }
    let mut sys = System { exit_when_idle: bool_attr(root, "exit_when_idle", false)?, ..Default::default() };
    let mut region_index = HashMap::new();
    let mut fills = Vec::new();
    for n in root.children().filter(|n| n.has_tag_name("memory_region")) {
        let name = attr(n, "name")?.to_string();
        let size = num_attr(n, "size")?;
        let phys_addr = n.attribute("phys_addr").map(|_| num_attr(n, "phys_addr")).transpose()?;
        if size == 0 || size % PAGE != 0 || phys_addr.is_some_and(|p| p % PAGE != 0) {
            return Err(format!("memory_region {name} ({}): size and phys_addr must be non-zero multiples of 4 KiB", pos(n)));
        }
        if region_index.insert(name.clone(), sys.regions.len() as u32).is_some() {
            return Err(format!("memory_region {name} ({}): defined twice", pos(n)));
        }
        if let Some(path) = n.attribute("fill") {
            if phys_addr.is_some() {
                return Err(format!("memory_region {name} ({}): fill and phys_addr do not go together", pos(n)));
            }
            fills.push((name.clone(), PathBuf::from(path)));
        }
        sys.regions.push(MemoryRegion { name, size, phys_addr, fill: None });
    }
    let mut sources = Vec::new();
    let mut pd_index = HashMap::new();
    for n in root.children().filter(|n| n.has_tag_name("protection_domain")) {
        let name = attr(n, "name")?.to_string();
        let priority = num_attr(n, "priority")?;
        if !(1..=254).contains(&priority) {
            return Err(format!("protection_domain {name}: priority {priority} must be 1..=254"));
        }
        let stack = n.attribute("stack_size").map(|_| num_attr(n, "stack_size")).transpose()?.unwrap_or(64 * 1024);
        if stack == 0 || stack % PAGE != 0 || stack > 1 << 20 {
            return Err(format!("protection_domain {name}: stack_size must be a multiple of 4 KiB up to 1 MiB"));
        }
        let program = n
            .children()
            .find(|c| c.has_tag_name("program_image"))
            .ok_or_else(|| format!("protection_domain {name}: no <program_image>"))
            .and_then(|c| attr(c, "path"))?
            .to_string();
        let mut maps = Vec::new();
        for m in n.children().filter(|c| c.has_tag_name("map")) {
            let mr = attr(m, "mr")?;
            let region = *region_index.get(mr).ok_or_else(|| format!("protection_domain {name} ({}): map of unknown memory_region {mr}", pos(m)))?;
            let vaddr = num_attr(m, "vaddr")?;
            if vaddr % PAGE != 0 {
                return Err(format!("protection_domain {name} ({}): map vaddr {vaddr:#x} is not page-aligned", pos(m)));
            }
            let p = m.attribute("perms").unwrap_or("rw");
            if p.is_empty() || !p.chars().all(|c| "rwx".contains(c)) {
                return Err(format!("protection_domain {name} ({}): perms=\"{p}\" must be letters of rwx", pos(m)));
            }
            let perms = Perms { read: p.contains('r'), write: p.contains('w'), execute: p.contains('x') };
            let setvar = m.attribute("setvar_vaddr").unwrap_or("").to_string();
            if setvar.len() > sel4_system_spec::pd_info::NAME_LEN {
                return Err(format!("protection_domain {name}: setvar_vaddr {setvar} is longer than 32 bytes"));
            }
            maps.push(Mapping { region, vaddr, perms, uncached: !bool_attr(m, "cached", true)?, setvar });
        }
        if maps.len() > sel4_system_spec::pd_info::MAX_REGIONS {
            return Err(format!("protection_domain {name}: more than {} maps", sel4_system_spec::pd_info::MAX_REGIONS));
        }
        let mut irqs = Vec::new();
        // `<irq pci="K" id>`: the interrupt of the PD's K-th <pci_device> (resolved below).
        let mut pci_irqs = Vec::new();
        for i in n.children().filter(|c| c.has_tag_name("irq")) {
            let id = num_attr(i, "id")? as u32;
            if i.attribute("pci").is_some() {
                pci_irqs.push((num_attr(i, "pci")? as usize, id, pos(i)));
                continue;
            }
            if i.attribute("msi").is_some() {
                return Err(format!("protection_domain {name} ({}): <irq msi> is not supported; use <pci_device irq=\"msi\">", pos(i)));
            }
            let pin_attr = ["pin", "ioapic", "irq"].into_iter().find(|a| i.attribute(*a).is_some()).unwrap_or("pin");
            let pin = num_attr(i, pin_attr)? as u32;
            let level = match i.attribute("trigger").unwrap_or("level") {
                "level" => true,
                "edge" => false,
                t => return Err(format!("protection_domain {name}: irq trigger \"{t}\" must be level or edge")),
            };
            let active_low = match i.attribute("polarity").unwrap_or("high") {
                "high" => false,
                "low" => true,
                t => return Err(format!("protection_domain {name}: irq polarity \"{t}\" must be high or low")),
            };
            irqs.push(Irq { id, source: IrqSource::IoApic { pin, level, active_low } });
        }
        let mut pci_devices = Vec::new();
        for d in n.children().filter(|c| c.has_tag_name("pci_device")) {
            pci_devices.push(parse_pci_device(&name, d)?);
        }
        let device_count = pci_devices.len();
        for (k, id, at) in pci_irqs {
            // support/sdf reads `pci=` as "the PD's PCI device"; with one device, the number
            // (which there repeats the device's index on the bus) is not a position.
            let k = if device_count == 1 { 0 } else { k };
            let device: &mut PciDevice = pci_devices
                .get_mut(k)
                .ok_or_else(|| format!("protection_domain {name} ({at}): <irq pci=\"{k}\"> but the PD has {device_count} pci_device"))?;
            if device.irq_id.replace(id).is_some() {
                return Err(format!("protection_domain {name} ({at}): pci_device {k} already has an interrupt channel"));
            }
        }
        let mut ioports = Vec::new();
        for (k, io) in n.children().filter(|c| c.has_tag_name("ioport")).enumerate() {
            // Without an id, ranges are numbered in document order.
            let id = io.attribute("id").map(|_| num_attr(io, "id")).transpose()?.unwrap_or(k as u64);
            let (base, size) = (num_attr(io, "base")?, num_attr(io, "size")?);
            if id >= layout::MAX_IOPORT_RANGES as u64 || size == 0 || base + size > 0x10000 {
                return Err(format!(
                    "protection_domain {name} ({}): ioport needs id below {} and base + size within 0x10000",
                    pos(io),
                    layout::MAX_IOPORT_RANGES
                ));
            }
            if ioports.iter().any(|r: &IoPortRange| r.id == id as u32) {
                return Err(format!("protection_domain {name}: ioport id {id} used twice"));
            }
            ioports.push(IoPortRange { id: id as u32, base: base as u16, size: size as u16 });
        }
        let bar_count: usize = pci_devices.iter().map(|d: &PciDevice| d.bars.len()).sum();
        if maps.len() + bar_count > sel4_system_spec::pd_info::MAX_REGIONS {
            return Err(format!("protection_domain {name}: more than {} maps and BARs", sel4_system_spec::pd_info::MAX_REGIONS));
        }
        if pd_index.insert(name.clone(), sources.len() as u32).is_some() {
            return Err(format!("protection_domain {name}: defined twice"));
        }
        let pd = ProtectionDomain {
            name,
            priority: priority as u8,
            elf_offset: 0,
            elf_len: 0,
            stack_pages: (stack / PAGE) as u32,
            maps,
            irqs,
            pci_devices,
            ioports,
        };
        sources.push(PdSource { pd, program });
    }
    for c in root.children().filter(|n| n.has_tag_name("channel")) {
        let ends: Vec<_> = c.children().filter(|e| e.has_tag_name("end")).collect();
        if ends.len() != 2 {
            return Err(format!("<channel> at {}: needs exactly two <end>", pos(c)));
        }
        let mut parsed = Vec::new();
        for e in &ends {
            let pd = attr(*e, "pd")?;
            let idx = *pd_index.get(pd).ok_or_else(|| format!("<end> at {}: unknown protection_domain {pd}", pos(*e)))?;
            parsed.push((idx, num_attr(*e, "id")? as u32, bool_attr(*e, "pp", false)?));
        }
        let (a, b) = (parsed[0], parsed[1]);
        sys.channels.push(Channel { a: (a.0, a.1), b: (b.0, b.1), a_calls_b: a.2, b_calls_a: b.2 });
    }
    sys.pds = sources.iter().map(|s| s.pd.clone()).collect();
    check_channels(&sys)?;
    check_maps(&sys)?;
    check_ioports(&sys)?;
    Ok((sys, sources.into_iter().map(|s| s.program).collect(), fills))
}

/// `<pci_device (vendor device [index] | bdf) [irq_id]>` with `<bar index vaddr size [setvar_vaddr]>`.
fn parse_pci_device(pd: &str, d: roxmltree::Node) -> Result<PciDevice, String> {
    let select = match d.attribute("bdf") {
        Some(bdf) => {
            let bad = || format!("protection_domain {pd} ({}): bdf=\"{bdf}\" must look like 00:03.0", pos(d));
            let (bus, rest) = bdf.split_once(':').ok_or_else(bad)?;
            let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
            let hex = |s: &str| u8::from_str_radix(s, 16).map_err(|_| bad());
            let (bus, dev, func) = (hex(bus)?, hex(dev)?, hex(func)?);
            if dev >= 32 || func >= 8 {
                return Err(bad());
            }
            PciSelect::Address { bus, dev, func }
        }
        None => {
            let index = d.attribute("index").map(|_| num_attr(d, "index")).transpose()?.unwrap_or(0) as u32;
            let (vendor, device) = match d.attribute("id") {
                Some(id) => {
                    let bad = || format!("protection_domain {pd} ({}): pci_device id=\"{id}\" must be vvvv:dddd in hex", pos(d));
                    let (v, dv) = id.split_once(':').ok_or_else(bad)?;
                    (u16::from_str_radix(v, 16).map_err(|_| bad())?, u16::from_str_radix(dv, 16).map_err(|_| bad())?)
                }
                None => {
                    let id = |a: &str| -> Result<u16, String> {
                        u16::try_from(num_attr(d, a)?).map_err(|_| format!("protection_domain {pd}: pci_device {a} must fit 16 bits"))
                    };
                    (id("vendor")?, id("device")?)
                }
            };
            PciSelect::Id { vendor, device, index }
        }
    };
    let mut bars = Vec::new();
    for b in d.children().filter(|c| c.has_tag_name("bar")) {
        let index = num_attr(b, "index")?;
        let vaddr = num_attr(b, "vaddr")?;
        let size = num_attr(b, "size")?;
        if index >= 6 || vaddr % PAGE != 0 || size == 0 || size % PAGE != 0 {
            return Err(format!("protection_domain {pd} ({}): bar needs index 0..5 and page-aligned vaddr and size", pos(b)));
        }
        let setvar = b.attribute("setvar_vaddr").unwrap_or("").to_string();
        if setvar.len() > sel4_system_spec::pd_info::NAME_LEN {
            return Err(format!("protection_domain {pd}: setvar_vaddr {setvar} is longer than 32 bytes"));
        }
        bars.push(PciBar { index: index as u8, vaddr, size, setvar });
    }
    let irq_id = d.attribute("irq_id").map(|_| num_attr(d, "irq_id")).transpose()?.map(|i| i as u32);
    let msi = match d.attribute("irq").unwrap_or("intx") {
        "intx" => false,
        "msi" => true,
        other => return Err(format!("protection_domain {pd} ({}): irq=\"{other}\" must be intx or msi", pos(d))),
    };
    Ok(PciDevice { select, bars, irq_id, msi })
}

/// An I/O port range belongs to one PD: two PDs driving the same device would be an
/// isolation hole that nothing at run time would report.
fn check_ioports(sys: &System) -> Result<(), String> {
    let mut all: Vec<(u32, u32, &str)> = Vec::new();
    for pd in &sys.pds {
        for r in &pd.ioports {
            let (first, end) = (r.base as u32, r.base as u32 + r.size as u32);
            if let Some(other) = all.iter().find(|o| first < o.1 && o.0 < end) {
                return Err(format!(
                    "protection_domain {}: ioport range {first:#x}..{end:#x} overlaps one given to {}",
                    pd.name, other.2
                ));
            }
            all.push((first, end, &pd.name));
        }
    }
    Ok(())
}

fn check_channels(sys: &System) -> Result<(), String> {
    let mut used: HashMap<(u32, u32), ()> = HashMap::new();
    let ends = sys.channels.iter().flat_map(|c| [c.a, c.b]);
    let irq_ends = sys.pds.iter().enumerate().flat_map(|(i, pd)| {
        let pins = pd.irqs.iter().map(|q| q.id);
        let devices = pd.pci_devices.iter().filter_map(|d| d.irq_id);
        pins.chain(devices).map(move |id| (i as u32, id))
    });
    for (pd, id) in ends.chain(irq_ends) {
        let name = &sys.pds[pd as usize].name;
        if id >= layout::MAX_CHANNELS {
            return Err(format!("protection_domain {name}: channel id {id} must be below {}", layout::MAX_CHANNELS));
        }
        if used.insert((pd, id), ()).is_some() {
            return Err(format!("protection_domain {name}: channel id {id} used twice"));
        }
    }
    for c in &sys.channels {
        for (caller, callee, calls) in [(c.a.0, c.b.0, c.a_calls_b), (c.b.0, c.a.0, c.b_calls_a)] {
            let (from, to) = (&sys.pds[caller as usize], &sys.pds[callee as usize]);
            if calls && to.priority <= from.priority {
                return Err(format!(
                    "channel {} -> {}: a protected call needs the callee's priority ({}) above the caller's ({})",
                    from.name, to.name, to.priority, from.priority
                ));
            }
        }
    }
    Ok(())
}

/// The fixed pages the runtime puts in every PD: IPC buffer and info page, and the stack.
fn runtime_ranges(pd: &ProtectionDomain) -> [(u64, u64, &'static str); 2] {
    [
        (layout::IPC_BUFFER_VADDR, layout::INFO_VADDR + PAGE, "the IPC buffer and info page"),
        (layout::STACK_TOP - (pd.stack_pages as u64 + 1) * PAGE, layout::STACK_TOP, "the stack"),
    ]
}

fn check_maps(sys: &System) -> Result<(), String> {
    for pd in &sys.pds {
        let mut ranges: Vec<(u64, u64, String)> =
            runtime_ranges(pd).iter().map(|(a, b, what)| (*a, *b, what.to_string())).collect();
        for m in &pd.maps {
            let r = &sys.regions[m.region as usize];
            ranges.push((m.vaddr, m.vaddr + r.size, format!("memory_region {}", r.name)));
        }
        ranges.extend(bar_ranges(pd));
        check_overlaps(&pd.name, &mut ranges)?;
    }
    Ok(())
}

fn bar_ranges(pd: &ProtectionDomain) -> Vec<(u64, u64, String)> {
    pd.pci_devices
        .iter()
        .flat_map(|d| d.bars.iter().map(|b| (b.vaddr, b.vaddr + b.size, format!("PCI BAR {}", b.index))))
        .collect()
}

fn check_overlaps(pd: &str, ranges: &mut [(u64, u64, String)]) -> Result<(), String> {
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "protection_domain {pd}: {} at {:#x} overlaps {} at {:#x}..{:#x}",
                w[1].2, w[1].0, w[0].2, w[0].0, w[0].1
            ));
        }
    }
    Ok(())
}

/// The page ranges of an ELF's loadable segments.
fn elf_segments(elf: &[u8]) -> Result<Vec<(u64, u64)>, String> {
    let word = |o: usize, n: usize| -> Result<u64, String> {
        let b = elf.get(o..o + n).ok_or("truncated ELF")?;
        Ok(b.iter().rev().fold(0u64, |a, &x| a << 8 | x as u64))
    };
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) {
        return Err("not a 64-bit ELF".into());
    }
    let (phoff, phentsize, phnum) = (word(0x20, 8)? as usize, word(0x36, 2)? as usize, word(0x38, 2)? as usize);
    let mut segs = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if word(ph, 4)? == 1 {
            let (vaddr, memsz) = (word(ph + 0x10, 8)?, word(ph + 0x28, 8)?);
            segs.push((vaddr & !(PAGE - 1), (vaddr + memsz).div_ceil(PAGE) * PAGE));
        }
    }
    Ok(segs)
}

fn find_program(name: &str, search: &[PathBuf]) -> Result<PathBuf, String> {
    let p = Path::new(name);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    // Cargo names binaries without an extension; system.xml files often say `x.elf`.
    let stem = name.strip_suffix(".elf").unwrap_or(name);
    search
        .iter()
        .flat_map(|d| [d.join(name), d.join(stem)])
        .find(|c| c.is_file())
        .ok_or_else(|| format!("program_image {name} not found in {search:?}"))
}

/// Builds the image (spec + programs + region contents) and a human summary. `fills` gives
/// region contents on the command line (region name, file); they replace the description's
/// `fill` attributes, whose paths are relative to the description's directory.
pub fn build_image(xml: &Path, search: &[PathBuf], fills: &[(String, PathBuf)]) -> Result<(Vec<u8>, String), String> {
    let text = std::fs::read_to_string(xml).map_err(|e| e.to_string())?;
    let (mut sys, programs, xml_fills) = parse_with_fills(&text)?;
    let base = xml.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut contents: Vec<(usize, Vec<u8>)> = Vec::new();
    let all_fills = xml_fills.into_iter().map(|(n, p)| (n, base.join(p))).filter(|(n, _)| !fills.iter().any(|(f, _)| f == n));
    for (name, path) in all_fills.chain(fills.iter().cloned()) {
        let index = sys.regions.iter().position(|r| r.name == name).ok_or_else(|| format!("--fill {name}: no such memory_region"))?;
        let region = &sys.regions[index];
        if region.phys_addr.is_some() {
            return Err(format!("--fill {name}: the region is device memory"));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("fill of {name}: {}: {e}", path.display()))?;
        if bytes.len() as u64 > region.size {
            return Err(format!("fill of {name}: {} is {} bytes, the region {}", path.display(), bytes.len(), region.size));
        }
        // Placeholder so that the spec has its final length; the offset is set below.
        sys.regions[index].fill = Some((0, bytes.len() as u64));
        contents.push((index, bytes));
    }
    let mut elves = Vec::new();
    for (pd, program) in sys.pds.iter().zip(&programs) {
        let path = find_program(program, search)?;
        let elf = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut ranges: Vec<(u64, u64, String)> = elf_segments(&elf)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_iter()
            .map(|(a, b)| (a, b, format!("program {program}")))
            .collect();
        // Segments may share a page with each other, so merge them before the overlap check.
        ranges.sort();
        let mut merged: Vec<(u64, u64, String)> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
                _ => merged.push(r),
            }
        }
        for (a, b, what) in runtime_ranges(pd) {
            merged.push((a, b, what.to_string()));
        }
        for m in &pd.maps {
            let r = &sys.regions[m.region as usize];
            merged.push((m.vaddr, m.vaddr + r.size, format!("memory_region {}", r.name)));
        }
        merged.extend(bar_ranges(pd));
        check_overlaps(&pd.name, &mut merged)?;
        elves.push(elf);
    }
    // Offsets have fixed width, so the spec's length does not depend on them.
    let spec_len = sys.encode().len() as u64;
    let mut offset = spec_len.div_ceil(PAGE) * PAGE;
    for (pd, elf) in sys.pds.iter_mut().zip(&elves) {
        pd.elf_offset = offset;
        pd.elf_len = elf.len() as u64;
        offset = (offset + pd.elf_len).div_ceil(16) * 16;
    }
    for (index, bytes) in &contents {
        sys.regions[*index].fill = Some((offset, bytes.len() as u64));
        offset = (offset + bytes.len() as u64).div_ceil(16) * 16;
    }
    let mut image = sys.encode();
    assert_eq!(image.len() as u64, spec_len);
    for (pd, elf) in sys.pds.iter().zip(&elves) {
        image.resize(pd.elf_offset as usize, 0);
        image.extend_from_slice(elf);
    }
    for (index, bytes) in &contents {
        let (at, _) = sys.regions[*index].fill.expect("set above");
        image.resize(at as usize, 0);
        image.extend_from_slice(bytes);
    }
    let mut summary = String::new();
    let _ = write!(summary, "{} PDs, {} regions, {} channels, image {} bytes", sys.pds.len(), sys.regions.len(), sys.channels.len(), image.len());
    Ok((image, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<system exit_when_idle="true">
        <memory_region name="buf" size="0x2000"/>
        <protection_domain name="a" priority="10">
            <program_image path="a.elf"/>
            <map mr="buf" vaddr="0x20000000" perms="rw" setvar_vaddr="buf"/>
        </protection_domain>
        <protection_domain name="b" priority="20">
            <program_image path="b.elf"/>
            <map mr="buf" vaddr="0x20000000" perms="r" setvar_vaddr="buf"/>
            <irq pin="11" id="5"/>
            <pci_device vendor="0x8086" device="0x100e" index="1" irq_id="6" irq="msi">
                <bar index="0" vaddr="0x50000000" size="0x20000" setvar_vaddr="regs"/>
            </pci_device>
            <pci_device bdf="00:05.0"/>
            <ioport id="0" base="0x3f8" size="8"/>
        </protection_domain>
        <channel><end pd="a" id="1" pp="true"/><end pd="b" id="2"/></channel>
    </system>"#;

    #[test]
    fn parses_a_good_system() {
        let (sys, programs) = parse(GOOD).unwrap();
        assert!(sys.exit_when_idle);
        assert_eq!(programs, ["a.elf", "b.elf"]);
        assert_eq!(sys.pds[1].maps[0].perms, Perms { read: true, write: false, execute: false });
        assert_eq!(sys.channels[0], Channel { a: (0, 1), b: (1, 2), a_calls_b: true, b_calls_a: false });
        assert_eq!(sys.pds[1].irqs[0].source, IrqSource::IoApic { pin: 11, level: true, active_low: false });
        let nic = &sys.pds[1].pci_devices[0];
        assert_eq!(nic.select, PciSelect::Id { vendor: 0x8086, device: 0x100e, index: 1 });
        assert_eq!(nic.bars, [PciBar { index: 0, vaddr: 0x5000_0000, size: 0x20000, setvar: "regs".into() }]);
        assert_eq!(nic.irq_id, Some(6));
        assert!(nic.msi);
        assert_eq!(sys.pds[1].ioports, [IoPortRange { id: 0, base: 0x3f8, size: 8 }]);
        assert_eq!(sys.pds[1].pci_devices[1].select, PciSelect::Address { bus: 0, dev: 5, func: 0 });
    }

    #[test]
    fn fills_regions_from_files_and_the_command_line_wins() {
        let dir = std::env::temp_dir().join(format!("sel4-sysinit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A 64-bit ELF header with no program headers is enough for the image builder.
        let mut elf = vec![0u8; 64];
        elf[..5].copy_from_slice(b"\x7fELF\x02");
        std::fs::write(dir.join("p"), &elf).unwrap();
        std::fs::write(dir.join("a.conf"), b"from the description").unwrap();
        std::fs::write(dir.join("b.conf"), b"from the command line").unwrap();
        let xml = r#"<system>
            <memory_region name="cfg" size="0x1000" fill="a.conf"/>
            <protection_domain name="x" priority="1"><program_image path="p"/>
                <map mr="cfg" vaddr="0x10000000" perms="r" setvar_vaddr="config"/></protection_domain>
        </system>"#;
        std::fs::write(dir.join("s.xml"), xml).unwrap();
        let contents = |fills: &[(String, PathBuf)]| {
            let (image, _) = build_image(&dir.join("s.xml"), &[dir.clone()], fills).unwrap();
            let sys = System::decode(&image).unwrap();
            let (o, l) = sys.regions[0].fill.unwrap();
            image[o as usize..(o + l) as usize].to_vec()
        };
        assert_eq!(contents(&[]), b"from the description");
        assert_eq!(contents(&[("cfg".into(), dir.join("b.conf"))]), b"from the command line");
        let too_big = build_image(&dir.join("s.xml"), &[dir.clone()], &[("nope".into(), dir.join("b.conf"))]);
        assert!(too_big.unwrap_err().contains("no such memory_region"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn accepts_the_host_sdf_spellings() {
        let xml = r#"<system>
            <memory_region name="cfg" size="0x1000" secret="true"/>
            <protection_domain name="nic" domain="red" priority="200">
                <program_image path="nic_e1000.elf"/>
                <map mr="cfg" vaddr="0x10000000" perms="r" setvar_vaddr="config"/>
                <pci_device id="8086:100e" index="1"/>
                <irq pci="0" id="1"/>
                <irq ioapic="4" id="2"/>
                <ioport base="0x3f8" size="8"/>
                <host_tap side="red"/>
            </protection_domain>
        </system>"#;
        let (sys, programs) = parse(xml).unwrap();
        assert_eq!(programs, ["nic_e1000.elf"]);
        let pd = &sys.pds[0];
        assert_eq!(pd.pci_devices[0].select, PciSelect::Id { vendor: 0x8086, device: 0x100e, index: 1 });
        assert_eq!(pd.pci_devices[0].irq_id, Some(1));
        assert_eq!(pd.irqs[0].source, IrqSource::IoApic { pin: 4, level: true, active_low: false });
        assert_eq!(pd.ioports, [IoPortRange { id: 0, base: 0x3f8, size: 8 }]);
        let two = xml.replace("<irq pci=\"0\"", "<pci_device bdf=\"00:04.0\"/><irq pci=\"3\"");
        let err = parse(&two).unwrap_err();
        assert!(err.contains("<irq pci=\"3\"> but the PD has 2"), "{err}");
    }

    #[test]
    fn rejects_bad_systems_with_a_message_naming_the_problem() {
        let cases = [
            (GOOD.replace("mr=\"buf\" vaddr=\"0x20000000\" perms=\"r\"", "mr=\"nope\" vaddr=\"0x20000000\" perms=\"r\""), "unknown memory_region nope"),
            (GOOD.replace("id=\"2\"", "id=\"5\""), "channel id 5 used twice"),
            (GOOD.replace("priority=\"20\"", "priority=\"5\""), "protected call"),
            (GOOD.replace("0x2000\"", "0x2001\""), "multiples of 4 KiB"),
            (GOOD.replace("vaddr=\"0x20000000\" perms=\"rw\"", "vaddr=\"0x3fe00000\" perms=\"rw\""), "overlaps"),
            (GOOD.replace("vaddr=\"0x50000000\"", "vaddr=\"0x20000000\""), "overlaps"),
            (GOOD.replace("irq_id=\"6\"", "irq_id=\"5\""), "channel id 5 used twice"),
            (GOOD.replace("bdf=\"00:05.0\"", "bdf=\"00:40.0\""), "bdf"),
            (GOOD.replace("<program_image path=\"a.elf\"/>", "<program_image path=\"a.elf\"/><ioport id=\"1\" base=\"0x3fc\" size=\"2\"/>"), "overlaps one given to a"),
            (GOOD.replace("size=\"8\"/>", "size=\"0\"/>"), "ioport needs"),
        ];
        for (xml, want) in cases {
            let err = parse(&xml).unwrap_err();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }
}

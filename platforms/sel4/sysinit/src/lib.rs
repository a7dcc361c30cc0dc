//! Turns a Microkit-style `system.xml` into the seL4 system image (see the `sel4-system-spec`
//! crate for the encoding).
//!
//! The description is read by the project's one parser of the format, the `sdf` crate (which
//! documents the elements and this project's extensions: `exit_when_idle`, `fill`,
//! `stack_size`, IOAPIC pins, `<pci_device>` with `<bar>`s and INTx or MSI, `<ioport>`,
//! `<end pp>`), so that a description means the same to the host runtime, the isolation check
//! and this tool. Here it is translated into the root task's spec, and checked against what
//! only this platform limits: priorities 1..=254 (0 is the root task's idle watcher), stacks
//! up to 1 MiB, channel ids below `layout::MAX_CHANNELS`, I/O-port ids below
//! `layout::MAX_IOPORT_RANGES`, the PD info page's number of regions and name length, MSI only
//! through `<pci_device irq="msi">`, and mappings that overlap the runtime's fixed pages or the
//! program's segments. Attributes for other tools (`domain`, `secret`, `<host_tap>`) mean
//! nothing here.
//!
//! Errors name the element and attribute (and, from the parser, the line).

use sel4_system_spec::{
    layout, Channel, IoPortRange, IoSpace, Irq, IrqSource, Mapping, MemoryRegion, PciBar, PciDevice, PciIrq, PciSelect, Perms, ProtectionDomain,
    System,
};
use std::fmt::Write as _;

/// A PD's stack when system.xml gives no `stack_size`.
pub const DEFAULT_STACK_BYTES: u64 = 128 * 1024;
/// A PD's heap unless system.xml says otherwise (`heap_size`): what every PD had when it was a
/// fixed array in the PD runtime.
pub const DEFAULT_HEAP_BYTES: u64 = 1 << 20;
use std::path::{Path, PathBuf};

const PAGE: u64 = 4096;

/// Parses and checks a system description; the PDs' ELF offsets are left zero.
pub fn parse(text: &str) -> Result<(System, Vec<String>), String> {
    parse_with_fills(text).map(|(sys, programs, _)| (sys, programs))
}

/// A `fill` file named in a description: region name, path as written.
pub type Fill = (String, PathBuf);

/// Parses like [`parse`], and also returns the `fill` files named in the description.
pub fn parse_with_fills(text: &str) -> Result<(System, Vec<String>, Vec<Fill>), String> {
    let sdf = sdf::System::parse(text).map_err(|e| e.to_string())?;
    translate(&sdf)
}

/// The seL4 spec of a parsed description, with the program names and `fill` files.
pub fn translate(sdf: &sdf::System) -> Result<(System, Vec<String>, Vec<Fill>), String> {
    let region_index = |name: &str| sdf.memory_regions.iter().position(|r| r.name == name).map(|i| i as u32);
    let console_log = sdf.memory_regions.iter().find(|r| r.console).and_then(|r| region_index(&r.name));
    let iommu_required = sdf.iommu == sdf::IommuPolicy::Required;
    let mut sys = System { exit_when_idle: sdf.exit_when_idle, iommu_required, console_log, ..Default::default() };
    let mut fills = Vec::new();
    for r in &sdf.memory_regions {
        if let Some(path) = &r.fill {
            fills.push((r.name.clone(), PathBuf::from(path)));
        }
        let without_keys_of = r.fill_without_keys.as_ref().and_then(|source| region_index(source));
        sys.regions.push(MemoryRegion {
            name: r.name.clone(),
            size: r.size,
            phys_addr: r.phys_addr,
            fill: None,
            boot_module: r.boot_module,
            without_keys_of,
        });
    }
    let setvar = |pd: &str, name: &Option<String>| -> Result<String, String> {
        let name = name.clone().unwrap_or_default();
        if name.len() > sel4_system_spec::pd_info::NAME_LEN {
            return Err(format!("protection_domain {pd}: setvar_vaddr {name} is longer than {} bytes", sel4_system_spec::pd_info::NAME_LEN));
        }
        Ok(name)
    };
    let mut programs = Vec::new();
    for p in &sdf.protection_domains {
        let name = &p.name;
        let at = format!("protection_domain {name} (line {})", p.line);
        if p.priority == 0 {
            return Err(format!("{at}: priority 0 is the root task's; use 1..=254"));
        }
        // 128 KiB unless system.xml says otherwise: a NIC PD's start-up moves its driver (the
        // descriptor bookkeeping, kilobytes) through several frames, and used 56 KiB of the 64 it
        // had; an overflow is a fault on the guard page below, caught by the NIC PD tests.
        let stack = p.stack_size.unwrap_or(DEFAULT_STACK_BYTES);
        if stack > 1 << 20 {
            return Err(format!("{at}: stack_size must be at most 1 MiB"));
        }
        let mut maps = Vec::new();
        for m in &p.maps {
            let region = region_index(&m.mr).expect("the parser checked the region");
            let perms = Perms { read: m.perms.read, write: m.perms.write, execute: m.perms.execute };
            maps.push(Mapping { region, vaddr: m.vaddr, perms, uncached: !m.cached, setvar: setvar(name, &m.setvar_vaddr)? });
        }
        let mut irqs = Vec::new();
        for i in &p.irqs {
            match i.source {
                sdf::IrqSource::Ioapic { pin, level, active_low } => {
                    irqs.push(Irq { id: u32::from(i.id), source: IrqSource::IoApic { pin, level, active_low } })
                }
                sdf::IrqSource::Msi { .. } => {
                    return Err(format!("{at}: <irq msi> is not supported; use <pci_device irq=\"msi\">"));
                }
                // The parser has given the device its channel (`irq_id`).
                sdf::IrqSource::Pci { .. } => {}
            }
        }
        let mut pci_devices = Vec::new();
        for d in &p.pci_devices {
            let select = match d.select {
                sdf::PciSelect::Id { vendor, device, index } => PciSelect::Id { vendor, device, index },
                sdf::PciSelect::Bdf { bus, dev, func } => PciSelect::Address { bus, dev, func },
            };
            let mut bars = Vec::new();
            for b in &d.bars {
                bars.push(PciBar { index: b.index, vaddr: b.vaddr, size: b.size, setvar: setvar(name, &b.setvar_vaddr)? });
            }
            let irq = match d.irq {
                sdf::PciIrq::Intx => PciIrq::Intx,
                sdf::PciIrq::Msi => PciIrq::Msi,
                sdf::PciIrq::MsiX => PciIrq::MsiX,
            };
            // The parser has checked that every iomap names a region the PD maps.
            let io_space = d.io_address_space.as_ref().map(|space| IoSpace {
                domain_id: space.domain_id,
                maps: space.maps.iter().filter_map(|m| Some((region_index(&m.mr)?, m.write))).collect(),
            });
            pci_devices.push(PciDevice { select, bars, irq_id: d.irq_id.map(u32::from), irq, io_space });
        }
        let mut ioports = Vec::new();
        for (k, io) in p.ioports.iter().enumerate() {
            // Without an id, ranges are numbered in document order.
            let id = io.id.unwrap_or(k as u32);
            if id >= layout::MAX_IOPORT_RANGES {
                return Err(format!("{at}: ioport needs id below {}", layout::MAX_IOPORT_RANGES));
            }
            ioports.push(IoPortRange { id, base: io.base, size: io.size });
        }
        let bar_count: usize = pci_devices.iter().map(|d: &PciDevice| d.bars.len()).sum();
        if maps.len() + bar_count > sel4_system_spec::pd_info::MAX_REGIONS {
            return Err(format!("{at}: more than {} maps and BARs", sel4_system_spec::pd_info::MAX_REGIONS));
        }
        sys.pds.push(ProtectionDomain {
            name: name.clone(),
            priority: p.priority,
            cpu: p.cpu,
            elf_offset: 0,
            elf_len: 0,
            stack_pages: (stack / PAGE) as u32,
            heap_pages: (p.heap_size.unwrap_or(DEFAULT_HEAP_BYTES) / PAGE) as u32,
            heap_bytes_per_peer: p.heap_per_peer as u32,
            heap_bytes_per_prefix: p.heap_per_prefix as u32,
            heap_peers_of: p.heap_peers_of.as_deref().and_then(region_index),
            maps,
            irqs,
            pci_devices,
            ioports,
            restartable: restartable(sdf, p),
            restart_with: if restartable(sdf, p) { restart_group(sdf, p).unwrap_or_default() } else { Vec::new() }.into_iter().map(|i| i as u32).collect(),
            inject_fault_ms: p.inject_fault_ms.unwrap_or(0),
            inject_stall_ms: p.inject_stall_ms.unwrap_or(0),
        });
        programs.push(p.program_image.clone());
    }
    let pd_index = |name: &str| sdf.protection_domains.iter().position(|p| p.name == name).expect("the parser checked the PD") as u32;
    for c in &sdf.channels {
        let [a, b] = &c.ends;
        sys.channels.push(Channel {
            a: (pd_index(&a.pd), u32::from(a.id)),
            b: (pd_index(&b.pd), u32::from(b.id)),
            a_calls_b: a.pp,
            b_calls_a: b.pp,
            a_notifies_b: a.notify,
            b_notifies_a: b.notify,
        });
    }
    check_channel_limit(&sys)?;
    check_maps(&sys)?;
    Ok((sys, programs, fills))
}

/// Whether the root task may restart PD `pd` after a fault with fresh state: every region it
/// shares with another PD is written by one side only (a status page, a ring's data), or is a
/// ring's control region: both ends write those, and pd-ring's rejoin protocol (an epoch per
/// end) resets the ring when either end comes back. Any other region written by two PDs would
/// hand a fresh PD state it cannot vouch for, so such a PD stays stopped after a fault, unless
/// it belongs to a restart group ([`restart_group`]). The console's reader (the serial PD)
/// shares its log with the root task alone, which takes COM1 back at the fault and starts a
/// fresh log for the restarted reader.
pub fn restartable(sdf: &sdf::System, pd: &sdf::ProtectionDomain) -> bool {
    !sdf.no_restart && restart_group(sdf, pd).is_some()
}

/// The PDs the root task restarts together with `pd` (empty: it restarts alone), or None if
/// `pd` cannot be restarted. PDs that write one region together (other than a ring's control
/// region) restart as a group: crypto and its workers (the session table, the slots of
/// crypto's rings the workers fill), all crypto PDs, and each such region is a ring's data
/// or the session table: ring data reaches anyone only through a ring, which re-attaches, and
/// crypto wipes the session table when it starts. No other sharing is allowed to restart.
pub fn restart_group(sdf: &sdf::System, pd: &sdf::ProtectionDomain) -> Option<Vec<usize>> {
    let writes_with_others = |p: &sdf::ProtectionDomain| -> Vec<(String, Vec<usize>)> {
        p.maps
            .iter()
            .filter(|m| m.perms.write && !sdf.region(&m.mr).is_some_and(|r| r.role == Some(sdf::RegionRole::RingCtl)))
            .filter_map(|m| {
                let others: Vec<usize> = sdf
                    .protection_domains
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.name != p.name && o.maps.iter().any(|om| om.mr == m.mr && om.perms.write))
                    .map(|(i, _)| i)
                    .collect();
                (!others.is_empty()).then(|| (m.mr.clone(), others))
            })
            .collect()
    };
    let index = |p: &sdf::ProtectionDomain| sdf.protection_domains.iter().position(|o| o.name == p.name);
    let me = index(pd)?;
    // The group: every PD reached through twice-written regions, transitively.
    let mut group = vec![me];
    let mut at = 0;
    while at < group.len() {
        let p = &sdf.protection_domains[group[at]];
        for (region, others) in writes_with_others(p) {
            let role = sdf.region(&region).and_then(|r| r.role);
            let allowed = p.domain == sdf::Domain::Crypto
                && matches!(role, Some(sdf::RegionRole::RingData | sdf::RegionRole::SessionKeys))
                && others.iter().all(|&o| sdf.protection_domains[o].domain == sdf::Domain::Crypto);
            if !allowed {
                return None;
            }
            for o in others {
                if !group.contains(&o) {
                    group.push(o);
                }
            }
        }
        at += 1;
    }
    group.retain(|&i| i != me);
    group.sort_unstable();
    Some(group)
}

/// Channel ids this platform can deliver (notification badge bits).
fn check_channel_limit(sys: &System) -> Result<(), String> {
    let ends = sys.channels.iter().flat_map(|c| [c.a, c.b]);
    let irq_ends = sys.pds.iter().enumerate().flat_map(|(i, pd)| {
        let pins = pd.irqs.iter().map(|q| q.id);
        let devices = pd.pci_devices.iter().filter_map(|d| d.irq_id);
        pins.chain(devices).map(move |id| (i as u32, id))
    });
    for (pd, id) in ends.chain(irq_ends) {
        if id >= layout::MAX_CHANNELS {
            return Err(format!("protection_domain {}: channel id {id} must be below {}", sys.pds[pd as usize].name, layout::MAX_CHANNELS));
        }
    }
    Ok(())
}

/// The fixed pages the runtime puts in every PD: IPC buffer and info page, and the stack.
fn runtime_ranges(pd: &ProtectionDomain) -> [(u64, u64, &'static str); 3] {
    [
        (layout::IPC_BUFFER_VADDR, layout::INFO_VADDR + PAGE, "the IPC buffer and info page"),
        (layout::STACK_TOP - (pd.stack_pages as u64 + 1) * PAGE, layout::STACK_TOP, "the stack"),
        // Its size is known only at boot (it may grow with the config's peers).
        (layout::HEAP_VADDR, layout::HEAP_VADDR + layout::MAX_HEAP_BYTES, "the heap"),
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

/// The red/black isolation check (`sdf::isolation`) as the image builder applies it: a system
/// whose PDs declare the encryptor's domains (any red, black or crypto PD) must pass, or no image
/// is built; a system of neutral PDs only (a test rig) has no sides to keep apart and is said to
/// be unchecked. Returns the verdict for the summary, or every violation.
pub fn isolation_verdict(described: &sdf::System) -> Result<String, String> {
    if described.protection_domains.iter().all(|pd| pd.domain == sdf::Domain::Neutral) {
        return Ok("isolation: not checked (no PD declares a red, black or crypto domain)".into());
    }
    let report = sdf::isolation::check(described);
    if !report.ok() {
        return Err(format!("the red/black isolation check fails, so no image is built:\n  {}", report.violations.join("\n  ")));
    }
    Ok(match report.bypass_paths.len() {
        0 => "isolation: ok".into(),
        n => format!("isolation: ok, with {n} configured bypass path(s): {}", report.bypass_paths.join("; ")),
    })
}

/// Builds the image (spec + programs + region contents) and a human summary. `fills` gives
/// region contents on the command line (region name, file); they replace the description's
/// `fill` attributes, whose paths are relative to the description's directory. Regions with
/// `fill_without_keys` are not filled here: the root task derives them at boot from whatever
/// fills their source (a boot module or this image), with the one `without_keys` there is
/// (`encryptor_config`).
pub fn build_image(xml: &Path, search: &[PathBuf], fills: &[(String, PathBuf)]) -> Result<(Vec<u8>, String), String> {
    let text = std::fs::read_to_string(xml).map_err(|e| e.to_string())?;
    let described = sdf::System::parse(&text).map_err(|e| e.to_string())?;
    let isolation = isolation_verdict(&described)?;
    let (mut sys, programs, xml_fills) = translate(&described)?;
    let base = xml.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut contents: Vec<(usize, Vec<u8>)> = Vec::new();
    let all_fills: Vec<Fill> =
        xml_fills.into_iter().map(|(n, p)| (n, base.join(p))).filter(|(n, _)| !fills.iter().any(|(f, _)| f == n)).chain(fills.iter().cloned()).collect();
    for (name, path) in all_fills {
        let index = sys.regions.iter().position(|r| r.name == name).ok_or_else(|| format!("--fill {name}: no such memory_region"))?;
        let region = &sys.regions[index];
        if region.phys_addr.is_some() {
            return Err(format!("--fill {name}: the region is device memory"));
        }
        if let Some(source) = region.without_keys_of {
            let source = &sys.regions[source as usize].name;
            return Err(format!("--fill {name}: the region is filled at boot from {source} without its keys"));
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
    let _ = write!(summary, "{} PDs, {} regions, {} channels, image {} bytes; {isolation}", sys.pds.len(), sys.regions.len(), sys.channels.len(), image.len());
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
        <channel><end pd="a" id="1" pp="true"/><end pd="b" id="2" notify="false"/></channel>
    </system>"#;

    #[test]
    fn parses_a_good_system() {
        let (sys, programs) = parse(GOOD).unwrap();
        assert!(sys.exit_when_idle);
        assert_eq!(programs, ["a.elf", "b.elf"]);
        assert_eq!(sys.pds[1].maps[0].perms, Perms { read: true, write: false, execute: false });
        assert_eq!(sys.channels[0], Channel { a: (0, 1), b: (1, 2), a_calls_b: true, b_calls_a: false, a_notifies_b: true, b_notifies_a: false });
        assert_eq!(sys.pds[1].irqs[0].source, IrqSource::IoApic { pin: 11, level: true, active_low: false });
        let nic = &sys.pds[1].pci_devices[0];
        assert_eq!(nic.select, PciSelect::Id { vendor: 0x8086, device: 0x100e, index: 1 });
        assert_eq!(nic.bars, [PciBar { index: 0, vaddr: 0x5000_0000, size: 0x20000, setvar: "regs".into() }]);
        assert_eq!(nic.irq_id, Some(6));
        assert_eq!(nic.irq, PciIrq::Msi);
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
        // The config from a boot module, the stack's copy derived at boot (nothing in the image).
        let module = xml
            .replace("fill=\"a.conf\"", "boot_module=\"1\"")
            .replace("<protection_domain", "<memory_region name=\"pub\" size=\"0x1000\" fill_without_keys=\"cfg\"/><protection_domain");
        std::fs::write(dir.join("m.xml"), &module).unwrap();
        let (image, _) = build_image(&dir.join("m.xml"), &[dir.clone()], &[]).unwrap();
        let sys = System::decode(&image).unwrap();
        assert_eq!((sys.regions[0].boot_module, sys.regions[0].fill), (Some(1), None));
        assert_eq!((sys.regions[1].without_keys_of, sys.regions[1].fill), (Some(0), None));
        let derived = build_image(&dir.join("m.xml"), &[dir.clone()], &[("pub".into(), dir.join("b.conf"))]);
        assert!(derived.unwrap_err().contains("filled at boot from cfg without its keys"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_image_builder_refuses_a_system_that_fails_the_isolation_check() {
        let real = include_str!("../../../../system.xml");
        let sdf = |text: &str| sdf::System::parse(text).unwrap();
        assert_eq!(isolation_verdict(&sdf(real)).unwrap(), "isolation: ok");
        // net_black maps a red ring: no image.
        let start = real.find("<protection_domain name=\"net_black\"").unwrap();
        let end = start + real[start..].find("</protection_domain>").unwrap();
        let leaky = format!(
            "{}<map mr=\"nic_red_to_net_red_data\" vaddr=\"0x5f000000\" perms=\"r\" />\n{}",
            &real[..end],
            &real[end..]
        );
        let e = isolation_verdict(&sdf(&leaky)).unwrap_err();
        assert!(e.contains("no image is built") && e.contains("nic_red_to_net_red_data"), "{e}");
        // A test rig of neutral PDs has no sides: built, and said to be unchecked.
        assert!(isolation_verdict(&sdf(GOOD)).unwrap().contains("not checked"));
    }

    #[test]
    fn only_pds_sharing_no_twice_written_memory_are_restartable() {
        let real = sdf::System::parse(include_str!("../../../../system.xml")).unwrap();
        let names: Vec<&str> =
            real.protection_domains.iter().filter(|p| restartable(&real, p)).map(|p| p.name.as_str()).collect();
        // The ring PDs share only ring control regions both ends write (pd-ring re-attaches
        // those) and pages one side writes; the serial PD shares the console log with the root
        // task alone.
        assert_eq!(names, ["nic_red", "net_red", "crypto", "net_black", "nic_black", "timer", "serial"]);
        // A region two PDs write that is not a ring's control region makes both unrestartable.
        let shared = include_str!("../../../../system.xml").replacen(
            r#"<map mr="nic_red_port" vaddr="0x11100000" perms="r""#,
            r#"<map mr="nic_red_port" vaddr="0x11100000" perms="rw""#,
            1,
        );
        let shared = sdf::System::parse(&shared).unwrap();
        let names: Vec<&str> =
            shared.protection_domains.iter().filter(|p| restartable(&shared, p)).map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["crypto", "net_black", "nic_black", "timer", "serial"]);
        // Crypto and its workers write the session table and crypto's ring data together: they
        // restart as a group, and a worker of another domain would make the group unrestartable.
        let with_workers = |domain: &str| {
            let worker = |n: usize| {
                format!(
                    r#"<protection_domain name="crypto_worker_{n}" domain="{domain}"><program_image path="w.elf" /><map mr="session_keys" vaddr="0x12000000" perms="rw" /><map mr="crypto_to_net_black_data" vaddr="0x20600000" perms="rw" /></protection_domain>"#
                )
            };
            let xml = include_str!("../../../../system.xml")
                .replacen("<memory_region ", r#"<memory_region name="session_keys" role="session_keys" size="0x10000" /><memory_region "#, 1)
                .replacen(r#"setvar_vaddr="black_rx_ctl" />"#, r#"setvar_vaddr="black_rx_ctl" /><map mr="session_keys" vaddr="0x12000000" perms="rw" />"#, 1)
                .replacen("<channel>", &format!("{}{}<channel>", worker(0), worker(1)), 1);
            sdf::System::parse(&xml).unwrap()
        };
        let sys = with_workers("crypto");
        let group = |name: &str| restart_group(&sys, sys.pd(name).unwrap());
        let names = |g: Vec<usize>| g.into_iter().map(|i| sys.protection_domains[i].name.clone()).collect::<Vec<_>>();
        assert_eq!(group("crypto").map(names), Some(vec!["crypto_worker_0".into(), "crypto_worker_1".into()]));
        assert_eq!(group("crypto_worker_1").map(names), Some(vec!["crypto".into(), "crypto_worker_0".into()]));
        assert_eq!(group("net_black"), Some(vec![]), "a stack restarts alone");
        let sys = with_workers("black");
        assert!(!restartable(&sys, sys.pd("crypto").unwrap()), "a group across domains does not restart");
        let off = sdf::System::parse(&include_str!("../../../../system.xml").replace("<system ", "<system restart=\"false\" ")).unwrap();
        assert!(off.protection_domains.iter().all(|p| !restartable(&off, p)));
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
            (GOOD.replace("mr=\"buf\" vaddr=\"0x20000000\" perms=\"r\"", "mr=\"nope\" vaddr=\"0x20000000\" perms=\"r\""), "nope"),
            (GOOD.replace("id=\"2\"", "id=\"5\""), "channel id 5 is used twice"),
            (GOOD.replace("priority=\"20\"", "priority=\"5\""), "protected call"),
            (GOOD.replace("0x2000\"", "0x2001\""), "multiple of 4 KiB"),
            (GOOD.replace("vaddr=\"0x20000000\" perms=\"rw\"", "vaddr=\"0x3fe00000\" perms=\"rw\""), "overlaps"),
            (GOOD.replace("vaddr=\"0x50000000\"", "vaddr=\"0x20000000\""), "overlaps"),
            (GOOD.replace("irq_id=\"6\"", "irq_id=\"5\""), "channel id 5 is used twice"),
            (GOOD.replace("bdf=\"00:05.0\"", "bdf=\"00:40.0\""), "bdf"),
            (GOOD.replace("<program_image path=\"a.elf\"/>", "<program_image path=\"a.elf\"/><ioport id=\"1\" base=\"0x3fc\" size=\"2\"/>"), "overlaps one given to a"),
            (GOOD.replace("size=\"8\"/>", "size=\"0\"/>"), "outside 0-0xffff"),
            (GOOD.replace("priority=\"10\"", "priority=\"0\""), "priority 0"),
            (GOOD.replace("<program_image path=\"b.elf\"/>", "<program_image path=\"b.elf\"/><irq msi=\"3\" id=\"9\"/>"), "not supported"),
            (GOOD.replace("id=\"0\" base", "id=\"40\" base"), "ioport needs id below"),
        ];
        for (xml, want) in cases {
            let err = parse(&xml).unwrap_err();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }
}

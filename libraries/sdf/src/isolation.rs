//! The red/black isolation check of a system description.
//!
//! From the regions, mappings, channels and devices alone it establishes:
//! 1. **no information flows between red and black outside crypto**: over every path of
//!    shared memory (from a PD that writes a region to each PD that maps it), notifications
//!    (from an end that may notify, Microkit's `notify`), protected calls (both ways: the
//!    call and its reply) and device DMA (a device's `<iomap>`s act as its PD's mappings),
//!    transitively through any number of neutral PDs, with the crypto PDs (which hold the
//!    keys and are the only place red meets black) taken out of the graph. The one exception
//!    is the split-tunnelling link between the stacks, which system.xml must declare
//!    (`bypass="true"` on its channels and regions) and which is reported; a red–black
//!    region or channel not so declared is refused by name;
//! 2. key material stays in crypto: a region marked `secret`, any region filled from a
//!    boot module (the encryptor's config arrives that way) and the crypto PDs' shared session
//!    slots (`session_keys`, libraries/session) are mapped into crypto PDs only, and no device
//!    may reach them by DMA;
//! 3. every region is held to its declared role (`role=` in system.xml, never guessed
//!    from a name): a ring's data (`ring_data`), a status page (`status`) and a NIC's port
//!    page (`port`) have one writer (the consumer of a ring maps its producer's data read-only, so it cannot
//!    rewrite what it was given; the one exception is crypto's rings, which crypto and its
//!    workers, all crypto PDs, fill together), a config region (`config`) none, a NIC's DMA memory
//!    (`dma`) one PD;
//! 4. each PCI device, device region (fixed physical address), I/O port, IOAPIC pin and MSI
//!    vector belongs to one PD only, and that PD is not crypto; the I/O ports that reach
//!    every device or the whole machine (PCI configuration 0xCF8–0xCFF, the reset and A20
//!    ports 0x92 and 0x64, the keyboard controller's 0x60) are given to no PD;
//! 5. crypto is connected to both sides (otherwise nothing would be encrypted).
//!
//! Neutral PDs (timer, serial) are held by rule 1 like any other; a neutral PD that maps
//! memory of both sides must moreover be an *observer* (a stricter, structural rule): it maps
//! every region it shares read-only, has channels to neutral PDs only (and makes no protected
//! calls on them), and owns no PCI device or device memory. The serial PD reads the PDs'
//! status pages this way for the operator console (its only way out is the operator's
//! serial line); the timer's channels carry ticks one way (`notify="false"` on the other ends).

use crate::{Domain, IrqSource, RegionRole, System};

fn role_name(role: RegionRole) -> &'static str {
    match role {
        RegionRole::RingData => "ring_data",
        RegionRole::RingCtl => "ring_ctl",
        RegionRole::Dma => "dma",
        RegionRole::Config => "config",
        RegionRole::Status => "status",
        RegionRole::Port => "port",
        RegionRole::SessionKeys => "session_keys",
    }
}
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The outcome: violations (the check fails if any) and reported bypass paths.
#[derive(Debug, Default)]
pub struct Report {
    /// Each rule broken, naming the region, channel or device.
    pub violations: Vec<String>,
    /// The declared red↔black bypass link, as region or channel descriptions.
    pub bypass_paths: Vec<String>,
}

impl Report {
    /// Whether the system passed.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// I/O port ranges (first, last) no PD may hold: they reach every device (PCI configuration
/// space) or reset the machine (0xCF9 inside it, 0x92, the keyboard controller at 0x60/0x64).
pub const RESERVED_IO_PORTS: [(u16, u16, &str); 4] = [
    (0xCF8, 0xCFF, "PCI configuration space (and the reset control register 0xCF9)"),
    (0x92, 0x92, "the system control port (fast reset, A20)"),
    (0x60, 0x60, "the keyboard controller's data port"),
    (0x64, 0x64, "the keyboard controller (CPU reset)"),
];

/// Checks `sys`.
pub fn check(sys: &System) -> Report {
    let mut r = Report::default();
    let domain = |pd: &str| sys.pd(pd).map(|p| p.domain).unwrap_or(Domain::Neutral);

    for region in &sys.memory_regions {
        let users: Vec<_> = sys
            .protection_domains
            .iter()
            .filter_map(|pd| pd.maps.iter().find(|m| m.mr == region.name).map(|m| (pd, m)))
            .collect();
        let red: Vec<_> = users.iter().filter(|(p, _)| p.domain == Domain::Red).map(|(p, _)| p.name.as_str()).collect();
        let black: Vec<_> = users.iter().filter(|(p, _)| p.domain == Domain::Black).map(|(p, _)| p.name.as_str()).collect();
        if region.bypass {
            if red.is_empty() || black.is_empty() || users.len() != red.len() + black.len() {
                r.violations.push(format!(
                    "bypass region {} must join red and black PDs only (mapped by {})",
                    region.name,
                    users.iter().map(|(p, _)| p.name.as_str()).collect::<Vec<_>>().join(",")
                ));
            } else {
                r.bypass_paths.push(format!("region {} shared by {} and {}", region.name, red.join(","), black.join(",")));
            }
        } else if !red.is_empty() && !black.is_empty() {
            r.violations.push(format!(
                "region {} is shared by red PD {} and black PD {} (a bypass link must be declared bypass=\"true\")",
                region.name,
                red.join(","),
                black.join(",")
            ));
        }
        // The encryptor's config (keys included) arrives as a boot module: whatever a boot
        // module fills is key material, marked or not; so are the crypto PDs' session slots.
        let session_keys = region.role == Some(RegionRole::SessionKeys);
        if region.secret || region.boot_module.is_some() || session_keys {
            let what = if session_keys {
                "session_keys region"
            } else if region.secret {
                "secret region"
            } else {
                "boot module region"
            };
            for (p, _) in users.iter().filter(|(p, _)| p.domain != Domain::Crypto) {
                r.violations.push(format!("{what} {} (key material) is mapped into {}, which is not crypto", region.name, p.name));
            }
        }
        let writers: Vec<_> = users.iter().filter(|(_, m)| m.perms.write).map(|(p, _)| p.name.as_str()).collect();
        // Crypto and its workers fill one ring together (the workers write the results crypto
        // reserved); any other ring has one writer.
        let crypto_writers_only = users.iter().filter(|(_, m)| m.perms.write).all(|(p, _)| p.domain == Domain::Crypto);
        match region.role {
            Some(RegionRole::RingData) if writers.len() > 1 && crypto_writers_only => {}
            Some(role @ (RegionRole::RingData | RegionRole::Status | RegionRole::Port)) if writers.len() > 1 => {
                let what = match role {
                    RegionRole::RingData => "a ring's data",
                    RegionRole::Status => "a status page",
                    _ => "a port page",
                };
                r.violations.push(format!("{} region {} has {} writers ({}); {what} has one", role_name(role), region.name, writers.len(), writers.join(",")));
            }
            Some(RegionRole::Config) if !writers.is_empty() => {
                r.violations.push(format!("config region {} is writable by {}; a config is read-only", region.name, writers.join(",")));
            }
            Some(RegionRole::Dma) if users.len() > 1 => {
                let names: Vec<_> = users.iter().map(|(p, _)| p.name.as_str()).collect();
                r.violations.push(format!("dma region {} is mapped into {} PDs ({}); a NIC's DMA memory belongs to its driver", region.name, users.len(), names.join(",")));
            }
            _ => {}
        }
        if region.phys_addr.is_some() && users.len() > 1 {
            let names: Vec<_> = users.iter().map(|(p, _)| p.name.as_str()).collect();
            r.violations.push(format!("device region {} is mapped into {} PDs ({})", region.name, users.len(), names.join(",")));
        }
    }

    for c in &sys.channels {
        let [a, b] = &c.ends;
        let (da, db) = (domain(&a.pd), domain(&b.pd));
        let red_black = matches!((da, db), (Domain::Red, Domain::Black) | (Domain::Black, Domain::Red));
        let what = format!("channel {}:{} <-> {}:{}", a.pd, a.id, b.pd, b.id);
        if c.bypass {
            if red_black {
                r.bypass_paths.push(what);
            } else {
                r.violations.push(format!("bypass {what} must join a red and a black PD"));
            }
        } else if red_black {
            r.violations.push(format!("{what} joins red and black directly (a bypass link must be declared bypass=\"true\")"));
        }
    }

    // A neutral PD that shared memory with both sides could relay between them.
    for pd in sys.protection_domains.iter().filter(|p| p.domain == Domain::Neutral) {
        let mut sides = BTreeSet::new();
        for m in &pd.maps {
            for other in sys.protection_domains.iter().filter(|o| o.name != pd.name) {
                if other.maps.iter().any(|om| om.mr == m.mr) {
                    sides.insert(other.domain);
                }
            }
        }
        if sides.contains(&Domain::Red) && sides.contains(&Domain::Black) {
            let shared = |mr: &str| sys.protection_domains.iter().any(|o| o.name != pd.name && o.maps.iter().any(|om| om.mr == mr));
            let writable: Vec<_> = pd.maps.iter().filter(|m| m.perms.write && shared(&m.mr)).map(|m| m.mr.as_str()).collect();
            let mut side_channels = Vec::new();
            let mut calls = Vec::new();
            for c in &sys.channels {
                let [a, b] = &c.ends;
                let (mine, other) = if a.pd == pd.name { (a, b) } else if b.pd == pd.name { (b, a) } else { continue };
                if domain(&other.pd) != Domain::Neutral {
                    side_channels.push(other.pd.as_str());
                } else if mine.pp {
                    calls.push(other.pd.as_str());
                }
            }
            let devices = !pd.pci_devices.is_empty()
                || pd.maps.iter().any(|m| sys.memory_regions.iter().any(|r| r.name == m.mr && r.phys_addr.is_some()));
            if !writable.is_empty() || !side_channels.is_empty() || !calls.is_empty() || devices {
                let mut why = Vec::new();
                if !writable.is_empty() {
                    why.push(format!("it maps {} writable", writable.join(",")));
                }
                if !side_channels.is_empty() {
                    why.push(format!("it has channels to {}", side_channels.join(",")));
                }
                if !calls.is_empty() {
                    why.push(format!("it makes protected calls to {}", calls.join(",")));
                }
                if devices {
                    why.push("it owns a device".to_string());
                }
                r.violations.push(format!(
                    "neutral PD {} shares memory with both red and black PDs and is not a read-only observer ({})",
                    pd.name,
                    why.join("; ")
                ));
            }
        }
    }

    devices(sys, &mut r);
    flows(sys, &mut r);

    let mut claimed = BTreeSet::new();
    for pd in &sys.protection_domains {
        for dev in &pd.pci_devices {
            let key = format!("{:?}", dev.select);
            if !claimed.insert(key.clone()) {
                r.violations.push(format!("PCI device {key} is claimed by more than one PD (again by {})", pd.name));
            }
            if pd.domain == Domain::Crypto {
                r.violations.push(format!("crypto PD {} owns PCI device {key}", pd.name));
            }
        }
    }

    for side in [Domain::Red, Domain::Black] {
        let linked = sys.channels.iter().any(|c| {
            let d: Vec<_> = c.ends.iter().map(|e| domain(&e.pd)).collect();
            d.contains(&Domain::Crypto) && d.contains(&side)
        });
        if !linked {
            r.violations.push(format!("crypto has no channel to the {side:?} side"));
        }
    }
    r
}

/// I/O ports, IOAPIC pins and MSI vectors: none to crypto, no reserved port, one PD per pin and
/// vector (overlapping I/O ports are already a parse error).
fn devices(sys: &System, r: &mut Report) {
    let mut pins: BTreeMap<u32, &str> = BTreeMap::new();
    let mut vectors: BTreeMap<u32, &str> = BTreeMap::new();
    for pd in &sys.protection_domains {
        let name = pd.name.as_str();
        if pd.domain == Domain::Crypto && (!pd.ioports.is_empty() || !pd.irqs.is_empty()) {
            r.violations.push(format!("crypto PD {name} owns I/O ports or interrupts (a device could carry its keys out)"));
        }
        for io in &pd.ioports {
            let (first, last) = (io.base, io.base.saturating_add(io.size.max(1) - 1));
            for (rf, rl, what) in RESERVED_IO_PORTS {
                if first <= rl && rf <= last {
                    r.violations.push(format!("PD {name} is given I/O ports {first:#x}-{last:#x}, which include {rf:#x}: {what}"));
                }
            }
        }
        for irq in &pd.irqs {
            let (table, key, what) = match irq.source {
                IrqSource::Ioapic { pin, .. } => (&mut pins, pin, "IOAPIC pin"),
                IrqSource::Msi { vector } => (&mut vectors, vector, "MSI vector"),
                IrqSource::Pci { .. } => continue,
            };
            if let Some(first) = table.get(&key) {
                r.violations.push(format!("{what} {key} is given to PD {first} and to PD {name}"));
            } else {
                table.insert(key, name);
            }
        }
    }
}

/// One step of an information flow: to PD `to`, by `how`.
type Step = (usize, String);

/// Rule 1: every red→black and black→red flow outside crypto, over memory, notifications,
/// protected calls and device DMA, transitively.
fn flows(sys: &System, r: &mut Report) {
    let pds = &sys.protection_domains;
    let index: BTreeMap<&str, usize> = pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mut edges: Vec<Vec<Step>> = vec![Vec::new(); pds.len()];
    // Memory: a PD that can write a region (by a writable mapping, or by its device's writable
    // iomap, which the parser already requires the PD to map as well) to every other PD that
    // maps it.
    for region in sys.memory_regions.iter().filter(|m| !m.bypass) {
        let mut writers = BTreeSet::new();
        let mut readers = BTreeSet::new();
        for (i, pd) in pds.iter().enumerate() {
            for m in pd.maps.iter().filter(|m| m.mr == region.name) {
                readers.insert(i);
                if m.perms.write {
                    writers.insert(i);
                }
            }
            for space in pd.pci_devices.iter().filter_map(|d| d.io_address_space.as_ref()) {
                for m in space.maps.iter().filter(|m| m.mr == region.name) {
                    readers.insert(i);
                    if m.write {
                        writers.insert(i);
                    }
                }
            }
        }
        for &w in &writers {
            for &d in readers.iter().filter(|&&d| d != w) {
                edges[w].push((d, format!("region {}", region.name)));
            }
        }
    }
    // Channels: a notification from an end that may send one; a protected call both ways.
    for c in sys.channels.iter().filter(|c| !c.bypass) {
        let [a, b] = &c.ends;
        let (Some(&ia), Some(&ib)) = (index.get(a.pd.as_str()), index.get(b.pd.as_str())) else { continue };
        for (from, to, fi, ti) in [(a, b, ia, ib), (b, a, ib, ia)] {
            if from.notify {
                edges[fi].push((ti, format!("notification {}:{} -> {}:{}", from.pd, from.id, to.pd, to.id)));
            }
            if from.pp {
                edges[fi].push((ti, format!("protected call {}:{} -> {}:{}", from.pd, from.id, to.pd, to.id)));
                edges[ti].push((fi, format!("reply {}:{} -> {}:{}", to.pd, to.id, from.pd, from.id)));
            }
        }
    }
    for (src_side, dst_side) in [(Domain::Red, Domain::Black), (Domain::Black, Domain::Red)] {
        for (s, src) in pds.iter().enumerate().filter(|(_, p)| p.domain == src_side) {
            // Breadth first, crypto taken out: the shortest path, for the message.
            let mut came_from: BTreeMap<usize, (usize, &str)> = BTreeMap::new();
            let mut queue = VecDeque::from([s]);
            let mut seen = BTreeSet::from([s]);
            let mut found = None;
            while let Some(at) = queue.pop_front() {
                if pds[at].domain == dst_side {
                    found = Some(at);
                    break;
                }
                for (to, how) in &edges[at] {
                    if pds[*to].domain != Domain::Crypto && seen.insert(*to) {
                        came_from.insert(*to, (at, how.as_str()));
                        queue.push_back(*to);
                    }
                }
            }
            let Some(mut at) = found else { continue };
            let dst = at;
            let mut hops = Vec::new();
            while let Some(&(prev, how)) = came_from.get(&at) {
                hops.push(format!("{} ({how})", pds[at].name));
                at = prev;
            }
            hops.reverse();
            let side = |d: Domain| if d == Domain::Red { "red" } else { "black" };
            r.violations.push(format!(
                "information flows from {} PD {} to {} PD {} outside crypto: {} -> {}",
                side(src_side),
                src.name,
                side(dst_side),
                pds[dst].name,
                src.name,
                hops.join(" -> ")
            ));
        }
    }
}

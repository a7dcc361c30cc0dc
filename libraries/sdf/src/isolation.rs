//! The red/black isolation check of a system description.
//!
//! From the regions, mappings, channels and devices alone it establishes:
//! 1. red PDs and black PDs share no memory region and no channel, except a
//!    bypass link between the two *stack* PDs, which is allowed only because the
//!    operator configured split tunnelling, and is reported;
//! 2. a region marked `secret` (key material) is mapped into crypto PDs only;
//! 3. every region is held to its declared role (`role=` in system.xml, never guessed
//!    from a name): a ring's data (`ring_data`), a status page (`status`) and a NIC's port
//!    page (`port`) have one writer (the consumer of a ring maps its producer's data read-only, so it cannot
//!    rewrite what it was given), a config region (`config`) none, a NIC's DMA memory
//!    (`dma`) one PD;
//! 4. each PCI device and each device region (fixed physical address) belongs to
//!    one PD only, and that PD is not crypto;
//! 5. crypto is connected to both sides (otherwise nothing would be encrypted).
//!
//! Neutral PDs (timer, serial) may have channels to anyone but may not share
//! memory with both sides (they could relay between them), with one exception: an
//! *observer* that maps every region it shares with other PDs read-only, has channels
//! to neutral PDs only (and makes no protected calls on them), and owns no PCI device
//! or device memory. Data only flows into it, and it has no network to send it to, so
//! it cannot carry anything from one side to the other; the serial PD reads the PDs'
//! status pages this way for the operator console (its only way out is the operator's
//! serial line).

use crate::{Domain, RegionRole, System};

fn role_name(role: RegionRole) -> &'static str {
    match role {
        RegionRole::RingData => "ring_data",
        RegionRole::RingCtl => "ring_ctl",
        RegionRole::Dma => "dma",
        RegionRole::Config => "config",
        RegionRole::Status => "status",
        RegionRole::Port => "port",
    }
}
use std::collections::BTreeSet;

/// The outcome: violations (the check fails if any) and reported bypass paths.
#[derive(Debug, Default)]
pub struct Report {
    /// Each rule broken, naming the region, channel or device.
    pub violations: Vec<String>,
    /// Configured red↔black bypass paths, as region or channel descriptions.
    pub bypass_paths: Vec<String>,
}

impl Report {
    /// Whether the system passed.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

fn is_stack(name: &str) -> bool {
    name.starts_with("net_")
}

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
        let neutral: Vec<_> = users.iter().filter(|(p, _)| p.domain == Domain::Neutral).map(|(p, _)| p.name.as_str()).collect();
        if !red.is_empty() && !black.is_empty() {
            // A bypass link joins the two stack PDs and nobody else.
            if users.iter().all(|(p, _)| is_stack(&p.name) && p.domain != Domain::Crypto) && neutral.is_empty() {
                r.bypass_paths.push(format!("region {} shared by {} and {}", region.name, red.join(","), black.join(",")));
            } else {
                r.violations.push(format!(
                    "region {} is shared by red PD {} and black PD {} (only the stack PDs may share a bypass link)",
                    region.name,
                    red.join(","),
                    black.join(",")
                ));
            }
        }
        if region.secret {
            for (p, _) in users.iter().filter(|(p, _)| p.domain != Domain::Crypto) {
                r.violations.push(format!("secret region {} (key material) is mapped into {}, which is not crypto", region.name, p.name));
            }
        }
        let writers: Vec<_> = users.iter().filter(|(_, m)| m.perms.write).map(|(p, _)| p.name.as_str()).collect();
        match region.role {
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
        if red_black {
            let what = format!("channel {}:{} <-> {}:{}", a.pd, a.id, b.pd, b.id);
            if is_stack(&a.pd) && is_stack(&b.pd) {
                r.bypass_paths.push(what);
            } else {
                r.violations.push(format!("{what} joins red and black directly"));
            }
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

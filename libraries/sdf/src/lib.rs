//! `system.xml`: the Microkit System Description File format, read and checked.
//!
//! Elements understood (Microkit's, with their attributes):
//! - `<memory_region name size [page_size] [phys_addr]>`
//! - `<protection_domain name priority [budget period passive stack_size cpu]>` with
//!   `<program_image path>`, `<map mr vaddr perms [cached] [setvar_vaddr]>`,
//!   `<irq irq id [trigger]>`, `<setvar symbol region_paddr>`
//! - `<channel>` with two `<end pd id>`
//!
//! Extensions of this project:
//! - `<system exit_when_idle="true">` (seL4 tests): the root task ends QEMU once every PD
//!   stays blocked (every PD then on `cpu` 0, the core the watcher sees).
//!   `<system restart="false">`: no PD is restarted after a fault (test systems whose PDs
//!   fault on purpose).
//! - `<memory_region fill="file">`: the region starts with the file's bytes (a path
//!   relative to the description); only for RAM regions.
//! - `<memory_region boot_module="N">` (seL4): the region starts with the boot loader's
//!   module N (1 = the first module after the root task; GRUB's second `module` line, QEMU's
//!   second `-initrd` file), copied by the root task at boot. With `fill` too, the file is
//!   the fallback when the machine was booted without that module.
//! - `<memory_region fill_without_keys="other">`: the region starts with whatever fills
//!   region `other` (an encryptor config file), with its key material taken out
//!   (`encryptor_config::without_keys`: `PresharedKey` lines emptied, the `PrivateKey` value
//!   replaced by the all-zero key), so the stack PDs parse the same format but never see a key.
//! - `<protection_domain>` may hold `<host_tap side="red|black"/>`: on the Linux
//!   host runtime this PD is replaced by a TAP-device PD (the NIC driver PDs).
//! - `<protection_domain>` may hold `<pci_device (id="vvvv:dddd" | vendor device) [index] |
//!   bdf="bb:dd.f" [irq_id] [irq="intx|msi|msix"]>` with `<bar index vaddr size [setvar_vaddr]>`
//!   children (the NIC a driver PD owns), and `<ioport [id] base size>`; the seL4 root task
//!   resolves them at boot.
//! - `<pci_device>` may hold one `<io_address_space domain_id="N">` (Microkit's element) with
//!   `<iomap mr perms>` children: the regions the device may reach by DMA, and nothing else
//!   (seL4 on VT-d). The IO address of a region is its physical address, the address the driver
//!   already programs (Microkit's `iovaddr` is not taken). Each region must be mapped by the
//!   device's own PD, with at least the device's rights, and be plain RAM; domain ids are unique.
//! - `<system iommu="required|optional">` (default `required`): whether the root task refuses to
//!   start a system whose devices have IO address spaces on a machine or kernel without an IOMMU.
//! - `<irq>` may say `pin="N"` / `ioapic="N"` (an IOAPIC pin, with `trigger="level|edge"` and
//!   `polarity="high|low"`), `msi="vector"` or `pci="K"` (the interrupt of the PD's K-th
//!   `<pci_device>`; with a single device, that device) instead of Microkit's `irq`.
//! - `<end pp="true">` lets that end make protected calls to the other, whose priority
//!   must be higher; `<end notify="false">` (Microkit's attribute, default true) gives that end
//!   no right to notify the other: the timer's channels carry ticks one way only.
//! - `<channel bypass="true">` and `<memory_region bypass="true">`: the split-tunnelling link
//!   between the red and black stacks, declared as such; the isolation check refuses any other
//!   red–black path outside crypto and reports these.
//! - `<memory_region console="true">`: the console log (seL4): once PDs start, the root task
//!   appends every console line (its own, fault reports, PD log lines) to this region instead
//!   of writing COM1, and the one PD that maps it (the serial PD) drains it to the UART.
//! - `<protection_domain inject_fault_ms="N">` (tests only): the seL4 root task makes the PD
//!   fault N ms after boot, to exercise the restart of a faulted PD (the host runtime makes the
//!   PD's thread panic, which ends the process); `inject_stall_ms="N"` (seL4): the
//!   root task stops the PD's thread N ms after boot without a fault, as a PD that hangs (the
//!   serial PD's watchdog must notice).
//! - `<protection_domain heap_size="B" [heap_per_peer="P" [heap_per_prefix="A"] heap_peers_of="region"]>`
//!   (seL4): the PD's heap, B bytes (default 1 MiB, a multiple of 4 KiB), plus P bytes (a
//!   multiple of 1 KiB) for each `[Peer]`, A bytes for each AllowedIPs network and explicit
//!   rule, and the text's own size, of the encryptor config in `region`, counted by the root task
//!   at boot and rounded up to whole pages: the heap of every PD that reads the config grows
//!   with it.
//! - `<protection_domain domain="red|black|crypto|neutral">` and
//!   `<memory_region secret="true">` feed the isolation check ([`isolation`]).
//!
//! This is the only parser of the format: the host runtime, the isolation check and the
//! seL4 image builder (`sel4-sysinit`, which adds that platform's own limits) all read it.
//!
//! Every problem is an error that names the element and attribute at fault.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod isolation;

/// A named region of memory that PDs map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Unique name.
    pub name: String,
    /// Bytes; a multiple of 4 KiB.
    pub size: u64,
    /// Fixed physical address (device memory), if any.
    pub phys_addr: Option<u64>,
    /// Holds key material (extension): only the crypto domain may map it.
    pub secret: bool,
    /// A file whose bytes the region starts with (extension), as written (relative to the
    /// description's directory).
    pub fill: Option<String>,
    /// The boot module (1 = the first after the root task) whose bytes the region starts with
    /// (extension, seL4).
    pub boot_module: Option<u32>,
    /// The region whose contents, without their keys, this region starts with (extension).
    pub fill_without_keys: Option<String>,
    /// The console log the root task writes and the serial PD drains (extension).
    pub console: bool,
    /// What the region is for (extension, `role`), which the isolation check holds its mappings
    /// to; `None` for a plain shared region.
    pub role: Option<RegionRole>,
    /// Part of the declared red–black bypass link (extension, `bypass="true"`).
    pub bypass: bool,
}

/// What a memory region is for (`<memory_region role="...">`, extension), declared rather than
/// guessed from its name, so that the isolation check holds each region to its role's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionRole {
    /// `ring_data`: the buffers of one ring direction; the producer writes, the consumer reads.
    RingData,
    /// `ring_ctl`: the active and free queues of one ring direction (both ends write).
    RingCtl,
    /// `dma`: a NIC driver's descriptor rings and buffers; one PD only.
    Dma,
    /// `config`: a PD's configuration, read-only to every PD.
    Config,
    /// `status`: a PD's status page; it alone writes, the console reads.
    Status,
    /// `port`: a NIC PD's port page (its MAC and link state, `pd_proto::port`); it alone writes,
    /// its stack PD reads.
    Port,
    /// `session_keys`: the WireGuard session slots crypto PDs share (`pd_session`: indices,
    /// keys, send counters, replay windows); key material, so crypto PDs only, and no device.
    SessionKeys,
}

impl RegionRole {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ring_data" => Self::RingData,
            "ring_ctl" => Self::RingCtl,
            "dma" => Self::Dma,
            "config" => Self::Config,
            "status" => Self::Status,
            "port" => Self::Port,
            "session_keys" => Self::SessionKeys,
            _ => return None,
        })
    }
}

/// Access rights of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// One mapping of a region into a PD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// The region's name.
    pub mr: String,
    /// Where in the PD's address space.
    pub vaddr: u64,
    /// Access rights.
    pub perms: Perms,
    /// Whether the mapping is cached.
    pub cached: bool,
    /// The name under which the PD looks the region up.
    pub setvar_vaddr: Option<String>,
}

/// An interrupt delivered to a PD on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// How the interrupt arrives.
    pub source: IrqSource,
    /// Channel id on which the PD is notified.
    pub id: u8,
}

/// Where an interrupt comes from (x86).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrqSource {
    /// An IOAPIC pin (level-triggered and active-high unless said otherwise).
    Ioapic { pin: u32, level: bool, active_low: bool },
    /// An MSI vector.
    Msi { vector: u32 },
    /// The interrupt of the PD's PCI device number `device` (position among its
    /// `<pci_device>`s), found at boot.
    Pci { device: usize },
}

/// Which PCI function a driver PD owns.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PciSelect {
    /// The `index`-th function with this vendor and device id.
    Id { vendor: u16, device: u16, index: u32 },
    /// A fixed bus:device.function.
    Bdf { bus: u8, dev: u8, func: u8 },
}

/// A memory BAR of a PCI device mapped into its PD (uncached).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciBar {
    /// BAR number, 0–5.
    pub index: u8,
    /// Where in the PD's address space.
    pub vaddr: u64,
    /// How many bytes of the BAR to map (a multiple of 4 KiB).
    pub size: u64,
    /// The name under which the PD looks the mapping up.
    pub setvar_vaddr: Option<String>,
}

/// A PCI function a driver PD owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// How it is found on the bus.
    pub select: PciSelect,
    /// Its BARs mapped into the PD.
    pub bars: Vec<PciBar>,
    /// The channel on which its interrupt arrives (`irq_id`, or an `<irq pci>`).
    pub irq_id: Option<u8>,
    /// How the interrupt is delivered (`irq="intx|msi|msix"`).
    pub irq: PciIrq,
    /// What it may reach by DMA (`<io_address_space>`), if declared.
    pub io_address_space: Option<IoAddressSpace>,
}

/// A device's DMA view (`<io_address_space domain_id>`): the IOMMU lets it reach these regions,
/// each at its physical address, and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoAddressSpace {
    /// The VT-d domain id (1..=65535), unique in the system: the IOTLB is tagged by it.
    pub domain_id: u16,
    /// The regions, in file order.
    pub maps: Vec<IoMap>,
}

/// One region in a device's IO address space (`<iomap mr perms>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoMap {
    /// The region's name.
    pub mr: String,
    /// Whether the device may write it (it may always read it).
    pub write: bool,
}

/// What the root task does when devices declare IO address spaces but there is no IOMMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IommuPolicy {
    /// Refuse to start the PDs (the product's choice: without it, NIC DMA is unconfined).
    #[default]
    Required,
    /// Say so on the console and run without DMA confinement (test machines without VT-d).
    Optional,
}

/// How a PCI function's interrupt reaches the CPU; the root task sets it up in configuration
/// space, and the driver programs the device to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PciIrq {
    /// The INTx line, through the IOAPIC pin the firmware wrote into the interrupt-line register.
    #[default]
    Intx,
    /// MSI, one message.
    Msi,
    /// MSI-X: every table entry carries the same message, so the device may use any vector.
    MsiX,
}

/// A range of x86 I/O ports a PD owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPort {
    /// The id the PD uses for it, if given (otherwise its position among the PD's ranges).
    pub id: Option<u32>,
    /// First port.
    pub base: u16,
    /// Number of ports.
    pub size: u16,
}

/// One protection domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectionDomain {
    /// Unique name.
    pub name: String,
    /// Scheduling priority, 0–254.
    pub priority: u8,
    /// The core it runs on (Microkit's `cpu`, default 0). The seL4 root task sets the TCB's
    /// affinity, the host runtime the thread's; a core the machine does not run is reported
    /// at start and the PD placed on core `cpu % cores`.
    pub cpu: u8,
    /// Stack bytes (a multiple of 4 KiB), if given.
    pub stack_size: Option<u64>,
    /// The line of its element in the file, for platform tools' messages.
    pub line: u32,
    /// The ELF file of its program.
    pub program_image: String,
    /// Its mappings.
    pub maps: Vec<Map>,
    /// Its interrupts.
    pub irqs: Vec<Irq>,
    /// Its PCI devices (x86 extension).
    pub pci_devices: Vec<PciDevice>,
    /// Its I/O-port ranges (x86 extension).
    pub ioports: Vec<IoPort>,
    /// On the host runtime, the TAP side that replaces this PD (extension).
    pub host_tap: Option<String>,
    /// Its heap's fixed part in bytes (extension, `heap_size`; the seL4 default is 1 MiB).
    pub heap_size: Option<u64>,
    /// Heap bytes per `[Peer]` of the config in region `heap_peers_of` (extension).
    pub heap_per_peer: u64,
    /// Heap bytes per AllowedIPs network and explicit rule of that config (extension,
    /// `heap_per_prefix`).
    pub heap_per_prefix: u64,
    /// The config region whose peers size the heap (extension, `heap_peers_of`).
    pub heap_peers_of: Option<String>,
    /// Tests only (extension, `inject_fault_ms`): the seL4 root task makes this PD fault this
    /// long after boot, to exercise the restart of a faulted PD; the host runtime panics its
    /// thread.
    pub inject_fault_ms: Option<u32>,
    /// Tests only (extension, `inject_stall_ms`): the seL4 root task stops this PD's thread this
    /// long after boot, without a fault, as a PD that hangs.
    pub inject_stall_ms: Option<u32>,
    /// Which side of the encryptor it belongs to (extension): `red`, `black`,
    /// `crypto` or `neutral` (the default: timer, serial).
    pub domain: Domain,
}

/// The side of the encryptor a PD belongs to, for the isolation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Domain {
    /// Plaintext side (nic_red, net_red).
    Red,
    /// Ciphertext side (net_black, nic_black).
    Black,
    /// Where red meets black; holds the keys.
    Crypto,
    /// Serves both sides with no data path (timer, serial).
    Neutral,
}

/// One end of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    /// The PD's name.
    pub pd: String,
    /// The channel id in that PD.
    pub id: u8,
    /// Whether this end may make protected calls to the other (`pp="true"`).
    pub pp: bool,
    /// Whether this end may notify the other (`notify`, default true).
    pub notify: bool,
}

/// A channel between two PDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Its two ends.
    pub ends: [End; 2],
    /// Part of the declared red–black bypass link (extension, `bypass="true"`).
    pub bypass: bool,
}

/// A whole system description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct System {
    /// End QEMU once every PD stays blocked (extension, for seL4 tests).
    pub exit_when_idle: bool,
    /// No PD is restarted after a fault (`restart="false"`, extension: test systems whose PDs
    /// fault on purpose, once).
    pub no_restart: bool,
    /// Whether DMA confinement is required (`iommu`).
    pub iommu: IommuPolicy,
    /// Memory regions, in file order.
    pub memory_regions: Vec<MemoryRegion>,
    /// Protection domains, in file order.
    pub protection_domains: Vec<ProtectionDomain>,
    /// Channels, in file order.
    pub channels: Vec<Channel>,
}

/// Why a system description was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfError {
    /// Line in the file (1-based), 0 when the problem is global.
    pub line: u32,
    /// What is wrong, naming the element and attribute.
    pub message: String,
}

impl fmt::Display for SdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "system.xml line {}: {}", self.line, self.message)
        } else {
            write!(f, "system.xml: {}", self.message)
        }
    }
}

impl std::error::Error for SdfError {}

/// Highest channel id (a notification badge has 63 usable bits).
pub const MAX_CHANNEL_ID: u8 = 62;
/// Highest `cpu` a PD may name (seL4 builds for at most 64 cores).
pub const MAX_CPU: u64 = 63;
const PAGE: u64 = 4096;
/// Largest heap a PD may ask for (`heap_size`, `heap_per_peer`): the seL4 root task's limit.
pub const MAX_HEAP: u64 = 64 << 20;

fn err(node: roxmltree::Node, message: impl Into<String>) -> SdfError {
    let line = node.document().text_pos_at(node.range().start).row;
    SdfError { line, message: message.into() }
}

fn attr<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Result<&'a str, SdfError> {
    node.attribute(name)
        .ok_or_else(|| err(node, format!("<{}> needs attribute {name}", node.tag_name().name())))
}

fn number(node: roxmltree::Node, name: &str, text: &str) -> Result<u64, SdfError> {
    let t = text.replace('_', "");
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse()
    };
    v.map_err(|_| err(node, format!("<{}> {name}=\"{text}\" is not a number", node.tag_name().name())))
}

fn num_attr(node: roxmltree::Node, name: &str) -> Result<u64, SdfError> {
    number(node, name, attr(node, name)?)
}

fn bool_attr(node: roxmltree::Node, name: &str, default: bool) -> Result<bool, SdfError> {
    match node.attribute(name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(err(node, format!("<{}> {name}=\"{other}\" must be true or false", node.tag_name().name()))),
    }
}

fn check_known(node: roxmltree::Node, known: &[&str]) -> Result<(), SdfError> {
    for a in node.attributes() {
        if !known.contains(&a.name()) {
            return Err(err(node, format!("<{}> has unknown attribute {}", node.tag_name().name(), a.name())));
        }
    }
    Ok(())
}

impl System {
    /// Parses and checks a system description.
    pub fn parse(text: &str) -> Result<Self, SdfError> {
        let doc = roxmltree::Document::parse(text).map_err(|e| SdfError { line: e.pos().row, message: e.to_string() })?;
        let root = doc.root_element();
        if root.tag_name().name() != "system" {
            return Err(err(root, "the root element must be <system>"));
        }
        check_known(root, &["exit_when_idle", "iommu", "restart"])?;
        let iommu = match root.attribute("iommu").unwrap_or("required") {
            "required" => IommuPolicy::Required,
            "optional" => IommuPolicy::Optional,
            other => return Err(err(root, format!("<system iommu=\"{other}\"> must be required or optional"))),
        };
        let mut sys = System {
            exit_when_idle: bool_attr(root, "exit_when_idle", false)?,
            no_restart: !bool_attr(root, "restart", true)?,
            iommu,
            ..System::default()
        };
        let mut lines = BTreeMap::new();
        for node in root.children().filter(|n| n.is_element()) {
            match node.tag_name().name() {
                "memory_region" => sys.memory_regions.push(parse_region(node)?),
                "protection_domain" => {
                    lines.insert(sys.protection_domains.len(), node);
                    sys.protection_domains.push(parse_pd(node)?)
                }
                "channel" => sys.channels.push(parse_channel(node)?),
                other => return Err(err(node, format!("unknown element <{other}>"))),
            }
        }
        sys.check(&root, &lines)?;
        Ok(sys)
    }

    fn check(&self, root: &roxmltree::Node, pd_nodes: &BTreeMap<usize, roxmltree::Node>) -> Result<(), SdfError> {
        let mut names = BTreeSet::new();
        for r in &self.memory_regions {
            if !names.insert(r.name.as_str()) {
                return Err(err(*root, format!("memory_region {} is defined twice", r.name)));
            }
        }
        for r in &self.memory_regions {
            if let Some(source) = &r.fill_without_keys {
                if self.region(source).is_none() {
                    return Err(err(*root, format!("memory_region {}: fill_without_keys names no memory_region {source}", r.name)));
                }
            }
        }
        // The idle watcher is one thread on core 0 at the lowest priority: it sees only that
        // core go idle, so it could end the system while a PD on another core still runs.
        if self.exit_when_idle {
            if let Some(pd) = self.protection_domains.iter().find(|p| p.cpu != 0) {
                return Err(err(*root, format!("{}: cpu {} with exit_when_idle: the idle watcher sees core 0 only", pd.name, pd.cpu)));
            }
        }
        let consoles: Vec<_> = self.memory_regions.iter().filter(|r| r.console).collect();
        if consoles.len() > 1 {
            return Err(err(*root, format!("memory_regions {} and {} are both console logs; there is one console", consoles[0].name, consoles[1].name)));
        }
        if let Some(log) = consoles.first() {
            let readers: Vec<_> = self.protection_domains.iter().filter(|pd| pd.maps.iter().any(|m| m.mr == log.name)).collect();
            match readers.as_slice() {
                [pd] if self.channels.iter().flat_map(|c| &c.ends).any(|e| e.pd == pd.name && e.id == CONSOLE_LOG_CHANNEL)
                    || pd.irqs.iter().any(|i| i.id == CONSOLE_LOG_CHANNEL) =>
                {
                    return Err(err(*root, format!("console log {}: {} uses channel id {CONSOLE_LOG_CHANNEL}, which the root task rings it on", log.name, pd.name)))
                }
                [pd] if pd.maps.iter().any(|m| m.mr == log.name && m.perms.write) => {}
                [pd] => return Err(err(*root, format!("console log {}: {} must map it rw (it stores how far it read)", log.name, pd.name))),
                _ => return Err(err(*root, format!("console log {} must be mapped by exactly one PD (the serial PD), not {}", log.name, readers.len()))),
            }
        }
        let mut pd_names = BTreeSet::new();
        for (i, pd) in self.protection_domains.iter().enumerate() {
            let node = pd_nodes[&i];
            if !pd_names.insert(pd.name.as_str()) {
                return Err(err(node, format!("protection_domain {} is defined twice", pd.name)));
            }
            if let Some(source) = &pd.heap_peers_of {
                // The root task counts the `[Peer]` sections of an encryptor config at boot.
                if self.region(source).is_none_or(|r| r.role != Some(RegionRole::Config)) {
                    return Err(err(node, format!("{}: heap_peers_of names no memory_region with role=\"config\": {source}", pd.name)));
                }
            }
            let mut spans: Vec<(u64, u64, &str)> = Vec::new();
            let mut vars = BTreeSet::new();
            for m in &pd.maps {
                let Some(r) = self.region(&m.mr) else {
                    return Err(err(node, format!("{}: <map mr=\"{}\"> names no memory_region", pd.name, m.mr)));
                };
                if m.vaddr % PAGE != 0 {
                    return Err(err(node, format!("{}: <map mr=\"{}\"> vaddr 0x{:x} is not page-aligned", pd.name, m.mr, m.vaddr)));
                }
                let end = m.vaddr.checked_add(r.size).ok_or_else(|| err(node, format!("{}: map of {} overflows", pd.name, m.mr)))?;
                if let Some(o) = spans.iter().find(|(s, e, _)| m.vaddr < *e && *s < end) {
                    return Err(err(node, format!("{}: <map mr=\"{}\"> overlaps the mapping of {}", pd.name, m.mr, o.2)));
                }
                spans.push((m.vaddr, end, &m.mr));
                if let Some(v) = &m.setvar_vaddr {
                    if !vars.insert(v.as_str()) {
                        return Err(err(node, format!("{}: setvar_vaddr {v} is used twice", pd.name)));
                    }
                }
            }
            for bar in pd.pci_devices.iter().flat_map(|d| &d.bars) {
                let end = bar.vaddr.checked_add(bar.size).ok_or_else(|| err(node, format!("{}: a <bar> overflows", pd.name)))?;
                if let Some(o) = spans.iter().find(|(s, e, _)| bar.vaddr < *e && *s < end) {
                    return Err(err(node, format!("{}: <bar index=\"{}\"> at 0x{:x} overlaps the mapping of {}", pd.name, bar.index, bar.vaddr, o.2)));
                }
                spans.push((bar.vaddr, end, "a PCI BAR"));
                if let Some(v) = &bar.setvar_vaddr {
                    if !vars.insert(v.as_str()) {
                        return Err(err(node, format!("{}: setvar_vaddr {v} is used twice", pd.name)));
                    }
                }
            }
            for space in pd.pci_devices.iter().filter_map(|d| d.io_address_space.as_ref()) {
                self.check_io_address_space(pd, space).map_err(|m| err(node, m))?;
            }
            let mut ids = BTreeSet::new();
            let device_irqs = pd.pci_devices.iter().filter_map(|d| d.irq_id);
            for id in pd.irqs.iter().filter(|i| !matches!(i.source, IrqSource::Pci { .. })).map(|i| i.id).chain(device_irqs) {
                if !ids.insert(id) {
                    return Err(err(node, format!("{}: channel id {id} is used twice", pd.name)));
                }
            }
            let mut io_ids = BTreeSet::new();
            for (k, io) in pd.ioports.iter().enumerate() {
                if !io_ids.insert(io.id.unwrap_or(k as u32)) {
                    return Err(err(node, format!("{}: ioport id {} is used twice", pd.name, io.id.unwrap_or(k as u32))));
                }
                let (first, end) = (u32::from(io.base), u32::from(io.base) + u32::from(io.size));
                for other in self.protection_domains[..i].iter() {
                    if other.ioports.iter().any(|o| first < u32::from(o.base) + u32::from(o.size) && u32::from(o.base) < end) {
                        return Err(err(node, format!("{}: ioport range 0x{first:x}..0x{end:x} overlaps one given to {}", pd.name, other.name)));
                    }
                }
            }
            for c in &self.channels {
                for e in c.ends.iter().filter(|e| e.pd == pd.name) {
                    if !ids.insert(e.id) {
                        return Err(err(node, format!("{}: channel id {} is used twice", pd.name, e.id)));
                    }
                }
            }
        }
        for c in &self.channels {
            for e in &c.ends {
                if !pd_names.contains(e.pd.as_str()) {
                    return Err(err(*root, format!("a <channel> end names unknown protection_domain {}", e.pd)));
                }
            }
            if c.ends[0].pd == c.ends[1].pd {
                return Err(err(*root, format!("a <channel> joins {} to itself", c.ends[0].pd)));
            }
            for (from, to) in [(&c.ends[0], &c.ends[1]), (&c.ends[1], &c.ends[0])] {
                let (Some(caller), Some(callee)) = (self.pd(&from.pd), self.pd(&to.pd)) else { continue };
                if from.pp && callee.priority <= caller.priority {
                    return Err(err(*root, format!(
                        "channel {} -> {}: a protected call needs the callee's priority ({}) above the caller's ({})",
                        caller.name, callee.name, callee.priority, caller.priority
                    )));
                }
            }
        }
        Ok(())
    }

    /// A device's DMA regions must be ones its driver PD maps (with at least the device's rights),
    /// plain RAM (another device's registers would make peer-to-peer DMA), never key material or
    /// the console, and its domain id its own.
    fn check_io_address_space(&self, pd: &ProtectionDomain, space: &IoAddressSpace) -> Result<(), String> {
        let name = &pd.name;
        let did = space.domain_id;
        let holders = self.protection_domains.iter().flat_map(|p| &p.pci_devices).filter_map(|d| d.io_address_space.as_ref());
        if holders.filter(|s| s.domain_id == did).count() > 1 {
            return Err(format!("{name}: io_address_space domain_id {did} is used by two devices (the IOMMU's caches are tagged by it)"));
        }
        let mut seen = BTreeSet::new();
        for m in &space.maps {
            let Some(r) = self.region(&m.mr) else {
                return Err(format!("{name}: <iomap mr=\"{}\"> names no memory_region", m.mr));
            };
            if !seen.insert(m.mr.as_str()) {
                return Err(format!("{name}: <iomap mr=\"{}\"> appears twice in one io_address_space", m.mr));
            }
            let Some(map) = pd.maps.iter().find(|pm| pm.mr == m.mr) else {
                return Err(format!("{name}: <iomap mr=\"{}\"> gives the device a region that {name} does not map", m.mr));
            };
            if m.write && !map.perms.write {
                return Err(format!("{name}: <iomap mr=\"{}\" perms=\"rw\"> lets the device write a region that {name} maps read-only", m.mr));
            }
            if r.phys_addr.is_some() || r.secret || r.console || r.role == Some(RegionRole::SessionKeys) {
                return Err(format!("{name}: <iomap mr=\"{}\">: a device may reach plain RAM only (not device memory, key material or the console log)", m.mr));
            }
        }
        Ok(())
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&MemoryRegion> {
        self.memory_regions.iter().find(|r| r.name == name)
    }

    /// The PD called `name`.
    pub fn pd(&self, name: &str) -> Option<&ProtectionDomain> {
        self.protection_domains.iter().find(|p| p.name == name)
    }

    /// PD `pd`'s own end of its channel `id`.
    pub fn end(&self, pd: &str, id: u8) -> Option<&End> {
        self.channels.iter().flat_map(|c| c.ends.iter()).find(|e| e.pd == pd && e.id == id)
    }

    /// The other end of PD `pd`'s channel `id`, if it may notify it (its own end's `notify`).
    pub fn notify_peer(&self, pd: &str, id: u8) -> Option<&End> {
        self.end(pd, id).filter(|e| e.notify).and(self.peer(pd, id))
    }

    /// The other end of PD `pd`'s channel `id`.
    pub fn peer(&self, pd: &str, id: u8) -> Option<&End> {
        self.channels.iter().find_map(|c| match &c.ends {
            [a, b] if a.pd == pd && a.id == id => Some(b),
            [a, b] if b.pd == pd && b.id == id => Some(a),
            _ => None,
        })
    }
}

/// The channel id on which the root task signals the console log's reader (the seL4 runtime's
/// `layout::CONSOLE_LOG_CHANNEL`).
pub const CONSOLE_LOG_CHANNEL: u8 = 62;

fn parse_region(node: roxmltree::Node) -> Result<MemoryRegion, SdfError> {
    check_known(node, &["name", "size", "page_size", "phys_addr", "secret", "fill", "boot_module", "fill_without_keys", "console", "role", "bypass"])?;
    let name = attr(node, "name")?.to_string();
    let size = num_attr(node, "size")?;
    if size == 0 || size % PAGE != 0 {
        return Err(err(node, format!("memory_region {name}: size 0x{size:x} is not a positive multiple of 4 KiB")));
    }
    let phys_addr = node.attribute("phys_addr").map(|t| number(node, "phys_addr", t)).transpose()?;
    if phys_addr.is_some_and(|p| p % PAGE != 0) {
        return Err(err(node, format!("memory_region {name}: phys_addr is not a multiple of 4 KiB")));
    }
    let secret = match node.attribute("secret").unwrap_or("false") {
        "true" => true,
        "false" => false,
        other => return Err(err(node, format!("memory_region secret=\"{other}\" must be true or false"))),
    };
    let fill = node.attribute("fill").map(str::to_string);
    let fill_without_keys = node.attribute("fill_without_keys").map(str::to_string);
    if (fill.is_some() || fill_without_keys.is_some()) && phys_addr.is_some() {
        return Err(err(node, format!("memory_region {name}: fill and phys_addr do not go together")));
    }
    let boot_module = match node.attribute("boot_module") {
        None => None,
        Some(t) => match number(node, "boot_module", t)? {
            n @ 1..=8 => Some(n as u32),
            _ => return Err(err(node, format!("memory_region {name}: boot_module must be 1..8 (module 0 is the root task)"))),
        },
    };
    if (fill.is_some() || boot_module.is_some()) && fill_without_keys.is_some() {
        return Err(err(node, format!("memory_region {name}: fill_without_keys goes with neither fill nor boot_module")));
    }
    if boot_module.is_some() && phys_addr.is_some() {
        return Err(err(node, format!("memory_region {name}: boot_module and phys_addr do not go together")));
    }
    let role = match node.attribute("role") {
        None => None,
        Some(t) => Some(RegionRole::parse(t).ok_or_else(|| {
            err(node, format!("memory_region {name}: role=\"{t}\" must be ring_data, ring_ctl, dma, config, status, port or session_keys"))
        })?),
    };
    let console = bool_attr(node, "console", false)?;
    if console && (phys_addr.is_some() || fill.is_some() || fill_without_keys.is_some() || secret || boot_module.is_some()) {
        return Err(err(node, format!("memory_region {name}: a console log is plain RAM (no phys_addr, fill, boot_module or secret)")));
    }
    let bypass = bool_attr(node, "bypass", false)?;
    Ok(MemoryRegion { name, size, phys_addr, secret, fill, boot_module, fill_without_keys, console, role, bypass })
}

fn parse_pd(node: roxmltree::Node) -> Result<ProtectionDomain, SdfError> {
    check_known(
        node,
        &["name", "priority", "budget", "period", "passive", "stack_size", "pp", "domain", "inject_fault_ms", "inject_stall_ms", "cpu", "heap_size", "heap_per_peer", "heap_per_prefix", "heap_peers_of"],
    )?;
    let name = attr(node, "name")?.to_string();
    let priority = node.attribute("priority").map(|t| number(node, "priority", t)).transpose()?.unwrap_or(100);
    if priority > 254 {
        return Err(err(node, format!("{name}: priority {priority} is above 254")));
    }
    let cpu = node.attribute("cpu").map(|t| number(node, "cpu", t)).transpose()?.unwrap_or(0);
    if cpu > MAX_CPU {
        return Err(err(node, format!("{name}: cpu {cpu} is above {MAX_CPU}")));
    }
    let domain = match node.attribute("domain").unwrap_or("neutral") {
        "red" => Domain::Red,
        "black" => Domain::Black,
        "crypto" => Domain::Crypto,
        "neutral" => Domain::Neutral,
        other => return Err(err(node, format!("{name}: domain=\"{other}\" must be red, black, crypto or neutral"))),
    };
    let stack_size = node.attribute("stack_size").map(|t| number(node, "stack_size", t)).transpose()?;
    let inject_fault_ms = match node.attribute("inject_fault_ms").map(|t| number(node, "inject_fault_ms", t)).transpose()? {
        Some(ms @ 1..=3_600_000) => Some(ms as u32),
        Some(_) => return Err(err(node, format!("{name}: inject_fault_ms must be 1..3600000"))),
        None => None,
    };
    let inject_stall_ms = match node.attribute("inject_stall_ms").map(|t| number(node, "inject_stall_ms", t)).transpose()? {
        Some(ms @ 1..=3_600_000) => Some(ms as u32),
        Some(_) => return Err(err(node, format!("{name}: inject_stall_ms must be 1..3600000"))),
        None => None,
    };
    if inject_fault_ms.is_some() && inject_stall_ms.is_some() {
        return Err(err(node, format!("{name}: inject_fault_ms and inject_stall_ms: one or the other")));
    }
    if stack_size.is_some_and(|s| s == 0 || s % PAGE != 0) {
        return Err(err(node, format!("{name}: stack_size is not a positive multiple of 4 KiB")));
    }
    let heap_size = node.attribute("heap_size").map(|t| number(node, "heap_size", t)).transpose()?;
    if heap_size.is_some_and(|s| s == 0 || s % PAGE != 0 || s > MAX_HEAP) {
        return Err(err(node, format!("{name}: heap_size is not a positive multiple of 4 KiB up to {} MiB", MAX_HEAP >> 20)));
    }
    let heap_per_peer = node.attribute("heap_per_peer").map(|t| number(node, "heap_per_peer", t)).transpose()?;
    let heap_peers_of = node.attribute("heap_peers_of").map(str::to_string);
    let heap_per_peer = match (heap_per_peer, &heap_peers_of) {
        (Some(p), Some(_)) if p % 1024 == 0 && p <= MAX_HEAP => p,
        (Some(_), Some(_)) => return Err(err(node, format!("{name}: heap_per_peer is not a multiple of 1 KiB up to {} MiB", MAX_HEAP >> 20))),
        (None, None) => 0,
        _ => return Err(err(node, format!("{name}: heap_per_peer and heap_peers_of go together"))),
    };
    let heap_per_prefix = match node.attribute("heap_per_prefix").map(|t| number(node, "heap_per_prefix", t)).transpose()? {
        Some(_) if heap_peers_of.is_none() => return Err(err(node, format!("{name}: heap_per_prefix needs heap_peers_of"))),
        Some(a) if a > 1 << 16 => return Err(err(node, format!("{name}: heap_per_prefix is above 64 KiB"))),
        a => a.unwrap_or(0),
    };
    let line = node.document().text_pos_at(node.range().start).row;
    let mut pci_irqs = Vec::new();
    let mut pd = ProtectionDomain {
        domain,
        name,
        priority: priority as u8,
        cpu: cpu as u8,
        stack_size,
        heap_size,
        heap_per_peer,
        heap_per_prefix,
        heap_peers_of,
        line,
        program_image: String::new(),
        maps: Vec::new(),
        irqs: Vec::new(),
        pci_devices: Vec::new(),
        ioports: Vec::new(),
        host_tap: None,
        inject_fault_ms,
        inject_stall_ms,
    };
    for c in node.children().filter(|n| n.is_element()) {
        match c.tag_name().name() {
            "program_image" => pd.program_image = attr(c, "path")?.to_string(),
            "map" => {
                check_known(c, &["mr", "vaddr", "perms", "cached", "setvar_vaddr"])?;
                let perms_text = c.attribute("perms").unwrap_or("rw");
                if perms_text.is_empty() || !perms_text.chars().all(|ch| "rwx".contains(ch)) {
                    return Err(err(c, format!("{}: perms=\"{perms_text}\" must be made of r, w, x", pd.name)));
                }
                let cached = match c.attribute("cached").unwrap_or("true") {
                    "true" => true,
                    "false" => false,
                    other => return Err(err(c, format!("{}: cached=\"{other}\" must be true or false", pd.name))),
                };
                pd.maps.push(Map {
                    mr: attr(c, "mr")?.to_string(),
                    vaddr: num_attr(c, "vaddr")?,
                    perms: Perms {
                        read: perms_text.contains('r'),
                        write: perms_text.contains('w'),
                        execute: perms_text.contains('x'),
                    },
                    cached,
                    setvar_vaddr: c.attribute("setvar_vaddr").map(str::to_string),
                });
            }
            "irq" => {
                check_known(c, &["irq", "ioapic", "pin", "msi", "pci", "id", "trigger", "polarity"])?;
                let id = channel_id(c)?;
                let level = match c.attribute("trigger").unwrap_or("level") {
                    "level" => true,
                    "edge" => false,
                    other => return Err(err(c, format!("{}: <irq trigger=\"{other}\"> must be level or edge", pd.name))),
                };
                let active_low = match c.attribute("polarity").unwrap_or("high") {
                    "high" => false,
                    "low" => true,
                    other => return Err(err(c, format!("{}: <irq polarity=\"{other}\"> must be high or low", pd.name))),
                };
                let pin = ["pin", "ioapic", "irq"].into_iter().find_map(|a| c.attribute(a).map(|t| (a, t)));
                let source = if let Some((name, t)) = pin {
                    IrqSource::Ioapic { pin: number(c, name, t)? as u32, level, active_low }
                } else if let Some(t) = c.attribute("msi") {
                    IrqSource::Msi { vector: number(c, "msi", t)? as u32 }
                } else if let Some(t) = c.attribute("pci") {
                    let device = number(c, "pci", t)? as usize;
                    pci_irqs.push((c, device, id));
                    IrqSource::Pci { device }
                } else {
                    return Err(err(c, format!("{}: <irq> needs pin=, ioapic=, msi= or pci=", pd.name)));
                };
                pd.irqs.push(Irq { source, id });
            }
            "pci_device" => pd.pci_devices.push(parse_pci(&pd.name, c)?),
            "ioport" => {
                check_known(c, &["id", "base", "size"])?;
                let id = c.attribute("id").map(|t| number(c, "id", t)).transpose()?.map(|i| i as u32);
                let base = num_attr(c, "base")?;
                let size = num_attr(c, "size")?;
                if base.saturating_add(size) > 0x10000 || size == 0 {
                    return Err(err(c, format!("{}: <ioport> range 0x{base:x}+0x{size:x} is outside 0-0xffff", pd.name)));
                }
                pd.ioports.push(IoPort { id, base: base as u16, size: size as u16 });
            }
            "host_tap" => {
                let side = attr(c, "side")?;
                if side != "red" && side != "black" {
                    return Err(err(c, format!("{}: <host_tap side=\"{side}\"> must be red or black", pd.name)));
                }
                pd.host_tap = Some(side.to_string());
            }
            "setvar" => {}
            other => return Err(err(c, format!("{}: unknown element <{other}>", pd.name))),
        }
    }
    if pd.program_image.is_empty() {
        return Err(err(node, format!("{}: <program_image> is missing", pd.name)));
    }
    // `<irq pci="K">` is the interrupt of the K-th <pci_device>; with one device, of that one
    // (older files repeat the device's index on the bus there).
    let devices = pd.pci_devices.len();
    for (c, k, id) in pci_irqs {
        let k = if devices == 1 { 0 } else { k };
        let Some(device) = pd.pci_devices.get_mut(k) else {
            return Err(err(c, format!("{}: <irq pci=\"{k}\"> but the PD has {devices} pci_device", pd.name)));
        };
        if device.irq_id.replace(id).is_some() {
            return Err(err(c, format!("{}: pci_device {k} already has an interrupt channel", pd.name)));
        }
    }
    for irq in &mut pd.irqs {
        if let IrqSource::Pci { device } = &mut irq.source {
            if devices == 1 {
                *device = 0;
            }
        }
    }
    Ok(pd)
}

fn parse_pci(pd: &str, c: roxmltree::Node) -> Result<PciDevice, SdfError> {
    check_known(c, &["id", "vendor", "device", "index", "bdf", "irq_id", "irq"])?;
    let select = parse_pci_select(c)?;
    let irq_id = c.attribute("irq_id").map(|_| channel_id_attr(c, "irq_id")).transpose()?;
    let irq = match c.attribute("irq").unwrap_or("intx") {
        "intx" => PciIrq::Intx,
        "msi" => PciIrq::Msi,
        "msix" => PciIrq::MsiX,
        other => return Err(err(c, format!("{pd}: <pci_device irq=\"{other}\"> must be intx, msi or msix"))),
    };
    let mut bars = Vec::new();
    let mut io_address_space = None;
    for b in c.children().filter(|n| n.is_element()) {
        if b.tag_name().name() == "io_address_space" {
            if io_address_space.replace(parse_io_address_space(pd, b)?).is_some() {
                return Err(err(b, format!("{pd}: a <pci_device> has one <io_address_space>")));
            }
            continue;
        }
        if b.tag_name().name() != "bar" {
            return Err(err(b, format!("{pd}: <pci_device> holds <bar> and <io_address_space> only, not <{}>", b.tag_name().name())));
        }
        check_known(b, &["index", "vaddr", "size", "setvar_vaddr"])?;
        let (index, vaddr, size) = (num_attr(b, "index")?, num_attr(b, "vaddr")?, num_attr(b, "size")?);
        if index >= 6 || vaddr % PAGE != 0 || size == 0 || size % PAGE != 0 {
            return Err(err(b, format!("{pd}: <bar> needs index 0..5 and page-aligned vaddr and size")));
        }
        bars.push(PciBar { index: index as u8, vaddr, size, setvar_vaddr: b.attribute("setvar_vaddr").map(str::to_string) });
    }
    Ok(PciDevice { select, bars, irq_id, irq, io_address_space })
}

fn parse_io_address_space(pd: &str, node: roxmltree::Node) -> Result<IoAddressSpace, SdfError> {
    check_known(node, &["domain_id"])?;
    let domain_id = match num_attr(node, "domain_id")? {
        d @ 1..=0xffff => d as u16,
        d => return Err(err(node, format!("{pd}: <io_address_space domain_id=\"{d}\"> must be 1..65535 (0 is reserved)"))),
    };
    let mut maps = Vec::new();
    for m in node.children().filter(|n| n.is_element()) {
        if m.tag_name().name() != "iomap" {
            return Err(err(m, format!("{pd}: <io_address_space> holds <iomap> only, not <{}>", m.tag_name().name())));
        }
        check_known(m, &["mr", "perms"])?;
        let write = match m.attribute("perms").unwrap_or("rw") {
            "rw" => true,
            "r" => false,
            other => return Err(err(m, format!("{pd}: <iomap perms=\"{other}\"> must be r or rw"))),
        };
        maps.push(IoMap { mr: attr(m, "mr")?.to_string(), write });
    }
    Ok(IoAddressSpace { domain_id, maps })
}

fn parse_pci_select(c: roxmltree::Node) -> Result<PciSelect, SdfError> {
    let index = || -> Result<u32, SdfError> { Ok(c.attribute("index").map(|t| number(c, "index", t)).transpose()?.unwrap_or(0) as u32) };
    if let Some(id) = c.attribute("id") {
        let bad = || err(c, format!("<pci_device id=\"{id}\"> must be vvvv:dddd in hex"));
        let (v, d) = id.split_once(':').ok_or_else(bad)?;
        let vendor = u16::from_str_radix(v, 16).map_err(|_| bad())?;
        let device = u16::from_str_radix(d, 16).map_err(|_| bad())?;
        return Ok(PciSelect::Id { vendor, device, index: index()? });
    }
    if c.attribute("vendor").is_some() || c.attribute("device").is_some() {
        let id16 = |a: &str| -> Result<u16, SdfError> {
            u16::try_from(num_attr(c, a)?).map_err(|_| err(c, format!("<pci_device> {a} must fit 16 bits")))
        };
        return Ok(PciSelect::Id { vendor: id16("vendor")?, device: id16("device")?, index: index()? });
    }
    let bdf = attr(c, "bdf")?;
    let bad = || err(c, format!("<pci_device bdf=\"{bdf}\"> must be bb:dd.f in hex"));
    let (b, rest) = bdf.split_once(':').ok_or_else(bad)?;
    let (d, f) = rest.split_once('.').ok_or_else(bad)?;
    let bus = u8::from_str_radix(b, 16).map_err(|_| bad())?;
    let dev = u8::from_str_radix(d, 16).map_err(|_| bad())?;
    let func = u8::from_str_radix(f, 16).map_err(|_| bad())?;
    if dev > 31 || func > 7 {
        return Err(bad());
    }
    Ok(PciSelect::Bdf { bus, dev, func })
}

fn channel_id(node: roxmltree::Node) -> Result<u8, SdfError> {
    channel_id_attr(node, "id")
}

fn channel_id_attr(node: roxmltree::Node, name: &str) -> Result<u8, SdfError> {
    let id = num_attr(node, name)?;
    if id > u64::from(MAX_CHANNEL_ID) {
        return Err(err(node, format!("channel id {id} is above {MAX_CHANNEL_ID}")));
    }
    Ok(id as u8)
}

fn parse_channel(node: roxmltree::Node) -> Result<Channel, SdfError> {
    let ends: Vec<End> = node
        .children()
        .filter(|n| n.is_element())
        .map(|e| {
            if e.tag_name().name() != "end" {
                return Err(err(e, format!("<channel> holds <end> only, not <{}>", e.tag_name().name())));
            }
            check_known(e, &["pd", "id", "pp", "notify"])?;
            Ok(End {
                pd: attr(e, "pd")?.to_string(),
                id: channel_id(e)?,
                pp: bool_attr(e, "pp", false)?,
                notify: bool_attr(e, "notify", true)?,
            })
        })
        .collect::<Result<_, _>>()?;
    check_known(node, &["bypass"])?;
    let bypass = bool_attr(node, "bypass", false)?;
    let [a, b]: [End; 2] = ends.try_into().map_err(|_| err(node, "a <channel> must have exactly two <end>s"))?;
    Ok(Channel { ends: [a, b], bypass })
}

#[cfg(test)]
mod tests;

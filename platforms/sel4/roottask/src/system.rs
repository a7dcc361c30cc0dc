//! Building the system from the spec, and serving the fault endpoint.

use crate::objects::{Objects, ROOT_DEPTH};
use crate::{console, out, println};
use alloc::vec;
use alloc::string::String;
use alloc::vec::Vec;
use sel4_abi::generated::consts::{seL4_UnknownSyscall_Syscall, seL4_UserException_Number, seL4_VMFault_Addr, seL4_VMFault_FSR, seL4_VMFault_IP, seL4_VMFault_PrefetchFault};
use sel4_abi::{fault_label, init_cap, label, object_type as ty, vm_attributes, CPtr, CapRights, Word};
use sel4_system_spec::pd_info::{self, PdInfo, RegionInfo};
use crate::iommu::{Iommu, IoRegion};
use crate::pci;
use pd_console::budget::{self, Admit, LineBudget};
use sel4_abi::freestanding::LineBuffer;
use sel4_system_spec::{layout, IrqSource, PciIrq, PciSelect, System};

/// QEMU's isa-debug-exit port (tests add `-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

const PAGE: Word = 4096;
/// Where the root task maps a frame of a PD to fill it (one page, unmapped after each use).
const SCRATCH_VADDR: Word = 0x3f00_0000;
/// Where the root task maps the console log for good (below the scratch page; at most 16 MiB).
const CONSOLE_LOG_VADDR: Word = 0x3e00_0000;
/// Rights for a cap that may only signal or call (Call needs Grant for the reply cap in 5.0).
const SEND_GRANT: CapRights = CapRights(0b101);

/// What the root task keeps of a started PD.
pub struct RunningPd {
    /// The PD's TCB.
    pub tcb: CPtr,
    /// Where its program starts.
    entry: Word,
    /// Its program's ELF in the system image (offset, length), and its loadable segments.
    elf: (usize, usize),
    segments: Vec<Segment>,
    /// What a restart resets, each a copy of the cap mapped into the PD (the PD's own cap stays
    /// mapped): the program's writable pages (frame, page address), the stack and IPC buffer.
    writable_pages: Vec<(CPtr, Word)>,
    scratch_frames: Vec<CPtr>,
    /// Its IRQ handlers (acknowledged again on restart: a PD may die before acknowledging).
    irq_handlers: Vec<CPtr>,
    /// Its PCI functions, and whether each interrupts by INTx: a fault stops their DMA, a
    /// restart enables it again as at boot.
    pci_functions: Vec<(pci::Function, bool)>,
    /// Whether the system image marks it restartable (see sel4_system_spec).
    restartable: bool,
    /// The PDs restarted with it (crypto and its workers): stopped at its fault, started
    /// afresh with it.
    restart_with: Vec<usize>,
    /// Tests only: when to make it fault (ms after boot; 0: never).
    inject_fault_ms: u32,
    /// Tests only: when to stop its thread without a fault (ms after boot; 0: never).
    inject_stall_ms: u32,
    /// Restarts so far; faults in a row, each within [`STREAK_GAP_S`] of the restart before it
    /// (the back-off grows with it); the TSC of its last restart (none yet: its first fault
    /// starts a streak).
    restarts: u32,
    streak: u32,
    restarted_tsc: Option<u64>,
}

/// The per-PD objects created before channels are wired.
struct PdObjects {
    cnode: CPtr,
    vspace: CPtr,
    tcb: CPtr,
    endpoint: CPtr,
    notification: CPtr,
    ipc_frame: CPtr,
    entry: Word,
    info: PdInfo,
    segments: Vec<Segment>,
    writable_pages: Vec<(CPtr, Word)>,
    scratch_frames: Vec<CPtr>,
    irq_handlers: Vec<CPtr>,
    pci_functions: Vec<(pci::Function, bool)>,
}

/// Copies `cap` of the root CNode into `slot` of a PD's CNode, with `rights` and `badge`.
fn give(pd_cnode: CPtr, slot: Word, cap: CPtr, rights: CapRights, badge: Option<Word>) {
    let root = init_cap::seL4_CapInitThreadCNode;
    let result = match badge {
        Some(b) => sel4_abi::cnode_mint(pd_cnode, slot, layout::CNODE_BITS, root, cap, ROOT_DEPTH, rights, b),
        None => sel4_abi::cnode_copy(pd_cnode, slot, layout::CNODE_BITS, root, cap, ROOT_DEPTH, rights),
    };
    if let Err(e) = result {
        console::fatal(format_args!("giving cap {cap} to slot {slot}: {e}"));
    }
}

/// Runs `fill` on the 4 KiB of `frame`, mapped for the moment into the root task.
fn fill_frame(objects: &mut Objects, frame: CPtr, fill: impl FnOnce(&mut [u8])) {
    with_frame(objects, frame, vm_attributes::DEFAULT, fill)
}

/// Runs `f` on the 4 KiB of `frame`, mapped for the moment into the root task with `attributes`.
fn with_frame(objects: &mut Objects, frame: CPtr, attributes: Word, fill: impl FnOnce(&mut [u8])) {
    if let Err(e) = objects.map_frame(init_cap::seL4_CapInitThreadVSpace, frame, SCRATCH_VADDR, CapRights::READ_WRITE, attributes) {
        console::fatal(format_args!("mapping a frame into the root task: {e}"));
    }
    // SAFETY: the frame was just mapped read-write at SCRATCH_VADDR, a page nothing else in the
    // root task uses, and it is unmapped before the slice's lifetime ends.
    let page = unsafe { core::slice::from_raw_parts_mut(SCRATCH_VADDR as *mut u8, PAGE as usize) };
    fill(page);
    if let Err(e) = sel4_abi::page_unmap(frame) {
        console::fatal(format_args!("unmapping the scratch frame: {e}"));
    }
}

/// Maps the console log into the root task and sends every later console line there: the serial
/// PD (the one PD that maps the region, as libraries/sdf checks) owns COM1 from now on.
fn hand_over_console(objects: &mut Objects, system: &System, index: usize, frames: &[CPtr]) {
    let region = &system.regions[index];
    let Some(reader) = system.pds.iter().position(|pd| pd.maps.iter().any(|m| m.region as usize == index)) else {
        println!("console log {}: no PD maps it; the root task keeps COM1", region.name);
        return;
    };
    if region.size > SCRATCH_VADDR - CONSOLE_LOG_VADDR {
        println!("console log {}: {} bytes is more than the root task maps; it keeps COM1", region.name, region.size);
        return;
    }
    for (k, &frame) in frames.iter().enumerate() {
        let copy = objects.copy(frame, CapRights::ALL);
        map_or_die(objects, "root", init_cap::seL4_CapInitThreadVSpace, copy, CONSOLE_LOG_VADDR + k as Word * PAGE, CapRights::READ_WRITE, vm_attributes::DEFAULT);
    }
    println!("console: COM1 goes to PD {} from here on (console log {})", system.pds[reader].name, region.name);
    let base = core::ptr::NonNull::new(CONSOLE_LOG_VADDR as *mut u8).expect("non-zero constant");
    // SAFETY: the region was just mapped read-write at CONSOLE_LOG_VADDR for good, page-aligned,
    // and only `reader` maps it besides the root task; no PD has started yet.
    if let Err(e) = unsafe { console::attach_log(base, region.size as usize, reader) } {
        println!("console log {}: {e}; the root task keeps COM1", region.name);
    }
}

fn map_or_die(objects: &mut Objects, pd: &str, vspace: CPtr, frame: CPtr, vaddr: Word, rights: CapRights, attributes: Word) {
    if let Err(e) = objects.map_frame(vspace, frame, vaddr, rights, attributes) {
        console::fatal(format_args!("PD {pd}: mapping {vaddr:#x}: {e}"));
    }
}

/// Reads a little-endian integer of `n` bytes at `o`.
fn le(b: &[u8], o: usize, n: usize) -> Option<Word> {
    Some(b.get(o..o + n)?.iter().rev().fold(0, |a, &x| a << 8 | x as Word))
}

/// Loads an ELF's PT_LOAD segments into fresh frames mapped in `vspace`; returns the entry.
/// A program's loadable segment: (vaddr, file offset, file size, memory size, writable).
type Segment = (Word, Word, Word, Word, bool);

/// Writes the bytes of `page` (a page address) of a program with `segments` from `elf`: the
/// part of each segment's file image on it; the rest (bss) zero.
fn fill_program_page(bytes: &mut [u8], page: Word, segments: &[Segment], elf: &[u8]) {
    bytes.fill(0);
    for &(vaddr, offset, filesz, _, _) in segments {
        let start = vaddr.max(page);
        let end = (vaddr + filesz).min(page + PAGE);
        if start < end {
            let src = (offset + start - vaddr) as usize;
            bytes[(start - page) as usize..(end - page) as usize].copy_from_slice(&elf[src..src + (end - start) as usize]);
        }
    }
}

/// A program as loaded: its entry point, its segments and, for a restartable PD, a copy of the
/// cap of each writable page with its address (what a restart refills).
struct Loaded {
    entry: Word,
    segments: Vec<Segment>,
    writable_pages: Vec<(CPtr, Word)>,
}

/// Loads a program into `vspace`, keeping its writable pages' caps if `keep`.
fn load_elf(objects: &mut Objects, pd: &str, vspace: CPtr, elf: &[u8], keep: bool) -> Loaded {
    let bad = |what: &str| -> ! { console::fatal(format_args!("PD {pd}: program: {what}")) };
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) {
        bad("not a 64-bit ELF");
    }
    let entry = le(elf, 0x18, 8).unwrap_or_else(|| bad("truncated header"));
    let phoff = le(elf, 0x20, 8).unwrap_or_else(|| bad("truncated header")) as usize;
    let phentsize = le(elf, 0x36, 2).unwrap_or_else(|| bad("truncated header")) as usize;
    let phnum = le(elf, 0x38, 2).unwrap_or_else(|| bad("truncated header")) as usize;
    let mut segments: Vec<Segment> = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let field = |o: usize, n: usize| le(elf, ph + o, n).unwrap_or_else(|| bad("truncated program header"));
        if field(0, 4) != 1 {
            continue;
        }
        let (flags, offset, vaddr, filesz, memsz) = (field(4, 4), field(8, 8), field(0x10, 8), field(0x20, 8), field(0x28, 8));
        if offset.checked_add(filesz).is_none_or(|end| end > elf.len() as Word) || filesz > memsz {
            bad("segment outside the file");
        }
        segments.push((vaddr, offset, filesz, memsz, flags & 2 != 0));
    }
    // Pages, each writable if any segment on it is (segments may share a boundary page).
    let mut pages: Vec<(Word, bool)> = Vec::new();
    for &(vaddr, _, _, memsz, writable) in &segments {
        let mut page = vaddr & !(PAGE - 1);
        while page < vaddr + memsz {
            match pages.iter_mut().find(|p| p.0 == page) {
                Some(p) => p.1 |= writable,
                None => pages.push((page, writable)),
            }
            page += PAGE;
        }
    }
    let mut kept = Vec::new();
    for (page, writable) in pages {
        let frame = objects.create(ty::seL4_X86_4K, 0);
        fill_frame(objects, frame, |bytes| fill_program_page(bytes, page, &segments, elf));
        if keep && writable {
            kept.push((objects.copy(frame, CapRights::ALL), page));
        }
        let rights = if writable { CapRights::READ_WRITE } else { CapRights::READ };
        map_or_die(objects, pd, vspace, frame, page, rights, vm_attributes::DEFAULT);
    }
    Loaded { entry, segments, writable_pages: kept }
}

/// Creates every region and PD, wires the channels and starts the PDs.
pub fn build_system(
    objects: &mut Objects,
    system: &System,
    image: &[u8],
    modules: &crate::boot_modules::BootModules,
    tsc_mhz: Word,
    pci: &[pci::Function],
    iommu: Iommu,
    cores: Word,
) -> Vec<RunningPd> {
    let confined_devices = system.pds.iter().flat_map(|pd| &pd.pci_devices).filter(|d| d.io_space.is_some()).count();
    match iommu {
        Iommu::On { levels } => println!("iommu: VT-d on ({levels}-level IO page tables): each PCI device reaches only its io_address_space"),
        Iommu::Off(why) if confined_devices > 0 && system.iommu_required => console::fatal(format_args!(
            "iommu: {why}; system.xml requires it (iommu=\"required\") for {confined_devices} devices: not starting"
        )),
        Iommu::Off(why) if confined_devices > 0 => println!("iommu: {why}; device DMA is NOT confined (system.xml: iommu=\"optional\")"),
        Iommu::Off(why) => println!("iommu: {why}"),
    }
    let fault_ep = FAULT_EP.get_or_create(objects);
    let apic_ids = core_apic_ids(objects, cores, tsc_mhz);
    if cores > 1 {
        println!("cores: local APIC ids {apic_ids:?} (core 0 first)");
    }
    // The boot core's id is used as is: an MSI names 8 bits, and the box's boot core is APIC 0.
    // Another core's id above 0xff is replaced by the boot core's (core_apic_ids); the boot
    // core's own cannot be, so it is said.
    if apic_ids[0] > 0xff {
        println!("boot core: local APIC id {:#x} does not fit an MSI's 8 bits: MSI and MSI-X interrupts cannot reach it", apic_ids[0]);
    }
    let pd_apic = |pd: &sel4_system_spec::ProtectionDomain| apic_ids[(Word::from(pd.cpu) % cores.max(1)) as usize] as u8;
    let boot_tsc = rdtsc();
    let boot_unix_ns = crate::rtc::unix_ns(init_cap::seL4_CapIOPort).unwrap_or_else(|| {
        println!("the CMOS clock could not be read: PDs get no wall-clock time");
        0
    });
    println!("wall clock at boot: {} s since 1970 (CMOS RTC)", boot_unix_ns / 1_000_000_000);
    // Region frames, created once; each mapping maps copies of these caps. RAM regions are
    // physically contiguous so that a driver can hand them to a device for DMA.
    let region_frames: Vec<Vec<CPtr>> = system
        .regions
        .iter()
        .map(|r| match r.phys_addr {
            None => objects.contiguous_frames(r.size / PAGE),
            Some(base) => (0..r.size / PAGE)
                .map(|k| {
                    objects.device_frame(base + k * PAGE).unwrap_or_else(|e| {
                        console::fatal(format_args!("memory_region {} at {:#x}: {e}", r.name, base + k * PAGE))
                    })
                })
                .collect(),
        })
        .collect();
    let mut contents = crate::region_contents::initial_contents(system, image, modules);
    for (bytes, frames) in contents.iter().zip(&region_frames) {
        let Some(bytes) = bytes else { continue };
        for (chunk, &frame) in bytes.chunks(PAGE as usize).zip(frames) {
            fill_frame(objects, frame, |page| page[..chunk.len()].copy_from_slice(chunk));
        }
    }
    // The peers and prefixes of each config a heap is sized on, counted before the keys are wiped.
    let sizes: Vec<Option<ConfigSize>> = (0..system.regions.len())
        .map(|r| system.pds.iter().any(|pd| pd.heap_peers_of == Some(r as u32)).then(|| config_size(&system.regions[r].name, &contents[r])))
        .collect();
    crate::region_contents::wipe(&mut contents);
    if let Some(index) = system.console_log {
        hand_over_console(objects, system, index as usize, &region_frames[index as usize]);
    }

    let mut pds = Vec::new();
    for (index, pd) in system.pds.iter().enumerate() {
        let name = pd.name.as_str();
        let cnode = objects.create(ty::seL4_CapTableObject, layout::CNODE_BITS);
        let vspace = objects.create(ty::seL4_X64_PML4Object, 0);
        if let Err(e) = sel4_abi::asid_pool_assign(init_cap::seL4_CapInitThreadASIDPool, vspace) {
            console::fatal(format_args!("PD {name}: ASID assignment: {e}"));
        }
        let elf = &image[pd.elf_offset as usize..(pd.elf_offset + pd.elf_len) as usize];
        let Loaded { entry, segments, writable_pages } = load_elf(objects, name, vspace, elf, pd.restartable);
        let segments = if pd.restartable { segments } else { Vec::new() };
        let mut scratch_frames = Vec::new();
        // The stack, with the page below it left unmapped as a guard.
        for k in 0..pd.stack_pages as Word {
            let frame = objects.create(ty::seL4_X86_4K, 0);
            if pd.restartable {
                scratch_frames.push(objects.copy(frame, CapRights::ALL));
            }
            map_or_die(objects, name, vspace, frame, layout::STACK_TOP - (k + 1) * PAGE, CapRights::READ_WRITE, vm_attributes::DEFAULT);
        }
        let ipc_frame = objects.create(ty::seL4_X86_4K, 0);
        if pd.restartable {
            scratch_frames.push(objects.copy(ipc_frame, CapRights::ALL));
        }
        map_or_die(objects, name, vspace, ipc_frame, layout::IPC_BUFFER_VADDR, CapRights::READ_WRITE, vm_attributes::DEFAULT);
        // The heap, zeroed again on a restart (it may hold keys).
        let heap_bytes = heap_bytes(pd, &sizes, system);
        for k in 0..heap_bytes / PAGE {
            let frame = objects.create(ty::seL4_X86_4K, 0);
            if pd.restartable {
                scratch_frames.push(objects.copy(frame, CapRights::ALL));
            }
            map_or_die(objects, name, vspace, frame, layout::HEAP_VADDR + k * PAGE, CapRights::READ_WRITE, vm_attributes::DEFAULT);
        }

        let mut info = PdInfo {
            magic: pd_info::MAGIC,
            name: pd_info::name_bytes(name),
            notify_channels: 0,
            ppcall_channels: 0,
            irq_channels: 0,
            tsc_mhz,
            boot_unix_ns,
            boot_tsc,
            heap_bytes,
            ioports: [[0; 2]; layout::MAX_IOPORT_RANGES as usize],
            pci_count: 0,
            pci: [pd_info::PciInfo::default(); pd_info::MAX_PCI],
            region_count: 0,
            regions: [RegionInfo { name: [0; pd_info::NAME_LEN], vaddr: 0, size: 0, paddr: 0 }; pd_info::MAX_REGIONS],
        };
        for m in &pd.maps {
            let rights = match (m.perms.read, m.perms.write) {
                (_, true) => CapRights::READ_WRITE,
                _ => CapRights::READ,
            };
            let attributes = if m.uncached { vm_attributes::CACHE_DISABLED } else { vm_attributes::DEFAULT };
            let frames = &region_frames[m.region as usize];
            for (k, &frame) in frames.iter().enumerate() {
                let copy = objects.copy(frame, CapRights::ALL);
                map_or_die(objects, name, vspace, copy, m.vaddr + k as Word * PAGE, rights, attributes);
            }
            if !m.setvar.is_empty() {
                let slot = &mut info.regions[info.region_count as usize];
                slot.name = pd_info::name_bytes(&m.setvar);
                slot.vaddr = m.vaddr;
                slot.size = system.regions[m.region as usize].size;
                slot.paddr = frames.first().and_then(|&f| sel4_abi::page_get_address(f).ok()).unwrap_or(0);
                info.region_count += 1;
            }
        }

        let endpoint = objects.create(ty::seL4_EndpointObject, 0);
        let notification = objects.create(ty::seL4_NotificationObject, 0);
        let tcb = objects.create(ty::seL4_TCBObject, 0);
        give(cnode, layout::SLOT_ENDPOINT, endpoint, CapRights::ALL, None);
        give(cnode, layout::SLOT_FAULT, fault_ep, SEND_GRANT, Some(index as Word + 1));
        if sel4_abi::TRACKS_UTILISATION {
            // Bench kernels only: the PD reads its own CPU time (pd-runtime's status page).
            give(cnode, layout::SLOT_OWN_TCB, tcb, CapRights::ALL, None);
        }
        for io in &pd.ioports {
            // Minting the I/O-port cap with (first, last) narrows it to that range (5.0).
            let last = io.base as Word + io.size as Word - 1;
            give(cnode, layout::SLOT_IOPORT + io.id as Word, init_cap::seL4_CapIOPort, CapRights::ALL, Some((io.base as Word) << 16 | last));
            info.ioports[io.id as usize] = [io.base, io.size];
        }
        pds.push(PdObjects {
            cnode,
            vspace,
            tcb,
            endpoint,
            notification,
            ipc_frame,
            entry,
            info,
            segments,
            writable_pages,
            scratch_frames,
            irq_handlers: Vec::new(),
            pci_functions: Vec::new(),
        });
    }
    if let Some(reader) = console::reader_pd() {
        // The doorbell: the root task signals the reader after each line it appends, so lines
        // reach COM1 as soon as the serial PD runs rather than at its next timer tick.
        let slot = objects.slot();
        let root = init_cap::seL4_CapInitThreadCNode;
        let badge = layout::notify_bit(layout::CONSOLE_LOG_CHANNEL);
        match sel4_abi::cnode_mint(root, slot, ROOT_DEPTH, root, pds[reader].notification, ROOT_DEPTH, CapRights::WRITE, badge) {
            Ok(()) => console::set_doorbell(slot),
            Err(e) => println!("console log: no doorbell ({e}); the serial PD drains it on its ticks"),
        }
    }

    for c in &system.channels {
        for (from, to, calls, notifies) in [(c.a, c.b, c.a_calls_b, c.a_notifies_b), (c.b, c.a, c.b_calls_a, c.b_notifies_a)] {
            let (peer_ntfn, peer_ep) = (pds[to.0 as usize].notification, pds[to.0 as usize].endpoint);
            let me = &mut pds[from.0 as usize];
            // An end with notify="false" gets no capability to signal its peer: the channel
            // carries information one way only, as the isolation check assumed.
            if notifies {
                give(me.cnode, layout::SLOT_NOTIFY + from.1 as Word, peer_ntfn, CapRights::WRITE, Some(layout::notify_bit(to.1)));
                me.info.notify_channels |= 1 << from.1;
            }
            if calls {
                give(me.cnode, layout::SLOT_PPCALL + from.1 as Word, peer_ep, SEND_GRANT, Some(layout::PPCALL_BADGE_FLAG | to.1 as Word));
                me.info.ppcall_channels |= 1 << from.1;
            }
        }
    }

    // Every PCI function goes to one PD only, however system.xml names it (by id in one place, by
    // address in another): a second claim would also add to the device's IO space.
    let mut claimed: Vec<(u8, u8, u8, &str)> = Vec::new();
    // The firmware's ACPI tables, read when the first INTx device needs its route.
    let mut acpi: Option<Result<crate::acpi::Router, String>> = None;
    for (pd, objs) in system.pds.iter().zip(pds.iter_mut()) {
        for irq in &pd.irqs {
            let IrqSource::IoApic { pin, level, active_low } = irq.source;
            wire_ioapic(objects, &pd.name, objs, pin, level, active_low, irq.id);
        }
        for device in &pd.pci_devices {
            let f = find_pci(pci, device.select).unwrap_or_else(|| {
                console::fatal(format_args!("PD {}: PCI device {} not found (see the PCI lines above)", pd.name, describe(device.select)))
            });
            if let Some(&(_, _, _, other)) = claimed.iter().find(|c| (c.0, c.1, c.2) == (f.bus, f.dev, f.func)) {
                console::fatal(format_args!("PD {}: PCI {:02x}:{:02x}.{} is already given to PD {other}", pd.name, f.bus, f.dev, f.func));
            }
            claimed.push((f.bus, f.dev, f.func, pd.name.as_str()));
            for bar in &device.bars {
                let Some((kind, base, size)) = f.bars[bar.index as usize].filter(|b| b.0 != pci::BarKind::Io) else {
                    console::fatal(format_args!("PD {}: PCI {:02x}:{:02x}.{} has no memory BAR {}", pd.name, f.bus, f.dev, f.func, bar.index))
                };
                // Pages are the unit of mapping: a BAR not page-aligned (firmware may pack small
                // BARs) would put its registers off the PD's address and hand it whatever shares
                // the page, another function's registers perhaps. Refused, named.
                if base % PAGE != 0 {
                    console::fatal(format_args!(
                        "PD {}: PCI {:02x}:{:02x}.{} BAR {} at {base:#x} is not page-aligned: its page may hold other registers",
                        pd.name, f.bus, f.dev, f.func, bar.index
                    ));
                }
                if size == 0 {
                    console::fatal(format_args!("PD {}: PCI {:02x}:{:02x}.{} BAR {} decodes nothing (size 0)", pd.name, f.bus, f.dev, f.func, bar.index));
                }
                let mapped = size.min(bar.size).next_multiple_of(PAGE);
                let Some(end) = base.checked_add(mapped) else {
                    console::fatal(format_args!("PD {}: PCI {:02x}:{:02x}.{} BAR {} at {base:#x} runs past the end of the address space", pd.name, f.bus, f.dev, f.func, bar.index));
                };
                // Likewise at the end: a BAR that does not fill its last page shares it with
                // whatever firmware put after it.
                if let Some((g, i)) = pci::other_memory_bar_in(pci, f, base, end) {
                    console::fatal(format_args!(
                        "PD {}: PCI {:02x}:{:02x}.{} BAR {}'s pages {base:#x}+{mapped:#x} also hold PCI {:02x}:{:02x}.{} BAR {i}: they would hand its registers to this PD",
                        pd.name, f.bus, f.dev, f.func, bar.index, g.bus, g.dev, g.func
                    ));
                }
                if size < bar.size {
                    println!(
                        "PD {}: PCI {:02x}:{:02x}.{} BAR {} is {size:#x} bytes, system.xml gives it {:#x}: {mapped:#x} mapped",
                        pd.name, f.bus, f.dev, f.func, bar.index, bar.size
                    );
                }
                for k in 0..mapped / PAGE {
                    let frame = objects.device_frame(base + k * PAGE).unwrap_or_else(|e| {
                        console::fatal(format_args!("PD {}: BAR {} ({kind:?}) page {:#x}: {e}", pd.name, bar.index, base + k * PAGE))
                    });
                    map_or_die(objects, &pd.name, objs.vspace, frame, bar.vaddr + k * PAGE, CapRights::READ_WRITE, vm_attributes::CACHE_DISABLED);
                }
                if !bar.setvar.is_empty() {
                    let slot = &mut objs.info.regions[objs.info.region_count as usize];
                    slot.name = pd_info::name_bytes(&bar.setvar);
                    slot.vaddr = bar.vaddr;
                    slot.size = mapped;
                    slot.paddr = base;
                    objs.info.region_count += 1;
                }
            }
            // Its DMA view is in place before it may master the bus (pci::enable).
            let bdf = (f.bus, f.dev, f.func);
            match (iommu, &device.io_space) {
                (Iommu::On { levels }, Some(space)) => {
                    // The image builder checked this; the root task does not take it on trust.
                    for &(r, write) in &space.maps {
                        let plain_ram = system.regions.get(r as usize).is_some_and(|x| x.phys_addr.is_none()) && system.console_log != Some(r);
                        if !plain_ram || !pd.maps.iter().any(|m| m.region == r && (m.perms.write || !write)) {
                            console::fatal(format_args!(
                                "PD {}: PCI {:02x}:{:02x}.{}: iommu: the device would reach region {}, which is not plain RAM its PD maps{}",
                                pd.name, f.bus, f.dev, f.func, system.regions.get(r as usize).map_or("?", |x| x.name.as_str()), if write { " writable" } else { "" }
                            ));
                        }
                    }
                    let regions: Vec<IoRegion> = space
                        .maps
                        .iter()
                        .map(|&(r, write)| IoRegion { name: &system.regions[r as usize].name, frames: &region_frames[r as usize], write })
                        .collect();
                    match crate::iommu::confine(objects, levels, space.domain_id, bdf, &regions) {
                        Ok(view) => println!("iommu: PCI {:02x}:{:02x}.{} (PD {}) domain {}:{view}", f.bus, f.dev, f.func, pd.name, space.domain_id),
                        Err(e) => console::fatal(format_args!("PD {}: PCI {:02x}:{:02x}.{}: iommu: {e}", pd.name, f.bus, f.dev, f.func)),
                    }
                }
                (Iommu::On { .. }, None) => {
                    println!("iommu: PCI {:02x}:{:02x}.{} (PD {}) has no io_address_space: it can do no DMA", f.bus, f.dev, f.func, pd.name)
                }
                (Iommu::Off(_), _) => {}
            }
            // The function keeps its INTx line quiet (command register's Interrupt Disable)
            // until its handler is bound: firmware may have left it interrupting.
            pci::enable(init_cap::seL4_CapIOPort, f, false);
            match (device.irq_id, device.irq) {
                // Sent to the core the PD runs on: the kernel takes the interrupt there and
                // wakes the PD without an inter-processor interrupt (and black NICs' interrupts
                // never run kernel code on the red core).
                (Some(id), PciIrq::Msi) => wire_msi(objects, &pd.name, objs, f, id, pd_apic(pd)),
                (Some(id), PciIrq::MsiX) => wire_msix(objects, &pd.name, objs, f, id, pd_apic(pd)),
                (Some(id), PciIrq::Intx) => {
                    let route = intx_route(objects, &mut acpi, pci, f, &pd.name);
                    wire_ioapic(objects, &pd.name, objs, route.gsi, route.level, route.active_low, id);
                    pci::enable(init_cap::seL4_CapIOPort, f, true);
                }
                (None, _) => {}
            }
            objs.pci_functions.push((f.clone(), matches!((device.irq_id, device.irq), (Some(_), PciIrq::Intx))));
            let slot = objs.info.pci_count as usize;
            if slot >= pd_info::MAX_PCI {
                console::fatal(format_args!("PD {}: more than {} PCI devices", pd.name, pd_info::MAX_PCI));
            }
            objs.info.pci[slot] = pd_info::PciInfo {
                vendor: f.vendor,
                device: f.device,
                bus: f.bus,
                dev: f.dev,
                func: f.func,
                irq: if device.irq_id.is_some() { device.irq as u8 } else { 0 },
            };
            objs.info.pci_count += 1;
            println!("PD {}: PCI {:02x}:{:02x}.{} {:04x}:{:04x} mapped", pd.name, f.bus, f.dev, f.func, f.vendor, f.device);
        }
    }

    if sel4_abi::TRACKS_UTILISATION {
        // Before any PD runs: each PD's time counts from its first switch-in.
        sel4_abi::benchmark_start_log();
        println!("bench kernel: every thread's CPU time is kept (runtime_cpu_ns on each PD's status); for measurement only: under it any PD can flush the caches or stop the kernel");
    }
    let mut running = Vec::new();
    for (pd, objs) in system.pds.iter().zip(pds) {
        let info_frame = objects.create(ty::seL4_X86_4K, 0);
        fill_frame(objects, info_frame, |bytes| {
            // SAFETY: PdInfo is plain old data that fits in a page (checked at compile time in the
            // spec crate); the page is 4 KiB-aligned, so the write is aligned.
            unsafe { (bytes.as_mut_ptr() as *mut PdInfo).write(objs.info) };
        });
        map_or_die(objects, &pd.name, objs.vspace, info_frame, layout::INFO_VADDR, CapRights::READ, vm_attributes::DEFAULT);
        let guard_bits = 64 - layout::CNODE_BITS;
        let configured = sel4_abi::tcb_configure(
            objs.tcb,
            layout::SLOT_FAULT,
            sel4_abi::prio_props(0, pd.priority),
            objs.cnode,
            sel4_abi::cnode_cap_data(0, guard_bits),
            objs.vspace,
            0,
            layout::IPC_BUFFER_VADDR,
            objs.ipc_frame,
        )
        .and_then(|_| sel4_abi::tcb_bind_notification(objs.tcb, objs.notification));
        // A core this machine does not run (a box with fewer cores, QEMU with fewer vCPUs) is
        // not worth refusing to boot over: placement is about speed, not isolation.
        let core = Word::from(pd.cpu) % cores.max(1);
        if core != Word::from(pd.cpu) {
            println!("PD {}: cpu {} is not among this machine's {cores} cores: placed on core {core}", pd.name, pd.cpu);
        }
        let configured = configured
            .and_then(|_| if core != 0 { sel4_abi::tcb_set_affinity(objs.tcb, core) } else { Ok(()) })
            .and_then(|_| sel4_abi::tcb_start(objs.tcb, objs.entry, layout::STACK_TOP, 0, true));
        if let Err(e) = configured {
            console::fatal(format_args!("PD {}: starting its thread: {e}", pd.name));
        }
        println!(
            "started PD {} (priority {}, core {core}, entry {:#x}, {} regions)",
            pd.name, pd.priority, objs.entry, objs.info.region_count
        );
        running.push(RunningPd {
            tcb: objs.tcb,
            entry: objs.entry,
            elf: (pd.elf_offset as usize, pd.elf_len as usize),
            segments: objs.segments,
            writable_pages: objs.writable_pages,
            scratch_frames: objs.scratch_frames,
            irq_handlers: objs.irq_handlers,
            pci_functions: objs.pci_functions,
            restartable: pd.restartable,
            restart_with: pd.restart_with.iter().map(|&k| k as usize).collect(),
            inject_fault_ms: pd.inject_fault_ms,
            inject_stall_ms: pd.inject_stall_ms,
            restarts: 0,
            streak: 0,
            restarted_tsc: None,
        });
    }
    running
}

/// What sizes the heaps of the PDs that read an encryptor config.
#[derive(Clone, Copy, Default)]
struct ConfigSize {
    /// The text's bytes: each PD copies the file out of its region before it parses it.
    bytes: usize,
    /// `[Peer]` sections.
    peers: usize,
    /// AllowedIPs networks (each once) and explicit rules ([`encryptor_config::Config::prefixes`]).
    prefixes: usize,
}

/// The size of the encryptor config in region `name`, read as the PDs read it (up to its first
/// NUL). Nothing, with the reason on the console, if it does not parse: the PDs then refuse to
/// start and name the problem themselves, if their fixed heap holds what they read before it.
fn config_size(name: &str, contents: &Option<Vec<u8>>) -> ConfigSize {
    let Some(bytes) = contents.as_deref() else { return ConfigSize::default() };
    let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
    let Ok(text) = core::str::from_utf8(bytes) else {
        println!("memory_region {name}: not UTF-8: heaps sized on its peers get their fixed part only");
        return ConfigSize::default();
    };
    match encryptor_config::Config::parse(text) {
        Ok(c) => ConfigSize { bytes: text.len(), peers: c.crypto.peers.len(), prefixes: c.prefixes },
        // The error names a line and key, never a key's value (ConfigError's Display).
        Err(e) => {
            println!("memory_region {name}: does not parse ({e}): heaps sized on it get their fixed part only");
            ConfigSize::default()
        }
    }
}

/// A PD's heap in bytes: system.xml's `heap_size`, plus, for the config named by
/// `heap_peers_of`, `heap_per_peer` for each peer, `heap_per_prefix` for each prefix, and the
/// text's own size (the copy the PD parses: a config long with comments holds few peers),
/// rounded up to whole pages, at most [`layout::MAX_HEAP_BYTES`].
fn heap_bytes(pd: &sel4_system_spec::ProtectionDomain, sizes: &[Option<ConfigSize>], system: &System) -> Word {
    let fixed = Word::from(pd.heap_pages) * PAGE;
    let Some(r) = pd.heap_peers_of else { return fixed };
    let size = sizes.get(r as usize).copied().flatten().unwrap_or_default();
    let (n, a) = (size.peers as Word, size.prefixes as Word);
    let (per_peer, per_prefix) = (Word::from(pd.heap_bytes_per_peer), Word::from(pd.heap_bytes_per_prefix));
    let text = size.bytes as Word;
    let want = fixed
        .saturating_add(text)
        .saturating_add(n.saturating_mul(per_peer))
        .saturating_add(a.saturating_mul(per_prefix))
        .saturating_add(PAGE - 1)
        / PAGE
        * PAGE;
    let bytes = want.min(layout::MAX_HEAP_BYTES);
    let source = system.regions.get(r as usize).map_or("?", |x| x.name.as_str());
    println!(
        "PD {}: heap {} KiB ({} KiB + {n} peers of {source} x {} KiB + {a} prefixes x {per_prefix} B + its {text} bytes){}",
        pd.name,
        bytes / 1024,
        fixed / 1024,
        per_peer / 1024,
        if bytes < want { " (cut to the most a PD gets)" } else { "" }
    );
    bytes
}

fn find_pci(pci: &[pci::Function], select: PciSelect) -> Option<&pci::Function> {
    match select {
        PciSelect::Id { vendor, device, index } => {
            pci.iter().filter(|f| f.vendor == vendor && f.device == device).nth(index as usize)
        }
        PciSelect::Address { bus, dev, func } => pci.iter().find(|f| (f.bus, f.dev, f.func) == (bus, dev, func)),
    }
}

fn describe(select: PciSelect) -> alloc::string::String {
    match select {
        PciSelect::Id { vendor, device, index } => alloc::format!("{vendor:04x}:{device:04x} #{index}"),
        PciSelect::Address { bus, dev, func } => alloc::format!("{bus:02x}:{dev:02x}.{func}"),
    }
}

/// Issues the IRQ handler of an IOAPIC pin, delivers it to the PD's notification on channel
/// `id`, and gives the PD the handler cap (for `irq_ack`).
fn wire_ioapic(objects: &mut Objects, pd: &str, objs: &mut PdObjects, pin: u32, level: bool, active_low: bool, id: u32) {
    let handler = objects.slot();
    let args = [handler, ROOT_DEPTH, 0, pin as Word, level as Word, active_low as Word, FIRST_IOAPIC_IRQ + pin as Word];
    if let Err(e) = sel4_abi::invoke(init_cap::seL4_CapIRQControl, label::X86IRQIssueIRQHandlerIOAPIC, &args, &[init_cap::seL4_CapInitThreadCNode]) {
        console::fatal(format_args!("PD {pd}: IOAPIC pin {pin} (already given to another PD?): {e}"));
    }
    bind_irq(objects, pd, objs, handler, id);
}

/// Where `f`'s INTx line arrives: the ACPI `_PRT`'s answer (the tables parsed on first use,
/// into `acpi`). Without one (no ACPI, AML the crate cannot run) the interrupt line register is
/// taken as the IOAPIC pin, as on the pc machine's PIIX, and the console says so: on a PCIe
/// chipset that pin may be the wrong one.
fn intx_route(
    objects: &mut Objects,
    acpi: &mut Option<Result<crate::acpi::Router, String>>,
    pci: &[pci::Function],
    f: &pci::Function,
    pd: &str,
) -> crate::acpi::IntxRoute {
    let bdf = alloc::format!("{:02x}:{:02x}.{}", f.bus, f.dev, f.func);
    // A function without an interrupt pin has no INTx to route (the line register is then
    // meaningless, not a route).
    if !(1..=4).contains(&f.irq_pin) {
        console::fatal(format_args!(
            "PD {pd}: PCI {bdf} has no INTx pin (interrupt pin register {}): give it irq=\"msi\" or irq=\"msix\" in system.xml",
            f.irq_pin
        ));
    }
    if acpi.is_none() {
        let mut read = |paddr: u64, buf: &mut [u8]| read_phys(objects, paddr, buf);
        let router = crate::acpi::Router::new(&mut read, init_cap::seL4_CapIOPort);
        if let Err(e) = &router {
            println!("acpi: no INTx routing from the firmware's tables: {e}");
        }
        *acpi = Some(router);
    }
    let pin = (b'A' + f.irq_pin - 1) as char;
    let found = match acpi {
        Some(Ok(router)) => router.route(pci, f, f.irq_pin),
        _ => Err("no ACPI tables".into()),
    };
    let route = match found {
        Ok((route, how)) => {
            println!(
                "PD {pd}: PCI {bdf} INT{pin} -> GSI {} ({}, active {}; ACPI {how})",
                route.gsi,
                if route.level { "level" } else { "edge" },
                if route.active_low { "low" } else { "high" }
            );
            route
        }
        Err(e) => {
            if f.irq_line == 0 || f.irq_line >= 24 {
                console::fatal(format_args!("PD {pd}: PCI {bdf} INT{pin}: no route ({e}) and no IOAPIC interrupt line"));
            }
            println!("PD {pd}: PCI {bdf} INT{pin}: no ACPI route ({e}); taking the interrupt line register ({}) as the IOAPIC pin", f.irq_line);
            // PCI INTx is level-triggered, active high as the PIIX delivers it to the IOAPIC.
            crate::acpi::IntxRoute { gsi: f.irq_line as u32, level: true, active_low: false }
        }
    };
    if route.gsi >= 24 {
        console::fatal(format_args!("PD {pd}: PCI {bdf}: GSI {} is beyond the first IOAPIC's 24 inputs, which is all this root task wires", route.gsi));
    }
    route
}

/// Copies physical memory (firmware tables) through device frames mapped for a moment (each read
/// costs a root CNode slot: a few hundred for the tables of a PC). Pages that are RAM the kernel
/// gave out as untyped memory cannot be read this way (an error).
fn read_phys(objects: &mut Objects, paddr: u64, buf: &mut [u8]) -> Result<(), &'static str> {
    let mut done = 0;
    while done < buf.len() {
        let at = paddr + done as u64;
        let (page, offset) = (at & !(PAGE - 1), (at & (PAGE - 1)) as usize);
        let n = (PAGE as usize - offset).min(buf.len() - done);
        let frame = objects.device_frame(page)?;
        with_frame(objects, frame, vm_attributes::DEFAULT, |bytes| buf[done..done + n].copy_from_slice(&bytes[offset..offset + n]));
        done += n;
    }
    Ok(())
}

/// IRQ numbers for IOAPIC pins: FIRST_IOAPIC_IRQ + pin (24 pins), so vectors 0x30 + pin. These
/// low gates are the ones an unpatched 5.0 kernel overwrote (platforms/sel4/kernel/patches/0003), so
/// tests/sel4/system-irq-concurrent.xml also guards that patch.
const FIRST_IOAPIC_IRQ: Word = 0;
/// MSIs take the IRQ numbers after the IOAPIC's.
const FIRST_MSI_IRQ: Word = FIRST_IOAPIC_IRQ + 24;
/// The kernel's vector for IRQ number n is n + 16 (PIC lines) + 0x20 (exceptions).
const IRQ_VECTOR_OFFSET: Word = 0x30;
static NEXT_MSI: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(FIRST_MSI_IRQ);

/// Issues an MSI IRQ handler for a PCI function, programs the function's MSI capability with
/// the matching vector, and delivers it to the PD on channel `id`.
fn wire_msi(objects: &mut Objects, pd: &str, objs: &mut PdObjects, f: &pci::Function, id: u32, apic: u8) {
    let irq = NEXT_MSI.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let handler = objects.slot();
    let args = [handler, ROOT_DEPTH, f.bus as Word, f.dev as Word, f.func as Word, 0, irq];
    if let Err(e) = sel4_abi::invoke(init_cap::seL4_CapIRQControl, label::X86IRQIssueIRQHandlerMSI, &args, &[init_cap::seL4_CapInitThreadCNode]) {
        console::fatal(format_args!("PD {pd}: MSI IRQ {irq}: {e}"));
    }
    bind_irq(objects, pd, objs, handler, id);
    if let Err(e) = pci::program_msi(init_cap::seL4_CapIOPort, f, apic, (irq + IRQ_VECTOR_OFFSET) as u8) {
        console::fatal(format_args!("PD {pd}: PCI {:02x}:{:02x}.{} {e}", f.bus, f.dev, f.func));
    }
}

/// Issues an MSI IRQ handler for a PCI function, points every entry of its MSI-X table at it
/// (so the driver may spread its causes over vectors and still have one interrupt), and delivers
/// it to the PD on channel `id`. The table lives in one of the function's memory BARs, which the
/// root task maps (uncached) just long enough to write it.
fn wire_msix(objects: &mut Objects, pd: &str, objs: &mut PdObjects, f: &pci::Function, id: u32, apic: u8) {
    let bdf = alloc::format!("{:02x}:{:02x}.{}", f.bus, f.dev, f.func);
    let fail = |e: &dyn core::fmt::Display| -> ! { console::fatal(format_args!("PD {pd}: PCI {bdf}: MSI-X: {e}")) };
    let table = pci::msix_table(init_cap::seL4_CapIOPort, f).unwrap_or_else(|e| fail(&e));
    // BIR is 3 bits; 6 and 7 are reserved (a device naming them is refused, not indexed).
    let Some(Some((pci::BarKind::Mem32 | pci::BarKind::Mem64, bar_base, bar_size))) = f.bars.get(usize::from(table.bar)).copied() else {
        fail(&alloc::format!("its table is in BAR {}, which is not a memory BAR", table.bar))
    };
    let table_bytes = u64::from(table.entries) * pci::MSIX_ENTRY_BYTES;
    if u64::from(table.offset) + table_bytes > bar_size {
        fail(&alloc::format!("its table (offset {:#x}, {} entries) overruns BAR {}", table.offset, table.entries, table.bar));
    }
    let irq = NEXT_MSI.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let handler = objects.slot();
    let args = [handler, ROOT_DEPTH, f.bus as Word, f.dev as Word, f.func as Word, 0, irq];
    if let Err(e) = sel4_abi::invoke(init_cap::seL4_CapIRQControl, label::X86IRQIssueIRQHandlerMSI, &args, &[init_cap::seL4_CapInitThreadCNode]) {
        fail(&alloc::format!("IRQ {irq}: {e}"));
    }
    bind_irq(objects, pd, objs, handler, id);
    pci::msix_enable_masked(init_cap::seL4_CapIOPort, f).unwrap_or_else(|e| fail(&e));
    let (address, data) = (pci::msi_address(apic), (irq + IRQ_VECTOR_OFFSET) as u32);
    let start = bar_base + u64::from(table.offset);
    let mut page = start & !(PAGE - 1);
    while page < start + table_bytes {
        let frame = objects.device_frame(page).unwrap_or_else(|e| fail(&alloc::format!("table page {page:#x}: {e}")));
        with_frame(objects, frame, vm_attributes::CACHE_DISABLED, |bytes| {
            for i in 0..u64::from(table.entries) {
                let entry = start + i * pci::MSIX_ENTRY_BYTES;
                if entry < page || entry >= page + PAGE {
                    continue;
                }
                let at = (entry - page) as usize;
                for (k, value) in [address, 0, data, 0].into_iter().enumerate() {
                    // SAFETY: `at + 4k + 4 <= PAGE` (entries are 16-byte aligned in a page the
                    // closure owns, mapped uncached); a volatile 32-bit store is the access size
                    // MSI-X tables require.
                    unsafe { core::ptr::write_volatile(bytes.as_mut_ptr().add(at + 4 * k) as *mut u32, value) };
                }
            }
        });
        page += PAGE;
    }
    pci::msix_unmask(init_cap::seL4_CapIOPort, f).unwrap_or_else(|e| fail(&e));
    println!("PD {pd}: PCI {bdf} MSI-X: {} entries in BAR {} at {:#x} -> vector {data:#x} on APIC {apic}", table.entries, table.bar, table.offset);
}

/// The local APIC id of the core the caller runs on: the x2APIC id (CPUID leaf 0xB; the kernel
/// runs the APICs in x2APIC mode) where the CPU has that leaf, else the initial APIC id (leaf 1).
fn apic_id() -> u32 {
    use core::arch::x86_64::__cpuid;
    if __cpuid(0).eax >= 0xb && __cpuid(0xb).ebx != 0 {
        __cpuid(0xb).edx
    } else {
        __cpuid(1).ebx >> 24
    }
}

/// Delivers an issued IRQ handler's interrupts to the PD's notification on channel `id`, and
/// gives the PD the handler cap (for `irq_ack`).
///
/// Issuing a handler unmasks its interrupt at once, before any notification is bound. One that
/// fires in between (a timer or a device that firmware left running) is "Undelivered" and the
/// kernel masks it until the handler is acked, which a PD waiting for its first interrupt would
/// never do. So the handler is acked once here, after binding: a masked line is unmasked and a
/// still-asserted one is delivered to the PD. An edge that came and went before the bind is
/// gone; the PD runtime makes every PD poll its devices once after `init` for that.
fn bind_irq(objects: &mut Objects, pd: &str, objs: &mut PdObjects, handler: CPtr, id: u32) {
    let badged = objects.slot();
    let root = init_cap::seL4_CapInitThreadCNode;
    let minted = sel4_abi::cnode_mint(root, badged, ROOT_DEPTH, root, objs.notification, ROOT_DEPTH, CapRights::WRITE, layout::notify_bit(id));
    let bound = minted
        .and_then(|_| sel4_abi::invoke(handler, label::IRQSetIRQHandler, &[], &[badged]).map(drop))
        .and_then(|_| sel4_abi::invoke(handler, label::IRQAckIRQ, &[], &[]).map(drop));
    if let Err(e) = bound {
        console::fatal(format_args!("PD {pd}: IRQ channel {id} to its notification: {e}"));
    }
    give(objs.cnode, layout::SLOT_IRQ + id as Word, handler, CapRights::ALL, None);
    objs.info.irq_channels |= 1 << id;
    objs.irq_handlers.push(handler);
}

/// The fault endpoint, created on first use.
/// (An atomic: the restart timer thread reads it too, after it was created.)
struct FaultEndpoint(core::sync::atomic::AtomicU64);
static FAULT_EP: FaultEndpoint = FaultEndpoint(core::sync::atomic::AtomicU64::new(0));

impl FaultEndpoint {
    fn get_or_create(&self, objects: &mut Objects) -> CPtr {
        if self.get() == 0 {
            self.0.store(objects.create(ty::seL4_EndpointObject, 0), core::sync::atomic::Ordering::Release);
        }
        self.get()
    }

    fn get(&self) -> CPtr {
        self.0.load(core::sync::atomic::Ordering::Acquire)
    }
}

/// How long every PD must stay blocked before the system counts as idle: longer than the gaps
/// between the interrupts a PD waits for (a timer PD's ticks), so that waiting for the next
/// interrupt is not mistaken for having finished.
const IDLE_SETTLE_MS: u64 = 100;
/// A gap this long between two polls means another thread ran meanwhile (kernel timer ticks
/// alone take a few microseconds).
const ACTIVITY_GAP_US: u64 = 500;
/// Where the idle watcher's IPC buffer is mapped in the root task.
const WATCHER_IPC_VADDR: Word = 0x3f10_0000;
const WATCHER_STACK_BYTES: usize = 16 * 1024;

fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The idle watcher's stack (a second thread of the root task).
#[repr(align(16))]
struct WatcherStack(#[allow(dead_code)] [u8; WATCHER_STACK_BYTES]);
static mut WATCHER_STACK: WatcherStack = WatcherStack([0; WATCHER_STACK_BYTES]);
/// TSC MHz and the number of PDs, for the watcher (written before it starts).
static WATCHER_TSC_MHZ: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// The idle watcher: a root-task thread at priority 0, below every PD and below the root task's
/// main thread, so it runs only when every other thread is blocked. When that lasts
/// IDLE_SETTLE_MS with no sign of anyone running in between, it reports the system idle and
/// ends QEMU through the isa-debug-exit port.
extern "C" fn idle_watcher() -> ! {
    let tsc_mhz = WATCHER_TSC_MHZ.load(core::sync::atomic::Ordering::Relaxed).max(1);
    let (settle, gap) = (IDLE_SETTLE_MS * 1000 * tsc_mhz, ACTIVITY_GAP_US * tsc_mhz);
    let mut idle_since = rdtsc();
    let mut last = idle_since;
    loop {
        let now = rdtsc();
        if now.wrapping_sub(last) > gap {
            idle_since = now;
        }
        last = now;
        if now.wrapping_sub(idle_since) >= settle {
            console::line_direct(format_args!("SYSTEM idle: every PD is blocked"));
            let _ = sel4_abi::ioport_out32(init_cap::seL4_CapIOPort, DEBUG_EXIT_PORT, 0);
            // Not under QEMU: the watcher's work is done.
            loop {
                sel4_abi::yield_now();
            }
        }
    }
}

/// Starts the idle watcher thread (for systems with exit_when_idle).
fn start_idle_watcher(objects: &mut Objects, tsc_mhz: u64) {
    WATCHER_TSC_MHZ.store(tsc_mhz, core::sync::atomic::Ordering::Relaxed);
    // Only the address of the stack is taken here; the watcher thread is its only user.
    let stack_top = (core::ptr::addr_of_mut!(WATCHER_STACK) as usize + WATCHER_STACK_BYTES) as Word;
    start_root_thread(objects, "idle watcher", idle_watcher, WATCHER_IPC_VADDR, stack_top);
}

/// Starts a second thread of the root task at priority 0 (it runs only when every PD waits),
/// with its own IPC buffer at `ipc_vaddr` and stack below `stack_top`.
fn start_root_thread(objects: &mut Objects, what: &str, entry: extern "C" fn() -> !, ipc_vaddr: Word, stack_top: Word) -> CPtr {
    start_root_thread_on(objects, what, entry, ipc_vaddr, stack_top, 0)
}

/// [`start_root_thread`] on core `core`.
/// Starts a root-task thread at priority 0 on `core`; returns its TCB.
fn start_root_thread_on(objects: &mut Objects, what: &str, entry: extern "C" fn() -> !, ipc_vaddr: Word, stack_top: Word, core: Word) -> CPtr {
    let tcb = objects.create(ty::seL4_TCBObject, 0);
    let ipc = objects.create(ty::seL4_X86_4K, 0);
    let vspace = init_cap::seL4_CapInitThreadVSpace;
    if let Err(e) = objects.map_frame(vspace, ipc, ipc_vaddr, CapRights::READ_WRITE, vm_attributes::DEFAULT) {
        console::fatal(format_args!("{what} IPC buffer: {e}"));
    }
    let started = sel4_abi::tcb_configure(tcb, 0, sel4_abi::prio_props(0, 0), init_cap::seL4_CapInitThreadCNode, 0, vspace, 0, ipc_vaddr, ipc)
        .and_then(|_| if core != 0 { sel4_abi::tcb_set_affinity(tcb, core) } else { Ok(()) })
        // A function is entered with RSP 8 below a 16-byte boundary (as after a call).
        .and_then(|_| sel4_abi::tcb_start(tcb, entry as usize as Word, stack_top - 8, 0, true));
    if let Err(e) = started {
        console::fatal(format_args!("starting the {what}: {e}"));
    }
    tcb
}

/// Where the APIC probes' IPC buffers go, one page per core.
const PROBE_IPC_VADDR: Word = 0x3f30_0000;
const PROBE_STACK_BYTES: usize = 4 * 1024;
const MAX_CORES: usize = sel4_abi::generated::config::CONFIG_MAX_NUM_NODES as usize;
#[repr(align(16))]
struct ProbeStack(#[allow(dead_code)] [u8; PROBE_STACK_BYTES]);
/// The probes' stacks, one per core: a probe stays blocked on its stack for good.
static mut PROBE_STACKS: [ProbeStack; MAX_CORES] = [const { ProbeStack([0; PROBE_STACK_BYTES]) }; MAX_CORES];
/// A probe's answer: its core's local APIC id, with bit 63 set once written.
static PROBED_APIC_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// A notification nobody signals, where each probe waits once it has answered.
static PROBE_REST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The APIC probe: reads the local APIC id of the core it runs on, says it, and blocks for good.
/// (It is not suspended from core 0: with a yield loop here and TCB_Suspend from core 0, boots
/// under QEMU's multi-threaded TCG hung at the probes; the kernel-side cause was not found.)
extern "C" fn apic_probe() -> ! {
    use core::sync::atomic::Ordering;
    PROBED_APIC_ID.store(1 << 63 | u64::from(apic_id()), Ordering::Release);
    loop {
        let _ = sel4_abi::recv(PROBE_REST.load(Ordering::Relaxed));
    }
}

/// The local APIC id of each core the kernel runs, by index: where an interrupt for a PD on that
/// core is sent. seL4 5.0 does not say which APIC a core is, so a root-task thread on each core
/// asks its CPU, then blocks for good. A core whose probe does not answer within five seconds, or
/// whose id does not fit an MSI's 8-bit destination, gets the boot core's (the interrupt then
/// reaches its PD through the kernel's inter-processor interrupt); so do the cores after one whose
/// probe did not answer. The result has one entry per core.
pub fn core_apic_ids(objects: &mut Objects, cores: Word, tsc_mhz: u64) -> Vec<u32> {
    use core::sync::atomic::Ordering;
    let bsp = apic_id();
    let mut ids = vec![bsp];
    PROBE_REST.store(objects.create(ty::seL4_NotificationObject, 0), Ordering::Relaxed);
    for core in 1..cores.min(MAX_CORES as Word) {
        PROBED_APIC_ID.store(0, Ordering::Relaxed);
        // Only the address of the stack is taken here; the probe on that core is its only user.
        let stack_top = (core::ptr::addr_of_mut!(PROBE_STACKS) as usize + (core as usize + 1) * PROBE_STACK_BYTES) as Word;
        start_root_thread_on(objects, "APIC probe", apic_probe, PROBE_IPC_VADDR + core * PAGE, stack_top, core);
        // Seconds, not microseconds: under TCG on a busy host a core's first run can be late.
        let deadline = rdtsc() + 5_000_000 * tsc_mhz.max(1);
        let mut answer = 0;
        while answer == 0 && rdtsc() < deadline {
            answer = PROBED_APIC_ID.load(Ordering::Acquire);
            sel4_abi::yield_now();
        }
        match u32::try_from(answer & !(1 << 63)) {
            Ok(id) if answer != 0 && id <= 0xff => ids.push(id),
            Ok(id) if answer != 0 => {
                println!("core {core}: local APIC id {id:#x} does not fit an MSI: its PDs' MSIs go to the boot core");
                ids.push(bsp);
            }
            _ => {
                // A probe that answers late would write over the next one's answer: stop here.
                println!("core {core}: its APIC probe did not answer: the MSIs of PDs on cores {core}.. go to the boot core");
                break;
            }
        }
    }
    ids.resize(cores.max(1) as usize, bsp);
    ids
}

/// Serves the fault endpoint forever: console lines from PDs (printed whole, then the PD is
/// released), their faults and panics (reported, and the PD restarted with its group, after a
/// growing pause, or given up: see `restart`).
pub fn serve_faults(running: &mut [RunningPd], system: &System, objects: &mut Objects, image: &[u8], tsc_mhz: u64) -> ! {
    let fault_ep = FAULT_EP.get();
    let mut faulted = vec![false; running.len()];
    let mut budgets = vec![LineBudget::new(); running.len()];
    let mut forged_warned = vec![false; running.len()];
    if system.exit_when_idle {
        start_idle_watcher(objects, tsc_mhz);
    }
    start_fault_injector(objects, running, tsc_mhz);
    // Restarts waiting out their back-off: (PD index, TSC when due).
    let mut delayed: Vec<(usize, u64)> = Vec::new();
    let (mut msg, mut badge) = sel4_abi::recv(fault_ep);
    loop {
        if badge == 0 && msg.label() == RESTART_DUE_LABEL {
            // The restart timer (badge 0: only the root task's own threads hold that cap).
            let now = rdtsc();
            for (index, _) in delayed.iter().filter(|&&(_, due)| due <= now) {
                restart_group(objects, running, system, image, *index, &mut faulted);
            }
            delayed.retain(|&(_, due)| due > now);
            arm_restart_timer(objects, &delayed);
            (msg, badge) = sel4_abi::recv(fault_ep);
            continue;
        }
        if msg.label() == layout::LOG_LABEL {
            let index = (badge as usize).wrapping_sub(1);
            let now_ns = (rdtsc() as u128 * 1000 / tsc_mhz.max(1) as u128) as u64;
            match budgets.get_mut(index).map(|b| b.admit(now_ns)) {
                Some(Admit::No) | None => {}
                Some(Admit::Yes) => print_pd_line(msg, badge),
                Some(Admit::AfterDropping(n)) => {
                    // The line first: it is still in the message registers.
                    print_pd_line(msg, badge);
                    let name = system.pds.get(index).map_or("?", |pd| pd.name.as_str());
                    println!(
                        "PD {name}: {n} log lines dropped before its last one (more than {} at once or {} a second)",
                        budget::BURST,
                        budget::LINES_PER_SECOND
                    );
                }
            }
            (msg, badge) = sel4_abi::reply_recv(fault_ep, sel4_abi::MessageInfo::new(0, 0, 0, 0));
            continue;
        }
        // A thread that faulted waits for a reply it never gets: a second fault message under its
        // badge is a PD sending fake ones (with a plain send) to flood the console past its budget.
        let index = (badge as usize).wrapping_sub(1);
        if faulted.get(index) == Some(&true) {
            if !forged_warned[index] {
                forged_warned[index] = true;
                let name = system.pds.get(index).map_or("?", |pd| pd.name.as_str());
                println!("PD {name}: sends fault messages after its fault: ignoring them");
            }
        } else {
            report(system, &mut faulted, msg, badge);
            // The PDs it shares writable memory with (crypto and its workers) stop now: none may
            // go on with state the faulted one left half-written; they restart with it.
            let group = running.get(index).filter(|pd| pd.restartable).map_or(Vec::new(), |pd| pd.restart_with.clone());
            for &k in &group {
                if let (Some(other), Some(spec)) = (running.get(k), system.pds.get(k)) {
                    // If the faulted PD is given up (back_off), they stay stopped with it.
                    match sel4_abi::tcb_suspend(other.tcb) {
                        Ok(()) => out!("RESTART pd={} stopped with {}", spec.name, system.pds.get(index).map_or("?", |p| p.name.as_str())),
                        Err(e) => println!("PD {}: stopping with its group: {e}", spec.name),
                    }
                }
            }
            let mut restart_now = false;
            if let (Some(pd), Some(spec)) = (running.get_mut(index), system.pds.get(index)) {
                // A dead driver's device stops writing memory: left running, a NIC would go on
                // filling the receive buffers it was given (ring slots its peer reuses once the
                // ring is reset). A restart enables it again; the new driver resets it first.
                for (f, _) in &pd.pci_functions {
                    pci::stop_dma(init_cap::seL4_CapIOPort, f);
                }
                if pd.restartable {
                    match back_off(pd, &spec.name, tsc_mhz) {
                        Some(0) => restart_now = true,
                        Some(delay) => {
                            delayed.push((index, rdtsc() + delay));
                            arm_restart_timer(objects, &delayed);
                        }
                        None => {}
                    }
                }
            }
            if restart_now {
                restart_group(objects, running, system, image, index, &mut faulted);
            }
        }
        (msg, badge) = sel4_abi::recv(fault_ep);
    }
}

/// A fault within this long of the PD's last restart continues a streak of faults; a later one
/// (or a PD's first) starts a new streak, and the PD is restarted at once.
const STREAK_GAP_S: u64 = 10;
/// Restarts in one streak before the PD is left stopped: at once, then after 1, 2 and 4 s.
const MAX_STREAK: u32 = 4;

/// When a faulted PD may start again, in TSC ticks from now (0: at once), saying so when it is
/// delayed; `None` (said too) once a streak of [`MAX_STREAK`] restarts did not help: what makes
/// it fault comes back each time, and restarting it for ever would only fill the console.
fn back_off(pd: &mut RunningPd, name: &str, tsc_mhz: u64) -> Option<u64> {
    let second = 1_000_000 * tsc_mhz.max(1);
    let quick = pd.restarted_tsc.is_some_and(|t| rdtsc().wrapping_sub(t) < STREAK_GAP_S * second);
    pd.streak = if quick { pd.streak + 1 } else { 0 };
    if pd.streak >= MAX_STREAK {
        out!("RESTART pd={name} given up: it faulted {} times in a row, each within {STREAK_GAP_S} s of its restart; it stays stopped", pd.streak + 1);
        return None;
    }
    let delay_s = if pd.streak == 0 { 0 } else { 1u64 << (pd.streak - 1) };
    if delay_s > 0 {
        out!("RESTART pd={name} in {delay_s} s (fault {} in a row)", pd.streak + 1);
    }
    Some(delay_s * second)
}

/// The label of the restart timer's message on the fault endpoint: a delayed restart is due.
const RESTART_DUE_LABEL: Word = 0x7a12;
/// The earliest due delayed restart (TSC; 0: none), for the restart timer thread.
static RESTART_DUE_TSC: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Where the restart timer waits: a notification the CMOS RTC's periodic interrupt (8 Hz,
/// IOAPIC pin 8) and the fault loop signal (0: no timer yet).
static RESTART_TIMER_WAKE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// The RTC interrupt's handler (0: none, the timer then polls at the lowest priority).
static RESTART_TIMER_IRQ: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// The RTC's pin on the first IOAPIC (ISA IRQ 8).
const RTC_PIN: Word = 8;
const RESTARTER_IPC_VADDR: Word = 0x3f40_0000;
const RESTARTER_STACK_BYTES: usize = 16 * 1024;
#[repr(align(16))]
struct RestarterStack(#[allow(dead_code)] [u8; RESTARTER_STACK_BYTES]);
static mut RESTARTER_STACK: RestarterStack = RestarterStack([0; RESTARTER_STACK_BYTES]);

/// The restart timer: a root-task thread that waits until the earliest delayed restart is due,
/// then tells the fault loop, which does the restart itself (it alone touches the PDs'
/// objects). seL4 5.0's receive has no timeout, so it wakes on the CMOS RTC's periodic
/// interrupt, above every PD's priority (a restart is not held up by a busy data path; the
/// thread's work per tick is a few instructions). Without that interrupt it polls the TSC at
/// the lowest priority instead, and a busy core delays restarts.
extern "C" fn restart_timer() -> ! {
    use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
    let irq = RESTART_TIMER_IRQ.load(Relaxed);
    loop {
        let due = RESTART_DUE_TSC.load(Acquire);
        if due != 0 && rdtsc() >= due {
            if RESTART_DUE_TSC.compare_exchange(due, 0, AcqRel, Relaxed).is_ok() {
                sel4_abi::send(FAULT_EP.get(), sel4_abi::MessageInfo::new(RESTART_DUE_LABEL, 0, 0, 0));
            }
        } else if due != 0 && irq == 0 {
            sel4_abi::yield_now();
        } else {
            let _ = sel4_abi::recv(RESTART_TIMER_WAKE.load(Relaxed));
            if irq != 0 {
                crate::rtc::periodic_ack(init_cap::seL4_CapIOPort);
                let _ = sel4_abi::irq_ack(irq);
            }
        }
    }
}

/// Points the restart timer at the earliest of `delayed` (starting it on first use).
fn arm_restart_timer(objects: &mut Objects, delayed: &[(usize, u64)]) {
    use core::sync::atomic::Ordering::{Relaxed, Release};
    let Some(due) = delayed.iter().map(|&(_, due)| due).min() else { return };
    if RESTART_TIMER_WAKE.load(Relaxed) == 0 {
        let wake = objects.create(ty::seL4_NotificationObject, 0);
        RESTART_TIMER_WAKE.store(wake, Relaxed);
        match rtc_interrupt(objects, wake) {
            Ok(irq) => RESTART_TIMER_IRQ.store(irq, Relaxed),
            Err(e) => println!("restart timer: no RTC interrupt ({e}): it polls at the lowest priority"),
        }
        let stack_top = (core::ptr::addr_of_mut!(RESTARTER_STACK) as usize + RESTARTER_STACK_BYTES) as Word;
        let tcb = start_root_thread(objects, "restart timer", restart_timer, RESTARTER_IPC_VADDR, stack_top);
        if RESTART_TIMER_IRQ.load(Relaxed) != 0 {
            if let Err(e) = sel4_abi::tcb_set_priority(tcb, 254) {
                println!("restart timer: priority: {e}");
            }
            crate::rtc::periodic_start(init_cap::seL4_CapIOPort);
        }
    }
    RESTART_DUE_TSC.store(due.max(1), Release);
    sel4_abi::signal(RESTART_TIMER_WAKE.load(Relaxed));
}

/// The RTC's periodic interrupt, bound to `wake`: its handler cap.
fn rtc_interrupt(objects: &mut Objects, wake: CPtr) -> Result<CPtr, sel4_abi::Error> {
    let handler = objects.slot();
    let args = [handler, ROOT_DEPTH, 0, RTC_PIN, 0, 0, FIRST_IOAPIC_IRQ + RTC_PIN];
    sel4_abi::invoke(init_cap::seL4_CapIRQControl, label::X86IRQIssueIRQHandlerIOAPIC, &args, &[init_cap::seL4_CapInitThreadCNode])?;
    sel4_abi::invoke(handler, label::IRQSetIRQHandler, &[], &[wake])?;
    sel4_abi::irq_ack(handler)?;
    Ok(handler)
}

/// Starts PD `index` again with fresh state ([`restart`]), then the PDs of its restart group
/// (stopped at its fault). Whichever starts first, none of the old ones runs any more, and the
/// new workers hold no session before the new crypto publishes one (it wipes the session
/// table first).
fn restart_group(objects: &mut Objects, running: &mut [RunningPd], system: &System, image: &[u8], index: usize, faulted: &mut [bool]) {
    let group = running.get(index).map_or(Vec::new(), |pd| pd.restart_with.clone());
    for k in core::iter::once(index).chain(group) {
        if let (Some(pd), Some(spec)) = (running.get_mut(k), system.pds.get(k)) {
            // A member restarted for another's fault keeps its own back-off history: its next
            // fault is judged against its own last fault's restart, not this one.
            let own_restart = pd.restarted_tsc;
            restart(objects, pd, &spec.name, image, k);
            if k != index {
                pd.restarted_tsc = own_restart;
            }
            if let Some(f) = faulted.get_mut(k) {
                *f = false;
            }
        }
    }
}

/// Starts a faulted PD again with fresh state: its program's writable pages as the image has
/// them, stack and IPC buffer zeroed, registers as at boot (RDI: the restart count, so that
/// its rings re-attach); its devices' DMA on again and its interrupts acknowledged (it may
/// have died holding one). The only regions it shares with a PD that writes them too are ring
/// control regions (`restartable`), which pd-ring resets with the peer's consent.
fn restart(objects: &mut Objects, pd: &mut RunningPd, name: &str, image: &[u8], index: usize) {
    if let Err(e) = sel4_abi::tcb_suspend(pd.tcb) {
        println!("PD {name}: restart: suspending: {e}");
        return;
    }

    let elf = &image[pd.elf.0..pd.elf.0 + pd.elf.1];
    for &(frame, page) in &pd.writable_pages {
        fill_frame(objects, frame, |bytes| fill_program_page(bytes, page, &pd.segments, elf));
    }
    for &frame in &pd.scratch_frames {
        fill_frame(objects, frame, |bytes| bytes.fill(0));
    }
    for (f, intx) in &pd.pci_functions {
        pci::enable(init_cap::seL4_CapIOPort, f, *intx);
    }
    for &handler in &pd.irq_handlers {
        let _ = sel4_abi::irq_ack(handler);
    }
    pd.restarts += 1;
    pd.restarted_tsc = Some(rdtsc());
    // The serial PD gets COM1 back (the root task took it at the fault).
    console::reader_restarted(index);
    // The PD learns it is restarted from RDI (pd-runtime), and re-attaches its rings.
    match sel4_abi::tcb_start(pd.tcb, pd.entry, layout::STACK_TOP, pd.restarts as Word, true) {
        // The TSC: when, in the machine's own time (the host's view of the console lags).
        Ok(()) => out!("RESTART pd={name} count={} tsc={}", pd.restarts, rdtsc()),
        Err(e) => println!("PD {name}: restart: starting: {e}"),
    }
}

/// Tests only (`inject_fault_ms`, `inject_stall_ms`): the PDs to make fault or stall, as (TCB,
/// TSC at which, 1 to stall), for the injector thread. Written before the thread starts, read
/// only by it.
static INJECTIONS: [core::sync::atomic::AtomicU64; 24] = [const { core::sync::atomic::AtomicU64::new(0) }; 24];
/// A notification nobody signals: where the injector waits, costing nothing, once done.
static INJECTOR_REST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
const INJECTOR_IPC_VADDR: Word = 0x3f20_0000;
const INJECTOR_STACK_BYTES: usize = 16 * 1024;
#[repr(align(16))]
struct InjectorStack(#[allow(dead_code)] [u8; INJECTOR_STACK_BYTES]);
static mut INJECTOR_STACK: InjectorStack = InjectorStack([0; INJECTOR_STACK_BYTES]);

/// The fault injector (tests): at each PD's time, points its thread at address 0, where it
/// faults as a crashing PD would, and the root task's fault path takes over; or (a stall)
/// suspends it, so that it stops as a hung PD does, with no fault for anyone to see.
extern "C" fn fault_injector() -> ! {
    use core::sync::atomic::Ordering::Relaxed;
    let mut pending: Vec<(u64, CPtr, bool)> = INJECTIONS
        .chunks(3)
        .map(|p| (p[1].load(Relaxed), p[0].load(Relaxed), p[2].load(Relaxed) == 1))
        .filter(|&(at, _, _)| at != 0)
        .collect();
    pending.sort_unstable();
    for (at, tcb, stall) in pending {
        while rdtsc() < at {
            sel4_abi::yield_now();
        }
        let _ = if stall {
            sel4_abi::tcb_suspend(tcb)
        } else {
            sel4_abi::tcb_suspend(tcb).and_then(|_| sel4_abi::tcb_start(tcb, 0, layout::STACK_TOP, 0, true))
        };
    }
    loop {
        let _ = sel4_abi::recv(INJECTOR_REST.load(Relaxed));
    }
}

/// Starts the fault injector if a PD asks for one (`inject_fault_ms`), at the lowest priority.
fn start_fault_injector(objects: &mut Objects, running: &[RunningPd], tsc_mhz: u64) {
    use core::sync::atomic::Ordering::Relaxed;
    let now = rdtsc();
    let mut n = 0;
    for pd in running.iter().filter(|p| p.inject_fault_ms != 0 || p.inject_stall_ms != 0).take(INJECTIONS.len() / 3) {
        let (ms, stall) = if pd.inject_stall_ms != 0 { (pd.inject_stall_ms, 1) } else { (pd.inject_fault_ms, 0) };
        INJECTIONS[3 * n].store(pd.tcb, Relaxed);
        INJECTIONS[3 * n + 1].store(now + u64::from(ms) * 1000 * tsc_mhz.max(1), Relaxed);
        INJECTIONS[3 * n + 2].store(stall, Relaxed);
        n += 1;
    }
    if n == 0 {
        return;
    }
    println!("fault injection (tests): {n} PD(s) will be made to fault or stall");
    INJECTOR_REST.store(objects.create(ty::seL4_NotificationObject, 0), Relaxed);
    let stack_top = (core::ptr::addr_of_mut!(INJECTOR_STACK) as usize + INJECTOR_STACK_BYTES) as Word;
    start_root_thread(objects, "fault injector", fault_injector, INJECTOR_IPC_VADDR, stack_top);
}

/// Prints a console line a PD sent: MR0 the length, then the bytes (checked against the message
/// length: a PD cannot make the root task read past what it sent).
fn print_pd_line(msg: sel4_abi::MessageInfo, badge: Word) {
    let words = msg.length() as usize;
    if words == 0 {
        return;
    }
    let len = (sel4_abi::get_mr(0) as usize).min((words - 1) * 8).min(LineBuffer::CAPACITY);
    let mut buf = [0u8; LineBuffer::CAPACITY];
    for (i, chunk) in buf[..len].chunks_mut(8).enumerate() {
        let word = sel4_abi::get_mr(1 + i).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    let source = pd_console::log::Source::Pd(badge.saturating_sub(1).min(u16::MAX as Word - 1) as u16);
    console::emit(source, &buf[..len]);
}

fn report(system: &System, faulted: &mut [bool], msg: sel4_abi::MessageInfo, badge: Word) {
    let index = badge as usize - 1;
    let Some(pd) = system.pds.get(index) else {
        println!("fault message with unknown badge {badge}");
        return;
    };
    faulted[index] = true;
    let mr = sel4_abi::get_mr;
    match msg.label() {
        l if l == fault_label::VMFault => {
            let access = if mr(seL4_VMFault_PrefetchFault as usize) != 0 {
                "execute"
            } else if mr(seL4_VMFault_FSR as usize) & 2 != 0 {
                "write"
            } else {
                "read"
            };
            // fsr: the page-fault error code (bit 0 set: the page was mapped, access denied).
            out!(
                "FAULT pd={} kind=vm-fault access={access} addr={:#x} ip={:#x} fsr={:#x}",
                pd.name,
                mr(seL4_VMFault_Addr as usize),
                mr(seL4_VMFault_IP as usize),
                mr(seL4_VMFault_FSR as usize)
            );
        }
        l if l == fault_label::UserException => {
            out!("FAULT pd={} kind=user-exception number={} ip={:#x}", pd.name, mr(seL4_UserException_Number as usize), mr(0));
        }
        l if l == fault_label::UnknownSyscall => {
            // The syscall number, as the kernel reports it (the last word of the fault message).
            let number = mr(seL4_UnknownSyscall_Syscall as usize) as i64;
            out!("FAULT pd={} kind=unknown-syscall number={number}", pd.name)
        }
        l if l == fault_label::CapFault => out!("FAULT pd={} kind=cap-fault ip={:#x} addr={:#x}", pd.name, mr(0), mr(1)),
        l if l == layout::PANIC_LABEL => out!("FAULT pd={} kind=panic", pd.name),
        l if l == layout::RESTART_LABEL => out!("FAULT pd={} kind=restart-requested", pd.name),
        l => out!("FAULT pd={} kind=unknown label={l}", pd.name),
    }
    // If the PD was the serial console, the fault line and all later ones go to COM1 directly.
    console::reader_faulted(index);
}

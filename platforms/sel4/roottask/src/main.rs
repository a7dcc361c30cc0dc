//! The seL4 root task: the system initializer.
//!
//! At boot it prints the PCI inventory, decodes the system image that `sel4-sysinit` made from
//! `system.xml` (linked in by build.rs), fills the regions that start with a boot module (the
//! encryptor's config, given to the boot loader: see `boot_modules`) or a file, creates every PD (CSpace, VSpace, program, stack, IPC
//! buffer, info page, regions, endpoint, bound notification, channel caps, IRQs, TCB) and starts
//! them. It then serves the fault endpoint: a PD that faults or panics is reported by name, with
//! the address and kind, and restarted with fresh memory while the others run on (given up
//! after repeated faults).

#![no_std]
#![no_main]

extern crate alloc;

mod acpi;
mod boot_modules;
mod console;
mod iommu;
mod objects;
mod pci;
mod region_contents;
mod rtc;
mod system;

use sel4_abi::freestanding::Heap;
use sel4_abi::{init_cap, BootInfo};

/// The system image: the encoded spec followed by the PD programs.
static SYSTEM_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/system.img"));

/// The root task's heap: spec decoding, bookkeeping and the config regions' contents. It holds a
/// copy per config region (four with crypto workers, up to 256 KiB each) while it parses each
/// to count peers and prefixes: a full region of one-line IPv6 prefixes (some 36 000) takes
/// about 6 MB to parse.
#[global_allocator]
static HEAP: Heap<{ 16 << 20 }> = Heap::new();

/// The root task's stack (the kernel starts the root task without one).
#[no_mangle]
static mut ROOT_STACK: [u8; 256 * 1024] = [0; 256 * 1024];

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    // RDI holds the boot info pointer; keep it for the call.
    "lea rsp, [rip + {stack} + {size}]",
    "and rsp, -16",
    "call {main}",
    "ud2",
    stack = sym ROOT_STACK,
    size = const 256 * 1024,
    main = sym root_main,
);

extern "C" fn root_main(bootinfo: *const BootInfo) -> ! {
    // SAFETY: the kernel passes a pointer to the boot info frame it mapped for the root task; it
    // stays mapped and unchanged for the root task's life.
    let bi = unsafe { &*bootinfo };
    let empty = bi.empty;
    let untyped = bi.untyped;
    println!(
        "seL4 root task: boot info at {:p}, empty slots {}..{}, {} untypeds, TSC {} MHz",
        bootinfo,
        { empty.start },
        { empty.end },
        untyped.end - untyped.start,
        { bi.arch_info }
    );
    // What device memory the kernel hands out: a BAR beyond it cannot be mapped.
    let device_top = (untyped.start..untyped.end)
        .zip(bi.untyped_list.iter())
        .filter(|(_, d)| d.is_device != 0)
        .map(|(_, d)| d.paddr + (1u64 << d.size_bits))
        .max()
        .unwrap_or(0);
    println!("device memory (for BARs) up to {device_top:#x}");
    // The kernel starts every core the ACPI MADT lists, up to its MAX_NUM_NODES.
    println!(
        "cores: {} running (the kernel takes up to {})",
        { bi.num_nodes },
        sel4_abi::generated::config::CONFIG_MAX_NUM_NODES
    );
    let pci = pci::print_inventory(init_cap::seL4_CapIOPort);

    let system = match sel4_system_spec::System::decode(SYSTEM_IMAGE) {
        Ok(s) => s,
        Err(e) => console::fatal(format_args!("system image: {e}")),
    };
    let mut modules = boot_modules::BootModules::find(bi, bootinfo as usize);
    let mut objects = objects::Objects::new(bi);
    let iommu = iommu::Iommu::from_levels(bi.num_io_pt_levels);
    let mut running = system::build_system(&mut objects, &system, SYSTEM_IMAGE, &modules, bi.arch_info, &pci, iommu, bi.num_nodes);
    modules.clear();
    println!("system started: {} PDs; {} slots and {} KiB of untyped memory used", system.pds.len(), objects.slots_used(), objects.bytes_used() / 1024);
    system::serve_faults(&mut running, &system, &mut objects, SYSTEM_IMAGE, bi.arch_info);
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::fatal(format_args!("panic: {info}"))
}

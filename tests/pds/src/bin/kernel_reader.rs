//! Reads kernel memory from user mode, as a Meltdown attack would, to show what its page tables
//! map there. Both reads fault; the page-fault error code the root task reports (`fsr`) says
//! whether the address was mapped (bit 0, P: a protection fault) or not (P clear).
//! - `kernel_window_reader` reads the kernel's physical memory window (seL4 5.0's PPTR_BASE,
//!   here physical 1 MiB): with the skim window (kernel patch 0007) user page tables do not
//!   map it, so P must be clear; without it every frame of the machine is one load away.
//! - `kernel_image_reader` reads the IDT, whose address SIDT gives any user thread: the skim
//!   window keeps the kernel image mapped (the CPU needs the IDT to take the fault), so P must
//!   be set - the control that shows the probe can tell the two apart.
#![no_std]
#![no_main]

use pd_api::Handler;

/// seL4 5.0's x86_64 PPTR_BASE (the physical memory window) plus 1 MiB.
const KERNEL_WINDOW: usize = 0xffff_ff80_0010_0000;

struct KernelReader;

impl Handler for KernelReader {
    type Error = &'static str;
}

/// The IDT's linear address (SIDT is unprivileged without CR4.UMIP, which seL4 5.0 leaves off).
fn idt_base() -> usize {
    let mut idtr = [0u8; 10];
    // SAFETY: SIDT stores 10 bytes (limit, base) at the operand; `idtr` is that big.
    unsafe { core::arch::asm!("sidt [{}]", in(reg) idtr.as_mut_ptr(), options(nostack)) };
    usize::from_le_bytes(idtr[2..10].try_into().unwrap_or([0; 8]))
}

fn init() -> KernelReader {
    let (what, addr) = match sel4_pd_runtime::pd_name() {
        "kernel_image_reader" => ("the IDT", idt_base()),
        _ => ("the kernel's physical memory window", KERNEL_WINDOW),
    };
    pd_api::log!("reading {what} at {addr:#x}");
    // SAFETY: deliberately unsound: a user-mode read of a kernel address faults; it never returns.
    let v = unsafe { core::ptr::read_volatile(addr as *const u64) };
    pd_api::log!("read {v:#x}: user mode read kernel memory");
    KernelReader
}

sel4_pd_runtime::protection_domain!(init);

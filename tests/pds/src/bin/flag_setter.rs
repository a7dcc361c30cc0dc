//! Enters the kernel with RFLAGS.NT and DF set (POPF may set both in user mode), 1000 times.
//! seL4 5.0 masked only TF and IF on SYSCALL, so the kernel then ran with the user's NT and DF:
//! its next IRETQ (resuming a preempted thread) raised #GP in ring 0 and the core stopped, and
//! C code's `rep movs` ran backwards. Kernel patch 0009 masks them; this PD must finish.
#![no_std]
#![no_main]

use pd_api::Handler;
use sel4_test_pds::result;

struct FlagSetter;

impl Handler for FlagSetter {
    type Error = &'static str;
}

const NT: u64 = 1 << 14;
const DF: u64 = 1 << 10;

fn init() -> FlagSetter {
    for _ in 0..1000 {
        // SAFETY: sets NT and DF in RFLAGS for the yield's SYSCALL only: the kernel returns
        // with the flags SYSCALL saved, and both are cleared again before any Rust code runs.
        unsafe {
            core::arch::asm!(
                "pushfq",
                "or qword ptr [rsp], {flags}",
                "popfq",
                flags = in(reg) NT | DF,
            );
        }
        sel4_abi::yield_now();
        // SAFETY: clears DF and NT again (the Rust ABI expects DF clear).
        unsafe {
            core::arch::asm!(
                "pushfq",
                "and qword ptr [rsp], {mask}",
                "popfq",
                "cld",
                mask = in(reg) !(NT | DF),
            );
        }
    }
    result!("flags", "ok");
    FlagSetter
}

sel4_pd_runtime::protection_domain!(init);

//! Executes an undefined instruction; the root task must report a user exception by name.
#![no_std]
#![no_main]

use pd_api::Handler;

struct Crasher;

impl Handler for Crasher {
    type Error = &'static str;
}

fn init() -> Crasher {
    // SAFETY: deliberately raises #UD; the kernel turns it into a fault message and the PD
    // never runs again.
    unsafe { core::arch::asm!("ud2") };
    Crasher
}

sel4_pd_runtime::protection_domain!(init);

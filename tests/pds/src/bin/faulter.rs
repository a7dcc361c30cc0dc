//! Reads memory it does not map; the root task must report it and the other PDs run on.
#![no_std]
#![no_main]

use pd_api::Handler;

/// An address no mapping in system-test.xml covers.
const UNMAPPED: usize = 0x1234_5000;

struct Faulter;

impl Handler for Faulter {
    type Error = &'static str;
}

fn init() -> Faulter {
    pd_api::log!("reading {UNMAPPED:#x}, which is not mapped");
    // SAFETY: deliberately unsound: the point of this PD is to fault; the read never returns.
    let v = unsafe { core::ptr::read_volatile(UNMAPPED as *const u64) };
    pd_api::log!("read {v:#x}: the fault was not delivered");
    Faulter
}

sel4_pd_runtime::protection_domain!(init);

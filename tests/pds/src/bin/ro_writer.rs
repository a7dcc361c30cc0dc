//! Writes to a region system.xml maps read-only into it (as a ring consumer maps its producer's
//! data region); the root task must report a write fault at that address.
#![no_std]
#![no_main]

use pd_api::Handler;

struct RoWriter;

impl Handler for RoWriter {
    type Error = &'static str;
}

fn init() -> RoWriter {
    let region = pd_api::memory_region("readonly").expect("readonly not mapped");
    let target = region.base().as_ptr().wrapping_add(0x18);
    // SAFETY: deliberately writes to a read-only mapping; the write faults and never completes.
    unsafe { target.write_volatile(0x5a) };
    pd_api::log!("wrote to a read-only region: the mapping is not read-only");
    RoWriter
}

sel4_pd_runtime::protection_domain!(init);

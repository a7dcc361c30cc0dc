//! Recurses until its stack runs into the unmapped guard page below it; the root task must
//! report a write fault there, not let the stack grow into other memory.
#![no_std]
#![no_main]

use pd_api::Handler;

struct Overflow;

impl Handler for Overflow {
    type Error = &'static str;
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = [depth; 64];
    // black_box keeps the frame and the recursion from being optimised away.
    core::hint::black_box(&frame);
    recurse(depth + 1) + core::hint::black_box(frame[7])
}

fn init() -> Overflow {
    let n = recurse(0);
    pd_api::log!("recursion returned {n}: no guard page");
    Overflow
}

sel4_pd_runtime::protection_domain!(init);

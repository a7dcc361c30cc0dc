//! Panics on start; the root task must report it by name.
#![no_std]
#![no_main]

use pd_api::Handler;

struct Panicker;

impl Handler for Panicker {
    type Error = &'static str;
}

fn init() -> Panicker {
    let limit: Option<u32> = None;
    panic!("deliberate test panic (limit {limit:?})");
}

sel4_pd_runtime::protection_domain!(init);

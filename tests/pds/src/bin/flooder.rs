//! Logs as fast as it can (a PD that an attacker makes log in a loop), then, after a pause,
//! one last line: tests/sel4/test_sel4_boot.py checks that the root task let a burst through,
//! dropped and counted the rest, and still printed the other PDs' fault reports.
#![no_std]
#![no_main]

use pd_api::Handler;
use sel4_test_pds::result;

/// Lines logged in the flood.
const FLOOD_LINES: u32 = 5000;

struct Flooder;

impl Handler for Flooder {
    type Error = &'static str;
}

fn init() -> Flooder {
    let start = pd_api::now_ns();
    for k in 0..FLOOD_LINES {
        pd_api::log!("flood line {k}");
    }
    // How long the flood took: the rate lets more lines through the longer it takes (under TCG
    // the guest's clock runs at the host's pace, so a loaded host makes it longer).
    let took_ms = (pd_api::now_ns() - start) / 1_000_000;
    // Long enough for the rate limit to let one more line through.
    let until = pd_api::now_ns() + 200_000_000;
    while pd_api::now_ns() < until {
        core::hint::spin_loop();
    }
    result!("flood_ms", "{took_ms}");
    result!("flood_done", "{FLOOD_LINES}");
    Flooder
}

sel4_pd_runtime::protection_domain!(init);

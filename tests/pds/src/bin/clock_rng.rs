//! Checks the platform's wall clock (from the CMOS RTC at boot) and random source (RDRAND).
#![no_std]
#![no_main]

use pd_api::Handler;
use sel4_test_pds::result;

struct ClockRng;

impl Handler for ClockRng {
    type Error = &'static str;
}

fn init() -> ClockRng {
    let secs = pd_api::wall_clock_ns() / 1_000_000_000;
    result!("wall_clock_s", "{secs}");
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    let got = pd_api::fill_random(&mut a) && pd_api::fill_random(&mut b);
    // Two draws of 256 bits that are equal, or all zero, mean the source is broken.
    let sane = got && a != b && a != [0; 32];
    result!("random", "{}", if !got { "none" } else if sane { "ok" } else { "fail" });
    ClockRng
}

sel4_pd_runtime::protection_domain!(init);

//! Reads a region the root task filled at boot (as the crypto PD reads its configuration) and
//! reports its first line and length.
#![no_std]
#![no_main]

use pd_api::Handler;
use sel4_test_pds::{result, Mmio};

struct FillReader;

impl Handler for FillReader {
    type Error = &'static str;
}

fn init() -> FillReader {
    let region = pd_api::memory_region("config").expect("config not mapped");
    let size = region.size();
    let mem = Mmio::new(region);
    let len = (0..size).position(|i| mem.read8(i) == 0).unwrap_or(size);
    let mut line = [0u8; 64];
    let n = (0..len.min(64)).take_while(|&i| mem.read8(i) != b'\n').count();
    for (i, b) in line[..n].iter_mut().enumerate() {
        *b = mem.read8(i);
    }
    let text = core::str::from_utf8(&line[..n]).unwrap_or("?");
    result!("fill_len", "{len}");
    result!("fill_first_line", "{}", text.replace(' ', "_"));
    FillReader
}

sel4_pd_runtime::protection_domain!(init);

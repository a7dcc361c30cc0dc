//! Reads the regions the root task filled at boot, as the encryptor's PDs read their config:
//! `config` (a boot module, or the file built into the image) and `public_config` (the same
//! without its keys, made by the root task). Reports `config`'s first line and length, and
//! whether any key value of `config` turns up in `public_config`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use pd_api::Handler;
use sel4_test_pds::{result, Mmio};

struct FillReader;

impl Handler for FillReader {
    type Error = &'static str;
}

/// The region's text up to its first zero byte (lossy: the test only compares ASCII).
fn text_of(name: &str) -> String {
    let region = pd_api::memory_region(name).expect("region not mapped");
    let mem = Mmio::new(region);
    let bytes: Vec<u8> = (0..region.size()).map(|i| mem.read8(i)).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The values of `PrivateKey` / `PresharedKey` lines, any case.
fn key_values(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| ["privatekey", "presharedkey"].iter().any(|n| k.trim().eq_ignore_ascii_case(n)))
        .map(|(_, v)| v.split('#').next().unwrap_or("").trim())
        .filter(|v| v.len() >= 8)
        .collect()
}

fn init() -> FillReader {
    let config = text_of("config");
    let public = text_of("public_config");
    let first = config.lines().next().unwrap_or("");
    result!("fill_len", "{}", config.len());
    result!("fill_first_line", "{}", first.replace(' ', "_"));
    result!("public_len", "{}", public.len());
    result!("public_lines", "{}", public.lines().count());
    let keys = key_values(&config);
    result!("config_keys", "{}", keys.len());
    result!("public_keys_found", "{}", keys.iter().filter(|k| public.contains(*k)).count());
    FillReader
}

sel4_pd_runtime::protection_domain!(init);

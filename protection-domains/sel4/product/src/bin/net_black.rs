//! The black stack PD on seL4 (`pd-net-black`): UDP/IP for WireGuard, ARP to the gateway, ICMP
//! for its own address. Its config region holds the configuration without keys.
#![no_std]
#![no_main]

use sel4_encryptor_pds::{read_config, Started};

fn init() -> Started<pd_net_black::NetBlack> {
    Started::start("net_black", || {
        let (_, _, black) = read_config().map_err(|e| alloc::format!("{e}"))?.into_parts();
        pd_net_black::NetBlack::new(black).map_err(|e| alloc::format!("{e}"))
    })
}

extern crate alloc;

sel4_pd_runtime::protection_domain!(init);

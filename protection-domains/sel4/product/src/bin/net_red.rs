//! The red stack PD on seL4 (`pd-net-red`): ARP, ICMP for its own address, forwarding between
//! the red NIC and crypto. Its config region holds the configuration without keys.
#![no_std]
#![no_main]

use sel4_encryptor_pds::{read_config, Started};

fn init() -> Started<pd_net_red::NetRed> {
    Started::start("net_red", || {
        let (_, red, _) = read_config().map_err(|e| alloc::format!("{e}"))?.into_parts();
        pd_net_red::NetRed::new(red).map_err(|e| alloc::format!("{e}"))
    })
}

extern crate alloc;

sel4_pd_runtime::protection_domain!(init);

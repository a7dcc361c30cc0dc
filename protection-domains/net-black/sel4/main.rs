//! The net_black PD on seL4: started as on every platform ([`pd_net_black::NetBlack::start`]); a PD that
//! refuses to start says why and stays idle while the rest of the system runs.
#![no_std]
#![no_main]

fn init() -> sel4_pd_runtime::Started<pd_net_black::NetBlack> {
    sel4_pd_runtime::Started::start("net_black", pd_net_black::NetBlack::start)
}

sel4_pd_runtime::protection_domain!(init);

//! The crypto PD on seL4: started as on every platform ([`pd_crypto::Crypto::start`]); a PD that
//! refuses to start says why and stays idle while the rest of the system runs.
#![no_std]
#![no_main]

fn init() -> sel4_pd_runtime::Started<pd_crypto::Crypto> {
    sel4_pd_runtime::Started::start("crypto", pd_crypto::Crypto::start)
}

sel4_pd_runtime::protection_domain!(init);

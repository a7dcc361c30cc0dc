//! A crypto worker PD on seL4: started as on every platform ([`pd_crypto_worker::CryptoWorker::start`]).
#![no_std]
#![no_main]

fn init() -> sel4_pd_runtime::Started<pd_crypto_worker::CryptoWorker> {
    sel4_pd_runtime::Started::start("crypto_worker", pd_crypto_worker::CryptoWorker::start)
}

sel4_pd_runtime::protection_domain!(init);

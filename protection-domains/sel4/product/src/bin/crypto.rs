//! The crypto PD on seL4: WireGuard between the red and black stacks (`pd-crypto`). The only PD
//! whose config region holds the keys. Refuses to start, and says so on the console, when the
//! CPU has no RDRAND/RDSEED. Logs every completed handshake (`handshake #N`), which the demo
//! and the tests count.
#![no_std]
#![no_main]

extern crate alloc;

use pd_api::{ChannelSet, Handler};
use sel4_encryptor_pds::{read_config, Started};

/// The crypto PD and how many handshakes it has reported.
struct CryptoPd {
    crypto: pd_crypto::Crypto,
    handshakes_logged: u64,
}

impl Handler for CryptoPd {
    type Error = <pd_crypto::Crypto as Handler>::Error;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let result = self.crypto.notified(channels);
        let c = self.crypto.counters_snapshot();
        let handshakes = c.handshakes_completed + c.handshakes_answered;
        if handshakes > self.handshakes_logged {
            self.handshakes_logged = handshakes;
            pd_api::log!("handshake #{handshakes}");
        }
        result
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.crypto.counters(report);
    }

    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        self.crypto.status(report);
    }
}

fn init() -> Started<CryptoPd> {
    Started::start("crypto", || {
        let config = read_config().map_err(|e| alloc::format!("{e}"))?;
        let (crypto, _, _) = config.into_parts();
        let peers = crypto.peers.len();
        let crypto = pd_crypto::Crypto::new(crypto).map_err(|e| alloc::format!("{e}"))?;
        pd_api::log!("{peers} peer(s)");
        Ok::<_, alloc::string::String>(CryptoPd { crypto, handshakes_logged: 0 })
    })
}

sel4_pd_runtime::protection_domain!(init);

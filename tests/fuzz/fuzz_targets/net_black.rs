//! net_black's frame handling: arbitrary Ethernet frames from the black NIC, and
//! arbitrary messages on its crypto and bypass links, with timer ticks between.
//! Oracles: no panic; everything handed to crypto carries a valid endpoint
//! header; nothing from the network reaches net_red (bypass) unless its source
//! is in a bypass prefix.

#![no_main]

#[path = "common.rs"]
mod common;

use common::{drain, ip_src_dst, Records};
use encryptor_config::{Action, BlackConfig, Prefix, Rule};
use libfuzzer_sys::fuzz_target;
use pd_api::{ChannelSet, Handler};
use pd_net_black::{NetBlack, BYPASS, CRYPTO, NIC, TIMER};
use pd_proto::EndpointHeader;
use pd_testkit::{FarEnd, TestPd};
use std::cell::RefCell;
use std::net::Ipv4Addr;

struct Rig {
    pd: &'static TestPd,
    black: NetBlack,
    bypass_prefixes: Vec<Prefix>,
    nic: FarEnd,
    crypto: FarEnd,
    bypass: FarEnd,
}

fn rig() -> Rig {
    let pd = TestPd::new("net_black");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let bypass = pd.link("bypass", 64);
    let bypass_prefixes = vec!["198.51.100.0/24".parse::<Prefix>().unwrap()];
    let rules = bypass_prefixes.iter().map(|&prefix| Rule { prefix, action: Action::Bypass }).collect();
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap(), "2001:db8::1/64".parse().unwrap()],
        gateway_v4: Some(Ipv4Addr::new(192, 0, 2, 254)),
        gateway_v6: None,
        mac: [2, 0, 0, 0, 2, 1],
        listen_port: 51820,
        rules,
    };
    Rig { pd, black: NetBlack::new(config).unwrap(), bypass_prefixes, nic, crypto, bypass }
}

thread_local! {
    static RIG: RefCell<Rig> = RefCell::new(rig());
}

fuzz_target!(|data: &[u8]| {
    RIG.with(|r| {
        let r = &mut *r.borrow_mut();
        r.pd.enter();
        for (sel, body) in Records(data).take(256) {
            let body = &body[..body.len().min(pd_ring::SLOT_SIZE)];
            let ch = match sel % 8 {
                0..=3 => {
                    let _ = r.nic.tx.send(body);
                    NIC
                }
                4 | 5 => {
                    let _ = r.crypto.tx.send(body);
                    CRYPTO
                }
                6 => {
                    let _ = r.bypass.tx.send(body);
                    BYPASS
                }
                _ => {
                    r.pd.advance_ns(u64::from(body.first().copied().unwrap_or(1)) * 100_000_000);
                    TIMER
                }
            };
            r.black.notified(ChannelSet::EMPTY.with(ch)).expect("ring error with well-behaved neighbours");
            let _ = drain(&mut r.nic.rx);
            for msg in drain(&mut r.crypto.rx) {
                assert!(EndpointHeader::parse(&msg).is_some(), "net_black gave crypto a message without a valid header");
            }
            for pkt in drain(&mut r.bypass.rx) {
                let (src, _) = ip_src_dst(&pkt).expect("net_black sent net_red a packet that is not IP");
                assert!(r.bypass_prefixes.iter().any(|p| p.contains(src)), "net_black relayed {src} to the red side");
            }
        }
    });
});

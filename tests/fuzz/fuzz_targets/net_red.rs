//! net_red's frame handling: arbitrary Ethernet frames from the red NIC, and
//! arbitrary packets on its crypto and bypass links, with timer ticks between.
//! Oracles: no panic; nothing reaches crypto unless a Tunnel rule covers its
//! destination, and nothing larger than the tunnel MTU; nothing reaches the bypass link
//! unless a Bypass rule covers it.

#![no_main]

#[path = "common.rs"]
mod common;

use common::{drain, ip_src_dst, Records};
use encryptor_config::{lookup, Action, Prefix, RedConfig, Rule};
use libfuzzer_sys::fuzz_target;
use pd_api::{ChannelSet, Handler};
use pd_net_red::{NetRed, BYPASS, CRYPTO, NIC, TIMER};
use pd_testkit::{FarEnd, TestPd};
use std::cell::RefCell;

struct Rig {
    pd: &'static TestPd,
    red: NetRed,
    rules: Vec<Rule>,
    nic: FarEnd,
    crypto: FarEnd,
    bypass: FarEnd,
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn rig() -> Rig {
    let pd = TestPd::new("net_red");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let bypass = pd.link("bypass", 64);
    let rules = vec![
        Rule { prefix: p("10.2.0.0/24"), action: Action::Tunnel },
        Rule { prefix: p("fd00:2::/64"), action: Action::Tunnel },
        Rule { prefix: p("10.2.0.128/25"), action: Action::Drop },
        Rule { prefix: p("198.51.100.0/24"), action: Action::Bypass },
    ];
    let config = RedConfig {
        addresses: vec![p("10.1.0.1/24"), p("fd00:1::1/64")],
        mac: [2, 0, 0, 0, 1, 1],
        rules: rules.clone(),
        mtu: encryptor_config::DEFAULT_MTU,
        mss_clamp: encryptor_config::MssClamp::Auto,
    };
    let red = NetRed::new(config).unwrap();
    Rig { pd, red, rules, nic, crypto, bypass }
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
            // Handler errors are ring errors, which only a corrupt neighbour causes.
            r.red.notified(ChannelSet::EMPTY.with(ch)).expect("ring error with well-behaved neighbours");
            let _ = drain(&mut r.nic.rx);
            for pkt in drain(&mut r.crypto.rx) {
                let (_, dst) = ip_src_dst(&pkt).expect("net_red sent crypto a packet that is not IP");
                assert_eq!(lookup(&r.rules, dst), Some(Action::Tunnel), "net_red sent {dst} to crypto");
                assert!(pkt.len() <= usize::from(encryptor_config::DEFAULT_MTU), "{} bytes to crypto", pkt.len());
            }
            for pkt in drain(&mut r.bypass.rx) {
                let (_, dst) = ip_src_dst(&pkt).expect("net_red sent net_black a bypass packet that is not IP");
                assert_eq!(lookup(&r.rules, dst), Some(Action::Bypass), "net_red bypassed {dst} in clear");
            }
        }
    });
});

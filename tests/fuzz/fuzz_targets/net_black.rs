//! net_black's frame handling: arbitrary Ethernet frames from the black NIC, and
//! arbitrary messages on its crypto and bypass links, with timer ticks between.
//! Oracles: no panic; everything handed to crypto carries a valid endpoint
//! header; nothing from the network reaches net_red (bypass) unless its source's
//! longest rule is Bypass, and nothing net_black did not originate leaves on the
//! network unless its destination's longest rule is Bypass and it is not link-local
//! (the rules put a Tunnel prefix inside a Bypass one).

#![no_main]

#[path = "common.rs"]
mod common;

use common::{drain, ip_src_dst, Records};
use encryptor_config::{rule_table, Action, BlackConfig, Prefix, PrefixTable, Rule};
use libfuzzer_sys::fuzz_target;
use pd_api::{ChannelSet, Handler};
use pd_net_black::{NetBlack, BYPASS, CRYPTO, NIC, TIMER};
use pd_proto::EndpointHeader;
use pd_testkit::{FarEnd, TestPd};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const OUR_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const OUR_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));

struct Rig {
    pd: &'static TestPd,
    black: NetBlack,
    rules: PrefixTable<Action>,
    nic: FarEnd,
    crypto: FarEnd,
    bypass: FarEnd,
}

fn rig() -> Rig {
    let pd = TestPd::new("net_black");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let bypass = pd.link("bypass", 64);
    let rule = |p: &str, action| Rule { prefix: p.parse::<Prefix>().unwrap(), action };
    let rules = vec![
        rule("198.51.0.0/16", Action::Bypass),
        rule("198.51.100.128/25", Action::Tunnel),
        rule("::/0", Action::Bypass),
    ];
    let table = rule_table(&rules);
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap(), "2001:db8::1/64".parse().unwrap()],
        gateway_v4: Some(Ipv4Addr::new(192, 0, 2, 254)),
        gateway_v6: None,
        mac: [2, 0, 0, 0, 2, 1],
        listen_port: 51820,
        rules,
    };
    Rig { pd, black: NetBlack::new(config).unwrap(), rules: table, nic, crypto, bypass }
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
            for frame in drain(&mut r.nic.rx) {
                let Some(packet) = frame.get(14..).filter(|_| matches!(frame[12..14], [0x08, 0x00] | [0x86, 0xdd])) else { continue };
                let Some((src, dst)) = ip_src_dst(packet) else { continue };
                if src == OUR_V4 || src == OUR_V6 {
                    continue;
                }
                let link_local = matches!(dst, IpAddr::V6(a) if a.is_unicast_link_local());
                assert!(r.rules.get(dst) == Some(Action::Bypass) && !link_local, "net_black sent {src} -> {dst} to the network");
            }
            for msg in drain(&mut r.crypto.rx) {
                assert!(EndpointHeader::parse(&msg).is_some(), "net_black gave crypto a message without a valid header");
            }
            for pkt in drain(&mut r.bypass.rx) {
                let (src, _) = ip_src_dst(&pkt).expect("net_black sent net_red a packet that is not IP");
                assert_eq!(r.rules.get(src), Some(Action::Bypass), "net_black relayed {src} to the red side");
            }
        }
    });
});

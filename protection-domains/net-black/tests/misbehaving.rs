//! A misbehaving neighbour: garbage written into the rings net_black shares with
//! nic_black and crypto. net_black must count the error, never panic, and keep
//! serving its other rings.

#[path = "../../net-red/tests/garbage/mod.rs"]
mod garbage;

use encryptor_config::{BlackConfig, Prefix};
use garbage::{Garbage, RX_GARBAGE};
use pd_api::{ChannelSet, Handler};
use pd_net_black::{NetBlack, CRYPTO, NIC, TIMER};
use pd_proto::EndpointHeader;
use pd_testkit::{FarEnd, TestPd};
use pd_testkit::frames;
use smoltcp::wire::*;
use std::net::Ipv4Addr;

const SLOTS: u32 = 8;
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 7, 7];
const OUR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

struct Rig {
    black: NetBlack,
    nic: FarEnd,
    crypto: FarEnd,
}

fn rig() -> Rig {
    let pd = TestPd::new("net_black");
    let nic = pd.link("nic", SLOTS);
    let crypto = pd.link("crypto", SLOTS);
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap()],
        gateway_v4: None,
        gateway_v6: None,
        mac: OUR_MAC,
        listen_port: 51820,
        rules: vec![],
    };
    Rig { black: NetBlack::new(config).unwrap(), nic, crypto }
}

fn eth(dst: [u8; 6], ethertype: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    frames::eth(dst, PEER_MAC, ethertype, payload)
}

/// The peer's answer to net_black's ARP request.
fn arp_reply() -> Vec<u8> {
    frames::arp(ArpOperation::Reply, PEER_MAC, PEER, OUR_MAC, OUR)
}

/// net_black learns the peer's MAC as it would: a ping makes it ask, the peer answers.
fn learn_peer(r: &mut Rig) {
    let _ = r.nic.tx.send(&echo_request());
    r.run_all();
    let _ = r.nic.tx.send(&arp_reply());
    r.run_all();
    r.nic.drain_until_error();
}

fn echo_request() -> Vec<u8> {
    eth(OUR_MAC, EthernetProtocol::Ipv4, &frames::echo4(PEER, OUR))
}

/// A UDP datagram from the peer to our WireGuard port (net_black passes it to crypto).
fn wireguard_datagram() -> Vec<u8> {
    eth(OUR_MAC, EthernetProtocol::Ipv4, &frames::udp4(PEER, OUR, 51820, 51820, 64, &[4, 0, 0, 0, 9, 9, 9, 9]))
}

fn to_peer(payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 20 + payload.len()];
    EndpointHeader(std::net::SocketAddr::new(PEER.into(), 51820)).emit(&mut m);
    m[20..].copy_from_slice(payload);
    m
}

impl Rig {
    fn run_all(&mut self) {
        let _ = self.black.notified(ChannelSet::EMPTY.with(NIC).with(CRYPTO).with(TIMER));
    }
    fn counter(&self, name: &str) -> u64 {
        let mut v = None;
        self.black.counters(&mut |k, n| {
            if k == name {
                v = Some(n)
            }
        });
        v.unwrap()
    }
    fn ping_answered(&mut self) -> bool {
        self.nic.drain_until_error();
        let _ = self.nic.tx.send(&echo_request());
        self.run_all();
        self.nic.drain_until_error().iter().any(|f| f.len() > 34 && f[12..14] == [8, 0] && f[23] == 1 && f[34] == 0)
    }
    fn datagram_sent(&mut self) -> bool {
        self.nic.drain_until_error();
        let _ = self.crypto.tx.send(&to_peer(&[4, 0, 0, 0, 1, 2, 3, 4]));
        self.run_all();
        self.nic.drain_until_error().iter().any(|f| f.len() > 42 && f[12..14] == [8, 0] && f[23] == 17)
    }
}

fn attack(link: &str, g: Garbage) -> Vec<String> {
    let mut r = rig();
    learn_peer(&mut r);
    if !g.is_rx() {
        // Use every fresh slot towards crypto once (handed back), then 3 more kept.
        for n in [SLOTS, 3] {
            for _ in 0..n {
                let _ = r.nic.tx.send(&wireguard_datagram());
            }
            r.run_all();
            if n == SLOTS {
                r.crypto.drain_until_error();
            }
        }
        assert!(r.counter("to_crypto") >= u64::from(SLOTS), "setup: datagrams did not reach crypto");
    }
    let before = r.counter("ring_errors");
    let end = if link == "crypto" { &r.crypto } else { &r.nic };
    g.write(&end.ctl[if g.is_rx() { 1 } else { 0 }], SLOTS);
    for _ in 0..4 {
        r.run_all();
        if g.is_rx() {
            if link == "crypto" {
                r.ping_answered();
            } else {
                r.datagram_sent();
            }
        } else {
            // Datagrams for crypto: net_black must reach into the (forged) free queue.
            for _ in 0..4 {
                let _ = r.nic.tx.send(&wireguard_datagram());
            }
            r.run_all();
            garbage::poke(&r.crypto.ctl[0], garbage::HEAD, garbage::peek(&r.crypto.ctl[0], garbage::TAIL));
        }
    }
    let mut broken = Vec::new();
    if r.counter("ring_errors") == before {
        broken.push(format!("{link} {g:?}: not counted in ring_errors"));
    }
    if g.is_rx() {
        let (what, ok) = if link == "crypto" {
            ("ping to net_black (nic->nic)", r.ping_answered())
        } else {
            ("datagram to the network (crypto->nic)", r.datagram_sent())
        };
        if !ok {
            broken.push(format!("{link} {g:?}: {what} stopped"));
        }
    }
    broken
}

#[test]
fn garbage_from_crypto_or_the_nic_is_counted_and_the_other_rings_flow() {
    let broken: Vec<String> =
        ["crypto", "nic"].iter().flat_map(|l| RX_GARBAGE.iter().flat_map(move |g| attack(l, *g))).collect();
    assert!(broken.is_empty(), "net_black with a misbehaving neighbour:\n  {}", broken.join("\n  "));
}

/// Forged free descriptors on the ring net_black sends to crypto: rejected and counted.
#[test]
fn forged_free_descriptors_from_crypto_are_counted() {
    let broken: Vec<String> =
        [Garbage::FreeForgedOffset, Garbage::FreeUnaligned].iter().flat_map(|g| attack("crypto", *g)).collect();
    assert!(broken.is_empty(), "net_black with crypto forging its free queue:\n  {}", broken.join("\n  "));
}

/// Runaway indices on the ring to crypto: counted, and net_black keeps draining the
/// NIC (a corrupt output ring must not read as "no room").
#[test]
fn runaway_indices_on_the_ring_to_crypto_are_counted_and_ping_still_works() {
    let mut broken: Vec<String> =
        [Garbage::HeadRunaway, Garbage::FreeTailRunaway].iter().flat_map(|g| attack("crypto", *g)).collect();
    for g in [Garbage::HeadRunaway, Garbage::FreeTailRunaway] {
        let mut r = rig();
        learn_peer(&mut r);
        assert!(r.ping_answered(), "setup: ping");
        g.write(&r.crypto.ctl[0], SLOTS);
        if !r.ping_answered() {
            broken.push(format!("crypto {g:?}: ping to net_black (nic->nic) stopped"));
        }
    }
    assert!(broken.is_empty(), "net_black with crypto corrupting its output indices:\n  {}", broken.join("\n  "));
}

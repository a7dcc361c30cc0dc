//! A misbehaving neighbour: garbage written into the rings crypto shares with
//! net_red and net_black. crypto must count the error, never panic, and keep
//! serving its other ring.

#[path = "../../net-red/tests/garbage/mod.rs"]
mod garbage;

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use garbage::{Garbage, RX_GARBAGE};
use pd_api::{ChannelSet, Handler};
use pd_crypto::{Crypto, BLACK, RED, TIMER};
use pd_proto::EndpointHeader;
use pd_testkit::{FarEnd, TestPd};
use std::net::SocketAddr;

const SLOTS: u32 = 8;

struct Rig {
    crypto: Crypto,
    red: FarEnd,
    black: FarEnd,
}

fn rig() -> Rig {
    let pd = TestPd::new("crypto");
    let red = pd.link("red", SLOTS);
    let black = pd.link("black", SLOTS);
    let peer = PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from([2u8; 32])).to_bytes(),
        preshared_key: None,
        endpoint: Some("192.0.2.2:51820".parse().unwrap()),
        allowed_ips: vec!["10.2.0.0/24".parse::<Prefix>().unwrap()],
        persistent_keepalive: None,
    };
    let crypto = Crypto::new(CryptoConfig { private_key: [1; 32], listen_port: 51820, mtu: 1420, peers: vec![peer] }).unwrap();
    Rig { crypto, red, black }
}

fn ipv4_to_peer() -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2];
    p.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 8, 0, 0]);
    p
}

impl Rig {
    fn run_all(&mut self) {
        let _ = self.crypto.notified(ChannelSet::EMPTY.with(RED).with(BLACK).with(TIMER));
    }
    fn counter(&self, name: &str) -> u64 {
        let mut v = None;
        self.crypto.counters(&mut |k, n| {
            if k == name {
                v = Some(n)
            }
        });
        v.unwrap()
    }
    /// A plaintext packet from net_red makes crypto send a handshake initiation to net_black.
    fn red_to_black_flows(&mut self) -> bool {
        self.black.drain_until_error();
        let before = self.counter("red_rx_packets");
        let _ = self.red.tx.send(&ipv4_to_peer());
        self.run_all();
        self.counter("red_rx_packets") > before
    }
    /// A datagram from net_black is read and judged (a junk initiation: dropped, counted).
    fn black_is_served(&mut self) -> bool {
        let before = self.counter("black_rx_datagrams");
        let mut m = vec![0u8; 20 + 148];
        EndpointHeader("192.0.2.2:51820".parse::<SocketAddr>().unwrap()).emit(&mut m);
        m[20] = 1;
        let _ = self.black.tx.send(&m);
        self.run_all();
        self.counter("black_rx_datagrams") > before
    }
}

fn attack(link: &str, g: Garbage) -> Vec<String> {
    let mut r = rig();
    assert!(r.red_to_black_flows() && r.black_is_served(), "setup");
    let errors = |r: &Rig| r.counter("drop_red_ring_error") + r.counter("drop_black_ring_error");
    let before = errors(&r);
    let end = if link == "red" { &r.red } else { &r.black };
    g.write(&end.ctl[1], SLOTS);
    for _ in 0..4 {
        r.run_all();
    }
    let mut broken = Vec::new();
    if errors(&r) == before {
        broken.push(format!("{link} {g:?}: not counted (drop_{link}_ring_error)"));
    }
    let (what, ok) = if link == "red" {
        ("datagrams from net_black", r.black_is_served())
    } else {
        ("packets from net_red", r.red_to_black_flows())
    };
    if !ok {
        broken.push(format!("{link} {g:?}: {what} no longer served"));
    }
    broken
}

#[test]
fn garbage_from_net_red_or_net_black_is_counted_and_the_other_ring_is_served() {
    let broken: Vec<String> =
        ["red", "black"].iter().flat_map(|l| RX_GARBAGE.iter().flat_map(move |g| attack(l, *g))).collect();
    assert!(broken.is_empty(), "crypto with a misbehaving neighbour:\n  {}", broken.join("\n  "));
}

//! The crypto PD's handling of datagrams from the black side. One crypto PD
//! ("a", under test) with one peer ("b", a second crypto PD the harness drives)
//! is set up once per process, with a session established. Each input is a
//! sequence of: raw ring messages (endpoint header included), arbitrary
//! payloads behind a valid header, real messages of the session with bytes
//! changed, fresh data messages from b carrying arbitrary inner packets, and
//! timer ticks.
//! Oracles: no panic; every packet a delivers to the red side has a source
//! inside b's AllowedIPs (cryptokey routing); everything a sends to the black
//! side has a valid endpoint header.

#![no_main]

#[path = "common.rs"]
mod common;

use boringtun::x25519::{PublicKey, StaticSecret};
use common::{drain, ip_src_dst, Records};
use encryptor_config::{CryptoConfig, PeerConfig, Prefix};
use libfuzzer_sys::fuzz_target;
use pd_api::{Channel, ChannelSet, Handler};
use pd_crypto::{Crypto, BLACK, RED, TIMER};
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_testkit::{FarEnd, TestPd};
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

const A: [u8; 32] = [1; 32];
const B: [u8; 32] = [2; 32];

struct Node {
    pd: &'static TestPd,
    crypto: Crypto,
    red: FarEnd,
    black: FarEnd,
    addr: SocketAddr,
}

impl Node {
    fn new(name: &str, secret: [u8; 32], addr: &str, peer: PeerConfig) -> Self {
        let pd = TestPd::new(name);
        let red = pd.link("red", 64);
        let black = pd.link("black", 64);
        let crypto = Crypto::new(CryptoConfig { private_key: secret, listen_port: 51820, mtu: 1420, peers: vec![peer] }).unwrap();
        Self { pd, crypto, red, black, addr: addr.parse().unwrap() }
    }
    fn run(&mut self, ch: Channel) {
        self.pd.enter();
        self.crypto.notified(ChannelSet::EMPTY.with(ch)).expect("ring error with well-behaved neighbours");
    }
    fn deliver_raw(&mut self, msg: &[u8]) {
        let _ = self.black.tx.send(&msg[..msg.len().min(pd_ring::SLOT_SIZE)]);
        self.run(BLACK);
    }
    fn deliver(&mut self, from: SocketAddr, payload: &[u8]) {
        let mut buf = vec![0u8; ENDPOINT_HEADER_LEN + payload.len()];
        EndpointHeader(from).emit(&mut buf);
        buf[ENDPOINT_HEADER_LEN..].copy_from_slice(payload);
        self.deliver_raw(&buf);
    }
    /// (destination, payload) of everything sent to the black side.
    fn sent(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        drain(&mut self.black.rx)
            .into_iter()
            .map(|m| {
                let (EndpointHeader(to), p) =
                    EndpointHeader::parse(&m).expect("crypto sent a message without a valid endpoint header");
                (to, p.to_vec())
            })
            .collect()
    }
}

fn peer(secret: [u8; 32], endpoint: Option<&str>, allowed: &[&str]) -> PeerConfig {
    PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from(secret)).to_bytes(),
        preshared_key: Some([7; 32]),
        endpoint: endpoint.map(|e| e.parse().unwrap()),
        allowed_ips: allowed.iter().map(|a| a.parse::<Prefix>().unwrap()).collect(),
        persistent_keepalive: None,
    }
}

fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

struct Rig {
    a: Node,
    b: Node,
    b_allowed: Vec<Prefix>,
    /// Real messages b sent a (initiation, data), for mutation.
    recorded: Vec<Vec<u8>>,
    skip_short_ip: bool,
}

impl Rig {
    /// Moves b's datagrams to a and a's back to b, a few rounds, checking a's output.
    fn exchange(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let from_b = self.b.sent();
            let _ = drain(&mut self.b.red.rx);
            for (_, m) in &from_b {
                if self.recorded.len() < 32 {
                    self.recorded.push(m.clone());
                }
                self.a.deliver(self.b.addr, m);
            }
            self.check_a();
            let from_a = self.a.sent();
            for (to, m) in &from_a {
                if *to == self.b.addr {
                    self.b.deliver(self.a.addr, m);
                }
            }
            if from_b.is_empty() && from_a.is_empty() {
                break;
            }
        }
    }
    fn check_a(&mut self) {
        for pkt in drain(&mut self.a.red.rx) {
            // With FUZZ_SKIP_KNOWN_BUGS set, a reported and still open bug does not stop
            // the run: crypto delivering a decrypted "packet" shorter than an IP header
            // (tests/fuzz/regressions/crypto_black/). The oracle below stays on otherwise.
            if self.skip_short_ip && pkt.len() < 40 && ip_src_dst(&pkt).is_none() {
                continue;
            }
            let (src, _) = ip_src_dst(&pkt).expect("crypto delivered a non-IP packet to the red side");
            assert!(self.b_allowed.iter().any(|p| p.contains(src)), "crypto delivered a packet from {src}, outside the peer's AllowedIPs");
        }
    }
}

fn rig() -> Rig {
    let b_allowed = ["10.2.0.0/24", "fd00:2::/64"];
    let a = Node::new("crypto_a", A, "192.0.2.1:51820", peer(B, Some("192.0.2.2:51820"), &b_allowed));
    let b = Node::new("crypto_b", B, "192.0.2.2:51820", peer(A, Some("192.0.2.1:51820"), &["10.1.0.0/24"]));
    let mut r = Rig { a, b, b_allowed: b_allowed.iter().map(|s| s.parse().unwrap()).collect(), recorded: Vec::new(),
        skip_short_ip: std::env::var_os("FUZZ_SKIP_KNOWN_BUGS").is_some(),
    };
    // b starts the session: its first packet triggers the handshake.
    r.b.red.send(&ipv4([10, 2, 0, 2], [10, 1, 0, 2], b"hello"));
    r.b.run(RED);
    r.exchange(4);
    r
}

thread_local! {
    static RIG: RefCell<Rig> = RefCell::new(rig());
}

fuzz_target!(|data: &[u8]| {
    RIG.with(|r| {
        let r = &mut *r.borrow_mut();
        for (sel, body) in Records(data).take(64) {
            match sel % 8 {
                0 => r.a.deliver_raw(body),
                1 | 2 => {
                    let from = r.b.addr;
                    r.a.deliver(from, body);
                }
                3 => {
                    let from = match body.get(..18) {
                        Some(h) => SocketAddr::new(IpAddr::from(<[u8; 16]>::try_from(&h[2..]).unwrap()), u16::from_le_bytes([h[0], h[1]])),
                        None => "[2001:db8::7]:51820".parse().unwrap(),
                    };
                    r.a.deliver(from, body.get(18..).unwrap_or(&[]));
                }
                4 | 5 if !r.recorded.is_empty() => {
                    let (&k, edits) = body.split_first().unwrap_or((&0, &[]));
                    let mut m = r.recorded[k as usize % r.recorded.len()].clone();
                    for e in edits.chunks(3) {
                        if let [hi, lo, x] = *e {
                            let pos = u16::from_le_bytes([lo, hi]) as usize;
                            let n = m.len().max(1);
                            if let Some(b) = m.get_mut(pos % n) {
                                *b ^= x;
                            }
                        } else if e.len() == 1 {
                            m.truncate(e[0] as usize % (m.len() + 1));
                        }
                    }
                    let from = r.b.addr;
                    r.a.deliver(from, &m);
                }
                6 => {
                    // b seals an inner packet of the fuzzer's choosing (any source address).
                    let mut pkt = body.to_vec();
                    if pkt.len() < 20 || pkt[0] >> 4 != 4 && pkt[0] >> 4 != 6 {
                        let src = body.get(..4).map(|s| <[u8; 4]>::try_from(s).unwrap()).unwrap_or([10, 2, 0, 2]);
                        pkt = ipv4(src, [10, 1, 0, 2], body);
                    }
                    let _ = r.b.red.tx.send(&pkt[..pkt.len().min(1400)]);
                    r.b.run(RED);
                }
                _ => {
                    let ns = u64::from(body.first().copied().unwrap_or(1)) * 10_000_000;
                    r.a.pd.advance_ns(ns);
                    r.b.pd.advance_ns(ns);
                    r.a.run(TIMER);
                    r.b.run(TIMER);
                }
            }
            r.exchange(3);
        }
    });
});

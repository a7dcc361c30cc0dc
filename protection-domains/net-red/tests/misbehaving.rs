//! A misbehaving neighbour: garbage written into each ring net_red shares with
//! its neighbours (nic_red, crypto, net_black over bypass). net_red must count
//! the error, never panic, and keep serving its other rings.

mod garbage;

use encryptor_config::{Action, Prefix, RedConfig, Rule};
use garbage::{Garbage, RX_GARBAGE};
use pd_api::{Channel, ChannelSet, Handler};
use pd_net_red::{NetRed, BYPASS, CRYPTO, NIC, TIMER};
use pd_testkit::{FarEnd, TestPd};
use pd_testkit::frames::{arp, echo4, eth, udp4};
use smoltcp::wire::*;
use std::net::Ipv4Addr;

const SLOTS: u32 = 8;
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
const PC_MAC: [u8; 6] = [2, 0, 0, 0, 9, 9];
const OUR: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const PC: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);
const BYPASSED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

struct Rig {
    red: NetRed,
    nic: FarEnd,
    crypto: FarEnd,
    bypass: FarEnd,
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn rig() -> Rig {
    let pd = TestPd::new("net_red");
    let nic = pd.link("nic", SLOTS);
    let crypto = pd.link("crypto", SLOTS);
    let bypass = pd.link("bypass", SLOTS);
    let config = RedConfig {
        addresses: vec![p("10.1.0.1/24")],
        mac: OUR_MAC,
        rules: vec![
            Rule { prefix: p("10.2.0.0/24"), action: Action::Tunnel },
            Rule { prefix: p("198.51.100.0/24"), action: Action::Bypass },
        ],
        mtu: encryptor_config::DEFAULT_MTU,
        mss_clamp: encryptor_config::MssClamp::Auto,
    };
    Rig { red: NetRed::new(config).unwrap(), nic, crypto, bypass }
}

fn udp(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    udp4(src, dst, 1000, 2000, 64, b"data")
}

fn echo_request() -> Vec<u8> {
    echo4(PC, OUR)
}

/// The PC's answer to net_red's ARP request.
fn arp_reply() -> Vec<u8> {
    arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR)
}

impl Rig {
    /// Notifies; a ring error is an Err (reported by the platform), never a panic.
    fn run(&mut self, channels: &[Channel]) {
        let set = channels.iter().fold(ChannelSet::EMPTY, |s, c| s.with(*c));
        let _ = self.red.notified(set);
    }
    fn run_all(&mut self) {
        self.run(&[NIC, CRYPTO, BYPASS, TIMER]);
    }
    fn counter(&self, name: &str) -> u64 {
        let mut v = None;
        self.red.counters(&mut |k, n| {
            if k == name {
                v = Some(n)
            }
        });
        v.unwrap()
    }
    fn from_pc(&mut self, packet: &[u8]) {
        let _ = self.nic.tx.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, packet));
    }
    /// Far ends drain (and so hand back) everything, as healthy neighbours do.
    fn drain(&mut self, which: &str) -> Vec<Vec<u8>> {
        let end = match which {
            "nic" => &mut self.nic,
            "crypto" => &mut self.crypto,
            _ => &mut self.bypass,
        };
        // A ring the test corrupted may error there, which is the test's doing: read as empty.
        end.drain_until_error()
    }
    /// Makes net_red use every fresh slot towards `link` once (the neighbour hands
    /// them all back), then send 3 more that the neighbour keeps: net_red's next
    /// sends there take slots from the free queue, which has room for 3 forgeries.
    fn exhaust_fresh(&mut self, link: &str) {
        for n in [SLOTS, 3] {
            for _ in 0..n {
                match link {
                    "crypto" => self.from_pc(&udp(PC, REMOTE)),
                    "bypass" => self.from_pc(&udp(PC, BYPASSED)),
                    _ => {
                        let _ = self.nic.tx.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo_request()));
                    }
                }
            }
            self.run(&[NIC]);
            if n == SLOTS {
                self.drain(link);
            }
        }
    }
    fn ping_answered(&mut self) -> bool {
        self.drain("nic");
        self.from_pc(&echo_request());
        self.run(&[NIC]);
        self.drain("nic").iter().any(|f| f.len() > 34 && f[12..14] == [8, 0] && f[34] == 0)
    }
    fn tunnelled(&mut self) -> bool {
        self.drain("crypto");
        self.from_pc(&udp(PC, REMOTE));
        self.run(&[NIC]);
        !self.drain("crypto").is_empty()
    }
    fn bypassed(&mut self) -> bool {
        self.drain("bypass");
        self.from_pc(&udp(PC, BYPASSED));
        self.run(&[NIC]);
        !self.drain("bypass").is_empty()
    }
    fn delivered_from_crypto(&mut self) -> bool {
        self.drain("nic");
        let _ = self.crypto.tx.send(&udp(REMOTE, PC));
        self.run(&[CRYPTO]);
        !self.drain("nic").is_empty()
    }
}

/// Writes `g` into `link`, runs net_red hard, and returns what broke.
fn attack(link: &str, g: Garbage) -> Vec<String> {
    let mut r = rig();
    // The PC's ARP entry, so that delivery needs no resolution: a ping from the PC makes
    // net_red ask for it (to reply), and the PC answers.
    let _ = r.nic.tx.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo_request()));
    r.run(&[NIC]);
    let _ = r.nic.tx.send(&arp_reply());
    r.run(&[NIC]);
    r.drain("nic");
    if !g.is_rx() {
        r.exhaust_fresh(link);
    }
    let errors_before = r.counter("ring_errors");
    let end = match link {
        "nic" => &r.nic,
        "crypto" => &r.crypto,
        _ => &r.bypass,
    };
    g.write(&end.ctl[if g.is_rx() { 1 } else { 0 }], SLOTS);
    // Make net_red read the garbage: notifications on every channel, traffic towards
    // the link. The neighbour takes what net_red queued (moves the head) without
    // handing slots back, so net_red must go to the free queue, forgeries and all.
    for _ in 0..3 {
        r.run_all();
        if g.is_rx() {
            match link {
                "crypto" => {
                    r.tunnelled();
                }
                "bypass" => {
                    r.bypassed();
                }
                _ => {
                    r.delivered_from_crypto();
                }
            }
            continue;
        }
        for _ in 0..4 {
            match link {
                "crypto" => r.from_pc(&udp(PC, REMOTE)),
                _ => r.from_pc(&udp(PC, BYPASSED)),
            }
        }
        r.run(&[NIC]);
        if matches!(g, Garbage::FreeForgedOffset | Garbage::FreeUnaligned) {
            let end = match link {
                "crypto" => &r.crypto,
                _ => &r.bypass,
            };
            garbage::poke(&end.ctl[0], garbage::HEAD, garbage::peek(&end.ctl[0], garbage::TAIL));
        }
    }
    let mut broken = Vec::new();
    if r.counter("ring_errors") == errors_before {
        broken.push(format!("{link} {g:?}: not counted in ring_errors"));
    }
    let checks: &[(&str, fn(&mut Rig) -> bool)] = match link {
        // A neighbour that forged free descriptors has lost net_red slots and keeps the
        // rest: that output is out of buffers (backpressure) until it hands them back.
        _ if matches!(g, Garbage::FreeForgedOffset | Garbage::FreeUnaligned) => &[],
        "crypto" => &[("ping to net_red (nic->nic)", Rig::ping_answered), ("bypass (nic->bypass)", Rig::bypassed)],
        "bypass" => &[
            ("ping to net_red (nic->nic)", Rig::ping_answered),
            ("tunnel (nic->crypto)", Rig::tunnelled),
            ("delivery (crypto->nic)", Rig::delivered_from_crypto),
        ],
        // The NIC ring itself is what broke: crypto -> PC delivery uses net_red's other direction.
        _ => &[("delivery (crypto->nic)", Rig::delivered_from_crypto)],
    };
    for (what, check) in checks {
        if !check(&mut r) {
            broken.push(format!("{link} {g:?}: {what} stopped"));
        }
    }
    broken
}

fn run_attacks(link: &str, kinds: &[Garbage]) {
    let broken: Vec<String> = kinds.iter().flat_map(|g| attack(link, *g)).collect();
    assert!(broken.is_empty(), "net_red with a misbehaving {link} neighbour:\n  {}", broken.join("\n  "));
}

#[test]
fn garbage_from_crypto_is_counted_and_the_other_rings_flow() {
    run_attacks("crypto", &RX_GARBAGE);
}

#[test]
fn garbage_from_net_black_on_bypass_is_counted_and_the_other_rings_flow() {
    run_attacks("bypass", &RX_GARBAGE);
}

#[test]
fn garbage_from_the_nic_is_counted_and_delivery_from_crypto_flows() {
    run_attacks("nic", &RX_GARBAGE);
}

/// Forged free descriptors on the rings net_red sends on (indices left consistent):
/// rejected and counted, never written through.
#[test]
fn forged_free_descriptors_are_counted_and_the_other_rings_flow() {
    let kinds = [Garbage::FreeForgedOffset, Garbage::FreeUnaligned];
    let broken: Vec<String> =
        ["crypto", "bypass"].iter().flat_map(|l| kinds.iter().flat_map(move |g| attack(l, *g))).collect();
    assert!(broken.is_empty(), "net_red with a neighbour forging its free queue:\n  {}", broken.join("\n  "));
}

/// Runaway indices on a ring net_red sends on: counted, and the other rings keep
/// flowing (a corrupt output ring must not read as "no room", which would stall
/// every input behind backpressure).
#[test]
fn runaway_indices_on_an_output_ring_are_counted_and_the_other_rings_flow() {
    let kinds = [Garbage::HeadRunaway, Garbage::FreeTailRunaway];
    let broken: Vec<String> =
        ["crypto", "bypass"].iter().flat_map(|l| kinds.iter().flat_map(move |g| attack(l, *g))).collect();
    assert!(broken.is_empty(), "net_red with a neighbour corrupting its output indices:\n  {}", broken.join("\n  "));
}

/// A consumer that hands the same slot back twice (a duplicated free descriptor):
/// the sender refuses it, and never refills a slot that is still queued.
#[test]
fn a_duplicated_free_descriptor_is_rejected() {
    let pd = TestPd::new("consumer");
    let mut far = pd.link("x", SLOTS);
    let mut consumer = pd_ring::Link::open("x", Channel::new(0)).unwrap();
    let mut buf = [0u8; pd_ring::SLOT_SIZE];
    // Every slot once through the ring: the free queue now holds slots 0..SLOTS in order.
    for i in 0..SLOTS {
        assert!(far.tx.send(&[i as u8; 4]).unwrap());
        assert_eq!(consumer.rx.recv(&mut buf).unwrap(), Some(4));
    }
    // The consumer rewrites the oldest free entry (slot 0) to name slot 1 again.
    let ctl = &far.ctl[1];
    let q = pd_ring::queue_bytes(SLOTS);
    let head = garbage::peek(ctl, q + garbage::HEAD);
    garbage::poke(ctl, q + garbage::ENTRIES + (head % SLOTS) as usize * 8, pd_ring::SLOT_SIZE as u32);
    let first = far.tx.send(b"AAAA");
    let second = far.tx.send(b"BBBB");
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| consumer.rx.recv(&mut buf).ok().flatten().map(|n| buf[..n].to_vec()))
        .take(4)
        .collect();
    // The forgery is reported, and the consumer reads exactly what was sent, in
    // order: no queued slot was refilled.
    assert!(first.is_err() || second.is_err(), "the duplicated slot was not refused: {first:?} {second:?}");
    let sent: Vec<Vec<u8>> = [(first, b"AAAA"), (second, b"BBBB")]
        .into_iter()
        .filter(|(r, _)| *r == Ok(true))
        .map(|(_, p)| p.to_vec())
        .collect();
    assert_eq!(got, sent, "slot reused while queued: sends {first:?} {second:?}");
}

//! net_red against a fake NIC, crypto and net_black (pd-testkit).

use encryptor_config::{Action, Prefix, RedConfig, Rule};
use pd_api::{ChannelSet, Handler};
use pd_net_red::{NetRed, BYPASS, CRYPTO, NIC, TIMER};
use pd_testkit::{FarEnd, TestPd};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
const PC_MAC: [u8; 6] = [2, 0, 0, 0, 9, 9];
const OUR: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const PC: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);
const BYPASSED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const OUR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
const PC6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2);

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

struct Rig {
    pd: &'static TestPd,
    red: NetRed,
    nic: FarEnd,
    crypto: FarEnd,
    bypass: Option<FarEnd>,
}

fn rig(with_bypass: bool) -> Rig {
    let pd = TestPd::new("net_red");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let bypass = with_bypass.then(|| pd.link("bypass", 64));
    let config = RedConfig {
        addresses: vec![p("10.1.0.1/24"), p("fd00:1::1/64")],
        mac: OUR_MAC,
        rules: vec![
            Rule { prefix: p("10.2.0.0/24"), action: Action::Tunnel },
            Rule { prefix: p("fd00:2::/64"), action: Action::Tunnel },
            Rule { prefix: p("10.2.0.128/25"), action: Action::Drop },
            Rule { prefix: p("198.51.100.0/24"), action: Action::Bypass },
        ],
    };
    let red = NetRed::new(config).unwrap();
    Rig { pd, red, nic, crypto, bypass }
}

impl Rig {
    fn run(&mut self, channels: &[pd_api::Channel]) {
        let set = channels.iter().fold(ChannelSet::EMPTY, |s, c| s.with(*c));
        self.red.notified(set).unwrap();
    }
    fn counter(&self, name: &str) -> u64 {
        let mut v = None;
        self.red.counters(&mut |k, n| {
            if k == name {
                v = Some(n)
            }
        });
        v.unwrap_or_else(|| panic!("no counter {name}"))
    }
}

fn caps() -> ChecksumCapabilities {
    ChecksumCapabilities::default()
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload.len()];
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: EthernetAddress(src), dst_addr: EthernetAddress(dst), ethertype }.emit(&mut frame);
    frame.payload_mut().copy_from_slice(payload);
    f
}

fn arp(op: ArpOperation, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: EthernetAddress(sha),
        source_protocol_addr: spa,
        target_hardware_addr: EthernetAddress(tha),
        target_protocol_addr: tpa,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ArpPacket::new_unchecked(&mut b[..]));
    let dst = if op == ArpOperation::Request { [0xff; 6] } else { tha };
    eth(dst, sha, EthernetProtocol::Arp, &b)
}

fn ipv4_udp(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let udp = UdpRepr { src_port: 1000, dst_port: 2000 };
    let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Udp, payload_len: 8 + payload.len(), hop_limit: ttl };
    let mut b = vec![0u8; 20 + 8 + payload.len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt, &caps());
    udp.emit(
        &mut UdpPacket::new_unchecked(pkt.payload_mut()),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |x| x.copy_from_slice(payload),
        &caps(),
    );
    b
}

fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest { ident: 7, seq_no: 3, data: b"hello" };
    let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Icmp, payload_len: icmp.buffer_len(), hop_limit: 64 };
    let mut b = vec![0u8; 20 + icmp.buffer_len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt, &caps());
    icmp.emit(&mut Icmpv4Packet::new_unchecked(pkt.payload_mut()), &caps());
    b
}

/// The PC's ARP entry, so that forwarding needs no resolution.
fn learn_pc(r: &mut Rig) {
    r.nic.send(&arp(ArpOperation::Request, PC_MAC, PC, [0; 6], OUR));
    r.run(&[NIC]);
    r.nic.drain();
}

#[test]
fn answers_arp_for_its_address_only() {
    let mut r = rig(false);
    r.nic.send(&arp(ArpOperation::Request, PC_MAC, PC, [0; 6], OUR));
    r.nic.send(&arp(ArpOperation::Request, PC_MAC, PC, [0; 6], Ipv4Addr::new(10, 1, 0, 77)));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "one reply, none for another address");
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.dst_addr(), EthernetAddress(PC_MAC));
    match ArpRepr::parse(&ArpPacket::new_checked(f.payload()).unwrap()).unwrap() {
        ArpRepr::EthernetIpv4 { operation, source_hardware_addr, source_protocol_addr, .. } => {
            assert_eq!(operation, ArpOperation::Reply);
            assert_eq!(source_hardware_addr, EthernetAddress(OUR_MAC));
            assert_eq!(source_protocol_addr, OUR);
        }
        _ => panic!(),
    }
}

#[test]
fn answers_ping_to_its_address() {
    let mut r = rig(false);
    learn_pc(&mut r);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &icmp_echo(PC, OUR)));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
    assert_eq!(ip.dst_addr(), PC);
    let icmp = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(ip.payload()).unwrap(), &caps()).unwrap();
    assert_eq!(icmp, Icmpv4Repr::EchoReply { ident: 7, seq_no: 3, data: b"hello" });
    assert_eq!(r.counter("echo_replies"), 1);
}

#[test]
fn tunnels_by_policy_and_decrements_ttl() {
    let mut r = rig(false);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 64, b"secret")));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, Ipv4Addr::new(10, 2, 0, 200), 64, b"x")));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, Ipv4Addr::new(8, 8, 8, 8), 64, b"x")));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, BYPASSED, 64, b"x")));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 1, b"x")));
    r.run(&[NIC]);
    let out = r.crypto.drain();
    assert_eq!(out.len(), 1, "only the tunnel-policy packet goes to crypto");
    let ip = Ipv4Packet::new_checked(&out[0][..]).unwrap();
    assert_eq!(ip.dst_addr(), REMOTE);
    assert_eq!(ip.hop_limit(), 63);
    assert!(ip.verify_checksum(), "checksum fixed after the TTL change");
    // Longer Drop rule inside a Tunnel prefix, no rule at all, and Bypass without a link: all dropped.
    assert_eq!(r.counter("drop_policy"), 3);
    assert_eq!(r.counter("drop_ttl"), 1);
    assert!(r.nic.drain().is_empty(), "nothing is sent back to the PC in clear");
}

#[test]
fn bypass_goes_to_net_black_only_when_linked() {
    let mut r = rig(true);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, BYPASSED, 64, b"clear")));
    r.run(&[NIC]);
    assert_eq!(r.bypass.as_mut().unwrap().drain().len(), 1);
    assert!(r.crypto.drain().is_empty());
    // Inbound bypass: only from a bypass source, only to a PC.
    learn_pc(&mut r);
    let b = r.bypass.as_mut().unwrap();
    b.send(&ipv4_udp(BYPASSED, PC, 60, b"reply"));
    b.send(&ipv4_udp(Ipv4Addr::new(203, 0, 113, 1), PC, 60, b"spoofed"));
    r.run(&[BYPASS]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(r.counter("drop_bypass_source"), 1);
}

#[test]
fn delivers_decrypted_packets_after_resolving_the_pc() {
    let mut r = rig(false);
    r.crypto.send(&ipv4_udp(REMOTE, PC, 63, b"inbound"));
    r.run(&[CRYPTO]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "an ARP request for the PC, the packet waits");
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.ethertype(), EthernetProtocol::Arp);
    // The PC answers: the waiting packet goes out.
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.dst_addr(), EthernetAddress(PC_MAC));
    let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
    assert_eq!(ip.hop_limit(), 62);
    // Not for our LAN: dropped.
    r.crypto.send(&ipv4_udp(REMOTE, Ipv4Addr::new(10, 9, 9, 9), 63, b"x"));
    r.run(&[CRYPTO]);
    assert_eq!(r.counter("drop_not_on_link"), 1);
}

#[test]
fn unanswered_resolution_times_out_and_is_counted() {
    let mut r = rig(false);
    r.crypto.send(&ipv4_udp(REMOTE, PC, 63, b"inbound"));
    r.run(&[CRYPTO]);
    r.pd.advance_ns(5_000_000_000);
    r.run(&[TIMER]);
    assert_eq!(r.counter("drop_unresolved"), 1);
}

#[test]
fn answers_ndp_and_forwards_ipv6() {
    let mut r = rig(false);
    let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
        target_addr: OUR6,
        lladdr: Some(RawHardwareAddress::from(EthernetAddress(PC_MAC))),
    });
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1);
    let mut b = vec![0u8; 40 + ns.buffer_len()];
    let ip = Ipv6Repr { src_addr: PC6, dst_addr: group, next_header: IpProtocol::Icmpv6, payload_len: ns.buffer_len(), hop_limit: 255 };
    let mut pkt = Ipv6Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt);
    ns.emit(&PC6, &group, &mut Icmpv6Packet::new_unchecked(pkt.payload_mut()), &caps());
    r.nic.send(&eth([0x33, 0x33, 0xff, 0, 0, 1], PC_MAC, EthernetProtocol::Ipv6, &b));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "a neighbour advertisement");
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    let ip = Ipv6Packet::new_checked(f.payload()).unwrap();
    let icmp = Icmpv6Repr::parse(&ip.src_addr(), &ip.dst_addr(), &Icmpv6Packet::new_checked(ip.payload()).unwrap(), &caps()).unwrap();
    assert!(matches!(icmp, Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert { target_addr, .. }) if target_addr == OUR6));
    // A v6 packet to the tunnelled prefix goes to crypto with its hop limit decremented.
    let dst: Ipv6Addr = "fd00:2::2".parse().unwrap();
    let mut b = vec![0u8; 40 + 8];
    let ip = Ipv6Repr { src_addr: PC6, dst_addr: dst, next_header: IpProtocol::Udp, payload_len: 8, hop_limit: 9 };
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &b));
    r.run(&[NIC]);
    let out = r.crypto.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(Ipv6Packet::new_checked(&out[0][..]).unwrap().hop_limit(), 8);
}

#[test]
fn garbage_frames_are_counted_and_traffic_continues() {
    let mut r = rig(false);
    let good = eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 64, b"ok"));
    let mut bad_sum = good.clone();
    bad_sum[14 + 10] ^= 0xff; // IPv4 header checksum
    let mut long = good.clone();
    long[14 + 2] = 0x0f; // total length beyond the frame
    let frames: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 5],
        eth(OUR_MAC, PC_MAC, EthernetProtocol::Arp, &[1, 2, 3]),
        eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &[0x45, 0, 0]),
        eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &[0x60; 20]),
        eth([2, 9, 9, 9, 9, 9], PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 64, b"x")),
        eth(OUR_MAC, PC_MAC, EthernetProtocol::Unknown(0x88b5), &[0; 50]),
        bad_sum,
        long,
    ];
    for f in &frames {
        r.nic.send(f);
    }
    // Pseudo-random frames, deterministic.
    let mut x = 0x1234_5678u32;
    for i in 0..40 {
        let len = (i * 37) % 1600;
        let f: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        r.nic.send(&f);
        r.run(&[NIC]);
    }
    r.nic.send(&good);
    r.run(&[NIC]);
    assert_eq!(r.crypto.drain().len(), 1, "the good packet still goes through");
    for c in ["drop_bad_frame", "drop_bad_arp", "drop_bad_ipv4", "drop_bad_ipv6", "drop_other_mac", "drop_ethertype"] {
        assert!(r.counter(c) >= 1, "{c} not counted");
    }
}

#[test]
fn a_corrupt_ring_is_counted_and_the_other_rings_still_work() {
    let mut r = rig(false);
    // Scribble a runaway tail index on the queue crypto writes to net_red.
    let ctl = r.crypto.ctl[1];
    // SAFETY: test memory; word 0 is the active queue's tail.
    unsafe { *(ctl.base().as_ptr() as *mut u32) = 0xdead_beef };
    assert!(r.red.notified(ChannelSet::EMPTY.with(CRYPTO)).is_err());
    assert!(r.counter("ring_errors") >= 1);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 64, b"still")));
    let _ = r.red.notified(ChannelSet::EMPTY.with(NIC));
    assert_eq!(r.crypto.drain().len(), 1, "the NIC ring is still served");
}

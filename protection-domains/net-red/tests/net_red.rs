//! net_red against a fake NIC, crypto and net_black (pd-testkit).

use encryptor_config::{Action, Prefix, RedConfig, Rule};
use pd_api::{ChannelSet, Handler};
use pd_net_red::{NetRed, BYPASS, CRYPTO, NIC, TIMER};
use pd_testkit::{FarEnd, TestPd};
use pd_testkit::frames::{arp, caps, echo4, eth, udp4};
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
    rig_full(with_bypass, encryptor_config::DEFAULT_MTU, encryptor_config::MssClamp::Auto)
}

fn rig_with(mtu: u16, mss_clamp: encryptor_config::MssClamp) -> Rig {
    rig_full(false, mtu, mss_clamp)
}

fn rig_full(with_bypass: bool, mtu: u16, mss_clamp: encryptor_config::MssClamp) -> Rig {
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
        mtu,
        mss_clamp,
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

fn ipv4_udp(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    udp4(src, dst, 1000, 2000, ttl, payload)
}

/// The PC's ARP entry, so that forwarding needs no resolution, made the only way net_red makes
/// one: it has a packet for the PC (from crypto), asks, and the PC answers. Leaves the NIC ring
/// drained.
fn learn_pc(r: &mut Rig) {
    r.crypto.send(&ipv4_udp(REMOTE, PC, 63, b"learn"));
    r.run(&[CRYPTO]);
    r.nic.drain();
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR));
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
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo4(PC, OUR)));
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

// --- The tunnel MTU: MSS clamping, fragmentation, ICMP "too big" -------------------------

fn udp_sized(src: Ipv4Addr, dst: Ipv4Addr, total: usize, df: bool) -> Vec<u8> {
    let mut b = ipv4_udp(src, dst, 64, &vec![0x5a; total - 28]);
    let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
    p.set_dont_frag(df);
    p.fill_checksum();
    b
}

fn udp6_sized(src: Ipv6Addr, dst: Ipv6Addr, total: usize) -> Vec<u8> {
    let mut b = vec![0u8; total];
    let ip = Ipv6Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Udp, payload_len: total - 40, hop_limit: 64 };
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    b
}

/// A TCP SYN (or SYN-ACK) with an MSS option of `mss`.
fn tcp_syn(src: IpAddress, dst: IpAddress, mss: u16, ack: bool) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 40000,
        dst_port: 5201,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1),
        ack_number: ack.then_some(TcpSeqNumber(9)),
        window_len: 64240,
        window_scale: Some(7),
        max_seg_size: Some(mss),
        sack_permitted: true,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let (mut b, start) = match (src, dst) {
        (IpAddress::Ipv4(s), IpAddress::Ipv4(d)) => {
            let ip = Ipv4Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Tcp, payload_len: tcp.buffer_len(), hop_limit: 64 };
            let mut b = vec![0u8; 20 + tcp.buffer_len()];
            ip.emit(&mut Ipv4Packet::new_unchecked(&mut b[..]), &caps());
            (b, 20)
        }
        (IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
            let ip = Ipv6Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Tcp, payload_len: tcp.buffer_len(), hop_limit: 64 };
            let mut b = vec![0u8; 40 + tcp.buffer_len()];
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
            (b, 40)
        }
        _ => unreachable!(),
    };
    tcp.emit(&mut TcpPacket::new_unchecked(&mut b[start..]), &src, &dst, &caps());
    b
}

/// The MSS of a TCP SYN in an IP packet, checking its checksum.
fn syn_mss(packet: &[u8]) -> u16 {
    let (src, dst, start) = if packet[0] >> 4 == 4 {
        let ip = Ipv4Packet::new_checked(packet).unwrap();
        (IpAddress::Ipv4(ip.src_addr()), IpAddress::Ipv4(ip.dst_addr()), 20)
    } else {
        let ip = Ipv6Packet::new_checked(packet).unwrap();
        (IpAddress::Ipv6(ip.src_addr()), IpAddress::Ipv6(ip.dst_addr()), 40)
    };
    let tcp = TcpPacket::new_checked(&packet[start..]).unwrap();
    assert!(tcp.verify_checksum(&src, &dst), "TCP checksum after clamping");
    TcpRepr::parse(&tcp, &src, &dst, &caps()).unwrap().max_seg_size.unwrap()
}

#[test]
fn syns_both_ways_get_the_mss_that_fits_the_tunnel() {
    let mut r = rig(false);
    learn_pc(&mut r);
    let remote6: Ipv6Addr = "fd00:2::2".parse().unwrap();
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &tcp_syn(PC.into(), REMOTE.into(), 1460, false)));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &tcp_syn(PC6.into(), remote6.into(), 1440, false)));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &tcp_syn(PC.into(), REMOTE.into(), 1200, false)));
    r.run(&[NIC]);
    let out = r.crypto.drain();
    assert_eq!(out.iter().map(|p| syn_mss(p)).collect::<Vec<_>>(), vec![1380, 1360, 1200]);
    // The far side's SYN-ACK, decrypted, on its way to the PC.
    r.crypto.send(&tcp_syn(REMOTE.into(), PC.into(), 1460, true));
    r.run(&[CRYPTO]);
    let out = r.nic.drain();
    assert_eq!(syn_mss(EthernetFrame::new_checked(&out[0][..]).unwrap().payload()), 1380);
    assert_eq!(r.counter("mss_clamped"), 3);
}

#[test]
fn a_df_packet_too_big_for_the_tunnel_gets_fragmentation_needed_with_the_mtu() {
    let mut r = rig(false);
    learn_pc(&mut r);
    let big = udp_sized(PC, REMOTE, 1500, true);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &big));
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(PC, REMOTE, 1420, true)));
    r.run(&[NIC]);
    let to_crypto = r.crypto.drain();
    assert_eq!(to_crypto.len(), 1, "the one that fits (1420 bytes) goes through");
    assert_eq!(to_crypto[0].len(), 1420);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.dst_addr(), EthernetAddress(PC_MAC));
    let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR, PC));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!((u8::from(icmp.msg_type()), icmp.msg_code()), (3, 4));
    assert_eq!(u16::from_be_bytes([ip.payload()[6], ip.payload()[7]]), 1420, "next-hop MTU");
    // The quote is the packet as the PC sent it, its TTL not yet decremented (as Linux quotes).
    let quote = &ip.payload()[8..];
    assert!(quote.len() >= 28);
    assert_eq!(quote, &big[..quote.len()]);
    let quoted = Ipv4Packet::new_unchecked(quote);
    assert_eq!((quoted.src_addr(), quoted.dst_addr(), quoted.total_len()), (PC, REMOTE, 1500));
    assert_eq!((r.counter("drop_too_big"), r.counter("icmp_too_big_sent")), (1, 1));
}

/// A PC packet from an address no host has (the red prefix's broadcast address, ours,
/// loopback, 0/8, multicast) is a martian: not forwarded, and no ICMP error goes to it (it
/// would go to every PC, or to ourselves).
#[test]
fn martian_sources_are_neither_forwarded_nor_answered() {
    let martians = [Ipv4Addr::new(10, 1, 0, 255), OUR, Ipv4Addr::LOCALHOST, Ipv4Addr::new(0, 1, 2, 3), Ipv4Addr::new(224, 0, 0, 5)];
    for src in martians {
        let mut r = rig(false);
        learn_pc(&mut r);
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(src, REMOTE, 1500, true)));
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(src, REMOTE, 100, true)));
        r.run(&[NIC]);
        assert!(r.nic.drain().is_empty(), "an error to {src}");
        assert!(r.crypto.drain().is_empty(), "{src} forwarded");
        assert_eq!((r.counter("drop_bad_source"), r.counter("icmp_too_big_sent")), (2, 0), "{src}");
    }
    // A PC's own address still goes through.
    let mut r = rig(false);
    learn_pc(&mut r);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(PC, REMOTE, 100, true)));
    r.run(&[NIC]);
    assert_eq!(r.crypto.drain().len(), 1);
}

#[test]
fn an_ipv6_packet_too_big_gets_packet_too_big_never_below_1280() {
    for (mtu, expect) in [(1420u16, 1420u32), (1000, 1280)] {
        let mut r = rig_with(mtu, encryptor_config::MssClamp::Auto);
        let remote6: Ipv6Addr = "fd00:2::2".parse().unwrap();
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &udp6_sized(PC6, remote6, 1500)));
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &udp6_sized(PC6, remote6, 1280)));
        r.run(&[NIC]);
        assert_eq!(r.crypto.drain().len(), 1, "a 1280-byte IPv6 packet always fits");
        // The PC is not in the neighbour cache yet: the error waits for NDP.
        let out = r.nic.drain();
        let ns = EthernetFrame::new_checked(&out[0][..]).unwrap();
        assert_eq!(ns.ethertype(), EthernetProtocol::Ipv6, "a neighbour solicitation for the PC");
        // Answer it; the ICMPv6 error follows.
        let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags: NdiscNeighborFlags::SOLICITED,
            target_addr: PC6,
            lladdr: Some(RawHardwareAddress::from(EthernetAddress(PC_MAC))),
        });
        let mut b = vec![0u8; 40 + na.buffer_len()];
        let ip = Ipv6Repr { src_addr: PC6, dst_addr: OUR6, next_header: IpProtocol::Icmpv6, payload_len: na.buffer_len(), hop_limit: 255 };
        ip.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
        na.emit(&PC6, &OUR6, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv6, &b));
        r.run(&[NIC]);
        let out = r.nic.drain();
        assert_eq!(out.len(), 1);
        let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
        let ip = Ipv6Packet::new_checked(f.payload()).unwrap();
        assert!(f.payload().len() <= 1280);
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
        assert_eq!((u8::from(icmp.msg_type()), icmp.pkt_too_big_mtu()), (2, expect));
        // The quote is the packet as the PC sent it, hop limit 64 (not yet decremented).
        let quote = &ip.payload()[8..];
        assert_eq!(quote, &udp6_sized(PC6, remote6, 1500)[..quote.len()]);
    }
}

/// All or none also while a PC is being resolved: a decrypted packet larger than the PCs' link
/// whose fragments do not all fit the queue waiting for the PC is dropped whole, not cut.
#[test]
fn fragments_to_a_pc_being_resolved_go_all_or_none() {
    let mut r = rig(false);
    for _ in 0..15 {
        r.crypto.send(&ipv4_udp(REMOTE, PC, 63, b"small"));
    }
    r.crypto.send(&udp_sized(REMOTE, PC, 1800, false));
    r.run(&[CRYPTO]);
    assert_eq!(r.counter("drop_fragments_no_room"), 1);
    r.nic.drain();
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 15, "the 15 that waited, no fragment of the 16th");
    assert_eq!(r.counter("drop_pending_full"), 0);
}

#[test]
fn a_packet_without_df_too_big_for_the_tunnel_is_fragmented_before_encryption() {
    let mut r = rig(false);
    let big = udp_sized(PC, REMOTE, 1500, false);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &big));
    r.run(&[NIC]);
    let frags = r.crypto.drain();
    assert_eq!(frags.len(), 2, "one packet to crypto per fragment");
    let mut reassembler = pd_netstack::reassembly::Reassembler::new();
    let mut whole = None;
    for f in &frags {
        assert!(f.len() <= 1420);
        assert!(Ipv4Packet::new_checked(&f[..]).unwrap().verify_checksum());
        if let pd_netstack::reassembly::Reassembly::Complete(p) = reassembler.push_ipv4(f, 0) {
            whole = Some(p.to_vec());
        }
    }
    let whole = whole.expect("the fragments make the packet");
    let mut expected = big.clone();
    let mut p = Ipv4Packet::new_unchecked(&mut expected[..]);
    p.set_hop_limit(63);
    p.fill_checksum();
    assert_eq!(whole, expected);
    assert_eq!((r.counter("fragmented"), r.counter("fragments_sent"), r.counter("to_crypto")), (1, 2, 1));
    assert!(r.nic.drain().is_empty(), "no ICMP for a packet that may be fragmented");
}

/// A packet goes to crypto in all its fragments or not at all: with one slot left on the ring it
/// is dropped whole and counted (its first fragment alone went, and took the last slot).
#[test]
fn a_packet_whose_fragments_do_not_all_fit_is_dropped_whole() {
    let mut r = rig(false);
    for k in 0..63u8 {
        r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &ipv4_udp(PC, REMOTE, 64, &[k])));
    }
    r.run(&[NIC]);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(PC, REMOTE, 1500, false)));
    r.run(&[NIC]);
    let out = r.crypto.drain();
    assert_eq!(out.len(), 63, "the small packets only");
    assert_eq!((r.counter("fragmented"), r.counter("fragments_sent"), r.counter("drop_ring_full")), (0, 0, 1));
    // With room again, the next one goes whole.
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(PC, REMOTE, 1500, false)));
    r.run(&[NIC]);
    assert_eq!(r.crypto.drain().len(), 2);
    assert_eq!((r.counter("fragmented"), r.counter("fragments_sent")), (1, 2));
}

#[test]
fn a_flood_of_oversize_packets_gets_a_bounded_number_of_icmp_errors() {
    let mut r = rig(false);
    learn_pc(&mut r);
    let big = eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &udp_sized(PC, REMOTE, 1500, true));
    let mut errors = 0;
    for _ in 0..50 {
        for _ in 0..20 {
            r.nic.send(&big);
        }
        r.run(&[NIC]);
        errors += r.nic.drain().len();
        r.pd.advance_ns(10_000_000);
    }
    // 1000 packets over 0.5 s: the burst of 10 plus 20 per second.
    assert!((10..=21).contains(&errors), "{errors} ICMP errors");
    assert_eq!(r.counter("drop_too_big"), 1000);
    assert_eq!(r.counter("icmp_too_big_sent") + r.counter("icmp_rate_limited"), 1000);
    r.pd.advance_ns(1_000_000_000);
    r.nic.send(&big);
    r.run(&[NIC]);
    assert_eq!(r.nic.drain().len(), 1, "the bucket refills");
}

#[test]
fn decrypted_packets_larger_than_the_pcs_link_are_fragmented_or_counted() {
    let mut r = rig(false);
    learn_pc(&mut r);
    r.crypto.send(&udp_sized(REMOTE, PC, 1800, false));
    r.crypto.send(&udp_sized(REMOTE, PC, 1800, true));
    r.run(&[CRYPTO]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 2, "two fragments of the first, nothing of the second");
    assert!(out.iter().all(|f| f.len() <= 14 + 1500));
    assert_eq!(r.counter("drop_too_big_for_red"), 1);
}

#[test]
fn with_mss_clamp_off_syns_pass_untouched() {
    let mut r = rig_with(1420, encryptor_config::MssClamp::Off);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &tcp_syn(PC.into(), REMOTE.into(), 1460, false)));
    r.run(&[NIC]);
    assert_eq!(syn_mss(&r.crypto.drain()[0]), 1460);
    let mut status = Vec::new();
    r.red.status(&mut |l| status.push(l.to_string()));
    assert_eq!(status, ["port 02:00:00:00:01:01", "tunnel mtu 1420 (ipv6 1420)", "mss clamp off"]);
}

#[test]
fn an_echo_reply_to_a_neighbour_not_heard_from_for_long_asks_for_it_again() {
    let mut r = rig(false);
    learn_pc(&mut r);
    // A minute and more later the PC's entry is stale: the reply must not go to a MAC that may
    // have changed, but wait for a fresh answer (it was sent with the clock at 0, so the entry
    // looked fresh forever and the waiting reply expired at once).
    r.pd.advance_ns(61_000_000_000);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo4(PC, OUR)));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(EthernetFrame::new_checked(&out[0][..]).unwrap().ethertype(), EthernetProtocol::Arp, "asks first");
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "then the reply goes out");
    let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(&out[0][..]).unwrap().payload()).unwrap();
    assert_eq!((ip.dst_addr(), ip.next_header()), (PC, IpProtocol::Icmp));
}

/// One MAC per port: with a NIC PD that publishes its address on the port page, net_red answers
/// ARP with that address (the one the NIC filters on), not the config's; and it follows the link
/// state into its status page.
#[test]
fn the_nics_own_address_and_link_come_from_the_port_page() {
    let pd = TestPd::new("net_red");
    let port_region = pd.region("nic_port", 4096);
    // SAFETY: the leaked test region lives for ever; this test plays the NIC PD, its writer.
    let port = unsafe { pd_proto::port::PortPage::from_raw(port_region.base(), port_region.size()) }.unwrap();
    let nic_mac = [0x00, 0x25, 0x90, 0x11, 0x22, 0x33];
    port.publish_mac(nic_mac);
    port.publish_link(false, 0, false);
    let mut nic = pd.link("nic", 64);
    let _crypto = pd.link("crypto", 64);
    let config = RedConfig {
        addresses: vec![p("10.1.0.1/24")],
        mac: OUR_MAC,
        rules: vec![],
        mtu: encryptor_config::DEFAULT_MTU,
        mss_clamp: encryptor_config::MssClamp::Auto,
    };
    let mut red = NetRed::new(config).unwrap();
    let status = |red: &NetRed| {
        let mut lines = Vec::new();
        red.status(&mut |l| lines.push(l.to_string()));
        lines[0].clone()
    };
    assert_eq!(status(&red), "port 00:25:90:11:22:33 link DOWN");
    port.publish_link(true, 1000, true);
    nic.send(&arp(ArpOperation::Request, PC_MAC, PC, [0; 6], OUR));
    red.notified(ChannelSet::from_badge(1 << NIC.index())).unwrap();
    let replies = nic.drain();
    assert_eq!(replies.len(), 1);
    assert_eq!(&replies[0][6..12], &nic_mac, "sent from the NIC's address");
    assert_eq!(&replies[0][22..28], &nic_mac, "ARP answers with the NIC's address");
    assert_eq!(status(&red), "port 00:25:90:11:22:33 link up 1000 Mbit/s");
}

const ATTACKER_MAC: [u8; 6] = [2, 0, 0, 0, 6, 6];

/// Where a packet crypto hands net_red for the PC goes: the MAC it is sent to, or None if
/// net_red had to ask first.
fn delivered_to(r: &mut Rig) -> Option<[u8; 6]> {
    r.crypto.send(&ipv4_udp(REMOTE, PC, 63, b"to the pc"));
    r.run(&[CRYPTO]);
    let out = r.nic.drain();
    out.iter()
        .map(|f| EthernetFrame::new_checked(&f[..]).unwrap())
        .find(|f| f.ethertype() == EthernetProtocol::Ipv4)
        .map(|f| f.dst_addr().0)
}

#[test]
fn unsolicited_or_late_arp_cannot_poison_the_neighbour_cache() {
    let mut r = rig(false);
    learn_pc(&mut r);
    assert_eq!(delivered_to(&mut r), Some(PC_MAC));
    // An unasked-for reply, a request that claims the PC's address, and a gratuitous ARP, all
    // saying the PC is at the attacker's MAC.
    r.nic.send(&arp(ArpOperation::Reply, ATTACKER_MAC, PC, OUR_MAC, OUR));
    r.nic.send(&arp(ArpOperation::Request, ATTACKER_MAC, PC, [0; 6], OUR));
    r.nic.send(&arp(ArpOperation::Request, ATTACKER_MAC, PC, [0; 6], PC));
    r.run(&[NIC]);
    r.nic.drain();
    assert_eq!(delivered_to(&mut r), Some(PC_MAC), "the PC's entry is unchanged");
    // The PC's answer closed net_red's request for it: the contradicting reply answers nothing.
    assert_eq!(r.counter("drop_unsolicited_neighbour"), 1, "the contradicting reply is counted");
    // A neighbour nobody asked about is not learned at all.
    let stranger = Ipv4Addr::new(10, 1, 0, 77);
    r.nic.send(&arp(ArpOperation::Reply, ATTACKER_MAC, stranger, OUR_MAC, OUR));
    r.run(&[NIC]);
    r.crypto.send(&ipv4_udp(REMOTE, stranger, 63, b"x"));
    r.run(&[CRYPTO]);
    let out = r.nic.drain();
    assert_eq!(EthernetFrame::new_checked(&out[0][..]).unwrap().ethertype(), EthernetProtocol::Arp, "asks first");
    // An answer that comes after the answer window is not taken either.
    r.pd.advance_ns(6_000_000_000);
    r.nic.send(&arp(ArpOperation::Reply, ATTACKER_MAC, stranger, OUR_MAC, OUR));
    r.run(&[NIC]);
    assert!(r.nic.drain().is_empty(), "the waiting packet was not released to the late answer");
    assert_eq!(r.counter("drop_unsolicited_neighbour"), 3);
}

#[test]
fn answers_to_a_flood_of_spoofed_requests_cannot_evict_a_neighbour_in_use() {
    let mut r = rig(false);
    learn_pc(&mut r);
    // A PC-side attacker pings us from 300 spoofed on-link addresses and answers every request
    // net_red makes for them, trying to push the real PC out of the 64-entry cache.
    for k in 0..300u32 {
        let spoofed = Ipv4Addr::new(10, 1, 0, 3 + (k % 250) as u8);
        r.nic.send(&eth(OUR_MAC, ATTACKER_MAC, EthernetProtocol::Ipv4, &echo4(spoofed, OUR)));
        r.run(&[NIC]);
        r.nic.send(&arp(ArpOperation::Reply, ATTACKER_MAC, spoofed, OUR_MAC, OUR));
        r.run(&[NIC]);
        r.nic.drain();
        // The PC's traffic keeps flowing meanwhile: its entry is in use.
        if k % 16 == 0 {
            assert_eq!(delivered_to(&mut r), Some(PC_MAC), "after {k} spoofed neighbours");
        }
        r.pd.advance_ns(10_000_000);
    }
    assert_eq!(delivered_to(&mut r), Some(PC_MAC));
    // Requests beyond 64 open ones are not sent, and answers beyond a full cache of entries in
    // use are not cached: either way the flood stops short of the PC's entry.
    assert!(r.counter("drop_solicit_full") + r.counter("drop_neighbour_cache_full") > 0, "the flood was refused");
    // Entries idle for long are given up for new answers: a PC that comes back later still gets in.
    r.pd.advance_ns(11_000_000_000);
    // (The timer's tick drops the replies that waited for spoofed neighbours never asked for.)
    r.run(&[TIMER]);
    r.nic.drain();
    let newcomer = Ipv4Addr::new(10, 1, 0, 253);
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo4(newcomer, OUR)));
    r.run(&[NIC]);
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, newcomer, OUR_MAC, OUR));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert!(out.iter().any(|f| EthernetFrame::new_checked(&f[..]).unwrap().ethertype() == EthernetProtocol::Ipv4), "the echo reply went out");
    let full_before = r.counter("drop_neighbour_cache_full");
    r.nic.send(&eth(OUR_MAC, PC_MAC, EthernetProtocol::Ipv4, &echo4(newcomer, OUR)));
    r.run(&[NIC]);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "the newcomer is cached: answered at once");
    assert_eq!(r.counter("drop_neighbour_cache_full"), full_before);
}

#[test]
fn a_refresh_answered_first_by_someone_else_does_not_move_a_neighbour_in_use() {
    let mut r = rig(false);
    learn_pc(&mut r);
    // 51 s on, sending to the PC makes net_red ask again (the entry expires at 60 s).
    r.pd.advance_ns(51_000_000_000);
    assert_eq!(delivered_to(&mut r), Some(PC_MAC));
    // The attacker answers first, then the PC.
    r.nic.send(&arp(ArpOperation::Reply, ATTACKER_MAC, PC, OUR_MAC, OUR));
    r.nic.send(&arp(ArpOperation::Reply, PC_MAC, PC, OUR_MAC, OUR));
    r.run(&[NIC]);
    assert_eq!(r.counter("drop_neighbour_conflict"), 1);
    // Refreshed by the PC's answer: still the PC well past the first answer's 60 s.
    r.pd.advance_ns(20_000_000_000);
    assert_eq!(delivered_to(&mut r), Some(PC_MAC));
}

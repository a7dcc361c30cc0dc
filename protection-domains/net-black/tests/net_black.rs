//! net_black against a fake NIC and crypto (pd-testkit).

use encryptor_config::{Action, BlackConfig, Prefix, Rule};
use pd_api::{ChannelSet, Handler};
use pd_net_black::{NetBlack, BYPASS, CRYPTO, NIC};
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_testkit::{FarEnd, TestPd};
use pd_testkit::frames::{self, arp, caps, echo4, echo6, eth};
use smoltcp::wire::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
const GW_MAC: [u8; 6] = [2, 0, 0, 0, 8, 8];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 7, 7];
const OUR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const GW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

struct Rig {
    black: NetBlack,
    nic: FarEnd,
    crypto: FarEnd,
    pd: &'static TestPd,
}

fn rig() -> Rig {
    rig_with_v6_gateway(None)
}

fn rig_with_v6_gateway(gateway_v6: Option<Ipv6Addr>) -> Rig {
    let pd = TestPd::new("net_black");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap(), "2001:db8::1/64".parse().unwrap()],
        gateway_v4: Some(GW),
        gateway_v6,
        mac: OUR_MAC,
        listen_port: 51820,
        rules: vec![],
    };
    Rig { black: NetBlack::new(config).unwrap(), nic, crypto, pd }
}

impl Rig {
    fn run(&mut self, ch: pd_api::Channel) {
        self.black.notified(ChannelSet::EMPTY.with(ch)).unwrap();
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
    /// net_black learns `ip` is at `mac` the only way it does: it has something for `ip` (a
    /// datagram crypto sends there), asks, and `ip` answers. Leaves the counters of that
    /// datagram and the NIC ring drained.
    fn learn(&mut self, mac: [u8; 6], ip: Ipv4Addr) {
        let mut m = vec![0u8; ENDPOINT_HEADER_LEN + 8];
        EndpointHeader(SocketAddr::new(IpAddr::V4(ip), 9)).emit(&mut m);
        self.crypto.send(&m);
        self.run(CRYPTO);
        self.nic.send(&arp_reply(mac, ip));
        self.run(NIC);
        self.nic.drain();
    }
}

/// `ip`'s answer (from `mac`) to net_black's ARP request.
fn arp_reply(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    arp(ArpOperation::Reply, mac, ip, OUR_MAC, OUR)
}

/// A UDP datagram, its checksum spoilt unless `checksum`.
fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8], checksum: bool) -> Vec<u8> {
    let mut b = frames::udp4(src, dst, sport, dport, 64, payload);
    if !checksum {
        b[26] ^= 0xff;
    }
    b
}

#[test]
fn wireguard_port_goes_to_crypto_with_its_source() {
    let mut r = rig();
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, OUR, 40000, 51820, b"wg-message", true)));
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, OUR, 40000, 53, b"dns", true)));
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, OUR, 40000, 51820, b"bad-sum", false)));
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, Ipv4Addr::new(192, 0, 2, 9), 1, 51820, b"x", true)));
    r.run(NIC);
    let out = r.crypto.drain();
    assert_eq!(out.len(), 1);
    let (EndpointHeader(from), payload) = EndpointHeader::parse(&out[0]).unwrap();
    assert_eq!(from, SocketAddr::new(IpAddr::V4(PEER), 40000));
    assert_eq!(payload, b"wg-message");
    assert_eq!(r.counter("drop_not_wireguard"), 1);
    assert_eq!(r.counter("drop_bad_udp"), 1);
    assert_eq!(r.counter("drop_not_for_us"), 1);
}

#[test]
fn datagrams_from_crypto_go_on_link_or_via_the_gateway() {
    let mut r = rig();
    r.learn(PEER_MAC, PEER);
    let send = |r: &mut Rig, to: &str, payload: &[u8]| {
        let mut m = vec![0u8; ENDPOINT_HEADER_LEN + payload.len()];
        EndpointHeader(to.parse().unwrap()).emit(&mut m);
        m[ENDPOINT_HEADER_LEN..].copy_from_slice(payload);
        r.crypto.send(&m);
        r.run(CRYPTO);
    };
    send(&mut r, "192.0.2.2:51820", b"on-link");
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.dst_addr(), EthernetAddress(PEER_MAC));
    let ip = Ipv4Packet::new_checked(f.payload()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR, PEER));
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (51820, 51820));
    assert_eq!(udp.payload(), b"on-link");
    // Off-link: resolve the gateway first, then send through it.
    send(&mut r, "203.0.113.5:4500", b"far");
    let out = r.nic.drain();
    assert_eq!(EthernetFrame::new_checked(&out[0][..]).unwrap().ethertype(), EthernetProtocol::Arp);
    r.learn(GW_MAC, GW);
    // learn() drained the NIC, including the frame released by the gateway's ARP; resend to observe.
    send(&mut r, "203.0.113.5:4500", b"far");
    let out = r.nic.drain();
    let f = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(f.dst_addr(), EthernetAddress(GW_MAC));
    // No IPv6 gateway: off-link v6 has no route.
    send(&mut r, "[2001:db9::5]:51820", b"v6");
    assert_eq!(r.counter("drop_no_route"), 1);
    // A malformed header from crypto.
    r.crypto.send(&[7u8; 30]);
    r.run(CRYPTO);
    assert_eq!(r.counter("drop_bad_header"), 1);
}

#[test]
fn answers_ping_and_drops_everything_else() {
    let mut r = rig();
    r.learn(PEER_MAC, PEER);
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &echo4(PEER, OUR)));
    // TCP to us: not served.
    let mut tcp = udp4(PEER, OUR, 1, 22, b"ssh", true);
    tcp[9] = 6;
    let mut t = Ipv4Packet::new_unchecked(&mut tcp[..]);
    t.fill_checksum();
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &tcp));
    r.run(NIC);
    assert_eq!(r.nic.drain().len(), 1, "the echo reply");
    assert_eq!(r.counter("echo_replies"), 1);
    assert_eq!(r.counter("drop_not_wireguard"), 1);
    assert!(r.crypto.drain().is_empty());
}

// --- Fragments on the black side ---------------------------------------------------------

use pd_netstack::fragment::{Ipv4Fragmenter, Ipv6Fragmenter};
use std::net::Ipv6Addr;

const OUR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// The fragments a sender's stack makes of `packet` (DF cleared, as for a datagram it splits).
fn frags_v4(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let mut packet = packet.to_vec();
    let mut p = Ipv4Packet::new_unchecked(&mut packet[..]);
    p.set_dont_frag(false);
    p.fill_checksum();
    let mut f = Ipv4Fragmenter::new(&packet, mtu).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Some(n) = f.write_next(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ip = Ipv6Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Udp, payload_len: 8 + payload.len(), hop_limit: 64 };
    let mut b = vec![0u8; 48 + payload.len()];
    let mut pkt = Ipv6Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt);
    UdpRepr { src_port: sport, dst_port: dport }.emit(
        &mut UdpPacket::new_unchecked(pkt.payload_mut()),
        &IpAddress::Ipv6(src),
        &IpAddress::Ipv6(dst),
        payload.len(),
        |x| x.copy_from_slice(payload),
        &caps(),
    );
    b
}

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn from_crypto(r: &mut Rig, to: &str, payload: &[u8]) {
    let mut m = vec![0u8; ENDPOINT_HEADER_LEN + payload.len()];
    EndpointHeader(to.parse().unwrap()).emit(&mut m);
    m[ENDPOINT_HEADER_LEN..].copy_from_slice(payload);
    r.crypto.send(&m);
    r.run(CRYPTO);
}

#[test]
fn a_wireguard_datagram_in_fragments_reaches_crypto_whole_v4_and_v6() {
    let mut r = rig();
    let data = message(1452);
    let datagram = udp4(PEER, OUR, 40000, 51820, &data, true);
    let mut frags = frags_v4(&datagram, 576);
    frags.reverse();
    for f in &frags {
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, f));
    }
    r.run(NIC);
    let datagram6 = udp6(PEER6, OUR6, 40001, 51820, &data);
    let mut f6 = Ipv6Fragmenter::new(&datagram6, 1280, 77).unwrap();
    let mut buf = [0u8; 2048];
    while let Some(n) = f6.write_next(&mut buf) {
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &buf[..n]));
    }
    r.run(NIC);
    let out = r.crypto.drain();
    assert_eq!(out.len(), 2, "one message per datagram");
    let (EndpointHeader(from), payload) = EndpointHeader::parse(&out[0]).unwrap();
    assert_eq!((from, payload), (SocketAddr::new(IpAddr::V4(PEER), 40000), &data[..]));
    let (EndpointHeader(from), payload) = EndpointHeader::parse(&out[1]).unwrap();
    assert_eq!((from, payload), (SocketAddr::new(IpAddr::V6(PEER6), 40001), &data[..]));
    assert_eq!(r.counter("frags_reassembled"), 2);
    assert_eq!(r.counter("to_crypto"), 2);
}

#[test]
fn our_datagrams_leave_without_df_and_with_fresh_identifications() {
    let mut r = rig();
    r.learn(PEER_MAC, PEER);
    from_crypto(&mut r, "192.0.2.2:51820", b"one");
    from_crypto(&mut r, "192.0.2.2:51820", b"two");
    let out = r.nic.drain();
    let ids: Vec<u16> = out
        .iter()
        .map(|f| {
            let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(&f[..]).unwrap().payload()).unwrap();
            assert!(!ip.dont_frag(), "a router before a smaller MTU must be able to split it");
            assert!(ip.verify_checksum());
            ip.ident()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn a_datagram_larger_than_the_black_link_is_fragmented() {
    let mut r = rig();
    r.learn(PEER_MAC, PEER);
    // MTU = 1500 inside: 1500 + 32 bytes of WireGuard, more than the 1500-byte black link.
    let data = message(1532);
    from_crypto(&mut r, "192.0.2.2:51820", &data);
    let out = r.nic.drain();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|f| f.len() <= 14 + 1500));
    let mut reassembler = pd_netstack::reassembly::Reassembler::new();
    let mut whole = None;
    for f in &out {
        if let pd_netstack::reassembly::Reassembly::Complete(p) = reassembler.push_ipv4(EthernetFrame::new_checked(&f[..]).unwrap().payload(), 0) {
            whole = Some(p.to_vec());
        }
    }
    let whole = whole.unwrap();
    assert_eq!(UdpPacket::new_checked(Ipv4Packet::new_checked(&whole[..]).unwrap().payload()).unwrap().payload(), &data[..]);
    assert_eq!((r.counter("outer_fragmented"), r.counter("outer_fragments_sent")), (1, 2));
}

/// An ICMPv6 "packet too big" from a router at `from` about a datagram we sent from `sport`.
fn packet_too_big(from: Ipv6Addr, mtu: u32, sport: u16) -> Vec<u8> {
    let quoted = udp6(OUR6, PEER6, sport, 51820, &message(1400));
    let header = Ipv6Repr::parse(&Ipv6Packet::new_checked(&quoted[..]).unwrap()).unwrap();
    let icmp = Icmpv6Repr::PktTooBig { mtu, header, data: &quoted[40..600] };
    let mut b = vec![0u8; 40 + icmp.buffer_len()];
    let ip = Ipv6Repr { src_addr: from, dst_addr: OUR6, next_header: IpProtocol::Icmpv6, payload_len: icmp.buffer_len(), hop_limit: 64 };
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    icmp.emit(&from, &OUR6, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
    b
}

#[test]
fn packet_too_big_for_our_datagrams_lowers_the_path_mtu_of_that_endpoint() {
    let mut r = rig();
    let router: Ipv6Addr = "2001:db8::fe".parse().unwrap();
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &packet_too_big(router, 1000, 51820)));
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &packet_too_big(router, 1300, 4444)));
    r.run(NIC);
    assert_eq!((r.counter("path_mtu_lowered"), r.counter("drop_path_mtu_ignored")), (1, 1));
    // The peer is on-link: net_black asks for it (a small datagram waits), the peer answers.
    from_crypto(&mut r, "[2001:db8::2]:51820", b"first");
    let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::OVERRIDE,
        target_addr: PEER6,
        lladdr: Some(RawHardwareAddress::from(EthernetAddress(PEER_MAC))),
    });
    let mut b = vec![0u8; 40 + na.buffer_len()];
    Ipv6Repr { src_addr: PEER6, dst_addr: OUR6, next_header: IpProtocol::Icmpv6, payload_len: na.buffer_len(), hop_limit: 255 }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    na.emit(&PEER6, &OUR6, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &b));
    r.run(NIC);
    r.nic.drain();
    from_crypto(&mut r, "[2001:db8::2]:51820", &message(1452));
    let out = r.nic.drain();
    assert_eq!(out.len(), 2, "fragmented to the path MTU, which is never below 1280");
    for f in &out {
        let ip = EthernetFrame::new_checked(&f[..]).unwrap();
        assert!(ip.payload().len() <= 1280);
        assert_eq!(Ipv6Packet::new_checked(ip.payload()).unwrap().next_header(), IpProtocol::Ipv6Frag);
    }
}

#[test]
fn a_fragment_flood_costs_bounded_memory_is_counted_and_the_tunnel_keeps_working() {
    let mut r = rig();
    // Thousands of first fragments of datagrams that never complete.
    for id in 0..3000u16 {
        let mut f = udp4(PEER, OUR, 40000, 51820, &message(512), true);
        let mut p = Ipv4Packet::new_unchecked(&mut f[..]);
        p.set_ident(id);
        p.set_more_frags(true);
        p.fill_checksum();
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &f));
        if id % 50 == 49 {
            r.run(NIC);
        }
    }
    // Overlapping offsets, and a 64 KiB datagram's worth of fragments.
    for k in 0..60u16 {
        let mut f = udp4(PEER, OUR, 40000, 51820, &message(1000), true);
        let mut p = Ipv4Packet::new_unchecked(&mut f[..]);
        p.set_ident(50_000);
        p.set_more_frags(true);
        p.set_frag_offset(k * 1000 - k * 1000 % 8);
        p.fill_checksum();
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &f));
        if k % 30 == 29 {
            r.run(NIC);
        }
    }
    r.run(NIC);
    assert!(r.counter("drop_frag_evicted") >= 2990);
    assert!(r.counter("drop_frag_overlap") + r.counter("drop_frag_oversize") >= 2);
    assert!(r.crypto.drain().is_empty(), "nothing incomplete goes to crypto");
    // A whole datagram and a genuine fragmented one still get through.
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, OUR, 40000, 51820, b"whole", true)));
    for f in frags_v4(&udp4(PEER, OUR, 40000, 51820, &message(1200), true), 600) {
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &f));
    }
    r.run(NIC);
    assert_eq!(r.crypto.drain().len(), 2);
}

#[test]
fn a_slot_sized_message_to_an_unresolved_peer_waits_and_leaves_in_fragments() {
    let mut r = rig();
    // The largest message crypto can hand over: more than a slot once IP and UDP are added.
    let data = message(pd_ring::SLOT_SIZE - ENDPOINT_HEADER_LEN);
    from_crypto(&mut r, "192.0.2.2:51820", &data);
    let out = r.nic.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(EthernetFrame::new_checked(&out[0][..]).unwrap().ethertype(), EthernetProtocol::Arp, "resolves first");
    assert_eq!(r.counter("from_crypto"), 1, "taken, not silently dropped");
    r.learn(PEER_MAC, PEER);
    // learn() drains the NIC ring: ask again and watch the fragments come out.
    from_crypto(&mut r, "192.0.2.2:51820", &data);
    let out = r.nic.drain();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|f| f.len() <= 14 + 1500));
    assert_eq!(r.counter("outer_fragments_sent"), 4, "both messages went out, in two fragments each");
}

// --- Neighbours, gateways and group frames -----------------------------------------------

/// Frames' (destination MAC, EtherType, ARP target if ARP).
fn frames(out: &[Vec<u8>]) -> Vec<([u8; 6], EthernetProtocol, Option<Ipv4Addr>)> {
    out.iter()
        .map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).unwrap();
            let target = match ArpPacket::new_checked(e.payload()).and_then(|p| ArpRepr::parse(&p)) {
                Ok(ArpRepr::EthernetIpv4 { target_protocol_addr, .. }) if e.ethertype() == EthernetProtocol::Arp => Some(target_protocol_addr),
                _ => None,
            };
            (e.dst_addr().0, e.ethertype(), target)
        })
        .collect()
}

/// A ping from the Internet comes through the gateway; its answer goes back through it. (The
/// pinger was taken for a neighbour: net_black asked the LAN for it and never answered.)
#[test]
fn an_echo_request_from_off_the_link_is_answered_through_the_gateway() {
    let mut r = rig();
    r.learn(GW_MAC, GW);
    let far = Ipv4Addr::new(203, 0, 113, 9);
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &echo4(far, OUR)));
    r.run(NIC);
    let out = r.nic.drain();
    assert_eq!(frames(&out), vec![(GW_MAC, EthernetProtocol::Ipv4, None)], "one reply, to the gateway, no ARP");
    let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(&out[0][..]).unwrap().payload().to_vec()).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (OUR, far));
    assert_eq!(r.counter("echo_replies"), 1);
    // No IPv6 gateway: a ping from off the link has no way back, counted; nothing is asked.
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &echo6("2001:db9::9".parse().unwrap(), OUR6)));
    r.run(NIC);
    assert!(r.nic.drain().is_empty());
    assert_eq!((r.counter("drop_no_route_back"), r.counter("solicits_sent")), (1, 1));
    // A request "from" an address no host has is not answered: the answer would go to a group
    // (a reflection) or nowhere.
    for src in [Ipv4Addr::new(224, 0, 0, 1), Ipv4Addr::BROADCAST, Ipv4Addr::new(192, 0, 2, 255), Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED] {
        r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &echo4(src, OUR)));
    }
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &echo6("ff02::1".parse().unwrap(), OUR6)));
    r.run(NIC);
    assert!(r.nic.drain().is_empty());
    assert_eq!((r.counter("echo_replies"), r.counter("drop_bad_icmp")), (1, 6));
}

/// Requests pile up when hosts on the link do not answer: past 64 in five seconds new ones are
/// refused, but a neighbour in the cache (here a peer on the link, not a gateway) is still
/// asked again before its entry expires, and the tunnel keeps its way there.
#[test]
fn a_flood_of_unanswered_requests_cannot_keep_a_neighbour_in_use_from_being_asked_again() {
    let mut r = rig();
    r.pd.set_now_ns(1_000_000_000);
    r.learn(PEER_MAC, PEER);
    from_crypto(&mut r, "192.0.2.2:51820", b"out");
    assert_eq!(frames(&r.nic.drain()), vec![(PEER_MAC, EthernetProtocol::Ipv4, None)]);
    // 52 s on: the peer's answer is getting old. Requests for 70 hosts that never answer take
    // every record (crypto's own datagrams: answers to pings may take only a few).
    r.pd.set_now_ns(53_000_000_000);
    for k in 0..70u8 {
        from_crypto(&mut r, &format!("192.0.2.{}:51820", 100 + k), b"out");
        r.nic.drain();
    }
    assert!(r.counter("drop_solicit_full") > 0);
    // The next datagram to the peer still goes out, and the peer (a neighbour in the cache,
    // not a gateway) is asked again.
    from_crypto(&mut r, "192.0.2.2:51820", b"out");
    let out = frames(&r.nic.drain());
    assert!(out.contains(&(PEER_MAC, EthernetProtocol::Ipv4, None)), "{out:?}");
    assert!(out.contains(&([0xff; 6], EthernetProtocol::Arp, Some(PEER))), "the peer asked again: {out:?}");
}

/// Pings from many spoofed on-link sources, each answer waiting for its sender to be resolved,
/// cannot fill the waiting queue or the request records so that crypto's datagram to the
/// gateway (not yet known after a start) or to an on-link peer is dropped or never asked for:
/// answers may take half the queue (and so a few of the records).
#[test]
fn pings_from_many_spoofed_neighbours_cannot_keep_the_gateway_or_a_peer_from_being_asked() {
    let mut r = rig();
    // 80 pings over 4 s, each from another source: the answers that waited are given up after
    // 3 s, their requests' records last 5 s.
    for k in 0..80u8 {
        r.pd.set_now_ns(1_000_000_000 + u64::from(k) * 50_000_000);
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &echo4(Ipv4Addr::new(192, 0, 2, 100 + k), OUR)));
        r.run(NIC);
        r.run(pd_net_black::TIMER);
        r.nic.drain();
    }
    let pending_drops = r.counter("drop_pending_full");
    from_crypto(&mut r, "203.0.113.5:51820", b"out");
    let out = frames(&r.nic.drain());
    assert!(out.contains(&([0xff; 6], EthernetProtocol::Arp, Some(GW))), "the gateway asked: {out:?}");
    assert_eq!(r.counter("drop_pending_full"), pending_drops, "crypto's datagram waits for the answer");
    assert!(r.counter("drop_echo_no_room") > 0);
    r.nic.send(&arp_reply(GW_MAC, GW));
    r.run(NIC);
    assert!(frames(&r.nic.drain()).contains(&(GW_MAC, EthernetProtocol::Ipv4, None)), "and goes out after it");
    from_crypto(&mut r, "192.0.2.2:51820", b"out");
    let out = frames(&r.nic.drain());
    assert!(out.contains(&([0xff; 6], EthernetProtocol::Arp, Some(PEER))), "the on-link peer asked: {out:?}");
}

/// With every request record taken (crypto's own traffic to many unresolved neighbours), a
/// configured gateway not yet in the cache is still asked for.
#[test]
fn a_gateway_not_yet_known_is_asked_for_with_every_request_record_taken() {
    let mut r = rig();
    r.pd.set_now_ns(1_000_000_000);
    for k in 0..70u8 {
        from_crypto(&mut r, &format!("192.0.2.{}:51820", 10 + k), b"out");
        r.nic.drain();
    }
    assert!(r.counter("drop_solicit_full") >= 6, "{}", r.counter("drop_solicit_full"));
    from_crypto(&mut r, "203.0.113.5:51820", b"out");
    let out = frames(&r.nic.drain());
    assert!(out.contains(&([0xff; 6], EthernetProtocol::Arp, Some(GW))), "the gateway asked: {out:?}");
}

/// A datagram to the WireGuard port from an address no other host has, or from port 0, is not
/// handed to crypto (which would answer it: a cookie reply to a group, or to ourselves).
#[test]
fn datagrams_from_addresses_no_host_has_do_not_reach_crypto() {
    let mut r = rig();
    let bad4 = [
        (Ipv4Addr::BROADCAST, 40000),
        (Ipv4Addr::new(192, 0, 2, 255), 40000),
        (Ipv4Addr::new(224, 0, 0, 1), 40000),
        (Ipv4Addr::UNSPECIFIED, 40000),
        (Ipv4Addr::LOCALHOST, 40000),
        (OUR, 40000),
        (PEER, 0),
    ];
    for (src, sport) in bad4 {
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(src, OUR, sport, 51820, b"wg", true)));
    }
    for src in ["ff02::1", "::1", "::", "2001:db8::1", "::ffff:192.0.2.2", "::192.0.2.2", "2001:db8::"] {
        r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &udp6(src.parse().unwrap(), OUR6, 40000, 51820, b"wg")));
    }
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(Ipv4Addr::new(0, 1, 2, 3), OUR, 40000, 51820, b"wg", true)));
    // Hosts: on the link, off it, IPv6 link-local.
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &udp4(PEER, OUR, 40000, 51820, b"good", true)));
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(Ipv4Addr::new(203, 0, 113, 5), OUR, 40000, 51820, b"good", true)));
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &udp6(PEER6, OUR6, 40000, 51820, b"good")));
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &udp6("fe80::5".parse().unwrap(), OUR6, 40000, 51820, b"good")));
    r.run(NIC);
    let from: Vec<SocketAddr> = r.crypto.drain().iter().map(|m| EndpointHeader::parse(m).unwrap().0 .0).collect();
    let hosts: Vec<SocketAddr> = ["192.0.2.2:40000", "203.0.113.5:40000", "[2001:db8::2]:40000", "[fe80::5]:40000"].iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(from, hosts, "only the datagrams from hosts");
    assert_eq!(r.counter("drop_bad_source"), 15);
}

/// crypto's messages to an address no other host has, or to port 0, are not sent (nor asked
/// for with ARP).
#[test]
fn crypto_cannot_send_to_a_group_to_us_or_to_port_0() {
    let mut r = rig();
    let bad = [
        "255.255.255.255:51820",
        "192.0.2.255:51820",
        "224.0.0.1:51820",
        "0.0.0.0:51820",
        "127.0.0.1:51820",
        "192.0.2.1:51820",
        "192.0.2.2:0",
        "[ff02::1]:51820",
        "[2001:db8::1]:51820",
        "[::ffff:192.0.2.2]:51820",
        "[2001:db8::]:51820",
        "0.1.2.3:51820",
    ];
    for to in bad {
        from_crypto(&mut r, to, b"msg");
    }
    assert_eq!(r.nic.drain(), Vec::<Vec<u8>>::new());
    assert_eq!((r.counter("drop_bad_endpoint"), r.counter("from_crypto")), (12, 0));
    // A host's endpoint goes (asked for first).
    from_crypto(&mut r, "192.0.2.2:51820", b"msg");
    assert_eq!(frames(&r.nic.drain()), vec![([0xff; 6], EthernetProtocol::Arp, Some(PEER))]);
    assert_eq!(r.counter("from_crypto"), 1);
}

/// All or none also while the next hop is being resolved: a datagram whose fragments do not all
/// fit the queue of packets waiting for it is dropped whole, not cut.
#[test]
fn fragments_waiting_for_a_neighbour_go_all_or_none() {
    let mut r = rig();
    for _ in 0..15 {
        from_crypto(&mut r, "192.0.2.2:51820", b"small");
    }
    from_crypto(&mut r, "192.0.2.2:51820", &message(1600));
    assert_eq!((r.counter("drop_fragments_no_room"), r.counter("from_crypto")), (1, 15));
    r.nic.send(&arp_reply(PEER_MAC, PEER));
    r.run(NIC);
    let out = frames(&r.nic.drain());
    assert_eq!(out.iter().filter(|f| f.0 == PEER_MAC).count(), 15, "the 15 that waited, no fragment of the 16th: {out:?}");
    assert_eq!(r.counter("drop_pending_full"), 0);
}

/// Routers are often known by their link-local address: a BlackGateway of fe80::1 is asked for
/// and its answer taken (an answer about an address outside our prefix was refused).
#[test]
fn a_link_local_ipv6_gateway_is_resolved_and_used() {
    let gw: Ipv6Addr = "fe80::1".parse().unwrap();
    let mut r = rig_with_v6_gateway(Some(gw));
    from_crypto(&mut r, "[2001:db9::5]:51820", b"far");
    let out = r.nic.drain();
    assert_eq!(out.len(), 1, "a neighbour solicitation");
    let na = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
        flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::OVERRIDE | NdiscNeighborFlags::ROUTER,
        target_addr: gw,
        lladdr: Some(RawHardwareAddress::from(EthernetAddress(GW_MAC))),
    });
    let mut b = vec![0u8; 40 + na.buffer_len()];
    Ipv6Repr { src_addr: gw, dst_addr: OUR6, next_header: IpProtocol::Icmpv6, payload_len: na.buffer_len(), hop_limit: 255 }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    na.emit(&gw, &OUR6, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
    r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &b));
    r.run(NIC);
    let out = r.nic.drain();
    assert_eq!(frames(&out), vec![(GW_MAC, EthernetProtocol::Ipv6, None)], "the datagram that waited, to the gateway");
    let ip = Ipv6Packet::new_checked(EthernetFrame::new_checked(&out[0][..]).unwrap().payload().to_vec()).unwrap();
    assert_eq!(ip.dst_addr(), "2001:db9::5".parse::<Ipv6Addr>().unwrap());
    assert_eq!(r.counter("drop_bad_icmp"), 0);
}

/// A "packet too big" about a datagram net_black fragmented quotes its first fragment: the
/// Fragment header, then UDP. It lowers the path MTU like one about a whole datagram (it was
/// ignored, so a path narrower than 1500 never carried a full-size datagram); one quoting a
/// later fragment names no port and is ignored.
#[test]
fn packet_too_big_about_a_fragment_we_sent_lowers_the_path_mtu() {
    let mut r = rig();
    let router: Ipv6Addr = "2001:db8::fe".parse().unwrap();
    let datagram = udp6(OUR6, PEER6, 51820, 51820, &message(1600));
    let mut fragments = Ipv6Fragmenter::new(&datagram, 1500, 7).unwrap();
    let mut quoted = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(n) = fragments.write_next(&mut buf) {
        quoted.push(buf[..n].to_vec());
    }
    assert_eq!(quoted.len(), 2);
    assert_eq!(Ipv6Packet::new_checked(&quoted[0][..]).unwrap().next_header(), IpProtocol::Ipv6Frag);
    for (k, q) in quoted.iter().enumerate() {
        let header = Ipv6Repr::parse(&Ipv6Packet::new_checked(&q[..]).unwrap()).unwrap();
        let icmp = Icmpv6Repr::PktTooBig { mtu: 1400 - 100 * k as u32, header, data: &q[40..q.len().min(600)] };
        let mut b = vec![0u8; 40 + icmp.buffer_len()];
        Ipv6Repr { src_addr: router, dst_addr: OUR6, next_header: IpProtocol::Icmpv6, payload_len: icmp.buffer_len(), hop_limit: 64 }
            .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
        icmp.emit(&router, &OUR6, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
        r.nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv6, &b));
    }
    r.run(NIC);
    assert_eq!((r.counter("path_mtu_lowered"), r.counter("drop_path_mtu_ignored")), (1, 0));
    assert_eq!(r.counter("drop_ignored"), 1, "the later fragment's");
}

/// A unicast IP packet in a broadcast or multicast frame is neither served nor forwarded
/// (RFC 1122 3.3.6, RFC 1812 5.3.4): another router on the link would act on it too.
#[test]
fn unicast_ip_in_a_group_frame_is_dropped() {
    let mut r = rig();
    let wg = udp4(PEER, OUR, 40000, 51820, b"wg-message", true);
    r.nic.send(&eth([0xff; 6], PEER_MAC, EthernetProtocol::Ipv4, &wg));
    r.nic.send(&eth([0x01, 0, 0x5e, 0, 0, 1], PEER_MAC, EthernetProtocol::Ipv4, &wg));
    r.nic.send(&eth([0x33, 0x33, 0, 0, 0, 1], PEER_MAC, EthernetProtocol::Ipv6, &udp6(PEER6, OUR6, 40000, 51820, b"wg")));
    r.run(NIC);
    assert!(r.crypto.drain().is_empty());
    assert_eq!(r.counter("drop_unicast_in_group_frame"), 3);
    // The same datagram to our MAC goes to crypto.
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &wg));
    r.run(NIC);
    assert_eq!(r.crypto.drain().len(), 1);
}

/// An IPv6 UDP datagram without a checksum (zero) is refused: RFC 8200 makes it mandatory, and
/// smoltcp takes zero for "none", as IPv4 allows.
#[test]
fn an_ipv6_datagram_without_a_udp_checksum_is_refused() {
    let mut r = rig();
    let mut d = udp6(PEER6, OUR6, 40000, 51820, b"wg");
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &d));
    d[46] = 0;
    d[47] = 0;
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv6, &d));
    r.run(NIC);
    assert_eq!(r.crypto.drain().len(), 1, "only the datagram with its checksum");
    assert_eq!(r.counter("drop_bad_udp"), 1);
}

/// net_black relays in clear only what net_red would: the longest rule for the address must be
/// Bypass. With Bypass 198.51.0.0/16 and a Tunnel rule 198.51.100.0/24 inside it, net_red
/// tunnels 198.51.100.x; net_black, given such a packet on the bypass link (a net_red that
/// misbehaves), sends it nowhere, and relays nothing from 198.51.100.x to the red side. (It
/// checked only that some Bypass prefix covered the address.)
#[test]
fn only_addresses_whose_longest_rule_is_bypass_cross_the_bypass_link() {
    let rules = vec![
        Rule { prefix: "198.51.0.0/16".parse().unwrap(), action: Action::Bypass },
        Rule { prefix: "198.51.100.0/24".parse().unwrap(), action: Action::Tunnel },
        // Link-local: never forwarded, whatever the rules say.
        Rule { prefix: "169.254.0.0/16".parse().unwrap(), action: Action::Bypass },
    ];
    let (mut black, mut nic, mut bypass) = bypass_rig("net_black_bypass", rules);
    let run = |black: &mut NetBlack, ch| black.notified(ChannelSet::EMPTY.with(ch)).unwrap();
    let (bypassed, tunnelled) = (Ipv4Addr::new(198, 51, 7, 5), Ipv4Addr::new(198, 51, 100, 5));
    // From the red side: only the Bypass destination goes out (to the gateway, once asked).
    let pc = Ipv4Addr::new(10, 1, 0, 2);
    bypass.send(&udp4(pc, bypassed, 1, 2, b"clear", true));
    bypass.send(&udp4(pc, tunnelled, 1, 2, b"clear", true));
    run(&mut black, BYPASS);
    assert_eq!((counter(&black, "from_bypass"), counter(&black, "drop_bypass_destination")), (1, 1));
    nic.drain();
    // From the network: only the Bypass source is relayed to the red side.
    nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(bypassed, pc, 2, 1, b"in", true)));
    nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(tunnelled, pc, 2, 1, b"in", true)));
    run(&mut black, NIC);
    let relayed = bypass.drain();
    assert_eq!(relayed.len(), 1);
    assert_eq!(Ipv4Packet::new_checked(&relayed[0][..]).unwrap().src_addr(), bypassed);
    assert_eq!((counter(&black, "to_bypass"), counter(&black, "drop_not_for_us")), (1, 1));
    // Link-local (RFC 3927) crosses in neither direction.
    let link_local = Ipv4Addr::new(169, 254, 1, 1);
    bypass.send(&udp4(pc, link_local, 1, 2, b"clear", true));
    run(&mut black, BYPASS);
    nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(link_local, pc, 2, 1, b"in", true)));
    run(&mut black, NIC);
    assert!(bypass.drain().is_empty());
    assert_eq!((counter(&black, "drop_bypass_destination"), counter(&black, "drop_not_for_us")), (2, 2));
}

/// Our datagram leaves in all its fragments or not at all: with one NIC slot left it is dropped
/// whole and counted (its first fragment alone went, and took the last slot).
#[test]
fn a_datagram_whose_fragments_do_not_all_fit_is_dropped_whole() {
    let mut r = rig();
    r.learn(PEER_MAC, PEER);
    for k in 0..63u8 {
        from_crypto(&mut r, "192.0.2.2:51820", &[k; 32]);
    }
    from_crypto(&mut r, "192.0.2.2:51820", &message(1532));
    assert_eq!(r.nic.drain().len(), 63, "the small datagrams only");
    assert_eq!((r.counter("outer_fragmented"), r.counter("outer_fragments_sent"), r.counter("drop_fragments_no_room")), (0, 0, 1));
    from_crypto(&mut r, "192.0.2.2:51820", &message(1532));
    assert_eq!(r.nic.drain().len(), 2, "with room, whole");
}

/// With a default Bypass rule, packets from martian sources (0/8, loopback, multicast, our
/// prefix's broadcast, ours) are still not relayed to the red side.
#[test]
fn martian_sources_do_not_cross_the_bypass_link() {
    let rules = vec![Rule { prefix: "0.0.0.0/0".parse().unwrap(), action: Action::Bypass }];
    let (mut black, mut nic, mut bypass) = bypass_rig("net_black_bypass_martians", rules);
    let pc = Ipv4Addr::new(10, 1, 0, 2);
    let martians = [Ipv4Addr::new(0, 1, 2, 3), Ipv4Addr::LOCALHOST, Ipv4Addr::new(224, 0, 0, 5), Ipv4Addr::new(192, 0, 2, 255), OUR];
    for src in martians {
        nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(src, pc, 2, 1, b"in", true)));
    }
    nic.send(&eth(OUR_MAC, GW_MAC, EthernetProtocol::Ipv4, &udp4(Ipv4Addr::new(198, 51, 7, 5), pc, 2, 1, b"in", true)));
    black.notified(ChannelSet::EMPTY.with(NIC)).unwrap();
    let relayed = bypass.drain();
    assert_eq!(relayed.len(), 1, "only the host's");
    assert_eq!(Ipv4Packet::new_checked(&relayed[0][..]).unwrap().src_addr(), Ipv4Addr::new(198, 51, 7, 5));
    assert_eq!(counter(&black, "drop_bad_source"), 5);
}

/// net_black on 192.0.2.1/24 with a bypass link and `rules`; its NIC and bypass far ends.
fn bypass_rig(name: &str, rules: Vec<Rule>) -> (NetBlack, FarEnd, FarEnd) {
    let pd = TestPd::new(name);
    let nic = pd.link("nic", 64);
    let _crypto = pd.link("crypto", 64);
    let bypass = pd.link("bypass", 64);
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap()],
        gateway_v4: Some(GW),
        gateway_v6: None,
        mac: OUR_MAC,
        listen_port: 51820,
        rules,
    };
    (NetBlack::new(config).unwrap(), nic, bypass)
}

/// A counter of `black` by name.
fn counter(black: &NetBlack, name: &str) -> u64 {
    let mut v = 0;
    black.counters(&mut |k, n| {
        if k == name {
            v = n
        }
    });
    v
}

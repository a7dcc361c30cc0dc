//! net_black against a fake NIC and crypto (pd-testkit).

use encryptor_config::{BlackConfig, Prefix};
use pd_api::{ChannelSet, Handler};
use pd_net_black::{NetBlack, CRYPTO, NIC};
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_testkit::{FarEnd, TestPd};
use smoltcp::phy::ChecksumCapabilities;
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
}

fn rig() -> Rig {
    let pd = TestPd::new("net_black");
    let nic = pd.link("nic", 64);
    let crypto = pd.link("crypto", 64);
    let config = BlackConfig {
        addresses: vec!["192.0.2.1/24".parse::<Prefix>().unwrap(), "2001:db8::1/64".parse().unwrap()],
        gateway_v4: Some(GW),
        gateway_v6: None,
        mac: OUR_MAC,
        listen_port: 51820,
        bypass: vec![],
    };
    Rig { black: NetBlack::new(config).unwrap(), nic, crypto }
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
    fn learn(&mut self, mac: [u8; 6], ip: Ipv4Addr) {
        let repr = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(mac),
            source_protocol_addr: ip,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: OUR,
        };
        let mut b = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ArpPacket::new_unchecked(&mut b[..]));
        self.nic.send(&eth([0xff; 6], mac, EthernetProtocol::Arp, &b));
        self.run(NIC);
        self.nic.drain();
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

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8], checksum: bool) -> Vec<u8> {
    let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Udp, payload_len: 8 + payload.len(), hop_limit: 64 };
    let mut b = vec![0u8; 28 + payload.len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt, &caps());
    UdpRepr { src_port: sport, dst_port: dport }.emit(
        &mut UdpPacket::new_unchecked(pkt.payload_mut()),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |x| x.copy_from_slice(payload),
        &caps(),
    );
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
    let icmp = Icmpv4Repr::EchoRequest { ident: 1, seq_no: 1, data: b"ping" };
    let ip = Ipv4Repr { src_addr: PEER, dst_addr: OUR, next_header: IpProtocol::Icmp, payload_len: icmp.buffer_len(), hop_limit: 64 };
    let mut b = vec![0u8; 20 + icmp.buffer_len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt, &caps());
    icmp.emit(&mut Icmpv4Packet::new_checked(pkt.payload_mut()).unwrap(), &caps());
    r.nic.send(&eth(OUR_MAC, PEER_MAC, EthernetProtocol::Ipv4, &b));
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

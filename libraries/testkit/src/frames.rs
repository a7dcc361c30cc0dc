//! Frames and packets the stack PDs' tests send them, built with smoltcp's wire types (checksums
//! filled): Ethernet, ARP, IPv4 with a payload, UDP or an ICMP echo request, IPv6 echo requests.

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The echo requests' identifier, sequence number and data.
pub const ECHO: (u16, u16, &[u8]) = (7, 3, b"hello");

/// Checksums computed and checked in software (what the tests' packets carry).
pub fn caps() -> ChecksumCapabilities {
    ChecksumCapabilities::default()
}

/// An Ethernet frame around `payload`.
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload.len()];
    let mut frame = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: EthernetAddress(src), dst_addr: EthernetAddress(dst), ethertype }.emit(&mut frame);
    frame.payload_mut().copy_from_slice(payload);
    f
}

/// An ARP frame from `sha`/`spa` about `tha`/`tpa`: a request goes to the broadcast address, a
/// reply to `tha`.
pub fn arp(op: ArpOperation, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
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

/// An IPv4 packet carrying `payload` as protocol `proto`.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: IpProtocol, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let ip = Ipv4Repr { src_addr: src, dst_addr: dst, next_header: proto, payload_len: payload.len(), hop_limit: ttl };
    let mut b = vec![0u8; 20 + payload.len()];
    let mut pkt = Ipv4Packet::new_unchecked(&mut b[..]);
    ip.emit(&mut pkt, &caps());
    pkt.payload_mut().copy_from_slice(payload);
    b
}

/// An IPv4 UDP datagram.
pub fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut udp = vec![0u8; 8 + payload.len()];
    UdpRepr { src_port: sport, dst_port: dport }.emit(
        &mut UdpPacket::new_unchecked(&mut udp[..]),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |x| x.copy_from_slice(payload),
        &caps(),
    );
    ipv4(src, dst, IpProtocol::Udp, ttl, &udp)
}

/// An ICMP echo request ([`ECHO`]).
pub fn echo4(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest { ident: ECHO.0, seq_no: ECHO.1, data: ECHO.2 };
    let mut b = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), &caps());
    ipv4(src, dst, IpProtocol::Icmp, 64, &b)
}

/// An ICMPv6 echo request ([`ECHO`]).
pub fn echo6(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let icmp = Icmpv6Repr::EchoRequest { ident: ECHO.0, seq_no: ECHO.1, data: ECHO.2 };
    let mut b = vec![0u8; 40 + icmp.buffer_len()];
    Ipv6Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Icmpv6, payload_len: icmp.buffer_len(), hop_limit: 64 }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    icmp.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(&mut b[40..]), &caps());
    b
}

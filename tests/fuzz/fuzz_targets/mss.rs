//! MSS clamping (net_red rewrites TCP SYNs both ways): an arbitrary packet and limits.
//! Oracles: no panic; a packet is changed only when clamped, and then only in the MSS value
//! (now the limit, lowered from a larger one) and the TCP checksum, which stays exactly as valid
//! (or invalid) as it was.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pd_netstack::mss::{clamp_mss, Clamp};
use smoltcp::wire::{IpAddress, Ipv4Packet, Ipv6Packet, TcpPacket};

/// Whether the TCP checksum of `p` verifies (a bare parse that trusts the IP header's length).
fn tcp_checksum_ok(p: &[u8]) -> Option<bool> {
    if p[0] >> 4 == 4 {
        let ip = Ipv4Packet::new_checked(p).ok()?;
        let tcp = TcpPacket::new_checked(&p[usize::from(ip.header_len())..usize::from(ip.total_len())]).ok()?;
        Some(tcp.verify_checksum(&IpAddress::Ipv4(ip.src_addr()), &IpAddress::Ipv4(ip.dst_addr())))
    } else {
        let ip = Ipv6Packet::new_checked(p).ok()?;
        if ip.next_header() != smoltcp::wire::IpProtocol::Tcp {
            return None;
        }
        let tcp = TcpPacket::new_checked(&p[40..40 + usize::from(ip.payload_len())]).ok()?;
        Some(tcp.verify_checksum(&IpAddress::Ipv6(ip.src_addr()), &IpAddress::Ipv6(ip.dst_addr())))
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, c, d, packet @ ..] = data else { return };
    let (v4, v6) = (u16::from_le_bytes([*a, *b]), u16::from_le_bytes([*c, *d]));
    if packet.is_empty() {
        return;
    }
    let mut p = packet.to_vec();
    let before = tcp_checksum_ok(&p);
    match clamp_mss(&mut p, v4, v6) {
        Clamp::Lowered(old) => {
            let changed: Vec<usize> = (0..p.len()).filter(|&i| p[i] != packet[i]).collect();
            assert!(changed.len() <= 4, "clamping changed {} bytes", changed.len());
            let limit = if packet[0] >> 4 == 4 { v4 } else { v6 };
            assert!(old > limit);
            assert_eq!(tcp_checksum_ok(&p), before, "the checksum's validity changed");
            let mss_at = (0..p.len().saturating_sub(1))
                .find(|&i| u16::from_be_bytes([p[i], p[i + 1]]) == limit && u16::from_be_bytes([packet[i], packet[i + 1]]) == old);
            assert!(mss_at.is_some(), "the MSS field does not hold the limit");
        }
        _ => assert_eq!(p, packet, "a packet changed without being clamped"),
    }
});

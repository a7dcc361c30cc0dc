//! TCP MSS clamping: a router on a path with a smaller MTU lowers the Maximum Segment Size
//! option of the TCP SYN and SYN-ACK it forwards, so that neither end ever sends a segment too
//! big for the tunnel and TCP never needs ICMP "fragmentation needed" at all (RFC 879's MSS,
//! RFC 4459 §3.2 on tunnels).
//!
//! The TCP checksum is updated incrementally (RFC 1624), so the rest of the segment is never
//! read and a packet's checksum stays as valid, or as invalid, as it came.

/// TCP header flag: synchronize.
const SYN: u8 = 0x02;
/// TCP option kinds.
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;

/// The MSS that fits a tunnel MTU: the MTU less the IPv4 (20) or IPv6 (40) header and the TCP
/// header (20).
pub fn mss_for_mtu(mtu: u16, ipv6: bool) -> u16 {
    mtu.saturating_sub(if ipv6 { 60 } else { 40 })
}

/// What clamping did to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clamp {
    /// Not a TCP SYN (or not the first fragment of one): untouched.
    NotSyn,
    /// A SYN whose MSS was already at most the limit, or without an MSS option: untouched.
    Within,
    /// A SYN whose MSS option was lowered from this value.
    Lowered(u16),
    /// A SYN whose options do not parse: untouched (the receiving TCP judges it).
    BadOptions,
}

/// Lowers the MSS option of a TCP SYN (or SYN-ACK) in `packet` (one IPv4 or IPv6 packet,
/// exactly its length) to at most `mss_v4` or `mss_v6`, fixing the TCP checksum.
pub fn clamp_mss(packet: &mut [u8], mss_v4: u16, mss_v6: u16) -> Clamp {
    let Some((tcp_start, limit)) = tcp_offset(packet, mss_v4, mss_v6) else { return Clamp::NotSyn };
    let Some(tcp) = packet.get_mut(tcp_start..) else { return Clamp::NotSyn };
    if tcp.len() < 20 || tcp[13] & SYN == 0 {
        return Clamp::NotSyn;
    }
    let header_len = usize::from(tcp[12] >> 4) * 4;
    if header_len < 20 || header_len > tcp.len() {
        return Clamp::BadOptions;
    }
    let mut i = 20;
    while i < header_len {
        match tcp[i] {
            OPT_END => return Clamp::Within,
            OPT_NOP => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else { return Clamp::BadOptions };
                let len = usize::from(len);
                if len < 2 || i + len > header_len {
                    return Clamp::BadOptions;
                }
                if kind == OPT_MSS {
                    if len != 4 {
                        return Clamp::BadOptions;
                    }
                    let old = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
                    if old <= limit {
                        return Clamp::Within;
                    }
                    tcp[i + 2..i + 4].copy_from_slice(&limit.to_be_bytes());
                    let checksum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    // The checksum sums 16-bit words from the header's start. After a lone NOP
                    // the field sits at an odd offset, where it adds in byte-swapped (RFC 1071).
                    let updated = if i % 2 == 0 {
                        checksum_update(checksum, old, limit)
                    } else {
                        checksum_update(checksum, old.swap_bytes(), limit.swap_bytes())
                    };
                    tcp[16..18].copy_from_slice(&updated.to_be_bytes());
                    return Clamp::Lowered(old);
                }
                i += len;
            }
        }
    }
    Clamp::Within
}

/// Where the TCP header starts in `packet` and which limit applies, if the packet is TCP and
/// carries the start of the segment (IPv4 fragment offset 0; IPv6 TCP straight after the fixed
/// header, or after a first Fragment header).
fn tcp_offset(packet: &[u8], mss_v4: u16, mss_v6: u16) -> Option<(usize, u16)> {
    match packet.first()? >> 4 {
        4 => {
            let header_len = usize::from(packet.get(0)? & 0x0f) * 4;
            let fragment_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
            (packet.get(9)? == &6 && fragment_offset == 0 && header_len >= 20).then_some((header_len, mss_v4))
        }
        6 => {
            let mut next = *packet.get(6)?;
            let mut at = 40;
            // Hop-by-hop, routing and destination options headers, and a first fragment.
            for _ in 0..4 {
                match next {
                    6 => return Some((at, mss_v6)),
                    0 | 43 | 60 => {
                        next = *packet.get(at)?;
                        at += (usize::from(*packet.get(at + 1)?) + 1) * 8;
                    }
                    44 => {
                        let offset = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]) & !7;
                        if offset != 0 {
                            return None;
                        }
                        next = *packet.get(at)?;
                        at += 8;
                    }
                    _ => return None,
                }
            }
            None
        }
        _ => None,
    }
}

/// RFC 1624 eqn. 3: the one's-complement checksum `hc` after a 16-bit word changed from `m` to
/// `m_new`.
pub fn checksum_update(hc: u16, m: u16, m_new: u16) -> u16 {
    let mut sum = u32::from(!hc) + u32::from(!m) + u32::from(m_new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

//! The ICMP errors a router sends when a packet does not fit its next link — IPv4
//! "fragmentation needed" (type 3 code 4, RFC 792 with RFC 1191's next-hop MTU) and ICMPv6
//! "packet too big" (RFC 4443 §3.2) — and the token bucket that bounds how many it sends.

use core::net::{Ipv4Addr, Ipv6Addr};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr};

/// Longest ICMPv4 error (RFC 1812 §4.3.2.3: as much of the original as fits in 576 bytes).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// Longest ICMPv6 error (RFC 4443 §2.4 (c): no more than the minimum IPv6 MTU).
pub const ICMPV6_ERROR_MAX: usize = 1280;

/// Writes into `out` an IPv4 packet from `src` carrying ICMP "fragmentation needed and DF
/// set" with next-hop MTU `mtu`, quoting the start of `original` (whose source is the
/// destination). Returns its length, or None if `original` is not an IPv4 packet, is one no
/// error may answer ([`may_answer_ipv4`]), or `out` is too small.
pub fn frag_needed(out: &mut [u8], src: Ipv4Addr, original: &[u8], mtu: u16, hop_limit: u8) -> Option<usize> {
    let orig = Ipv4Packet::new_checked(original).ok()?;
    if !may_answer_ipv4(&orig) {
        return None;
    }
    let quoted = original.len().min(ICMPV4_ERROR_MAX - 20 - 8);
    let icmp_len = 8 + quoted;
    let ip = Ipv4Repr { src_addr: src, dst_addr: orig.src_addr(), next_header: IpProtocol::Icmp, payload_len: icmp_len, hop_limit };
    let total = 20 + icmp_len;
    let buf = out.get_mut(..total)?;
    let mut p = Ipv4Packet::new_unchecked(&mut *buf);
    ip.emit(&mut p, &ChecksumCapabilities::default());
    let icmp = p.payload_mut();
    icmp[0] = 3; // destination unreachable
    icmp[1] = 4; // fragmentation needed and DF set
    icmp[2..4].fill(0);
    icmp[4..6].fill(0);
    icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
    icmp[8..].copy_from_slice(&original[..quoted]);
    let sum = internet_checksum(icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    Some(total)
}

/// Writes into `out` an IPv6 packet from `src` carrying ICMPv6 "packet too big" with `mtu`,
/// quoting as much of `original` as keeps the error within 1280 bytes. Returns its length, or
/// None if `original` is not an IPv6 packet, is an ICMPv6 error message (RFC 4443 §2.4 (e)),
/// or `out` is too small.
pub fn packet_too_big(out: &mut [u8], src: Ipv6Addr, original: &[u8], mtu: u32, hop_limit: u8) -> Option<usize> {
    let orig = Ipv6Packet::new_checked(original).ok()?;
    if orig.next_header() == IpProtocol::Icmpv6 && original.get(40).is_some_and(|&t| t < 128) {
        return None;
    }
    let orig_repr = Ipv6Repr::parse(&orig).ok()?;
    let quoted = original.len().min(ICMPV6_ERROR_MAX - 40 - 8);
    let data = original.get(40..quoted)?;
    let repr = Icmpv6Repr::PktTooBig { mtu, header: orig_repr, data };
    let dst = orig.src_addr();
    let total = 40 + repr.buffer_len();
    let buf = out.get_mut(..total)?;
    let ip = Ipv6Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Icmpv6, payload_len: repr.buffer_len(), hop_limit };
    let mut p = Ipv6Packet::new_unchecked(buf);
    ip.emit(&mut p);
    repr.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(p.payload_mut()), &ChecksumCapabilities::default());
    Some(total)
}

/// Whether an ICMP error may be sent about the IPv4 packet `p` (RFC 1122 §3.2.2, RFC 1812
/// §4.3.2.7): not about a fragment other than the first, nor about an ICMP error message
/// (destination unreachable, source quench, redirect, time exceeded, parameter problem), so
/// that two routers never answer each other's errors.
fn may_answer_ipv4(p: &Ipv4Packet<&[u8]>) -> bool {
    if p.frag_offset() != 0 {
        return false;
    }
    if p.next_header() != IpProtocol::Icmp {
        return true;
    }
    let icmp_type = p.as_ref().get(usize::from(p.header_len()));
    !matches!(icmp_type, Some(3 | 4 | 5 | 11 | 12))
}

/// The Internet checksum (RFC 1071) of `data`.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A token bucket: at most `burst` events at once, refilled at `per_second`. A flood of
/// packets that each would earn an ICMP error then costs a bounded number of errors (and of
/// CPU and console output), whatever its rate.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    per_second: u64,
    burst: u64,
    /// Tokens, in millionths.
    micro_tokens: u64,
    last_ns: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second: per_second.into(), burst: burst.into(), micro_tokens: u64::from(burst) * 1_000_000, last_ns: 0 }
    }

    /// Takes one token if there is one at `now_ns`.
    pub fn take(&mut self, now_ns: u64) -> bool {
        let elapsed_ns = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        // per_second tokens per 1e9 ns = per_second micro-tokens per 1e3 ns.
        let earned = (elapsed_ns / 1000).saturating_mul(self.per_second);
        self.micro_tokens = self.micro_tokens.saturating_add(earned).min(self.burst * 1_000_000);
        if self.micro_tokens >= 1_000_000 {
            self.micro_tokens -= 1_000_000;
            true
        } else {
            false
        }
    }
}

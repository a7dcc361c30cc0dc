//! Messages between the encryptor's PDs.
//!
//! - nic ⇄ net_red, nic ⇄ net_black: Ethernet frames, as is.
//! - net_red ⇄ crypto: plaintext IP packets (v4 or v6), as is.
//! - net_red ⇄ net_black (bypass only): IP packets in clear, as is.
//! - crypto ⇄ net_black: a WireGuard message as a UDP payload, preceded by an
//!   [`EndpointHeader`] naming the remote endpoint (destination when sent,
//!   source when received).
//! - nic → net_red, nic → net_black, besides the frames: the [`port`] page (the port's MAC and
//!   link state).
//! - crypto ⇄ crypto_worker_N: batches of [`job`]s and their results.

#![no_std]

pub mod job;
pub mod port;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Length of the endpoint header in bytes.
pub const ENDPOINT_HEADER_LEN: usize = 20;

/// The remote UDP endpoint of a WireGuard datagram, as carried between crypto
/// and net_black: `[family (4|6), 0, port (BE, 2 bytes), address (16 bytes; v4 in the first 4)]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EndpointHeader(pub SocketAddr);

impl EndpointHeader {
    /// Writes the header into the first [`ENDPOINT_HEADER_LEN`] bytes of `buf`.
    /// Returns false (and writes nothing) if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> bool {
        let Some(h) = buf.get_mut(..ENDPOINT_HEADER_LEN) else { return false };
        h.fill(0);
        h[2..4].copy_from_slice(&self.0.port().to_be_bytes());
        match self.0.ip() {
            IpAddr::V4(a) => {
                h[0] = 4;
                h[4..8].copy_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                h[0] = 6;
                h[4..20].copy_from_slice(&a.octets());
            }
        }
        true
    }

    /// Reads a header and returns it with the payload that follows, or None if
    /// `buf` is too short or the family byte is neither 4 nor 6.
    pub fn parse(buf: &[u8]) -> Option<(Self, &[u8])> {
        let h = buf.get(..ENDPOINT_HEADER_LEN)?;
        let port = u16::from_be_bytes([h[2], h[3]]);
        let ip = match h[0] {
            4 => IpAddr::V4(Ipv4Addr::new(h[4], h[5], h[6], h[7])),
            6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&h[4..20]).ok()?)),
            _ => return None,
        };
        Some((Self(SocketAddr::new(ip, port)), &buf[ENDPOINT_HEADER_LEN..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_v4_v6_and_rejects() {
        for ep in ["192.0.2.7:51820", "[2001:db8::9]:1"] {
            let ep = EndpointHeader(ep.parse().unwrap());
            let mut buf = [0xffu8; 24];
            assert!(ep.emit(&mut buf));
            let (back, rest) = EndpointHeader::parse(&buf).unwrap();
            assert_eq!(back, ep);
            assert_eq!(rest.len(), 4);
        }
        assert!(EndpointHeader::parse(&[4; 19]).is_none());
        let mut bad = [0u8; 20];
        bad[0] = 5;
        assert!(EndpointHeader::parse(&bad).is_none());
        assert!(!EndpointHeader("1.2.3.4:5".parse().unwrap()).emit(&mut [0; 19]));
    }
}

// Shared by the PD fuzz targets (included with `#[path]`; not a target itself).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Cuts the fuzzer's input into records: a selector byte, a 16-bit length, and that many bytes.
pub struct Records<'a>(pub &'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (&sel, rest) = self.0.split_first()?;
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
            _ => (rest.len(), &[][..]),
        };
        let len = len.min(rest.len());
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Some((sel, body))
    }
}

/// Source and destination of an IPv4 or IPv6 packet (a bare, trusted-layout parse for oracles).
pub fn ip_src_dst(p: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => Some((
            IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
            IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
        )),
        6 if p.len() >= 40 => Some((
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap())),
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap())),
        )),
        _ => None,
    }
}

/// Everything waiting on a far end's receiving ring (tolerates ring errors: none are expected).
pub fn drain(rx: &mut pd_ring::Receiver) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; pd_ring::SLOT_SIZE];
    for _ in 0..10_000 {
        match rx.recv(&mut buf) {
            Ok(Some(n)) => out.push(buf[..n].to_vec()),
            Ok(None) => break,
            Err(e) => panic!("the PD under test corrupted its own ring: {e}"),
        }
    }
    out
}

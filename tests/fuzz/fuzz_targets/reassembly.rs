//! net_black's reassembler against arbitrary fragments (from the untrusted network), with time
//! passing between them.
//! Oracles: no panic; never more than SLOTS datagrams in reassembly; whatever comes out complete
//! is one well-formed IP packet no longer than a slot allows, whose length fields agree; the
//! counters account for every fragment.

#![no_main]

#[path = "common.rs"]
mod common;

use common::Records;
use libfuzzer_sys::fuzz_target;
use pd_netstack::reassembly::{Reassembler, Reassembly, MAX_PAYLOAD, SLOTS};
use smoltcp::wire::{Ipv4Packet, Ipv6Packet};
use std::cell::RefCell;

thread_local! {
    static R: RefCell<Reassembler> = RefCell::new(Reassembler::new());
}

fuzz_target!(|data: &[u8]| {
    R.with(|r| {
        let r = &mut *r.borrow_mut();
        let mut now = 0u64;
        for (sel, body) in Records(data).take(512) {
            now += u64::from(sel & 0x0f) * 250_000_000;
            let out = match sel >> 4 {
                0..=7 => {
                    // An IPv4 fragment: the body is the packet, with its lengths made consistent so
                    // that it reaches the reassembler (net_black checks them before).
                    let mut p = body.to_vec();
                    if p.len() < 20 {
                        continue;
                    }
                    p[0] = 0x45;
                    let len = p.len().min(1500);
                    p.truncate(len);
                    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                    Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
                    match r.push_ipv4(&p, now) {
                        Reassembly::Complete(c) => Some(c.to_vec()),
                        _ => None,
                    }
                }
                _ => {
                    let mut p = body.to_vec();
                    if p.len() < 40 {
                        continue;
                    }
                    p[0] = 0x60;
                    p[6] = 44;
                    let len = p.len().min(1500);
                    p.truncate(len);
                    p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
                    match r.push_ipv6(&p, now) {
                        Reassembly::Complete(c) => Some(c.to_vec()),
                        _ => None,
                    }
                }
            };
            assert!(r.in_progress() <= SLOTS);
            if let Some(c) = out {
                if c[0] >> 4 == 4 {
                    let p = Ipv4Packet::new_checked(&c[..]).expect("a reassembled IPv4 packet parses");
                    assert_eq!(usize::from(p.total_len()), c.len());
                    assert!(!p.more_frags() && p.frag_offset() == 0 && p.verify_checksum());
                    assert!(c.len() - usize::from(p.header_len()) <= MAX_PAYLOAD);
                } else {
                    let p = Ipv6Packet::new_checked(&c[..]).expect("a reassembled IPv6 packet parses");
                    assert_eq!(40 + usize::from(p.payload_len()), c.len());
                    assert!(c.len() - 40 <= MAX_PAYLOAD);
                }
            }
        }
        r.expire(now + 3_600_000_000_000);
        assert_eq!(r.in_progress(), 0, "an expired datagram stayed");
    });
});

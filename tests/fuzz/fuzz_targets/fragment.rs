//! The fragmenters (net_red splits PC packets for the tunnel, net_black splits outer datagrams
//! for the black link): an arbitrary packet and MTU.
//! Oracles: no panic; every fragment fits the MTU, carries a valid header checksum (IPv4) and a
//! payload that is a multiple of 8 bytes unless it is the last; `count()` is exact; and the
//! fragments, given to the reassembler in an order the input picks, give back the packet.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pd_netstack::fragment::{Ipv4Fragmenter, Ipv6Fragmenter};
use pd_netstack::reassembly::{Reassembler, Reassembly, MAX_FRAGMENTS, MAX_PAYLOAD};
use smoltcp::wire::Ipv4Packet;

fuzz_target!(|data: &[u8]| {
    let [m0, m1, order, packet @ ..] = data else { return };
    let mtu = usize::from(u16::from_le_bytes([*m0, *m1]));
    let mut buf = [0u8; 4096];
    let mut frags = Vec::new();
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        let Ok(mut f) = Ipv6Fragmenter::new(packet, mtu, 7) else { return };
        let count = f.count();
        while let Some(n) = f.write_next(&mut buf) {
            assert!(n <= mtu, "IPv6 fragment of {n} bytes for MTU {mtu}");
            frags.push(buf[..n].to_vec());
        }
        assert_eq!(frags.len(), count);
    } else {
        let Ok(mut f) = Ipv4Fragmenter::new(packet, mtu) else { return };
        let count = f.count();
        while let Some(n) = f.write_next(&mut buf) {
            assert!(n <= mtu, "IPv4 fragment of {n} bytes for MTU {mtu}");
            let p = Ipv4Packet::new_checked(&buf[..n]).expect("a fragment parses");
            assert!(p.verify_checksum());
            assert_eq!(usize::from(p.total_len()), n);
            assert!(!f.is_done() || !p.more_frags() || Ipv4Packet::new_unchecked(packet).more_frags());
            if !f.is_done() {
                assert_eq!((n - usize::from(p.header_len())) % 8, 0, "a non-final fragment not a multiple of 8");
            }
            frags.push(buf[..n].to_vec());
        }
        assert_eq!(frags.len(), count);
        let original = Ipv4Packet::new_unchecked(packet);
        if original.more_frags() || original.frag_offset() != 0 || usize::from(original.header_len()) > 20 {
            // A fragment of a fragment, or options that later fragments drop: not the original.
            return;
        }
    }
    let payload = packet.len() - if packet[0] >> 4 == 6 { 40 } else { 20 };
    if frags.len() < 2 || frags.len() > MAX_FRAGMENTS || payload > MAX_PAYLOAD {
        return;
    }
    // A shuffle the input decides.
    let mut k = usize::from(*order);
    for i in (1..frags.len()).rev() {
        frags.swap(i, k % (i + 1));
        k = k / (i + 1) + 1;
    }
    let mut r = Reassembler::new();
    let mut whole = None;
    for f in &frags {
        let out = if f[0] >> 4 == 6 { r.push_ipv6(f, 0) } else { r.push_ipv4(f, 0) };
        if let Reassembly::Complete(p) = out {
            whole = Some(p.to_vec());
        }
    }
    let whole = whole.expect("the fragments did not reassemble");
    if packet[0] >> 4 == 4 {
        assert_eq!(&whole[20..], &packet[20..], "payload changed");
        assert_eq!(&whole[12..20], &packet[12..20], "addresses changed");
    } else {
        assert_eq!(whole, packet, "IPv6 packet changed");
    }
});

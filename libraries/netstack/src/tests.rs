use super::*;
use alloc::vec;

#[test]
fn hop_limit_decrements_and_refuses_to_expire() {
    let mut v4 = [0x45u8, 0, 0, 20, 0, 0, 0, 0, 2, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    Ipv4Packet::new_unchecked(&mut v4[..]).fill_checksum();
    assert!(decrement_hop_limit(&mut v4));
    let p = Ipv4Packet::new_checked(&v4[..]).unwrap();
    assert_eq!(p.hop_limit(), 1);
    assert!(p.verify_checksum());
    assert!(!decrement_hop_limit(&mut v4), "TTL 1 must not be forwarded");
    let mut v6 = [0u8; 40];
    v6[0] = 0x60;
    v6[7] = 1;
    assert!(!decrement_hop_limit(&mut v6));
    assert!(!decrement_hop_limit(&mut [0x45, 0]), "truncated");
    assert!(!decrement_hop_limit(&mut []));
}

#[test]
fn prefixes_and_multicast_groups() {
    let net: IpAddr = "10.1.0.0".parse().unwrap();
    assert!(prefix_contains(net, 24, "10.1.0.200".parse().unwrap()));
    assert!(!prefix_contains(net, 24, "10.1.1.1".parse().unwrap()));
    assert!(prefix_contains(net, 0, "1.2.3.4".parse().unwrap()));
    assert!(!prefix_contains(net, 8, "fd00::1".parse().unwrap()), "family mismatch");
    let a: Ipv6Addr = "fd00:1::1234:5678".parse().unwrap();
    assert_eq!(solicited_node(a), "ff02::1:ff34:5678".parse::<Ipv6Addr>().unwrap());
    assert_eq!(multicast_mac(solicited_node(a)).0, [0x33, 0x33, 0xff, 0x34, 0x56, 0x78]);
}

#[test]
fn ip_len_trims_padding_and_rejects_lies() {
    let mut p = [0u8; 60];
    p[..20].copy_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    assert_eq!(ip_len(&p), Some(28));
    p[3] = 200;
    assert_eq!(ip_len(&p), None, "total length beyond the buffer");
    assert_eq!(ip_len(&[0x70; 40]), None, "version 7");
}

#[test]
fn an_ipv6_packet_in_an_ipv4_frame_is_dropped() {
    use pd_ring::Layout;
    // An IPv6 header whose first 20 bytes also pass as an IPv4 header (length and checksum).
    let mut p = [0u8; 48];
    p[0] = 0x65;
    p[3] = 48;
    let sum = !{
        let mut s: u32 = p[..20].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    };
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    assert!(Ipv4Packet::new_checked(&p[..]).unwrap().verify_checksum());
    let mut frame = vec![2, 0, 0, 0, 1, 1, 2, 0, 0, 0, 9, 9, 8, 0];
    frame.extend_from_slice(&p);
    let layout = Layout::new(4);
    let data = vec![0u64; layout.data_bytes() / 8 + 8];
    let ctl = vec![0u64; layout.ctl_bytes() / 8 + 8];
    let region = |v: &Vec<u64>, n| {
        let a = (v.as_ptr() as usize + 63) & !63;
        // SAFETY: inside the vector, which outlives the sender.
        unsafe { pd_api::MemoryRegion::new(core::ptr::NonNull::new(a as *mut u8).unwrap(), n) }
    };
    let mut nic = Sender::new(region(&data, layout.data_bytes()), region(&ctl, layout.ctl_bytes())).unwrap();
    let mut iface = Iface::new([2, 0, 0, 0, 1, 1], Some(("10.1.0.1".parse().unwrap(), 24)), None);
    assert!(matches!(iface.receive(&frame, &mut nic, 0), Received::Handled));
    assert_eq!(iface.counters.drop_bad_ipv4, 1);
}

/// Fragmentation, reassembly, MSS clamping and the ICMP errors (the MTU handling of the stacks).
mod mtu {
    use crate::fragment::{FragmentError, Ipv4Fragmenter, Ipv6Fragmenter};
    use crate::icmp_error::{frag_needed, packet_too_big, TokenBucket};
    use crate::mss::{clamp_mss, mss_for_mtu, Clamp};
    use crate::reassembly::{Reassembler, Reassembly, MAX_FRAGMENTS, MAX_PAYLOAD, SLOTS, TIMEOUT_NS};
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use smoltcp::wire::{Icmpv4Packet, Icmpv6Packet, IpAddress, Ipv4Packet, Ipv6Packet, TcpPacket};

    const SRC4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
    const DST4: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

    /// An IPv4 packet with `options` (padded to words), `payload_len` bytes of patterned data.
    fn ipv4(payload_len: usize, df: bool, options: &[u8], ident: u16, protocol: u8) -> Vec<u8> {
        let header_len = 20 + options.len().next_multiple_of(4);
        let mut p = vec![0u8; header_len + payload_len];
        p[0] = 0x40 | (header_len / 4) as u8;
        p[2..4].copy_from_slice(&((header_len + payload_len) as u16).to_be_bytes());
        p[4..6].copy_from_slice(&ident.to_be_bytes());
        p[6] = if df { 0x40 } else { 0 };
        p[8] = 64;
        p[9] = protocol;
        p[12..16].copy_from_slice(&SRC4.octets());
        p[16..20].copy_from_slice(&DST4.octets());
        p[20..20 + options.len()].copy_from_slice(options);
        for (i, b) in p[header_len..].iter_mut().enumerate() {
            *b = (i * 7 + i / 251) as u8;
        }
        Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
        p
    }

    fn ipv6(payload_len: usize, next_header: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40 + payload_len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
        p[6] = next_header;
        p[7] = 64;
        p[8..24].copy_from_slice(&"fd00:1::2".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"fd00:2::2".parse::<Ipv6Addr>().unwrap().octets());
        for (i, b) in p[40..].iter_mut().enumerate() {
            *b = (i * 13 + 1) as u8;
        }
        p
    }

    /// A small deterministic generator for shuffles and sizes.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn fragments_v4(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
        let mut f = Ipv4Fragmenter::new(packet, mtu).unwrap();
        let count = f.count();
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Some(n) = f.write_next(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        assert!(f.is_done());
        assert_eq!(out.len(), count, "count() predicts the fragments written");
        out
    }

    #[test]
    fn ipv4_fragments_fit_the_mtu_and_reassemble_to_the_original_in_any_order() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..400 {
            let payload = 1 + rng.below(MAX_PAYLOAD - 20);
            let mtu = 68 + rng.below(1500 - 68);
            let packet = ipv4(payload, false, &[], round as u16, 17);
            let mut frags = fragments_v4(&packet, mtu);
            for f in &frags {
                let p = Ipv4Packet::new_checked(&f[..]).unwrap();
                assert!(f.len() <= mtu && p.verify_checksum() && usize::from(p.total_len()) == f.len());
                assert!(!p.more_frags() || (f.len() - 20) % 8 == 0, "non-final fragments are multiples of 8");
            }
            if frags.len() > MAX_FRAGMENTS {
                continue;
            }
            for i in (1..frags.len()).rev() {
                frags.swap(i, rng.below(i + 1));
            }
            let mut r = Reassembler::new();
            let mut whole = None;
            for (k, f) in frags.iter().enumerate() {
                match r.push_ipv4(f, 0) {
                    Reassembly::Complete(p) => {
                        assert_eq!(k, frags.len() - 1, "complete only with the last missing fragment");
                        whole = Some(p.to_vec());
                    }
                    Reassembly::Whole => assert_eq!(frags.len(), 1),
                    Reassembly::Held => {}
                }
            }
            if frags.len() > 1 {
                let whole = whole.expect("reassembled");
                assert_eq!(whole, packet, "round {round}: payload {payload} at MTU {mtu}");
                assert_eq!(r.in_progress(), 0);
            }
        }
    }

    #[test]
    fn later_fragments_carry_only_the_copied_options() {
        // Record route (7, not copied), then a NOP, then a copied option (0x94: router alert).
        let options = [7, 7, 4, 0, 0, 0, 0, 1, 0x94, 4, 0, 0];
        let packet = ipv4(1000, false, &options, 9, 17);
        let frags = fragments_v4(&packet, 300);
        assert_eq!(usize::from(Ipv4Packet::new_checked(&frags[0][..]).unwrap().header_len()), 32);
        let second = Ipv4Packet::new_checked(&frags[1][..]).unwrap();
        assert_eq!(second.header_len(), 24);
        assert_eq!(&frags[1][20..24], &[0x94, 4, 0, 0]);
        // The payload still reassembles (the first fragment's header is the packet's).
        let mut r = Reassembler::new();
        let mut whole = None;
        for f in &frags {
            if let Reassembly::Complete(p) = r.push_ipv4(f, 0) {
                whole = Some(p.to_vec());
            }
        }
        assert_eq!(whole.unwrap(), packet);
    }

    #[test]
    fn dont_fragment_malformed_and_tiny_mtus_are_refused() {
        assert_eq!(Ipv4Fragmenter::new(&ipv4(1400, true, &[], 1, 6), 1000).err(), Some(FragmentError::DontFragment));
        let mut lying = ipv4(100, false, &[], 1, 6);
        lying[3] = 200;
        assert_eq!(Ipv4Fragmenter::new(&lying, 68).err(), Some(FragmentError::Malformed));
        let bad_option = ipv4(100, false, &[0x83, 40, 0, 0], 1, 6);
        assert_eq!(Ipv4Fragmenter::new(&bad_option, 68).err(), Some(FragmentError::Malformed));
        assert_eq!(Ipv4Fragmenter::new(&ipv4(100, false, &[], 1, 6), 27).err(), Some(FragmentError::MtuTooSmall));
        // A fragment at offset 65 000 carrying 1400 bytes ends past 65 535: its pieces' offsets
        // would wrap (a panic in a debug build, a wrong offset in a release one).
        let mut far = ipv4(1400, false, &[], 1, 17);
        let mut p = Ipv4Packet::new_unchecked(&mut far[..]);
        p.set_frag_offset(65_000);
        p.fill_checksum();
        assert_eq!(Ipv4Fragmenter::new(&far, 1000).err(), Some(FragmentError::Malformed));
        // Up to the last byte is fine.
        let mut edge = ipv4(1400, false, &[], 1, 17);
        let mut p = Ipv4Packet::new_unchecked(&mut edge[..]);
        p.set_frag_offset(64_128); // + 1400 = 65 528
        p.fill_checksum();
        assert_eq!(fragments_v4(&edge, 1000).len(), 2);
        assert_eq!(Ipv6Fragmenter::new(&ipv6(1500, 17), 1000, 1).err(), Some(FragmentError::MtuTooSmall));
        assert_eq!(Ipv6Fragmenter::new(&ipv6(100, 44), 1280, 1).err(), Some(FragmentError::Malformed));
    }

    #[test]
    fn a_fragment_splits_again_keeping_its_offset_and_more_flag() {
        let packet = ipv4(1900, false, &[], 77, 17);
        let first_cut = fragments_v4(&packet, 1500);
        let mut second_cut = Vec::new();
        for f in &first_cut {
            second_cut.extend(fragments_v4(f, 576));
        }
        assert!(second_cut.len() > first_cut.len());
        let mut r = Reassembler::new();
        let mut whole = None;
        for f in &second_cut {
            if let Reassembly::Complete(p) = r.push_ipv4(f, 0) {
                whole = Some(p.to_vec());
            }
        }
        assert_eq!(whole.unwrap(), packet);
    }

    #[test]
    fn ipv6_fragments_fit_and_reassemble() {
        let mut rng = XorShift(42);
        for round in 0..100 {
            let payload = 8 + rng.below(MAX_PAYLOAD - 16);
            let mtu = 1280 + rng.below(300);
            let packet = ipv6(payload, 17);
            let mut f = Ipv6Fragmenter::new(&packet, mtu, round).unwrap();
            let mut frags = Vec::new();
            let mut buf = [0u8; 2048];
            while let Some(n) = f.write_next(&mut buf) {
                assert!(n <= mtu);
                frags.push(buf[..n].to_vec());
            }
            assert_eq!(frags.len(), f.count());
            frags.reverse();
            let mut r = Reassembler::new();
            let mut whole = None;
            for fr in &frags {
                if let Reassembly::Complete(p) = r.push_ipv6(fr, 0) {
                    whole = Some(p.to_vec());
                }
            }
            assert_eq!(whole.expect("reassembled"), packet, "round {round}");
        }
    }

    fn push_all(r: &mut Reassembler, frags: &[Vec<u8>], now: u64) -> Option<Vec<u8>> {
        let mut whole = None;
        for f in frags {
            if let Reassembly::Complete(p) = r.push_ipv4(f, now) {
                whole = Some(p.to_vec());
            }
        }
        whole
    }

    #[test]
    fn overlapping_fragments_discard_the_whole_datagram() {
        let packet = ipv4(1200, false, &[], 5, 17);
        let frags = fragments_v4(&packet, 500);
        let mut r = Reassembler::new();
        assert!(matches!(r.push_ipv4(&frags[0], 0), Reassembly::Held));
        // A forged second fragment that starts 8 bytes into the first one's data.
        let mut forged = frags[1].clone();
        let mut p = Ipv4Packet::new_unchecked(&mut forged[..]);
        let off = p.frag_offset();
        p.set_frag_offset(off - 8);
        p.fill_checksum();
        assert!(matches!(r.push_ipv4(&forged, 0), Reassembly::Held));
        assert_eq!(r.counters.drop_frag_overlap, 1);
        assert_eq!(r.in_progress(), 0, "the datagram is gone");
        // The genuine rest alone does not complete it either.
        assert_eq!(push_all(&mut r, &frags[1..], 0), None);
        // An exact duplicate is no overlap: the datagram still completes.
        let mut r = Reassembler::new();
        let mut with_dup = frags.clone();
        with_dup.insert(1, frags[0].clone());
        assert_eq!(push_all(&mut r, &with_dup, 0).unwrap(), packet);
        assert_eq!(r.counters.drop_frag_overlap, 0);
    }

    #[test]
    fn oversize_and_inconsistent_fragment_sets_are_discarded() {
        let mut r = Reassembler::new();
        // A fragment whose end lies beyond the reassembly buffer (offset 8000).
        let mut far = ipv4(16, false, &[], 6, 17);
        let mut p = Ipv4Packet::new_unchecked(&mut far[..]);
        p.set_more_frags(true);
        p.set_frag_offset(8000);
        p.fill_checksum();
        assert!(matches!(r.push_ipv4(&far, 0), Reassembly::Held));
        assert_eq!(r.counters.drop_frag_oversize, 1);
        // A 64 KiB datagram's fragments: the first that passes MAX_PAYLOAD ends it.
        let big: Vec<Vec<u8>> = (0..45)
            .map(|k| {
                let mut f = ipv4(1480, false, &[], 7, 17);
                let mut p = Ipv4Packet::new_unchecked(&mut f[..]);
                p.set_more_frags(k < 44);
                p.set_frag_offset(k * 1480);
                p.fill_checksum();
                f
            })
            .collect();
        assert_eq!(push_all(&mut r, &big, 0), None);
        assert!(r.counters.drop_frag_oversize >= 2);
        // A last fragment that ends before data already received.
        let packet = ipv4(1200, false, &[], 8, 17);
        let frags = fragments_v4(&packet, 500);
        let mut r = Reassembler::new();
        r.push_ipv4(&frags[2], 0);
        let mut short_last = frags[1].clone();
        Ipv4Packet::new_unchecked(&mut short_last[..]).set_more_frags(false);
        Ipv4Packet::new_unchecked(&mut short_last[..]).fill_checksum();
        r.push_ipv4(&short_last, 0);
        assert_eq!(r.counters.drop_frag_oversize, 1);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn incomplete_datagrams_time_out_and_the_oldest_gives_way_when_all_slots_are_busy() {
        let mut r = Reassembler::new();
        let firsts: Vec<Vec<u8>> = (0..SLOTS as u16 + 3).map(|id| fragments_v4(&ipv4(1000, false, &[], id, 17), 500).remove(0)).collect();
        for (i, f) in firsts.iter().enumerate() {
            r.push_ipv4(f, i as u64);
        }
        assert_eq!(r.in_progress(), SLOTS);
        assert_eq!(r.counters.drop_frag_evicted, 3);
        r.expire(TIMEOUT_NS + SLOTS as u64 + 3);
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.counters.drop_frag_timeout, SLOTS as u64);
        // After the flood, a datagram still reassembles.
        let packet = ipv4(1000, false, &[], 999, 17);
        assert_eq!(push_all(&mut r, &fragments_v4(&packet, 500), TIMEOUT_NS * 2).unwrap(), packet);
    }

    /// With every slot busy, a fragment that can never complete (past the buffer) and an IPv6
    /// atomic fragment evict no reassembly in progress; an atomic fragment with the
    /// identification of one in progress is handled on its own (RFC 6946 section 4) and does
    /// not spoil it.
    #[test]
    fn hopeless_and_atomic_fragments_leave_the_reassemblies_in_progress_alone() {
        let mut r = Reassembler::new();
        let packets: Vec<Vec<u8>> = (0..SLOTS).map(|k| ipv6(1900, 17 + k as u8)).collect();
        let frags: Vec<Vec<Vec<u8>>> = packets
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let mut f = Ipv6Fragmenter::new(p, 1280, k as u32).unwrap();
                let mut out = Vec::new();
                let mut buf = [0u8; 2048];
                while let Some(n) = f.write_next(&mut buf) {
                    out.push(buf[..n].to_vec());
                }
                out
            })
            .collect();
        for f in &frags {
            assert!(matches!(r.push_ipv6(&f[0], 0), Reassembly::Held));
        }
        assert_eq!(r.in_progress(), SLOTS);
        // An IPv4 fragment far past the buffer.
        let mut far = ipv4(16, false, &[], 6, 17);
        let mut p = Ipv4Packet::new_unchecked(&mut far[..]);
        p.set_more_frags(true);
        p.set_frag_offset(8000);
        p.fill_checksum();
        assert!(matches!(r.push_ipv4(&far, 1), Reassembly::Held));
        // An atomic fragment with the identification of datagram 0: whole at once.
        let inner = ipv6(100, 17);
        let mut atomic = inner[..40].to_vec();
        atomic[4..6].copy_from_slice(&108u16.to_be_bytes());
        atomic[6] = 44;
        atomic.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]);
        atomic.extend_from_slice(&inner[40..]);
        match r.push_ipv6(&atomic, 1) {
            Reassembly::Complete(p) => assert_eq!(p, &inner[..]),
            _ => panic!("an atomic fragment is a whole packet"),
        }
        assert_eq!((r.in_progress(), r.counters.drop_frag_evicted), (SLOTS, 0));
        for (k, f) in frags.iter().enumerate() {
            let mut whole = None;
            for fr in &f[1..] {
                if let Reassembly::Complete(p) = r.push_ipv6(fr, 2) {
                    whole = Some(p.to_vec());
                }
            }
            assert_eq!(whole.as_ref(), Some(&packets[k]), "datagram {k} still completes");
        }
    }

    #[test]
    fn a_datagram_in_too_many_fragments_is_discarded() {
        let packet = ipv4(1600, false, &[], 3, 17);
        let frags = fragments_v4(&packet, 68);
        assert!(frags.len() > MAX_FRAGMENTS);
        let mut r = Reassembler::new();
        assert_eq!(push_all(&mut r, &frags, 0), None);
        // Each run of 16 fragments starts a reassembly that the 17th ends.
        assert_eq!(r.counters.drop_frag_too_many as usize, frags.len() / (MAX_FRAGMENTS + 1));
        r.expire(TIMEOUT_NS);
        assert_eq!(r.in_progress(), 0);
    }

    fn tcp_syn(v6: bool, options: &[u8], flags: u8) -> Vec<u8> {
        let header_len = 20 + options.len();
        let mut tcp = vec![0u8; header_len];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
        tcp[12] = ((header_len / 4) as u8) << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
        tcp[20..].copy_from_slice(options);
        let mut p = if v6 { ipv6(header_len, 6) } else { ipv4(header_len, true, &[], 1, 6) };
        let start = p.len() - header_len;
        p[start..].copy_from_slice(&tcp);
        let (src, dst) = addresses(&p);
        TcpPacket::new_unchecked(&mut p[start..]).fill_checksum(&src, &dst);
        p
    }

    fn addresses(p: &[u8]) -> (IpAddress, IpAddress) {
        if p[0] >> 4 == 4 {
            let ip = Ipv4Packet::new_checked(p).unwrap();
            (IpAddress::Ipv4(ip.src_addr()), IpAddress::Ipv4(ip.dst_addr()))
        } else {
            let ip = Ipv6Packet::new_checked(p).unwrap();
            (IpAddress::Ipv6(ip.src_addr()), IpAddress::Ipv6(ip.dst_addr()))
        }
    }

    fn mss_of(p: &[u8]) -> (u16, bool) {
        let start = if p[0] >> 4 == 4 { 20 } else { 40 };
        let tcp = TcpPacket::new_checked(&p[start..]).unwrap();
        let (src, dst) = addresses(p);
        let opts = tcp.options();
        let at = opts.iter().position(|&b| b == 2).unwrap();
        (u16::from_be_bytes([opts[at + 2], opts[at + 3]]), tcp.verify_checksum(&src, &dst))
    }

    #[test]
    fn mss_of_syn_and_syn_ack_is_lowered_with_a_valid_checksum() {
        let (v4, v6) = (mss_for_mtu(1420, false), mss_for_mtu(1420, true));
        assert_eq!((v4, v6), (1380, 1360));
        // MSS first (aligned), and after one NOP (odd offset), with window scale and SACK.
        for options in [&[2, 4, 0x05, 0xb4, 1, 3, 3, 7][..], &[1, 2, 4, 0x05, 0xb4, 4, 2, 0][..]] {
            for is_v6 in [false, true] {
                for flags in [0x02, 0x12] {
                    let mut p = tcp_syn(is_v6, options, flags);
                    assert_eq!(clamp_mss(&mut p, v4, v6), Clamp::Lowered(1460));
                    let (mss, ok) = mss_of(&p);
                    assert_eq!(mss, if is_v6 { 1360 } else { 1380 });
                    assert!(ok, "checksum after clamping ({options:?}, v6 {is_v6})");
                }
            }
        }
    }

    #[test]
    fn mss_is_left_alone_when_small_absent_or_not_a_syn() {
        let mut small = tcp_syn(false, &[2, 4, 0x04, 0x00, 1, 1, 1, 0], 0x02);
        let before = small.clone();
        assert_eq!(clamp_mss(&mut small, 1380, 1360), Clamp::Within);
        assert_eq!(small, before);
        let mut none = tcp_syn(false, &[1, 1, 1, 0], 0x02);
        assert_eq!(clamp_mss(&mut none, 1380, 1360), Clamp::Within);
        let mut ack = tcp_syn(false, &[2, 4, 0x05, 0xb4], 0x10);
        assert_eq!(clamp_mss(&mut ack, 1380, 1360), Clamp::NotSyn);
        let mut udp = ipv4(40, false, &[], 1, 17);
        assert_eq!(clamp_mss(&mut udp, 1380, 1360), Clamp::NotSyn);
        let mut broken = tcp_syn(false, &[2, 9, 0x05, 0xb4], 0x02);
        assert_eq!(clamp_mss(&mut broken, 1380, 1360), Clamp::BadOptions);
        // A later fragment's bytes are not a TCP header.
        let mut later = tcp_syn(false, &[2, 4, 0x05, 0xb4], 0x02);
        later[7] = 1;
        assert_eq!(clamp_mss(&mut later, 1380, 1360), Clamp::NotSyn);
        for cut in 0..later.len() {
            let mut truncated = tcp_syn(false, &[2, 4, 0x05, 0xb4], 0x02)[..cut].to_vec();
            let _ = clamp_mss(&mut truncated, 1380, 1360);
        }
    }

    #[test]
    fn frag_needed_and_packet_too_big_are_well_formed() {
        let original = ipv4(1480, true, &[], 1, 17);
        let mut out = [0u8; 2048];
        let n = frag_needed(&mut out, Ipv4Addr::new(10, 1, 0, 1), &original, 1420, 64).unwrap();
        assert_eq!(n, 576);
        let ip = Ipv4Packet::new_checked(&out[..n]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (Ipv4Addr::new(10, 1, 0, 1), SRC4));
        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!((icmp.msg_type().into(), icmp.msg_code()), (3u8, 4u8));
        assert_eq!(u16::from_be_bytes([ip.payload()[6], ip.payload()[7]]), 1420);
        assert_eq!(&ip.payload()[8..28], &original[..20]);

        let original = ipv6(1460, 17);
        let src: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let n = packet_too_big(&mut out, src, &original, 1420, 64).unwrap();
        assert_eq!(n, 1280);
        let ip = Ipv6Packet::new_checked(&out[..n]).unwrap();
        let icmp = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum(&ip.src_addr(), &ip.dst_addr()));
        assert_eq!((icmp.msg_type().into(), icmp.pkt_too_big_mtu()), (2u8, 1420));
        assert_eq!(IpAddr::V6(ip.dst_addr()), IpAddr::V6("fd00:1::2".parse().unwrap()));
        assert!(frag_needed(&mut out, Ipv4Addr::new(10, 1, 0, 1), &[0x45, 0], 1420, 64).is_none());
        assert!(packet_too_big(&mut out[..100], src, &original, 1420, 64).is_none());
    }

    /// No ICMP error about an ICMP error or about a fragment other than the first (RFC 1122
    /// §3.2.2, RFC 4443 §2.4 (e)); an echo request or a first fragment is answered.
    #[test]
    fn no_icmp_error_answers_an_icmp_error_or_a_later_fragment() {
        let mut out = [0u8; 2048];
        let us = Ipv4Addr::new(10, 1, 0, 1);
        let with_icmp_type = |t: u8| {
            let mut p = ipv4(1480, true, &[], 1, 1);
            p[20] = t;
            p
        };
        for (t, answered) in [(8u8, true), (0, true), (3, false), (4, false), (5, false), (11, false), (12, false)] {
            assert_eq!(frag_needed(&mut out, us, &with_icmp_type(t), 1420, 64).is_some(), answered, "ICMP type {t}");
        }
        let mut later = ipv4(1480, true, &[], 1, 17);
        {
            let mut p = Ipv4Packet::new_unchecked(&mut later[..]);
            p.set_frag_offset(1480);
            p.fill_checksum();
        }
        assert!(frag_needed(&mut out, us, &later, 1420, 64).is_none(), "a later fragment");

        let src: Ipv6Addr = "fd00:1::1".parse().unwrap();
        for (t, answered) in [(128u8, true), (129, true), (1, false), (2, false), (3, false), (4, false)] {
            let mut p = ipv6(1460, 58);
            p[40] = t;
            assert_eq!(packet_too_big(&mut out, src, &p, 1420, 64).is_some(), answered, "ICMPv6 type {t}");
        }
    }

    #[test]
    fn the_token_bucket_bounds_a_flood_and_refills() {
        let mut b = TokenBucket::new(20, 10);
        let granted = (0..10_000).filter(|i| b.take(i * 100_000)).count();
        // One second of a 10 kHz flood: the burst, then 20 per second.
        assert!((28..=31).contains(&granted), "granted {granted}");
        assert!(b.take(5_000_000_000), "refilled after a quiet while");
        let mut b = TokenBucket::new(20, 10);
        assert_eq!((0..100).filter(|_| b.take(0)).count(), 10, "no time, no refill");
    }
}

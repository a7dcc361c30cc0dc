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

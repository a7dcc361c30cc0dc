use super::*;

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

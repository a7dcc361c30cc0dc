#!/usr/bin/env python3
"""Writes the small seed corpus under tests/fuzz/corpus/ (run once; the files are
committed). Inputs are in each target's record format: a selector byte, a 16-bit
little-endian length, then that many bytes (see fuzz_targets/common.rs)."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ipv4(src, dst, proto, payload, ttl=64):
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0, ip4(src), ip4(dst)))
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return bytes(h) + payload


def udp(src, dst, sport, dport, payload):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, 8 + len(payload))
    c = csum(pseudo + hdr + payload) or 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def icmp_echo(payload=b"ping"):
    m = bytearray(b"\x08\x00\x00\x00\x12\x34\x00\x01" + payload)
    m[2:4] = struct.pack("!H", csum(bytes(m)))
    return bytes(m)


def eth(dst, src, ethertype, payload):
    return dst + src + struct.pack("!H", ethertype) + payload


def arp_request(sha, spa, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + sha + ip4(spa) + b"\0" * 6 + ip4(tpa)


def rec(sel, body):
    return bytes([sel]) + struct.pack("<H", len(body)) + body


def endpoint(addr, port):
    return bytes([4, 0]) + struct.pack("!H", port) + ip4(addr) + b"\0" * 12


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


BCAST = b"\xff" * 6
RED_MAC, PC_MAC = bytes([2, 0, 0, 0, 1, 1]), bytes([2, 0, 0, 0, 9, 9])
BLACK_MAC, WAN_MAC = bytes([2, 0, 0, 0, 2, 1]), bytes([2, 0, 0, 0, 7, 7])
WG_INIT = struct.pack("<I", 1) + bytes(range(144))
WG_DATA = struct.pack("<IIQ", 4, 0x100, 5) + bytes(48)

# net_red: 0-3 NIC frames, 4-5 packets from crypto, 6 from the bypass link, 7 timer.
write("net_red", "arp_request", rec(0, eth(BCAST, PC_MAC, 0x0806, arp_request(PC_MAC, "10.1.0.2", "10.1.0.1"))))
write("net_red", "ping_gateway", rec(0, eth(RED_MAC, PC_MAC, 0x0800, ipv4("10.1.0.2", "10.1.0.1", 1, icmp_echo()))))
write("net_red", "tunnel_udp", rec(0, eth(BCAST, PC_MAC, 0x0806, arp_request(PC_MAC, "10.1.0.2", "10.1.0.1")))
      + rec(0, eth(RED_MAC, PC_MAC, 0x0800, ipv4("10.1.0.2", "10.2.0.2", 17, udp("10.1.0.2", "10.2.0.2", 4000, 9, b"x" * 32)))))
write("net_red", "bypass_udp", rec(0, eth(RED_MAC, PC_MAC, 0x0800,
                                           ipv4("10.1.0.2", "198.51.100.7", 17, udp("10.1.0.2", "198.51.100.7", 4000, 9, b"y")))))
write("net_red", "from_crypto", rec(4, ipv4("10.2.0.2", "10.1.0.2", 1, icmp_echo())) + rec(7, b"\x0a"))
write("net_red", "from_bypass", rec(6, ipv4("198.51.100.7", "10.1.0.2", 17, udp("198.51.100.7", "10.1.0.2", 9, 4000, b"z"))))
ns = bytes.fromhex("870000000000000000000000fd000001000000000000000000000001") + b"\x01\x01" + PC_MAC
ip6 = (b"\x60\0\0\0" + struct.pack("!H", len(ns)) + bytes([58, 255]) + bytes.fromhex("fd000001000000000000000000000002")
       + bytes.fromhex("ff0200000000000000000001ff000001"))
write("net_red", "ndp_solicit", rec(0, eth(b"\x33\x33\xff\x00\x00\x01", PC_MAC, 0x86DD, ip6 + ns)))

# net_black: 0-3 NIC frames, 4-5 messages from crypto, 6 bypass, 7 timer.
write("net_black", "arp_request", rec(0, eth(BCAST, WAN_MAC, 0x0806, arp_request(WAN_MAC, "192.0.2.2", "192.0.2.1"))))
write("net_black", "wg_init_in", rec(0, eth(BLACK_MAC, WAN_MAC, 0x0800,
                                             ipv4("192.0.2.2", "192.0.2.1", 17, udp("192.0.2.2", "192.0.2.1", 51820, 51820, WG_INIT)))))
write("net_black", "wg_data_in", rec(0, eth(BLACK_MAC, WAN_MAC, 0x0800,
                                             ipv4("192.0.2.2", "192.0.2.1", 17, udp("192.0.2.2", "192.0.2.1", 51820, 51820, WG_DATA)))))
write("net_black", "ping", rec(0, eth(BLACK_MAC, WAN_MAC, 0x0800, ipv4("192.0.2.2", "192.0.2.1", 1, icmp_echo()))))
write("net_black", "to_network", rec(4, endpoint("192.0.2.2", 51820) + WG_DATA) + rec(7, b"\x20")
      + rec(0, eth(BLACK_MAC, WAN_MAC, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + WAN_MAC + ip4("192.0.2.2")
                   + BLACK_MAC + ip4("192.0.2.1"))) + rec(4, endpoint("192.0.2.2", 51820) + WG_INIT))
write("net_black", "bypass", rec(6, ipv4("10.1.0.2", "198.51.100.7", 17, udp("10.1.0.2", "198.51.100.7", 4000, 9, b"b")))
      + rec(0, eth(BLACK_MAC, WAN_MAC, 0x0800, ipv4("198.51.100.7", "10.1.0.2", 17, udp("198.51.100.7", "10.1.0.2", 9, 4000, b"r")))))

# crypto_black: 0 raw ring message, 1-2 payload from the peer, 3 other endpoint, 4-5 a
# recorded message with edits, 6 a fresh data message from the peer, 7 timer.
write("crypto_black", "raw_init", rec(0, endpoint("192.0.2.2", 51820) + WG_INIT))
write("crypto_black", "init_payload", rec(1, WG_INIT) + rec(1, struct.pack("<I", 2) + bytes(88)))
write("crypto_black", "cookie_and_data", rec(2, struct.pack("<II", 3, 0x100) + bytes(56)) + rec(2, WG_DATA))
write("crypto_black", "replay_recorded", rec(4, b"\x00") + rec(4, b"\x01") + rec(5, b"\x01\x00\x20\x01"))
write("crypto_black", "fresh_data", rec(6, ipv4("10.2.0.2", "10.1.0.2", 17, udp("10.2.0.2", "10.1.0.2", 9, 9, b"d")))
      + rec(6, ipv4("10.9.0.2", "10.1.0.2", 17, udp("10.9.0.2", "10.1.0.2", 9, 9, b"spoof"))) + rec(7, b"\xff"))
write("crypto_black", "v6_endpoint", rec(3, b"\x6c\xca" + bytes.fromhex("20010db8000000000000000000000007") + WG_INIT))

# ring: operation bytes (see fuzz_targets/ring.rs).
write("ring", "send_recv", bytes([2, 0]) + struct.pack("<III", 0, 64, 1) + bytes([5, 8, 4, 9, 4])
      + bytes([3, 0]) + struct.pack("<II", 0, 1) + bytes([8, 2, 10, 11]))
write("ring", "runaway_tail", bytes([2, 1]) + struct.pack("<III", 4096, 5000, 0xFFFFFFF0) + bytes([5, 5, 6]))
write("ring", "forged_free", bytes([8, 1, 8, 1, 3, 0]) + struct.pack("<II", 2048 * 9, 1) + bytes([8, 1])
      + bytes([3, 1]) + struct.pack("<II", 2048, 2) + bytes([8, 1, 8, 1, 4]) + struct.pack("<I", 0xFFFF0000) + bytes([8, 1]))

# config: a full file in the project's format (fixed test keys), and smaller variants.
CONF = """[Interface]
PrivateKey = eF77luv2EliPX/5riHiloh655ccc8ixDxsQCKS9boV4=
ListenPort = 51820

[Peer]
PublicKey = PuNX93EClRl3oo9UfbWlpaZqRoP1CHWpkl07Lz6rDgg=
PresharedKey = YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.2.0.0/24, fd00:2::/64
PersistentKeepalive = 25

[Encryptor]
RedAddress = 10.1.0.1/24, fd00:1::1/64
BlackAddress = 192.0.2.1/24
BlackGateway = 192.0.2.254
Tunnel = 10.2.0.0/16
Bypass = 198.51.100.0/24
Drop = 10.2.99.0/24
"""
write("config", "full.conf", CONF.encode())
write("config", "minimal.conf", "\n".join(l for l in CONF.splitlines()
                                            if not l.startswith(("PresharedKey", "Endpoint", "Persistent", "Tunnel",
                                                                 "Bypass", "Drop", "BlackGateway"))).encode())
write("config", "v6_endpoint.conf", CONF.replace("192.0.2.2:51820", "[2001:db8::2]:51820")
      .replace("BlackAddress = 192.0.2.1/24", "BlackAddress = 2001:db8::1/64").encode())

# sdf: the real system description.
with open(os.path.join(ROOT, "system.xml"), "rb") as f:
    write("sdf", "system.xml", f.read())
write("sdf", "tiny.xml", b'<?xml version="1.0"?>\n<system>\n  <memory_region name="r" size="0x1000"/>\n'
      b'  <protection_domain name="crypto" priority="100"><program_image path="crypto"/>\n'
      b'    <map mr="r" vaddr="0x2000000" perms="rw" setvar_vaddr="r"/></protection_domain>\n</system>\n')

# fragment: MTU (16-bit LE), a shuffle byte, then the packet.
write("fragment", "udp_1500_at_1420", struct.pack("<HB", 1420, 3)
      + ipv4("10.1.0.2", "10.2.0.2", 17, udp("10.1.0.2", "10.2.0.2", 4000, 9, bytes(range(256)) * 5 + b"x" * 172)))
write("fragment", "udp_1900_at_576", struct.pack("<HB", 576, 200)
      + ipv4("10.1.0.2", "10.2.0.2", 17, udp("10.1.0.2", "10.2.0.2", 4000, 9, b"f" * 1872)))
v6_payload = udp("10.1.0.2", "10.2.0.2", 4000, 9, b"6" * 1500)
write("fragment", "v6_udp_at_1280", struct.pack("<HB", 1280, 9) + b"\x60\0\0\0" + struct.pack("!H", len(v6_payload))
      + bytes([17, 64]) + bytes.fromhex("fd000001000000000000000000000002") + bytes.fromhex("fd000002000000000000000000000002")
      + v6_payload)


def frag4(ident, offset, more, payload):
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, (0x2000 if more else 0) | offset // 8,
                              64, 17, 0, ip4("192.0.2.2"), ip4("192.0.2.1")))
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return bytes(h) + payload


# reassembly: records (selector high nibble < 8: IPv4, else IPv6; low nibble: time passing).
datagram = udp("192.0.2.2", "192.0.2.1", 51820, 51820, WG_DATA * 20)
write("reassembly", "two_fragments", rec(0x00, frag4(7, 0, True, datagram[:800])) + rec(0x00, frag4(7, 800, False, datagram[800:])))
write("reassembly", "overlap", rec(0x00, frag4(8, 0, True, datagram[:800])) + rec(0x00, frag4(8, 400, False, datagram[400:])))
write("reassembly", "timeout", rec(0x00, frag4(9, 0, True, datagram[:800])) + rec(0x0f, frag4(9, 800, False, datagram[800:])))
v6frag = (b"\x60\0\0\0" + struct.pack("!H", 8 + 800) + bytes([44, 64]) + bytes.fromhex("20010db8000000000000000000000002")
          + bytes.fromhex("20010db8000000000000000000000001") + bytes([17, 0]) + struct.pack("!HI", 1, 77) + datagram[:800])
write("reassembly", "v6_first", rec(0x80, v6frag))


def tcp_syn(src, dst, options):
    hdr = struct.pack("!HHIIBBHHH", 40000, 5201, 1, 0, (5 + len(options) // 4) << 4, 0x02, 64240, 0, 0) + options
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


# mss: IPv4 limit, IPv6 limit (16-bit LE each), then the packet.
write("mss", "syn_mss_1460", struct.pack("<HH", 1380, 1360)
      + ipv4("10.1.0.2", "10.2.0.2", 6, tcp_syn("10.1.0.2", "10.2.0.2", b"\x02\x04\x05\xb4\x01\x03\x03\x07")))
write("mss", "syn_mss_after_nop", struct.pack("<HH", 1380, 1360)
      + ipv4("10.1.0.2", "10.2.0.2", 6, tcp_syn("10.1.0.2", "10.2.0.2", b"\x01\x02\x04\x05\xb4\x04\x02\x00")))

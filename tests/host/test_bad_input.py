"""Bad input: malformed configs, garbage on the red TAP, garbage and forged
WireGuard messages on the black side. Each is rejected or dropped and counted,
and traffic keeps flowing."""

import os
import subprocess
import textwrap

import pytest

import netlab
from netlab import SITES

# Valid keys (32 bytes in base64); only the parser sees them.
PRIV = "eF77luv2EliPX/5riHiloh655ccc8ixDxsQCKS9boV4="
PUB = "PuNX93EClRl3oo9UfbWlpaZqRoP1CHWpkl07Lz6rDgg="
PUB2 = "Ofq3OPE7/H6Q1E2D1YXkMysXVwOUL4IPtxpGi63Kla8="
PSK = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="
# Key material that must never be echoed back, however it is mangled.
SECRET = "SeCrEtKeYmAtErIaL0123456789abcdefghijklmn"  # 41 chars: not a key

# One line per entry; line numbers in the cases below refer to this layout.
BASE = [
    "# test config",                          # 1
    "[Interface]",                            # 2
    f"PrivateKey = {PRIV}",                   # 3
    "ListenPort = 51820",                     # 4
    "",                                       # 5
    "[Peer]",                                 # 6
    f"PublicKey = {PUB}",                     # 7
    f"PresharedKey = {PSK}",                  # 8
    "Endpoint = 192.0.2.2:51820",             # 9
    "AllowedIPs = 10.2.0.0/24, fd00:2::/64",  # 10
    "PersistentKeepalive = 25",               # 11
    "",                                       # 12
    "[Encryptor]",                            # 13
    "RedAddress = 10.1.0.1/24, fd00:1::1/64",  # 14
    "BlackAddress = 192.0.2.1/24",            # 15
]


def with_lines(replace=None, drop=(), insert=None, append=()):
    """BASE with line numbers (1-based) replaced, dropped, inserted before, appended."""
    out = []
    for n, line in enumerate(BASE, 1):
        for extra in (insert or {}).get(n, ()):
            out.append(extra)
        if n in drop:
            continue
        out.append((replace or {}).get(n, line))
    out.extend(append)
    return "\n".join(out) + "\n"


SECOND_PEER = ["[Peer]", f"PublicKey = {PUB2}", "AllowedIPs = 10.3.0.0/24"]  # lines 16-18

# (id, config text, expected line, expected key, a fragment of the message)
CASES = [
    ("empty-file", "", 0, "[Interface]", "missing"),
    ("missing-interface", with_lines(drop={2, 3, 4}), 0, "[Interface]", "missing"),
    ("missing-peer", with_lines(drop={6, 7, 8, 9, 10, 11}), 0, "[Peer]", "at least one [Peer]"),
    ("missing-encryptor", with_lines(drop={13, 14, 15}), 0, "[Encryptor]", "missing"),
    ("missing-private-key", with_lines(drop={3}), 2, "[Interface]", "PrivateKey"),
    ("missing-listen-port", with_lines(drop={4}), 2, "[Interface]", "ListenPort"),
    ("missing-public-key", with_lines(drop={7}), 6, "[Peer]", "PublicKey"),
    ("missing-allowed-ips", with_lines(drop={10}), 6, "[Peer]", "AllowedIPs"),
    ("missing-red-address", with_lines(drop={14}), 13, "[Encryptor]", "RedAddress"),
    ("missing-black-address", with_lines(drop={15}), 13, "[Encryptor]", "BlackAddress"),
    ("unknown-section", with_lines(replace={6: "[Peers]"}), 6, "[Peers]", "unknown section"),
    ("duplicate-section", with_lines(append=["[Interface]"]), 16, "[Interface]", "first on line 2"),
    ("unknown-key-interface", with_lines(replace={4: "ListenPrt = 51820"}), 4, "ListenPrt", "unknown key"),
    ("unknown-key-peer", with_lines(replace={11: "Keepalive = 25"}), 11, "Keepalive", "unknown key"),
    ("unknown-key-encryptor", with_lines(replace={15: "BlackAddr = 192.0.2.1/24"}), 15, "BlackAddr", "unknown key"),
    ("duplicate-key", with_lines(insert={5: ["ListenPort = 51821"]}), 5, "ListenPort", "first on line 4"),
    ("bad-base64-public-key", with_lines(replace={7: "PublicKey = not*base64!"}), 7, "PublicKey", "base64"),
    ("short-public-key", with_lines(replace={7: f"PublicKey = {PUB[:-4]}="}), 7, "PublicKey", "base64"),
    ("bad-preshared-key", with_lines(replace={8: "PresharedKey = " + SECRET}), 8, "PresharedKey", "base64"),
    ("bad-private-key", with_lines(replace={3: "PrivateKey = " + SECRET}), 3, "PrivateKey", "value not shown"),
    ("bad-private-key-padding", with_lines(replace={3: "PrivateKey = " + SECRET + "opq="}), 3, "PrivateKey",
     "value not shown"),
    ("private-key-no-equals", with_lines(replace={3: "PrivateKey " + SECRET}), 3, "PrivateKey", "Key = Value"),
    ("private-key-colon", with_lines(replace={3: "PrivateKey: " + SECRET}), 3, "PrivateKey:", "Key = Value"),
    ("bad-port-range", with_lines(replace={4: "ListenPort = 70000"}), 4, "ListenPort", "1-65535"),
    ("bad-port-zero", with_lines(replace={4: "ListenPort = 0"}), 4, "ListenPort", "1-65535"),
    ("bad-port-text", with_lines(replace={4: "ListenPort = http"}), 4, "ListenPort", "1-65535"),
    ("bad-prefix-length", with_lines(replace={10: "AllowedIPs = 10.2.0.0/33"}), 10, "AllowedIPs", "10.2.0.0/33"),
    ("bad-prefix-address", with_lines(replace={10: "AllowedIPs = 10.2.0.0/24, 10.2.300.0/24"}), 10, "AllowedIPs",
     "10.2.300.0/24"),
    ("bad-red-prefix", with_lines(replace={14: "RedAddress = 10.1.0.1/0"}), 14, "RedAddress", "address/length"),
    ("bad-red-prefix-text", with_lines(replace={14: "RedAddress = 10.1.0.1/24x"}), 14, "RedAddress", "10.1.0.1/24x"),
    ("bad-black-address", with_lines(replace={15: "BlackAddress = 224.0.0.1/24"}), 15, "BlackAddress", "224.0.0.1"),
    ("bad-endpoint-no-port", with_lines(replace={9: "Endpoint = 192.0.2.2"}), 9, "Endpoint", "192.0.2.2"),
    ("bad-endpoint-hostname", with_lines(replace={9: "Endpoint = peer.example:51820"}), 9, "Endpoint",
     "peer.example"),
    ("bad-endpoint-port", with_lines(replace={9: "Endpoint = 192.0.2.2:0"}), 9, "Endpoint", "port"),
    ("endpoint-family", with_lines(replace={9: "Endpoint = [fd00::2]:51820"}), 9, "Endpoint", "IP family"),
    ("bad-keepalive", with_lines(replace={11: "PersistentKeepalive = -1"}), 11, "PersistentKeepalive", "-1"),
    ("duplicate-peer", with_lines(append=["[Peer]", f"PublicKey = {PUB}", "AllowedIPs = 10.3.0.0/24"]), 17,
     "PublicKey", "line 7"),
    ("overlapping-allowed-ips", with_lines(append=SECOND_PEER[:2] + ["AllowedIPs = 10.2.0.0/24"]), 18,
     "AllowedIPs", "line 10"),
    ("no-equals", with_lines(replace={4: "ListenPort 51820"}), 4, "ListenPort", "Key = Value"),
    ("key-outside-section", with_lines(insert={2: ["ListenPort = 51820"]}), 2, "ListenPort", "before any"),
    ("bad-mtu", with_lines(insert={4: ["MTU = 9000"]}), 4, "MTU", "576-1500"),
    ("bad-mss-clamp", with_lines(append=["MssClamp = 100"]), 16, "MssClamp", "auto, off or 536-1460"),
]


@pytest.mark.parametrize("text,line,key,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config(tmp_path, text, line, key, fragment):
    path = tmp_path / "bad.conf"
    path.write_text(text)
    p = subprocess.run([netlab.HOST_BIN, "check-config", str(path)], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0, f"accepted a bad config:\n{text}\nstdout: {p.stdout}"
    err = p.stderr.strip()
    assert f"{path}: line {line}: {key}: " in err, f"expected line {line} and key {key!r}, got: {err!r}"
    assert fragment in err, f"expected {fragment!r} in: {err!r}"
    # Key material is never echoed, in whole or in part.
    for secret in (SECRET, SECRET[:12], PRIV, PSK):
        assert secret not in p.stderr + p.stdout, f"key material echoed: {err!r}"


def test_good_config_is_accepted(tmp_path):
    path = tmp_path / "good.conf"
    path.write_text(with_lines(append=SECOND_PEER))
    p = subprocess.run([netlab.HOST_BIN, "check-config", str(path)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert f"{path}: ok (2 peers, MTU 1420 (IPv6 1420), MssClamp auto (IPv4 1380, IPv6 1360))" in p.stdout
    assert PRIV not in p.stdout + p.stderr
    # The MTU in force, as wg-quick spells the key, and a fixed MSS clamp.
    path.write_text(with_lines(insert={4: ["MTU = 1380"]}))
    p = subprocess.run([netlab.HOST_BIN, "check-config", str(path)], capture_output=True, text=True, timeout=10)
    assert "MTU 1380 (IPv6 1380), MssClamp auto (IPv4 1340, IPv6 1320)" in p.stdout, p.stdout + p.stderr


def test_bad_config_is_refused_at_start(tmp_path):
    """The run command refuses the same file (before touching any TAP device)."""
    path = tmp_path / "bad.conf"
    path.write_text(with_lines(replace={3: "PrivateKey = " + SECRET}))
    p = subprocess.run([netlab.HOST_BIN, "--config", str(path), "--red", "nonexist0", "--black", "nonexist1",
                        "--system", netlab.SYSTEM_XML], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2, p.stderr
    assert "line 3: PrivateKey:" in p.stderr
    assert SECRET[:12] not in p.stdout + p.stderr


# --- Frames --------------------------------------------------------------------------

def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def eth(dst, src, ethertype, payload):
    return dst + src + ethertype.to_bytes(2, "big") + payload


def ipv4(src, dst, proto, payload, ttl=64, total_len=None, bad_checksum=False, first_byte=0x45, frag=0):
    ihl = (first_byte & 0x0F) * 4
    hdr = bytearray(max(ihl, 20))
    hdr[0] = first_byte
    struct_len = total_len if total_len is not None else len(hdr) + len(payload)
    hdr[2:4] = struct_len.to_bytes(2, "big")
    hdr[4:6] = os.urandom(2)
    hdr[6:8] = frag.to_bytes(2, "big")
    hdr[8], hdr[9] = ttl, proto
    hdr[12:16], hdr[16:20] = ip4(src), ip4(dst)
    c = csum16(bytes(hdr))
    if bad_checksum:
        c ^= 0x00FF
    hdr[10:12] = c.to_bytes(2, "big")
    return bytes(hdr) + payload


def udp4(src, dst, sport, dport, payload, bad_checksum=False, length=None):
    n = 8 + len(payload)
    length = n if length is None else length
    pseudo = ip4(src) + ip4(dst) + bytes([0, 17]) + n.to_bytes(2, "big")
    hdr = sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + length.to_bytes(2, "big")
    c = csum16(pseudo + hdr + b"\0\0" + payload) or 0xFFFF
    if bad_checksum:
        c = c ^ 0x0F0F or 0x1234
    return hdr + c.to_bytes(2, "big") + payload


def ipv6_raw(payload_len_field, body, first=b"\x60\0\0\0"):
    src = bytes.fromhex("fd000001000000000000000000000002")
    dst = bytes.fromhex("fd000002000000000000000000000002")
    return first + payload_len_field.to_bytes(2, "big") + bytes([17, 64]) + src + dst + body


def rand_unicast_mac(avoid):
    while True:
        m = bytes([os.urandom(1)[0] & 0xFE]) + os.urandom(5)
        if m not in avoid and m != b"\0" * 6:
            return m


def rand_len(lo, hi):
    return lo + int.from_bytes(os.urandom(2), "big") % (hi - lo + 1)


def write_frames(path, frames):
    with open(path, "wb") as f:
        for fr in frames:
            f.write(len(fr).to_bytes(2, "big") + fr)


# Runs in a namespace: sends length-prefixed frames from a file out of an
# interface through an AF_PACKET socket, paced, and reports what it sent.
INJECT = r"""
import socket, sys, time
iface, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
sent = errors = off = 0
while off + 2 <= len(data):
    n = int.from_bytes(data[off:off + 2], "big"); off += 2
    frame = data[off:off + n]; off += n
    try:
        s.send(frame); sent += 1
    except OSError:
        errors += 1
    if (sent + errors) % 32 == 0:
        time.sleep(0.002)
print(f"sent {sent} errors {errors}")
"""


def inject(lab, ns, iface, frames, name):
    path = os.path.join(lab.tmp, f"{name}.frames")
    write_frames(path, frames)
    out = netlab.run_python(lab, ns, INJECT, iface, path, timeout=60).stdout
    sent, errors = map(int, out.split()[1::2])
    return sent, errors


def contains(frames, marker):
    return any(marker in f for f in frames)


def check_exit(enc):
    text, counters = enc.stop()
    assert enc.proc.returncode == 0, f"enc_{enc.site} exited {enc.proc.returncode}:\n{text[-3000:]}"
    assert counters, f"enc_{enc.site} printed no counters:\n{text[-3000:]}"
    return counters


def v6_in_v4_frame(our_mac, pc_mac, marker):
    """An IPv6 packet (fd00:1::/64 -> fd00:2::2, UDP, carrying `marker`) in a frame
    whose EtherType says IPv4. Its first 20 bytes also pass as an IPv4 header
    (first byte 0x65: IHL 5; bytes 2-3 = the length; a valid IPv4 header
    checksum, made so by choosing part of the source address's interface ID)."""
    body = b"\x9c\x40\x00\x09" + (8 + len(marker)).to_bytes(2, "big") + b"\0\0" + marker
    src = bytes.fromhex("fd000001000000000000000000000002")
    dst = bytes.fromhex("fd000002000000000000000000000002")
    hdr = bytearray(b"\x65\x00" + (40 + len(body)).to_bytes(2, "big") + len(body).to_bytes(2, "big")
                    + bytes([17, 64]) + src + dst)
    # The IPv4 checksum word is hdr[10:12] (source bytes 2-3, fixed by the prefix):
    # solve for hdr[18:20] (source bytes 10-11) so the 20-byte header sums to 0xFFFF.
    hdr[18:20] = b"\0\0"
    hdr[18:20] = (0xFFFF - (~csum16(bytes(hdr[:20])) & 0xFFFF)).to_bytes(2, "big")
    assert csum16(bytes(hdr[:20])) == 0
    return eth(our_mac, pc_mac, 0x0800, bytes(hdr) + body)


def red_garbage(our_mac, pc_mac, marker):
    """(category, expected counter, frames) sent from pc_a towards net_red."""
    pc, gw, far = SITES["a"]["pc"], SITES["a"]["red_gw"], SITES["b"]["pc"]
    bcast = b"\xff" * 6
    other = [rand_unicast_mac({our_mac, pc_mac}) for _ in range(8)]
    udp_to_b = udp4(pc, far, 40000, 9, marker)
    cats = []

    def add(counter, frames):
        cats.append((counter, frames))

    add("drop_other_mac", [eth(other[i % 8], pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b)) for i in range(150)]
        + [eth(other[i % 8], pc_mac, 0x0806, os.urandom(28)) for i in range(50)]
        + [eth(other[i % 8], os.urandom(6), int.from_bytes(os.urandom(2), "big"), os.urandom(rand_len(0, 1486)))
           for i in range(100)])
    add("drop_ethertype", [eth(our_mac, pc_mac, t, os.urandom(rand_len(0, 1486)))
                           for t in [0x0000, 0x0001, 0x05DC, 0x0805, 0x0801, 0x86DC, 0x8100, 0x88CC, 0xFFFF] * 22])
    add("drop_bad_arp", [eth(d, pc_mac, 0x0806, os.urandom(rand_len(0, 27))) for d in (our_mac, bcast) for _ in range(75)]
        # well-formed length, wrong hardware type / protocol / lengths
        + [eth(our_mac, pc_mac, 0x0806, b"\x00\x06\x08\x00\x06\x04\x00\x01" + pc_mac + ip4(pc) + b"\0" * 6 + ip4(gw))
           for _ in range(20)]
        + [eth(our_mac, pc_mac, 0x0806, b"\x00\x01\x86\xdd\x06\x04\x00\x01" + pc_mac + ip4(pc) + b"\0" * 6 + ip4(gw))
           for _ in range(20)]
        # unknown operation
        + [eth(our_mac, pc_mac, 0x0806, b"\x00\x01\x08\x00\x06\x04\x00\x07" + pc_mac + ip4(pc) + b"\0" * 6 + ip4(gw))
           for _ in range(10)])
    add("drop_bad_ipv4", [eth(our_mac, pc_mac, 0x0800, os.urandom(rand_len(0, 19))) for _ in range(100)]
        + [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, bad_checksum=True)) for _ in range(150)]
        + [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, total_len=20 + len(udp_to_b) + rand_len(1, 500)))
           for _ in range(150)]
        + [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, first_byte=0x40 | ihl)) for ihl in range(5)] * 10
        + [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, total_len=10)) for _ in range(50)])
    add("drop_bad_ipv6", [eth(our_mac, pc_mac, 0x86DD, os.urandom(rand_len(0, 39))) for _ in range(100)]
        + [eth(our_mac, pc_mac, 0x86DD, ipv6_raw(len(udp_to_b) + rand_len(1, 500), udp_to_b)) for _ in range(100)]
        + [eth(our_mac, pc_mac, 0x86DD, ipv6_raw(len(udp_to_b), udp_to_b, first=b"\x40\0\0\0")) for _ in range(50)])
    # Well-formed packets that the policy, TTL or local rules drop.
    add("drop_policy", [eth(our_mac, pc_mac, 0x0800, ipv4(pc, "10.77.0.1", 17, udp4(pc, "10.77.0.1", 4, 9, marker)))
                        for _ in range(50)])
    add("drop_ttl", [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, ttl=t)) for t in (0, 1)] * 25)
    add("drop_local", [eth(our_mac, pc_mac, 0x0800, ipv4(pc, gw, 17, udp4(pc, gw, 4, 9, marker))) for _ in range(50)])
    add("drop_bad_icmp", [eth(our_mac, pc_mac, 0x0800, ipv4(pc, gw, 1, bytes([13, 0]) + b"\0\0" + os.urandom(16)))
                          for _ in range(25)]
        + [eth(our_mac, pc_mac, 0x0800, ipv4(pc, gw, 1, b"\x08\x00\x12\x34" + os.urandom(12))) for _ in range(25)])
    # IP version 5 under the IPv4 EtherType: the version must agree with the EtherType.
    add("drop_bad_ipv4", [eth(our_mac, pc_mac, 0x0800, ipv4(pc, far, 17, udp_to_b, first_byte=0x55)) for _ in range(25)])
    # Pure noise, anywhere.
    add(None, [os.urandom(rand_len(14, 1514)) for _ in range(300)])
    return cats


def test_red_garbage_frames():
    marker = b"GARBAGE-" + os.urandom(8).hex().encode()
    with netlab.Lab("br") as lab:
        t = netlab.host_topology(lab)
        pc_a, pc_b, enc_a = t["pc_a"], t["pc_b"], t["enc_a"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"]), "ping pc_a -> pc_b failed before the garbage"
        our_mac = netlab.neighbour_mac(lab, pc_a, SITES["a"]["red_gw"])
        assert our_mac, "pc_a has not resolved its gateway"
        pc_mac = netlab.mac_of(lab, pc_a, enc_a.red_tap)
        cats = red_garbage(our_mac, pc_mac, marker)
        frames = [f for _, fs in cats for f in fs]
        random_order = sorted(frames, key=lambda _: os.urandom(4))
        cap_b = netlab.Capture(lab, pc_b, t["enc_b"].red_tap, "pc_b")
        # Frames the kernel drops because the TAP's queue is full while enc_a's nic_red thread
        # waits for a host CPU (shared with the other PD threads and the sender): counted there.
        tap_stats = f"/sys/class/net/{enc_a.red_tap}/statistics/tx_dropped"
        tap_dropped = lambda: int(lab.exec(pc_a, ["cat", tap_stats]).stdout)  # noqa: E731
        dropped_before = tap_dropped()
        sent, errors = inject(lab, pc_a, enc_a.red_tap, random_order, "red")
        tap_drops = tap_dropped() - dropped_before
        assert sent >= len(frames) * 0.9, f"only {sent} of {len(frames)} frames went out ({errors} errors)"
        # Frames shorter than an Ethernet header: the kernel may refuse them.
        runts_sent, _ = inject(lab, pc_a, enc_a.red_tap, [os.urandom(n) for n in range(1, 14)] * 4, "runts")
        # Traffic still flows, both ways, after the garbage.
        assert netlab.ping(lab, pc_a, SITES["b"]["pc"]), "ping pc_a -> pc_b failed after the garbage"
        assert netlab.ping(lab, pc_b, SITES["a"]["pc"]), "ping pc_b -> pc_a failed after the garbage"
        assert netlab.ping(lab, pc_a, SITES["a"]["red_gw"]), "net_red stopped answering pings"
        delivered = cap_b.stop()
        ca = check_exit(enc_a)
        check_exit(t["enc_b"])
    report = {k: v for k, v in ca.items() if k.startswith("net_red.") or k.startswith("nic_red.")}
    print("enc_a red-side counters:", report)
    missing = [c for c, _ in cats if c and ca.get(f"net_red.{c}", 0) == 0]
    assert not missing, f"these drop counters did not move: {missing}; counters: {report}"
    if runts_sent:
        assert ca["net_red.drop_bad_frame"] >= 1, f"{runts_sent} runt frames sent, none counted: {report}"
    assert ca["net_red.rx_frames"] + tap_drops >= sent, f"{tap_drops} dropped at the TAP; {report}"
    assert delivered, "the capture on pc_b saw nothing (not even the pings)"
    assert not contains(delivered, marker), "a dropped (malformed, TTL-expired or policy) packet reached pc_b"
    assert ca["crypto.handler_errors"] == 0 and ca["net_red.handler_errors"] == 0, report


def test_red_ipv6_in_ipv4_frame():
    """A frame typed IPv4 whose packet is IPv6 (and also passes as an IPv4 header)
    is a bad IPv4 packet: dropped and counted, never forwarded as IPv6."""
    marker = b"V6-IN-V4-" + os.urandom(8).hex().encode()
    with netlab.Lab("b6") as lab:
        t = netlab.host_topology(lab)
        pc_a, pc_b, enc_a = t["pc_a"], t["pc_b"], t["enc_a"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc6"]), "ping pc_a -> pc_b (IPv6) failed"
        our_mac = netlab.neighbour_mac(lab, pc_a, SITES["a"]["red_gw"]) or b"\xff" * 6
        pc_mac = netlab.mac_of(lab, pc_a, enc_a.red_tap)
        cap_b = netlab.Capture(lab, pc_b, t["enc_b"].red_tap, "pc_b")
        sent, _ = inject(lab, pc_a, enc_a.red_tap, [v6_in_v4_frame(our_mac, pc_mac, marker)] * 20, "v6inv4")
        assert sent == 20
        assert netlab.ping(lab, pc_a, SITES["b"]["pc6"]), "ping pc_a -> pc_b (IPv6) failed after"
        delivered = cap_b.stop()
        ca = check_exit(enc_a)
        check_exit(t["enc_b"])
    smuggled = sum(marker in f for f in delivered)
    assert smuggled == 0, (f"{smuggled} of 20 IPv6 packets sent in frames with EtherType IPv4 (0x0800) went "
                           f"through the tunnel to pc_b: net_red must check the IP version against the EtherType")
    assert ca["net_red.drop_bad_ipv4"] >= 20, {k: v for k, v in ca.items() if k.startswith("net_red.") and v}


# --- The black side ------------------------------------------------------------------

def config_public_key(path):
    priv = next(line.split("=", 1)[1].strip() for line in open(path) if line.startswith("PrivateKey"))
    return netlab.run(["wg", "pubkey"], input=priv + "\n").stdout.strip()


def with_mac1(msg, responder_public_b64):
    """A handshake message (without its MACs) with a valid MAC1 for the responder and zero MAC2."""
    import base64
    import hashlib
    key = hashlib.blake2s(b"mac1----" + base64.b64decode(responder_public_b64)).digest()
    return msg + hashlib.blake2s(msg, key=key, digest_size=16).digest() + b"\0" * 16


def le32(n):
    return n.to_bytes(4, "little")


def black_datagrams(enc_a_public):
    """(category, payload) for UDP datagrams to enc_a's WireGuard port."""
    d = []
    d += [("random", os.urandom(n)) for n in list(range(0, 64)) + [rand_len(64, 1400) for _ in range(136)]]
    # Truncated or overlong handshake initiations, responses, cookie replies, data.
    d += [("truncated", le32(1) + os.urandom(n)) for n in (0, 1, 50, 143, 145, 200, 1000)]
    d += [("truncated", le32(2) + os.urandom(n)) for n in (0, 20, 87, 89, 300)]
    d += [("truncated", le32(3) + os.urandom(n)) for n in (0, 30, 59, 61)]
    d += [("truncated", le32(4) + os.urandom(n)) for n in (0, 4, 12, 27)]
    d += [("truncated", bytes([t, 1, 0, 0]) + os.urandom(144)) for t in (1, 2, 3, 4)]  # reserved bytes set
    # Forged data messages: random receiver index and counter.
    d += [("forged_data", le32(4) + le32(rand_len(256, 65535) << 8 | rand_len(0, 255)) + os.urandom(8)
           + os.urandom(rand_len(16, 1400))) for _ in range(150)]
    # Receiver indices 0-255: the first peer's sessions, back when the index was the peer number
    # (it is random now, so these name no peer, or by a 1 in 2^24 chance a real session).
    d += [("forged_data_low_index", le32(4) + le32(rand_len(0, 255)) + os.urandom(8) + os.urandom(rand_len(16, 200)))
          for _ in range(50)]
    # Correct lengths, garbage content: MAC1 does not verify.
    d += [("bad_mac", le32(1) + os.urandom(144)) for _ in range(50)]
    d += [("bad_mac", le32(2) + os.urandom(88)) for _ in range(30)]
    # Correct length and a valid MAC1, garbage inside: the handshake itself fails.
    d += [("bad_init", with_mac1(le32(1) + os.urandom(112), enc_a_public)) for _ in range(10)]
    # Cookie replies nobody asked for.
    d += [("cookie", le32(3) + le32(rand_len(0, 1 << 30)) + os.urandom(56)) for _ in range(20)]
    return d


# Runs in the wan namespace: UDP datagrams (port, hex payload per line) to one address.
SEND_UDP = r"""
import socket, sys, time
addr, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = errors = 0
for i, line in enumerate(open(path)):
    port, payload = line.split(" ") if " " in line else (line, "")
    try:
        s.sendto(bytes.fromhex(payload.strip()), (addr, int(port)))
        sent += 1
    except OSError:
        errors += 1
    if i % 32 == 31:
        time.sleep(0.002)
# A few TCP connection attempts (not WireGuard), abandoned at once.
for _ in range(3):
    t = socket.socket()
    t.setblocking(False)
    t.connect_ex((addr, 51820))
    time.sleep(0.05)
    t.close()
print(f"sent {sent} errors {errors}")
"""


def black_frames(enc_mac, br_mac, wan_ip, enc_ip):
    """(expected net_black counter, frames) injected on the wan bridge."""
    other = rand_unicast_mac({enc_mac, br_mac})
    wg = le32(1) + os.urandom(144)
    good_udp = udp4(wan_ip, enc_ip, 40001, 51820, wg)
    cats = [
        ("drop_bad_udp", [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, udp4(wan_ip, enc_ip, 40001, 51820, wg,
                                                                                      bad_checksum=True)))] * 50
         + [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, good_udp[:8]))] * 25  # length field > payload
         + [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, os.urandom(rand_len(0, 7)))) for _ in range(25)]),
        ("drop_not_wireguard", [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, good_udp, frag=0x2000))] * 25
         + [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, p, os.urandom(40))) for p in (6, 47, 50, 132, 255)] * 5),
        ("drop_not_for_us", [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, "192.0.2.50", 17, good_udp))] * 25
         + [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, "10.2.0.2", 17, good_udp))] * 25),
        ("drop_bad_ipv4", [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, good_udp, bad_checksum=True))] * 50
         + [eth(enc_mac, br_mac, 0x0800, os.urandom(rand_len(0, 19))) for _ in range(50)]
         + [eth(enc_mac, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, good_udp, total_len=2000)) for _ in range(50)]),
        ("drop_bad_ipv6", [eth(enc_mac, br_mac, 0x86DD, os.urandom(rand_len(0, 39))) for _ in range(50)]),
        ("drop_bad_arp", [eth(d, br_mac, 0x0806, os.urandom(rand_len(0, 27))) for d in (enc_mac, b"\xff" * 6)] * 25),
        ("drop_ethertype", [eth(enc_mac, br_mac, t, os.urandom(rand_len(0, 1486))) for t in (0x0001, 0x88CC, 0x9000)]
         * 25),
        ("drop_other_mac", [eth(other, br_mac, 0x0800, ipv4(wan_ip, enc_ip, 17, good_udp))] * 50),
        (None, [eth(enc_mac, br_mac, int.from_bytes(os.urandom(2), "big"), os.urandom(rand_len(0, 1486)))
                for _ in range(200)]),
    ]
    return cats


CRYPTO_DROPS = {
    "random": ["drop_invalid_packet"],
    "truncated": ["drop_invalid_packet"],
    "forged_data": ["drop_bad_index"],
    "forged_data_low_index": ["drop_bad_index", "drop_no_session", "drop_bad_aead", "drop_bad_counter", "drop_replay"],
    "bad_mac": ["drop_invalid_mac"],
    "bad_init": ["drop_bad_aead", "drop_unknown_peer", "drop_stale_timestamp", "drop_other_error"],
    "cookie": ["drop_bad_index", "drop_invalid_packet", "drop_wrong_state", "drop_bad_aead", "drop_other_error",
               "drop_no_session"],
}


def test_black_garbage():
    with netlab.Lab("bb") as lab:
        cfg_a, cfg_b = netlab.make_configs(lab)
        enc_a_public = config_public_key(cfg_a)
        t = netlab.host_topology(lab, (cfg_a, cfg_b))
        pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"]), "ping pc_a -> pc_b failed before the garbage"
        wan_ip, enc_ip = "192.0.2.100", SITES["a"]["black"]
        lab.ip(wan, "addr", "add", f"{wan_ip}/24", "dev", "br0")
        assert netlab.ping(lab, wan, enc_ip), "enc_a's black address does not answer pings"
        enc_mac = netlab.neighbour_mac(lab, wan, enc_ip)
        br_mac = netlab.mac_of(lab, wan, "br0")
        assert enc_mac, "wan has not resolved enc_a's black address"

        datagrams = black_datagrams(enc_a_public)
        other_ports = [53, 51821, 9, 65535, 1]
        lines = [f"51820 {p.hex()}" for _, p in datagrams] + [f"{port} {os.urandom(40).hex()}" for port in other_ports] * 20
        path = os.path.join(lab.tmp, "datagrams")
        with open(path, "w") as f:
            f.write("\n".join(sorted(lines, key=lambda _: os.urandom(4))) + "\n")
        out = netlab.run_python(lab, wan, SEND_UDP, enc_ip, path, timeout=60).stdout
        assert out.startswith(f"sent {len(lines)} "), out

        cats = black_frames(enc_mac, br_mac, wan_ip, enc_ip)
        frames = [f for _, fs in cats for f in fs]
        sent, errors = inject(lab, wan, "br0", sorted(frames, key=lambda _: os.urandom(4)), "black")
        assert sent >= len(frames) * 0.9, f"only {sent} of {len(frames)} frames went out ({errors} errors)"

        # Traffic still flows after the barrage (the session survives forged messages).
        assert netlab.ping(lab, pc_a, SITES["b"]["pc"]), "ping pc_a -> pc_b failed after the garbage"
        assert netlab.ping(lab, pc_b, SITES["a"]["pc"]), "ping pc_b -> pc_a failed after the garbage"
        assert netlab.ping(lab, wan, enc_ip), "net_black stopped answering pings"
        ca = check_exit(t["enc_a"])
        check_exit(t["enc_b"])
    report = {k: v for k, v in ca.items() if k.startswith(("net_black.", "crypto.", "nic_black.")) and v}
    print("enc_a black-side counters (non-zero):", report)
    missing = [f"net_black.{c}" for c, _ in cats if c and ca.get(f"net_black.{c}", 0) == 0]
    for cat, names in CRYPTO_DROPS.items():
        if sum(ca.get(f"crypto.{n}", 0) for n in names) == 0:
            missing.append(f"crypto: {cat} ({' or '.join(names)})")
    assert not missing, f"these drop counters did not move: {missing}; non-zero counters: {report}"
    # Every datagram to the WireGuard port reached crypto; none to other ports did.
    assert ca["net_black.to_crypto"] >= len(datagrams), report
    assert ca["net_black.drop_not_wireguard"] >= len(other_ports) * 20, report
    assert ca["crypto.handler_errors"] == 0 and ca["net_black.handler_errors"] == 0, report

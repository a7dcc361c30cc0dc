"""No MTU black holes: PCs as they come (MTU 1500) through two encryptors whose tunnel MTU is
1420, on the host runtime.

    pc_a — enc_a — wan — enc_b — pc_b        (netlab.check_path_mtu)

- large pings with and without DF, IPv4 and IPv6: fragmentation or ICMP "too big", never
  silence;
- TCP both ways with the SYNs' MSS lowered on the far side;
- a flood of oversize DF packets: ICMP errors within the rate limit, every drop counted;
- a flood of fragments on the black side (thousands of incomplete datagrams, overlapping and
  64 KiB sets): memory stays bounded, the drops are counted, the tunnel keeps working.
"""

import re
import time

import netlab
from netlab import SITES

# What net_red allows itself: a burst, then a rate (pd-net-red ICMP_ERROR_BURST, ICMP_ERRORS_PER_S).
ICMP_BURST, ICMP_PER_S = 10, 20


def assert_no_black_hole(seen, counters_a, counters_b):
    assert seen["big_ping_v4"], "ping -s 3000 (IPv4, fragmented) got no reply"
    assert seen["big_ping_v6"], "ping -6 -s 3000 got no reply"
    assert re.search(r"Frag needed and DF set \(mtu = 1420\)", seen["frag_needed"]), seen["frag_needed"]
    assert re.search(r"Packet too big: mtu=1420", seen["too_big_v6"]), seen["too_big_v6"]
    assert seen["tcp_v4_bytes"] > 0 and seen["tcp_v6_bytes"] > 0, seen
    # The SYNs left pc_a with the MSS of a 1500-byte link (1460/1440) and arrived clamped to the
    # tunnel's; the SYN-ACKs the same way back.
    at_b = dict(seen["syn_mss_at_b"])
    at_a = dict(seen["syn_mss_at_a"])
    assert at_b.get(SITES["a"]["pc"]) == 1380 and at_b.get(SITES["a"]["pc6"]) == 1360, at_b
    assert at_a.get(SITES["b"]["pc"]) == 1380 and at_a.get(SITES["b"]["pc6"]) == 1360, at_a
    assert at_a.get(SITES["a"]["pc"]) == 1460 and at_b.get(SITES["b"]["pc6"]) == 1440, (at_a, at_b)
    # Both kinds of ICMP came from enc_a's net_red, and IPv4 without DF was split there.
    assert counters_a["net_red.icmp_too_big_sent"] >= 2, counters_a
    assert counters_a["net_red.fragmented"] >= 1 and counters_b["net_red.fragmented"] >= 1, (counters_a, counters_b)
    assert counters_a["net_red.mss_clamped"] >= 2 and counters_b["net_red.mss_clamped"] >= 2
    # Nothing too big reached crypto.
    assert counters_a["crypto.drop_too_big"] == 0 and counters_b["crypto.drop_too_big"] == 0


def test_pcs_at_mtu_1500_get_through_without_black_holes():
    with netlab.Lab("mtu") as lab:
        t = netlab.host_topology(lab)
        seen = netlab.check_path_mtu(lab, t)
        (_, a), (_, b) = t["enc_a"].stop(), t["enc_b"].stop()
    assert_no_black_hole(seen, a, b)


FLOOD_DF = r"""
import socket, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# PROBE: set DF and ignore the path MTU the ICMP errors teach the kernel, so every packet is
# 1500 bytes on the wire however often the encryptor answers.
s.setsockopt(socket.IPPROTO_IP, 10, 3)  # IP_MTU_DISCOVER = IP_PMTUDISC_PROBE
start = time.time()
for i in range(count):
    s.sendto(b"x" * 1472, (dst, 9))
print(f"sent {count} in {time.time() - start:.2f} s", flush=True)
"""


def test_a_flood_of_oversize_df_packets_gets_rate_limited_icmp_errors():
    with netlab.Lab("mtf") as lab:
        t = netlab.host_topology(lab)
        pc_a = t["pc_a"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"]), "no tunnel"
        cap = netlab.Capture(lab, pc_a, t["enc_a"].red_tap, "icmp", bpf=("icmp and icmp[0] == 3 and icmp[1] == 4",))
        # Frames the kernel drops because the TAP's queue is full while enc_a's nic_red thread
        # waits for a host CPU (shared with the other PD threads and the flood's sender). The
        # sender is faster than any 1 GbE PC, so how many get through depends on the host.
        tap_stats = f"/sys/class/net/{t['enc_a'].red_tap}/statistics/tx_dropped"
        tap_dropped = lambda: int(lab.exec(pc_a, ["cat", tap_stats]).stdout)  # noqa: E731
        dropped_before = tap_dropped()
        # Packets pc_a's own kernel drops while it (re)resolves the gateway's address never reach
        # the encryptor; the TAP does not count them. (A CI run on 2026-12-04 lost one packet that
        # no counter here showed; this is the one drop on that path left uncounted, the likely
        # cause by analogy with the fragment flood below, not confirmed for this test.)
        arp_before = netlab.arp_unresolved_discards()
        started = time.time()
        out = netlab.run_python(lab, pc_a, FLOOD_DF, SITES["b"]["pc"], 3000, timeout=60).stdout
        # enc_a works through what the TAP still queues: the capture stops (and enc_a's count is
        # compared with it) only once no frame has come out of enc_a for half a second.
        rx_stats = f"/sys/class/net/{t['enc_a'].red_tap}/statistics/rx_packets"
        netlab.wait_unchanged(lambda: lab.exec(pc_a, ["cat", rx_stats]).stdout, quiet=0.5, seconds=10)
        elapsed = time.time() - started
        errors = len(cap.stop())
        queue_drops = tap_dropped() - dropped_before
        arp_drops = netlab.arp_unresolved_discards() - arp_before
        _, c = t["enc_a"].stop()
        t["enc_b"].stop()
    assert "sent 3000" in out, out
    bound = ICMP_BURST + ICMP_PER_S * (elapsed + 1)
    assert 1 <= errors <= bound, f"{errors} ICMP errors in {elapsed:.1f} s (bound {bound:.0f})"
    assert c["net_red.icmp_too_big_sent"] == errors, c
    # Every oversize packet that reached net_red was counted, answered or held back.
    assert c["net_red.drop_too_big"] == c["net_red.icmp_too_big_sent"] + c["net_red.icmp_rate_limited"], c
    # Every packet of the flood was dropped and counted somewhere: at the TAP's queue in the
    # kernel (frames wait there while the ring to net_red is full) or by net_red as too big (or,
    # before it reached the TAP, by pc_a's kernel waiting for the gateway's address).
    seen = " ".join(f"{k}={v}" for k, v in c.items() if v) + f" tap_queue_drops={queue_drops} arp_drops={arp_drops}"
    assert c["net_red.drop_too_big"] + queue_drops + arp_drops >= 3000, seen
    # ... and enough of it reached net_red for the rate limit to be what held the errors back.
    assert c["net_red.icmp_rate_limited"] >= 10 * errors, seen


FRAGMENT_FLOOD = r"""
import os, socket, struct, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

def fragment(ident, offset, more, payload):
    flags = (0x2000 if more else 0) | (offset // 8)
    total = 20 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, flags, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(header + payload, (dst, 0))

udp = struct.pack("!HHHH", 40000, 51820, 8 + 1400, 0) + os.urandom(1400)
sent = 0
# Thousands of datagrams whose last fragment never comes.
for ident in range(count):
    fragment(ident & 0xffff, 0, True, udp[:512])
    sent += 1
# Overlapping sets: the second fragment starts inside the first.
for ident in range(200):
    fragment(60000 + ident, 0, True, udp[:512])
    fragment(60000 + ident, 256, False, udp[256:1408])
    sent += 2
# A 64 KiB datagram's worth of fragments.
for k in range(45):
    fragment(65000, k * 1480, k < 44, os.urandom(1480))
    sent += 1
print(f"sent {sent} fragments", flush=True)
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def test_a_fragment_flood_on_the_black_side_is_bounded_and_the_tunnel_keeps_working():
    with netlab.Lab("mtr") as lab:
        t = netlab.host_topology(lab)
        pc_a, wan = t["pc_a"], t["wan"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"]), "no tunnel"
        # An attacker on the untrusted network, beside the encryptors on the wan bridge.
        attacker = lab.ns("attacker")
        lab.ip(attacker, "link", "add", "eth0", "type", "veth", "peer", "name", "atk", "netns", wan)
        lab.ip(wan, "link", "set", "atk", "master", "br0", "up")
        lab.ip(attacker, "addr", "add", "192.0.2.66/24", "dev", "eth0")
        lab.ip(attacker, "link", "set", "eth0", "up")
        # `ip netns exec` execs the encryptor: the lab's process is encryptor-host itself.
        enc_pid = t["enc_a"].proc.pid
        # Frames the kernel drops because its TAP queue is full while enc_a's thread works (it
        # shares the host's CPUs with the other PD threads and the flood's sender).
        tap_stats = f"/sys/class/net/{t['enc_a'].black_tap}/statistics/tx_dropped"
        tap_dropped = lambda: int(lab.exec(wan, ["cat", tap_stats]).stdout)  # noqa: E731
        dropped_before = tap_dropped()
        # The attacker's kernel learns enc_a's black address first: fragments sent while it
        # waits for the ARP reply overflow its queue for that neighbour and are dropped there,
        # before they reach the encryptor (up to 342 of the first flood did, 2026-12-04).
        lab.exec(attacker, ["ping", "-c", "1", "-W", "2", SITES["a"]["black"]], check=False)
        neigh = lab.exec(attacker, ["ip", "neigh", "show", SITES["a"]["black"], "dev", "eth0"]).stdout
        assert "lladdr" in neigh, f"the attacker did not learn enc_a's address: {neigh!r}"
        arp_before = netlab.arp_unresolved_discards()
        # A first, smaller flood touches every page the flood path uses (buffers are zeroed
        # lazily); the big one must not need more.
        first = netlab.run_python(lab, attacker, FRAGMENT_FLOOD, "192.0.2.66", SITES["a"]["black"], 500,
                                  timeout=120).stdout
        time.sleep(1)
        before = rss_kib(enc_pid)
        out = netlab.run_python(lab, attacker, FRAGMENT_FLOOD, "192.0.2.66", SITES["a"]["black"], 5000,
                                timeout=120).stdout
        time.sleep(1)
        grown = rss_kib(enc_pid) - before
        queue_drops = tap_dropped() - dropped_before
        arp_drops = netlab.arp_unresolved_discards() - arp_before
        still = netlab.ping(lab, pc_a, SITES["b"]["pc"], count=3)
        _, c = t["enc_a"].stop()
        t["enc_b"].stop()
    assert "sent 5445 fragments" in out, out
    assert still, "the tunnel stopped passing traffic after the fragment flood"
    # Every fragment of both floods reached net_black or was dropped, and counted, on the way:
    # at the TAP's queue in the kernel (frames wait there while the ring to net_black is full;
    # nic_black's rx_ring_full counts those waits, not frames).
    assert "sent 945 fragments" in first, first
    seen = " ".join(f"{k}={v}" for k, v in c.items() if v) + f" tap_queue_drops={queue_drops} arp_drops={arp_drops}"
    assert arp_drops == 0, seen
    assert c["net_black.frags_received"] + queue_drops >= 945 + 5445, seen
    assert c["net_black.frags_received"] >= 2000, seen
    assert c["net_black.drop_frag_evicted"] >= 0.7 * c["net_black.frags_received"], seen
    assert c["net_black.drop_frag_overlap"] >= 100, c
    assert c["net_black.drop_frag_oversize"] >= 1, c
    assert c["net_black.frags_reassembled"] == 0 and c["crypto.drop_invalid_packet"] == 0, c
    # Reassembly memory is allocated once: the flood does not grow the process.
    assert grown < 256, f"encryptor-host grew by {grown} KiB during the flood"

"""Black-side attacks on the seL4 encryptor in QEMU (TCG): the host attack tests
(tests/host/test_attacks.py, test_bad_input.py::test_black_garbage) scaled down for an
emulated machine. One pc_a — [QEMU enc_a] — wan — [QEMU enc_b] — pc_b topology is booted once
for the module; the tests run on it in order:

1. a flood of handshake initiations with a valid MAC1 at enc_a's black port while pc_a pings
   pc_b: cookie replies (type 3, 64 bytes) appear on the wan, the ping keeps working;
2. the handshake and data datagrams captured on the wan at bring-up, replayed from the wan
   namespace: none reaches a PC, no handshake response answers the replayed initiation, no new
   handshake is logged, the tunnel works after;
3. truncated, oversized, fragmented and random datagrams to the WireGuard port and other ports,
   and garbage frames onto the wan bridge: the tunnel and net_black still answer after.

Besides wan and PC captures and the QEMU consoles (`crypto: handshake #N`, and no
FATAL/PANIC/FAULT), each test reads the encryptors' counters through the operator console
(`counters`) before and after, and asserts that the attack was counted under its drop reason.
No assertion is about speed.
Needs root (namespaces, TAP devices), qemu-system-x86_64, tcpdump and wg.
"""

import os
import re
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "support/lib"))
sys.path.insert(0, str(ROOT / "tests/host"))
import netlab  # noqa: E402
from netlab import SITES  # noqa: E402
import test_attacks as host_attacks  # noqa: E402  (flood, replay and size generators, MAC1 key)
import test_bad_input as host_bad  # noqa: E402  (garbage datagrams and frames, frame injector)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, TAP devices)")

WAN_IP = host_attacks.WAN_IP
WG_PORT = host_attacks.WG_PORT
ENC_A, ENC_B = SITES["a"]["black"], SITES["b"]["black"]


def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def ok_consoles(t):
    """Asserts neither encryptor's console shows a fatal error, a panic or a PD fault."""
    for name in ("enc_a", "enc_b"):
        text = t[name].console()
        bad = re.search(r".*(FATAL|PANIC|panicked|FAULT pd=).*", text)
        assert not bad, f"{name}: {bad.group(0)}\n{text[-3000:]}"


def counters(t):
    """Both encryptors' console counters: {"enc_a": {(pd, name): value}, "enc_b": ...}."""
    return {name: t[name].counters() for name in ("enc_a", "enc_b")}


def grew(before, after, enc, pd, name):
    """How much counter `pd name` of `enc` grew."""
    return after[enc][(pd, name)] - before[enc][(pd, name)]


def tunnel_works(lab, t, what):
    ping_a = netlab.ping_until(lab, t["pc_a"], SITES["b"]["pc"], seconds=15)
    ping_b = netlab.ping_until(lab, t["pc_b"], SITES["a"]["pc"], seconds=15)
    assert ping_a, f"ping pc_a -> pc_b failed {what}\n" + t["enc_a"].console()[-2000:]
    assert ping_b, f"ping pc_b -> pc_a failed {what}\n" + t["enc_b"].console()[-2000:]


# The payload pattern of the control pings (ping -p): echoes carrying it are the test's own.
CONTROL = "5eca1e0f5eca1e0f"


def control_ping(lab, t):
    """pc_a pings pc_b with the control pattern while the PC captures run: a positive control
    that the captures see what crosses the tunnel."""
    return lab.exec(t["pc_a"], ["ping", "-c", "3", "-i", "0.3", "-W", "2", "-p", CONTROL, SITES["b"]["pc"]],
                    check=False, timeout=30).returncode == 0


def split_control(frames):
    """(control echoes, every other frame) of a PC capture."""
    mark = bytes.fromhex(CONTROL)
    control = [f for f in frames if f[12:14] == b"\x08\x00" and f[23] == 1 and mark in f]
    return control, [f for f in frames if f not in control]


def wg_type(frame):
    """The WireGuard message type of an Ethernet/IPv4/UDP frame (no IP options), else None."""
    return frame[42] if len(frame) > 42 and frame[12:14] == b"\x08\x00" and frame[23] == 17 else None


def handshake_responses(frames):
    """(responses to the attacker, responses between the encryptors): the handshake responses
    (type 2) the encryptors sent on a wan capture. The second are the tunnel's own rekeys
    (boringtun's initiator starts one 120 s after the last: a test's window may hold one)."""
    ip = lambda a: bytes(int(x) for x in a.split("."))  # noqa: E731
    encryptors = {ip(SITES[s]["black"]) for s in ("a", "b")}
    responses = [f for f in frames if wg_type(f) == 2 and bytes(f[26:30]) in encryptors]
    to_attacker = [f for f in responses if bytes(f[30:34]) == ip(WAN_IP)]
    return to_attacker, len(responses) - len(to_attacker)


@pytest.fixture(scope="module")
def lab_t():
    with netlab.Lab("s4x") as lab:
        cfg_a, cfg_b = netlab.make_configs(lab)
        t = netlab.sel4_topology(lab, (cfg_a, cfg_b))
        t["lab"], t["cfg_a"] = lab, cfg_a
        pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
        lab.ip(wan, "addr", "add", f"{WAN_IP}/24", "dev", "br0")
        # The bring-up on a capture: the handshake and data both ways, replayed later.
        cap = netlab.Capture(lab, wan, "br0", "bringup", bpf=["udp", "port", str(WG_PORT)])
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], seconds=60), \
            "ping pc_a -> pc_b failed at bring-up\n" + t["enc_a"].console()[-3000:]
        assert netlab.ping(lab, pc_b, SITES["a"]["pc"], count=5), "ping pc_b -> pc_a failed at bring-up"
        assert netlab.ping(lab, pc_a, SITES["b"]["pc"], count=5), "ping pc_a -> pc_b failed at bring-up"
        t["bringup_frames"] = cap.stop()
        yield t
        for name in ("enc_a", "enc_b"):
            t[name].stop()


def test_sel4_handshake_flood_gets_cookies_and_the_tunnel_holds(lab_t):
    t, lab = lab_t, lab_t["lab"]
    pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
    count, seconds = 2000, 10
    key = host_attacks.mac1_key(host_attacks.config_public_key(t["cfg_a"]))
    handshakes_before = t["enc_a"].handshakes()
    c_before = counters(t)
    cap = netlab.Capture(lab, wan, "br0", "flood", bpf=["udp", "and", "src", "port", str(WG_PORT), "and",
                                                       "dst", "host", WAN_IP])
    # The legitimate ping runs for the whole flood (about 40 echoes over 10 s).
    pinger = lab.spawn(pc_a, ["ping", "-c", "40", "-i", "0.25", "-W", "2", SITES["b"]["pc"]], "flood-ping.log")
    out = netlab.run_python(lab, wan, host_attacks.FLOOD, ENC_A, WG_PORT, key.hex(), count, seconds,
                            timeout=seconds + 30).stdout
    pinger.wait(timeout=30)
    ping_text = lab.stop(pinger)
    assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], seconds=15), "ping pc_a -> pc_b failed after the flood"
    assert netlab.ping_until(lab, pc_b, SITES["a"]["pc"], seconds=15), "ping pc_b -> pc_a failed after the flood"
    frames = cap.stop()
    c_after = counters(t)
    cookies_counted = grew(c_before, c_after, "enc_a", "crypto", "cookie_replies_sent")
    m = re.search(r"sent (\d+) errors (\d+) cookies (\d+) seconds ([\d.]+)", out)
    assert m, out
    sent, cookies_seen, took = int(m.group(1)), int(m.group(3)), float(m.group(4))
    type3 = sum(1 for f in frames if wg_type(f) == 3 and len(f) == 42 + 64)
    other = sum(1 for f in frames if wg_type(f) != 3)
    transmitted, received = host_attacks.ping_stats(ping_text)
    handshakes_after = t["enc_a"].handshakes()
    print(f"flood: {sent} initiations in {took:.1f} s; {type3} type-3 64-byte frames on the wan, "
          f"{cookies_seen} received by the flooder, {other} other replies; ping during the flood "
          f"{received}/{transmitted}; enc_a handshakes {handshakes_before} -> {handshakes_after}")
    assert sent >= count * 0.5, f"the flood itself fell short: {out}"
    assert type3 > 0, f"no cookie reply (type 3, 64 bytes) on the wan: {len(frames)} frames to the flooder"
    # Every cookie reply on the wire was counted by the crypto PD that sent it.
    assert cookies_counted >= type3, f"crypto counted {cookies_counted} cookie replies, the wan saw {type3}"
    # Nothing the flood sent may complete a handshake (the static keys inside are junk), nor
    # may the responder answer it with handshake responses.
    assert other == 0, f"{other} replies to the flooder other than cookie replies"
    assert handshakes_after <= handshakes_before + 1, "the flood completed handshakes"
    # Liveness, not speed: the tunnel carried echoes while the flood ran.
    assert transmitted >= 30 and received >= transmitted // 4, \
        f"the tunnel did not hold during the flood: {received}/{transmitted} answered\n{ping_text[-800:]}"
    ok_consoles(t)


def test_sel4_replayed_datagrams_are_dropped_and_the_tunnel_holds(lab_t):
    t, lab = lab_t, lab_t["lab"]
    pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
    captured = host_attacks.wireguard_datagrams(t["bringup_frames"])
    kinds = {k: [d for d in captured if d[2][:1] == bytes([k])] for k in (1, 2, 4)}
    assert kinds[1] and kinds[2] and len(kinds[4]) >= 4, \
        f"bring-up capture lacks handshake or data: {[(k, len(v)) for k, v in kinds.items()]}"
    handshakes = (t["enc_a"].handshakes(), t["enc_b"].handshakes())
    c_before = counters(t)
    # Whatever the replay makes the encryptors send, and whatever reaches the PCs.
    wan_cap = netlab.Capture(lab, wan, "br0", "replay-wan", bpf=["udp", "src", "port", str(WG_PORT)])
    pc_caps = [netlab.Capture(lab, ns, t[enc].red_tap, f"replay-{enc}", bpf=["icmp"])
               for ns, enc in ((pc_a, "enc_a"), (pc_b, "enc_b"))]
    path = os.path.join(lab.tmp, "replay")
    with open(path, "w") as f:
        for _ in range(3):
            for dst, port, payload in captured:
                f.write(f"{dst} {port} {payload.hex()}\n")
    out = netlab.run_python(lab, wan, host_attacks.REPLAY, path, timeout=60).stdout
    assert out.startswith(f"sent {3 * len(captured)}"), out
    time.sleep(2)  # QEMU (TCG) works through its queue
    control_ok = control_ping(lab, t)
    pc_control, pc_frames = zip(*(split_control(c.stop()) for c in pc_caps))
    wan_frames = wan_cap.stop()
    after = (t["enc_a"].handshakes(), t["enc_b"].handshakes())
    c_after = counters(t)
    replay_drops = {enc: grew(c_before, c_after, enc, "crypto", "drop_replay") for enc in ("enc_a", "enc_b")}
    stale = sum(grew(c_before, c_after, enc, "crypto", "drop_stale_timestamp") for enc in ("enc_a", "enc_b"))
    responses, rekeys = handshake_responses(wan_frames)
    print(f"replayed {3 * len(captured)} datagrams ({', '.join(f'type {k}: {len(v)}' for k, v in kinds.items())}"
          f" each time); the encryptors sent {len(wan_frames)} datagrams meanwhile ({len(responses)} handshake "
          f"responses to the replayer, {rekeys} rekeys); ICMP at pc_a/pc_b: {[len(f) for f in pc_frames]}; "
          f"handshakes {handshakes} -> {after}")
    # The replayed initiation's timestamp is not newer: no second response, no new handshake
    # (but for a rekey the tunnel made itself, seen between the encryptors).
    assert not responses, f"{len(responses)} handshake responses sent for replayed initiations"
    assert all(n - m <= rekeys for m, n in zip(handshakes, after)), \
        f"handshakes logged during the replay: {handshakes} -> {after} ({rekeys} rekeys between the encryptors)"
    # Replayed data messages: the replay window drops every copy; nothing reaches a PC but the
    # control ping (which shows the captures see what crosses the tunnel).
    assert control_ok and all(pc_control), f"the control ping failed: {[len(f) for f in pc_control]}"
    assert list(pc_frames) == [[], []], f"replayed data reached the PCs: {[len(f) for f in pc_frames]} ICMP frames"
    # ...and counted as replays, by the encryptor each copy was sent to; the replayed
    # initiations as stale timestamps.
    data_to = {enc: sum(1 for d in kinds[4] if d[0] == SITES[enc[-1]]["black"]) for enc in ("enc_a", "enc_b")}
    print(f"counted: drop_replay {replay_drops}, drop_stale_timestamp {stale} (data sent to {data_to}, 3 times)")
    for enc in ("enc_a", "enc_b"):
        if data_to[enc]:
            assert replay_drops[enc] >= 3 * data_to[enc] * 0.9, f"{enc}: {replay_drops[enc]} replays counted of {3 * data_to[enc]}"
    assert stale >= 1, "no replayed initiation counted as a stale timestamp"
    tunnel_works(lab, t, "after the replay")
    ok_consoles(t)


def test_sel4_black_garbage_leaves_the_tunnel_working(lab_t):
    t, lab = lab_t, lab_t["lab"]
    wan = t["wan"]
    enc_public = host_attacks.config_public_key(t["cfg_a"])
    assert netlab.ping(lab, wan, ENC_A), "enc_a's black address does not answer pings"
    enc_mac = mac_bytes(netlab.SEL4_MACS["a"][1])
    handshakes = (t["enc_a"].handshakes(), t["enc_b"].handshakes())
    c_before = counters(t)
    br_mac = netlab.mac_of(lab, wan, "br0")
    pc_caps = [netlab.Capture(lab, t[pc], t[enc].red_tap, f"garbage-{enc}", bpf=["not", "icmp6", "and", "not",
                                                                                  "arp"])
               for pc, enc in (("pc_a", "enc_a"), ("pc_b", "enc_b"))]
    wan_cap = netlab.Capture(lab, wan, "br0", "garbage-wan", bpf=["udp", "src", "port", str(WG_PORT)])
    # Datagrams: random, truncated and overlong handshake/data messages, forged data, bad MACs,
    # a valid MAC1 on garbage, unsolicited cookie replies; random payloads to other ports.
    datagrams = host_bad.black_datagrams(enc_public)
    other_ports = [53, 51821, 9, 65535, 1]
    lines = [f"{WG_PORT} {p.hex()}" for _, p in datagrams] + \
        [f"{port} {os.urandom(40).hex()}" for port in other_ports] * 5
    path = os.path.join(lab.tmp, "datagrams")
    with open(path, "w") as f:
        f.write("\n".join(sorted(lines, key=lambda _: os.urandom(4))) + "\n")
    out = netlab.run_python(lab, wan, host_bad.SEND_UDP, ENC_A, path, timeout=60).stdout
    assert out.startswith(f"sent {len(lines)} "), out
    # Oversized datagrams, and some above the MTU that leave as IPv4 fragments.
    sizes = [(WG_PORT, 1, 1472, 5), (WG_PORT, 4, 1472, 5), (WG_PORT, 256, 1472, 5), (53, 256, 1472, 5),
             (WG_PORT, 1, 3000, 5), (WG_PORT, 4, 8000, 3), (53, 256, 4000, 3)]
    spec = ",".join(f"{p}:{f}:{s}:{n}" for p, f, s, n in sizes)
    out = netlab.run_python(lab, wan, host_attacks.SIZES, ENC_A, spec, timeout=60).stdout
    assert out.startswith(f"sent {sum(n for *_, n in sizes)}"), out
    # Garbage frames onto the wan bridge (bad checksums and lengths, other protocols, ethertypes, MACs).
    cats = host_bad.black_frames(enc_mac, br_mac, WAN_IP, ENC_A)
    frames = [f for _, fs in cats for f in fs]
    sent, errors = host_bad.inject(lab, wan, "br0", sorted(frames, key=lambda _: os.urandom(4)), "black")
    assert sent >= len(frames) * 0.9, f"only {sent} of {len(frames)} frames went out ({errors} errors)"
    time.sleep(2)
    control_ok = control_ping(lab, t)
    pc_control, pc_frames = zip(*(split_control(c.stop()) for c in pc_caps))
    responses, rekeys = handshake_responses(wan_cap.stop())
    after = (t["enc_a"].handshakes(), t["enc_b"].handshakes())
    c_after = counters(t)
    drops = {(pd, name): c_after["enc_a"][(pd, name)] - c_before["enc_a"][(pd, name)]
             for pd, name in c_after["enc_a"] if name.startswith("drop_") and pd in ("net_black", "crypto", "nic_black")}
    print(f"garbage: {len(lines)} datagrams, {len(sizes)} size classes, {sent} frames; "
          f"frames at pc_a/pc_b: {[len(f) for f in pc_frames]}; enc_a drops: {[(k, v) for k, v in drops.items() if v]}")
    # Nothing of it came out on the red side (the control ping shows the captures work), and
    # nothing of it (10 initiations with a valid MAC1 among it) completed a handshake.
    assert control_ok and all(pc_control), f"the control ping failed: {[len(f) for f in pc_control]}"
    assert list(pc_frames) == [[], []], f"garbage reached the red side: {[len(f) for f in pc_frames]} frames"
    assert not responses, f"{len(responses)} handshake responses sent to the garbage's sender"
    assert all(n - m <= rekeys for m, n in zip(handshakes, after)), \
        f"handshakes logged during the garbage: {handshakes} -> {after} ({rekeys} rekeys between the encryptors)"
    # Counted by reason: datagrams to other ports by net_black, IPv4 fragments of datagrams too
    # big to reassemble by its reassembler, malformed WireGuard messages by crypto.
    to_other_ports = len(other_ports) * 5 + sum(n for p, _, s, n in sizes if p != WG_PORT and s <= 1472)
    assert drops[("net_black", "drop_not_wireguard")] >= to_other_ports, drops
    assert drops[("net_black", "drop_frag_oversize")] >= sum(n for *_, s, n in sizes if s > 1472), drops
    assert drops[("crypto", "drop_invalid_packet")] >= 60, drops  # types 1-3 with the wrong length, and random
    tunnel_works(lab, t, "after the garbage")
    assert netlab.ping(lab, wan, ENC_A), "net_black stopped answering pings"
    ok_consoles(t)

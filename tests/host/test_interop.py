"""Interop: enc_a against wireguard-go (Debian), a stock WireGuard peer.

    pc_a ─ enc_a ─ wan(br0) ─ peer: wireguard-go <if> 10.9.0.1/24, black 192.0.2.3/24

or, with a smaller MTU on the peer's side of the untrusted network (outer fragmentation):

    pc_a ─ enc_a ─ wan(br0) ─ router ─(MTU 1280)─ peer: black 198.18.0.2/24

The peer is configured only through `wg setconf` / `ip`, as any WireGuard
user would; enc_a gets a config in the encryptor's format. pc_a keeps its
link's own MTU (1500).
"""

import os
import re
import time

import pytest

import netlab
from netlab import SITES

PEER_BLACK = "192.0.2.3"
PEER_TUNNEL = "10.9.0.1"
# Behind a router whose link to the peer carries only 1280 bytes.
ROUTER_WAN, ROUTER_PEER, PEER_BEHIND = "192.0.2.254", "198.18.0.1", "198.18.0.2"


def genkey():
    priv = netlab.run(["wg", "genkey"]).stdout.strip()
    pub = netlab.run(["wg", "pubkey"], input=priv + "\n").stdout.strip()
    return priv, pub


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def interop_topology(lab, tag, peer_path_mtu=None, system=None):
    """Builds pc_a — enc_a — wan — peer(wireguard-go), with a router and a link of
    `peer_path_mtu` bytes before the peer if given, enc_a running the system file `system`
    (default: system.xml). Returns a dict."""
    a_priv, a_pub = genkey()
    p_priv, p_pub = genkey()
    peer_black = PEER_BEHIND if peer_path_mtu else PEER_BLACK
    gateway = f"BlackGateway = {ROUTER_WAN}\n" if peer_path_mtu else ""
    cfg_a = write_file(os.path.join(lab.tmp, "enc_a.conf"), f"""\
# enc_a against a wireguard-go peer
[Interface]
PrivateKey = {a_priv}
ListenPort = 51820

[Peer]
PublicKey = {p_pub}
Endpoint = {peer_black}:51820
AllowedIPs = 10.9.0.0/24
PersistentKeepalive = 25

[Encryptor]
RedAddress = 10.1.0.1/24
BlackAddress = 192.0.2.1/24
{gateway}""")
    pc_a, wan, peer = lab.ns("pc_a"), lab.ns("wan"), lab.ns("peer")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    enc_a = netlab.HostEncryptor(lab, "a", cfg_a, pc_a, wan, "br0", **({"system": system} if system else {}))
    # pc_a: the PC behind enc_a, with a route to the peer's tunnel network.
    lab.ip(pc_a, "link", "set", enc_a.red_tap, "up")
    lab.ip(pc_a, "addr", "add", f"{SITES['a']['pc']}/24", "dev", enc_a.red_tap)
    lab.ip(pc_a, "route", "add", "10.9.0.0/24", "via", SITES["a"]["red_gw"])
    if peer_path_mtu:
        # A router between the wan and the peer: its link to the peer is small, so it splits
        # enc_a's datagrams (they carry no DF), and the peer's own kernel splits the peer's.
        router = lab.ns("router")
        lab.ip(router, "link", "add", "wan0", "type", "veth", "peer", "name", "rtrlink", "netns", wan)
        lab.ip(wan, "link", "set", "rtrlink", "master", "br0", "up")
        lab.ip(router, "addr", "add", f"{ROUTER_WAN}/24", "dev", "wan0")
        lab.ip(router, "link", "set", "wan0", "up")
        lab.ip(router, "link", "add", "p0", "type", "veth", "peer", "name", "eth0", "netns", peer)
        lab.ip(router, "link", "set", "p0", "mtu", str(peer_path_mtu), "up")
        lab.ip(router, "addr", "add", f"{ROUTER_PEER}/24", "dev", "p0")
        lab.exec(router, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        lab.ip(peer, "link", "set", "eth0", "mtu", str(peer_path_mtu))
        lab.ip(peer, "addr", "add", f"{PEER_BEHIND}/24", "dev", "eth0")
        lab.ip(peer, "link", "set", "eth0", "up")
        lab.ip(peer, "route", "add", "default", "via", ROUTER_PEER)
    else:
        # The peer's black side: a veth into the wan bridge.
        lab.ip(peer, "link", "add", "eth0", "type", "veth", "peer", "name", "peerlink", "netns", wan)
        lab.ip(wan, "link", "set", "peerlink", "master", "br0", "up")
        lab.ip(peer, "addr", "add", f"{PEER_BLACK}/24", "dev", "eth0")
        lab.ip(peer, "link", "set", "eth0", "up")
    # wireguard-go: the interface name is machine-wide (its control socket is
    # /var/run/wireguard/<ifname>.sock), so it carries the lab's prefix.
    ifname = f"wg{lab.prefix}{tag}"[:15]
    sock = f"/var/run/wireguard/{ifname}.sock"
    lab.sockets.append(sock)  # removed by Lab.close, pass or fail
    wg = lab.spawn(peer, ["env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=verbose", "wireguard-go", ifname],
                   "wireguard-go.log")
    netlab.wait_for_uapi(sock, wg)
    key_file = write_file(os.path.join(lab.tmp, "peer.key"), p_priv + "\n")
    wg_conf = write_file(os.path.join(lab.tmp, "peer-wg.conf"), f"""\
[Interface]
ListenPort = 51820

[Peer]
PublicKey = {a_pub}
Endpoint = {SITES['a']['black']}:51820
AllowedIPs = 10.1.0.0/24
""")
    lab.exec(peer, ["wg", "setconf", ifname, wg_conf])
    lab.exec(peer, ["wg", "set", ifname, "private-key", key_file])
    lab.ip(peer, "addr", "add", f"{PEER_TUNNEL}/24", "dev", ifname)
    # wg-quick's default tunnel MTU, as a stock peer has it.
    lab.ip(peer, "link", "set", ifname, "mtu", "1420", "up")
    lab.ip(peer, "route", "add", "10.1.0.0/24", "dev", ifname)
    return {"pc_a": pc_a, "wan": wan, "peer": peer, "enc_a": enc_a, "wg": wg, "ifname": ifname, "sock": sock,
            "a_pub": a_pub, "p_pub": p_pub}


def latest_handshake(lab, t):
    out = lab.exec(t["peer"], ["wg", "show", t["ifname"], "latest-handshakes"]).stdout
    m = re.search(re.escape(t["a_pub"]) + r"\s+(\d+)", out)
    assert m, f"wg show lists no peer {t['a_pub']}: {out!r}"
    return int(m.group(1))


def finish(lab, t):
    text, counters = t["enc_a"].stop()
    assert t["enc_a"].proc.returncode == 0, f"enc_a exited {t['enc_a'].proc.returncode}:\n{text[-3000:]}"
    return counters


@pytest.mark.parametrize("initiator", ["encryptor", "wireguard-go"])
def test_interop_wireguard_go(initiator):
    with netlab.Lab("io") as lab:
        t = interop_topology(lab, "e" if initiator == "encryptor" else "w")
        if initiator == "encryptor":
            # pc_a's first packets make enc_a start the handshake.
            assert netlab.ping_until(lab, t["pc_a"], PEER_TUNNEL), \
                f"pc_a -> {PEER_TUNNEL} through enc_a and wireguard-go failed"
            assert netlab.ping(lab, t["peer"], SITES["a"]["pc"]), "peer -> pc_a failed"
        else:
            # The peer's first packets make wireguard-go start the handshake.
            assert netlab.ping_until(lab, t["peer"], SITES["a"]["pc"]), \
                f"peer {PEER_TUNNEL} -> pc_a through wireguard-go and enc_a failed"
            assert netlab.ping(lab, t["pc_a"], PEER_TUNNEL), "pc_a -> peer failed"
        assert latest_handshake(lab, t) > 0, "wireguard-go reports no handshake"
        wg_log = lab.stop(t["wg"])
        c = finish(lab, t)
    assert not os.path.exists(t["sock"]), "wireguard-go's control socket was left behind"
    counters = {k: v for k, v in c.items() if k.startswith("crypto.") and v}
    if initiator == "encryptor":
        assert c["crypto.handshakes_completed"] >= 1, counters
    else:
        assert c["crypto.handshakes_answered"] >= 1, f"{counters}\nwireguard-go log:\n{wg_log[-2000:]}"
    assert c["crypto.sealed_packets"] >= 1 and c["crypto.opened_packets"] >= 1, counters


def test_two_crypto_workers_carry_a_tunnel_to_wireguard_go_in_order_and_whole():
    """system.xml with two crypto worker PDs (netlab.with_crypto_workers): crypto dispatches the
    transport packets to them and publishes their results in order. A burst of 200 pings comes
    back whole and once each, and each worker did a share of the AEAD."""
    with netlab.Lab("iw") as lab:
        system = os.path.join(lab.tmp, "system-workers.xml")
        with open(netlab.SYSTEM_XML) as f:
            write_file(system, netlab.with_crypto_workers(f.read()))
        t = interop_topology(lab, "w", system=system)
        assert netlab.ping_until(lab, t["pc_a"], PEER_TUNNEL), "pc_a -> peer through enc_a's workers failed"
        burst = netlab.run_python(lab, t["pc_a"], netlab.ECHO_BURST, PEER_TUNNEL, 200, 0.005, 20, timeout=60).stdout
        lab.stop(t["wg"])
        c = finish(lab, t)
    assert "received 200 of 200 missing [] doubled []" in burst, burst
    workers = {k: v for k, v in c.items() if k.startswith("crypto_worker_") and v}
    # Jobs go to the workers in turn, whatever their kind: each did about half of the packets.
    for n in (0, 1):
        done = c.get(f"crypto_worker_{n}.sealed_packets", 0) + c.get(f"crypto_worker_{n}.opened_packets", 0)
        assert done >= 150, workers
    assert sum(c.get(f"crypto_worker_{n}.sealed_packets", 0) for n in (0, 1)) >= 190, workers
    assert sum(c.get(f"crypto_worker_{n}.opened_packets", 0) for n in (0, 1)) >= 190, workers
    assert c["crypto.drop_worker_ring_error"] == 0 and c["crypto.drop_worker_bad_job"] == 0, workers


def test_interop_wireguard_go_with_outer_fragmentation_both_ways():
    """The peer sits behind a 1280-byte link: full-size datagrams reach it as fragments that a
    router made of enc_a's (no DF), and reach enc_a as fragments the peer's kernel made, which
    net_black reassembles. pc_a (MTU 1500) and the peer run TCP both ways."""
    with netlab.Lab("iof") as lab:
        t = interop_topology(lab, "f", peer_path_mtu=1280)
        cap = netlab.Capture(lab, t["peer"], "eth0", "peer-link", bpf=("udp or (ip[6:2] & 0x3fff != 0)",))
        assert netlab.ping_until(lab, t["pc_a"], PEER_TUNNEL), "pc_a -> peer through a 1280-byte path failed"
        up, up_bytes = netlab.iperf3(lab, t["pc_a"], t["peer"], PEER_TUNNEL, seconds=3)
        down, down_bytes = netlab.iperf3(lab, t["pc_a"], t["peer"], PEER_TUNNEL, seconds=3, extra=("-R",))
        frames = cap.stop()
        lab.stop(t["wg"])
        c = finish(lab, t)
    assert up_bytes > 0 and down_bytes > 0, (up, down)
    # The peer's link saw fragments in both directions: from enc_a (split by the router) and
    # from the peer itself.
    def fragments_from(src):
        return [f for f in frames if f[12:14] == b"\x08\x00" and f[26:30] == bytes(map(int, src.split(".")))
                and int.from_bytes(f[20:22], "big") & 0x3FFF]
    assert fragments_from(SITES["a"]["black"]), "no fragment of enc_a's datagrams reached the peer"
    assert fragments_from(PEER_BEHIND), "the peer sent no fragments"
    frags = {k: v for k, v in c.items() if "frag" in k}
    assert c["net_black.frags_reassembled"] > 0, frags
    # A fragment lost on the way (a full queue under TCP) times its datagram out, as it would
    # anywhere; but the peer's fragments never overlap.
    assert c["net_black.drop_frag_overlap"] == 0, frags
    assert c["net_black.drop_frag_timeout"] * 20 <= c["net_black.frags_reassembled"], frags

"""Interop: enc_a against wireguard-go (Debian), a stock WireGuard peer.

    pc_a ─ enc_a ─ wan(br0) ─ peer: wireguard-go <if> 10.9.0.1/24, black 192.0.2.3/24

The peer is configured only through `wg setconf` / `ip`, as any WireGuard
user would; enc_a gets a config in the encryptor's format.
"""

import os
import re
import time

import pytest

import netlab
from netlab import SITES

PEER_BLACK = "192.0.2.3"
PEER_TUNNEL = "10.9.0.1"


def genkey():
    priv = netlab.run(["wg", "genkey"]).stdout.strip()
    pub = netlab.run(["wg", "pubkey"], input=priv + "\n").stdout.strip()
    return priv, pub


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def interop_topology(lab, tag):
    """Builds pc_a — enc_a — wan — peer(wireguard-go). Returns a dict."""
    a_priv, a_pub = genkey()
    p_priv, p_pub = genkey()
    cfg_a = write_file(os.path.join(lab.tmp, "enc_a.conf"), f"""\
# enc_a against a wireguard-go peer
[Interface]
PrivateKey = {a_priv}
ListenPort = 51820

[Peer]
PublicKey = {p_pub}
Endpoint = {PEER_BLACK}:51820
AllowedIPs = 10.9.0.0/24
PersistentKeepalive = 25

[Encryptor]
RedAddress = 10.1.0.1/24
BlackAddress = 192.0.2.1/24
""")
    pc_a, wan, peer = lab.ns("pc_a"), lab.ns("wan"), lab.ns("peer")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    enc_a = netlab.HostEncryptor(lab, "a", cfg_a, pc_a, wan, "br0")
    # pc_a: the PC behind enc_a, with a route to the peer's tunnel network.
    lab.ip(pc_a, "link", "set", enc_a.red_tap, "mtu", "1420", "up")
    lab.ip(pc_a, "addr", "add", f"{SITES['a']['pc']}/24", "dev", enc_a.red_tap)
    lab.ip(pc_a, "route", "add", "10.9.0.0/24", "via", SITES["a"]["red_gw"])
    # The peer's black side: a veth into the wan bridge.
    lab.ip(peer, "link", "add", "eth0", "type", "veth", "peer", "name", "peerlink", "netns", wan)
    lab.ip(wan, "link", "set", "peerlink", "master", "br0", "up")
    lab.ip(peer, "addr", "add", f"{PEER_BLACK}/24", "dev", "eth0")
    lab.ip(peer, "link", "set", "eth0", "up")
    # wireguard-go: the interface name is machine-wide (its control socket is
    # /var/run/wireguard/<ifname>.sock), so it carries the lab's prefix.
    ifname = f"wg{lab.prefix}{tag}"[:15]
    sock = f"/var/run/wireguard/{ifname}.sock"
    lab.sockets = (sock,)  # removed by InteropLab.close, pass or fail
    wg = lab.spawn(peer, ["env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=verbose", "wireguard-go", ifname],
                   "wireguard-go.log")
    deadline = time.time() + 10
    while not os.path.exists(sock):
        if wg.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"wireguard-go did not start:\n{open(wg.log_path).read()}")
        time.sleep(0.05)
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
    lab.ip(peer, "link", "set", ifname, "mtu", "1420", "up")
    lab.ip(peer, "route", "add", "10.1.0.0/24", "dev", ifname)
    return {"pc_a": pc_a, "wan": wan, "peer": peer, "enc_a": enc_a, "wg": wg, "ifname": ifname, "sock": sock,
            "a_pub": a_pub, "p_pub": p_pub}


class InteropLab(netlab.Lab):
    """A Lab that also removes wireguard-go's control socket at the end."""

    sockets = ()

    def close(self):
        super().close()  # kills wireguard-go first
        for s in self.sockets:
            try:
                os.unlink(s)
            except FileNotFoundError:
                pass


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
    with InteropLab("io") as lab:
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

"""The baseline of the QEMU benchmark rows works: two Linux guests running kernel WireGuard
(support/linux-guest, Debian's kernel) in the seL4 demo's topology, pc_a — [QEMU] — wan — [QEMU]
— pc_b, carry the PCs' traffic through the tunnel, and pausing a pair (what support/bench does to
the pair it is not measuring) stops and resumes it. Everything is removed afterwards.
No assertion is about speed. Needs root, qemu-system-x86_64, tcpdump, wg and apt (the guest is
built from Debian packages on first use, then cached in build/linux-guest).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "support/lib"))
import netlab  # noqa: E402
from netlab import SITES  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, TAP devices)")


def ipv4_src(frame):
    """The IPv4 source address (dotted) of an Ethernet/IPv4 frame, else None."""
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
        return ".".join(str(b) for b in frame[26:30])
    return None


def test_linux_guest_pair_tunnels_the_pcs_traffic():
    with netlab.Lab("lg") as lab:
        prefix = lab.prefix
        t = netlab.linux_topology(lab)
        pc_a, pc_b = t["pc_a"], t["pc_b"]
        for enc in (t["enc_a"], t["enc_b"]):
            assert "linux-guest: ready" in enc.console()

        cap = netlab.Capture(lab, t["wan"], "br0", "wan")
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], 60), "no ping pc_a -> pc_b through the Linux pair"
        assert netlab.ping(lab, pc_b, SITES["a"]["pc"]), "no ping pc_b -> pc_a"
        assert netlab.ping(lab, pc_a, SITES["b"]["pc6"]), "no IPv6 ping pc_a -> pc_b"
        frames = cap.stop()
        # On the wan only WireGuard between the two black addresses: the PCs' packets crossed
        # it encrypted, not bridged or routed in the clear.
        assert any(netlab.udp_ports(f) == (51820, 51820) for f in frames), "no WireGuard datagrams on the wan"
        sources = {ipv4_src(f) for f in frames} - {None}
        assert sources <= {SITES["a"]["black"], SITES["b"]["black"]}, f"plaintext on the wan: {sources}"

        # Paused, the pair carries nothing; resumed, it carries traffic again.
        for enc in (t["enc_a"], t["enc_b"]):
            enc.pause()
        assert not netlab.ping(lab, pc_a, SITES["b"]["pc"], count=2, wait=1), "a paused pair answered"
        for enc in (t["enc_a"], t["enc_b"]):
            enc.resume()
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], 30), "no ping after resume"

        qemu_pids = [t["enc_a"].proc.pid, t["enc_b"].proc.pid]
        for enc in (t["enc_a"], t["enc_b"]):
            enc.stop()
    # Clean-up: the lab's namespaces and QEMU processes are gone.
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{prefix}-" not in names
    for pid in qemu_pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"

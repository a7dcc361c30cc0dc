"""The demo topology with assertions: pc_a — enc_a — wan — enc_b — pc_b."""

import os
import re

import netlab
from netlab import SITES


def stop_both(t):
    """Stops both encryptors; checks each exited 0 with a counter report."""
    out = {}
    for name in ("enc_a", "enc_b"):
        enc = t[name]
        text, counters = enc.stop()
        assert enc.proc.returncode == 0, f"{name} exited {enc.proc.returncode}:\n{text[-2000:]}"
        assert counters, f"{name} printed no counters:\n{text[-2000:]}"
        out[name] = counters
    return out


def pd_host_cpus(pid):
    """{thread name: the set of host CPUs it may run on} of a running encryptor-host."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            name = f.read().strip()
        out[name] = os.sched_getaffinity(int(tid))
    return out


def test_demo_topology():
    with netlab.Lab("dm") as lab:
        t = netlab.host_topology(lab)
        assert netlab.ping_until(lab, t["pc_a"], SITES["b"]["pc"]), "ping pc_a -> pc_b (IPv4) failed"
        assert netlab.ping(lab, t["pc_b"], SITES["a"]["pc"]), "ping pc_b -> pc_a (IPv4) failed"
        assert netlab.ping_until(lab, t["pc_a"], SITES["b"]["pc6"], seconds=10), "ping pc_a -> pc_b (IPv6) failed"
        placed = pd_host_cpus(t["enc_a"].proc.pid)
        _, nbytes = netlab.iperf3(lab, t["pc_a"], t["pc_b"], SITES["b"]["pc"], seconds=3)
        assert nbytes > 0, "iperf3 moved no bytes"
        c = stop_both(t)
        a, b = c["enc_a"], c["enc_b"]
        completed = a["crypto.handshakes_completed"] + b["crypto.handshakes_completed"]
        assert completed >= 1, f"no completed handshake: enc_a {a['crypto.handshakes_completed']}, " \
                               f"enc_b {b['crypto.handshakes_completed']}"
        assert a["crypto.handshakes_answered"] + b["crypto.handshakes_answered"] >= 1
        # system.xml's placement (`cpu`, four cores): each PD thread pinned to the host CPU of its
        # core where this host has four; on fewer, no thread pinned (Linux places them), and said.
        allowed = sorted(os.sched_getaffinity(0))
        for pd, core in (("nic_red", 0), ("net_red", 0), ("crypto", 1), ("net_black", 2), ("nic_black", 2), ("timer", 3)):
            expected = {allowed[core]} if len(allowed) >= 4 else set(allowed)
            assert placed.get(pd) == expected, (pd, placed)
        with open(t["enc_a"].proc.log_path) as f:
            text = f.read()
        assert ("placement not applied, Linux's scheduler places the PD threads" in text) == (len(allowed) < 4), \
            text[-2000:]
        for name, k in (("enc_a", a), ("enc_b", b)):
            assert k["crypto.sealed_packets"] > 0, f"{name} sealed nothing"
            assert k["crypto.opened_packets"] > 0, f"{name} opened nothing"
            assert k["net_red.to_crypto"] > 0 and k["net_red.from_crypto"] > 0, name
            errors = {n: v for n, v in k.items() if (n.endswith("handler_errors") or "ring_error" in n) and v}
            assert not errors, f"{name}: ring/handler errors {errors}"


def test_a_placement_the_host_has_cpus_for_pins_each_pd_thread():
    """system.xml with its cores folded onto two (cpu % 2): on a host with two CPUs or more, each
    PD thread runs pinned to the CPU of its core, and the pair still carries traffic."""
    allowed = sorted(os.sched_getaffinity(0))
    assert len(allowed) >= 2, "this test needs a host with two CPUs"
    with netlab.Lab("dp") as lab:
        with open(netlab.SYSTEM_XML) as f:
            folded = re.sub(r'cpu="(\d+)"', lambda m: f'cpu="{int(m.group(1)) % 2}"', f.read())
        system = os.path.join(lab.tmp, "system-2-cores.xml")
        with open(system, "w") as f:
            f.write(folded)
        t = netlab.host_topology(lab, system=system)
        assert netlab.ping_until(lab, t["pc_a"], SITES["b"]["pc"]), "ping pc_a -> pc_b failed"
        placed = pd_host_cpus(t["enc_a"].proc.pid)
        c = stop_both(t)
    for pd, core in (("nic_red", 0), ("net_red", 0), ("crypto", 1), ("net_black", 0), ("nic_black", 0), ("timer", 1)):
        assert placed.get(pd) == {allowed[core]}, (pd, placed)
    assert c["enc_a"]["crypto.sealed_packets"] > 0 and c["enc_b"]["crypto.opened_packets"] > 0, c


def test_demo_command():
    """`support/demo --platform host` itself (without the set-up step)."""
    p = netlab.run_script([os.path.join(netlab.ROOT, "support", "demo"), "--platform", "host", "--no-build", "--seconds", "2"],
                          timeout=120)
    results = dict(re.findall(r"^RESULT (\S+) (\S+)$", p.stdout, re.M))
    assert p.returncode == 0, f"demo exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}"
    assert results.get("ping_a_to_b") == "ok", p.stdout
    assert results.get("ping_b_to_a") == "ok", p.stdout
    assert float(results.get("iperf3_tcp_mbps", "0")) > 0, p.stdout
    assert int(results.get("handshakes", "0")) >= 1, p.stdout

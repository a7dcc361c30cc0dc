"""A PD of the host runtime that panics after start-up ends the whole encryptor-host process
(exit 70, the panic's message on stderr), for its supervisor to start afresh: before, the other
PDs ran on around the hole, and with crypto's thread gone the tunnel swallowed every packet
while the process looked alive."""

import os
import re
import subprocess

import netlab

# Counted from each encryptor's start: room for the other's start, the PCs' set-up and a ping.
FAULT_MS = 15000


def test_a_pd_that_panics_after_start_up_ends_the_process():
    """Both encryptors run system.xml with crypto given the test-only inject_fault_ms: its thread
    panics 15 s after start. Until then pc_a reaches pc_b through the tunnel; then each
    encryptor's process exits 70, saying which PD panicked."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    xml, n = re.subn(r'(<protection_domain name="crypto" )', rf'\1inject_fault_ms="{FAULT_MS}" ', xml)
    assert n == 1
    with netlab.Lab("hpp") as lab:
        system = os.path.join(lab.tmp, "system-crypto-panics.xml")
        with open(system, "w") as f:
            f.write(xml)
        t = netlab.host_topology(lab, system=system)
        through = netlab.ping_until(lab, t["pc_a"], netlab.SITES["b"]["pc"], seconds=10)
        alive_before = [t[e].proc.poll() is None for e in ("enc_a", "enc_b")]
        codes, logs = [], []
        for e in ("enc_a", "enc_b"):
            try:
                codes.append(t[e].proc.wait(timeout=FAULT_MS / 1000 + 20))
            except subprocess.TimeoutExpired:
                codes.append(None)
            logs.append(lab.stop(t[e].proc))
    assert through and alive_before == [True, True], logs[0][-3000:]
    for code, log in zip(codes, logs):
        assert code == 70, f"exit {code}\n{log[-3000:]}"
        assert re.search(r"panicked at .*\n.*crypto: injected fault \(system\.xml inject_fault_ms\)", log), log[-3000:]
        assert "encryptor-host: a PD panicked: exiting" in log, log[-3000:]

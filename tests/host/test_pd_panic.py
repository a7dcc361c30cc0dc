"""A PD of the host runtime that panics after start-up ends the whole encryptor-host process
(exit 70, the panic's message on stderr), for its supervisor to start afresh: before, the other
PDs ran on around the hole, and with crypto's thread gone the tunnel swallowed every packet
while the process looked alive."""

import os
import re

import netlab

# Counted from enc_a's start: room for enc_b's start, the PCs' set-up and a first ping.
FAULT_MS = 15000


def test_a_pd_that_panics_after_start_up_ends_the_process():
    """enc_a runs system.xml with crypto given the test-only inject_fault_ms: its thread panics
    15 s after start. Until then pc_a reaches pc_b through the tunnel; then enc_a's process exits
    70, saying which PD panicked, while enc_b runs on."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    xml, n = re.subn(r'(<protection_domain name="crypto" )', rf'\1inject_fault_ms="{FAULT_MS}" ', xml)
    assert n == 1
    with netlab.Lab("hpp") as lab:
        system = os.path.join(lab.tmp, "system-crypto-panics.xml")
        with open(system, "w") as f:
            f.write(xml)
        cfg_a, cfg_b = netlab.make_configs(lab)
        pc_a, wan, pc_b = lab.ns("pc_a"), lab.ns("wan"), lab.ns("pc_b")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc_a = netlab.HostEncryptor(lab, "a", cfg_a, pc_a, wan, "br0", system=system)
        enc_b = netlab.HostEncryptor(lab, "b", cfg_b, pc_b, wan, "br0")
        netlab.setup_pc(lab, pc_a, enc_a.red_tap, "a", "b")
        netlab.setup_pc(lab, pc_b, enc_b.red_tap, "b", "a")
        through = netlab.ping_until(lab, pc_a, netlab.SITES["b"]["pc"], seconds=10)
        alive_before = enc_a.proc.poll() is None
        try:
            code = enc_a.proc.wait(timeout=FAULT_MS / 1000 + 20)
        except Exception:
            code = None
        log_a = lab.stop(enc_a.proc)
        b_alive = enc_b.proc.poll() is None
        enc_b.stop()
    assert through and alive_before, log_a[-3000:]
    assert code == 70, f"exit {code}\n{log_a[-3000:]}"
    assert re.search(r"panicked at .*\n.*crypto: injected fault \(system\.xml inject_fault_ms\)", log_a), log_a[-3000:]
    assert "encryptor-host: a PD panicked: exiting" in log_a, log_a[-3000:]
    assert b_alive

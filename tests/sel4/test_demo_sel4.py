"""`support/demo` as the README runs it: the seL4 platform by default (QEMU, TCG).
Speed is not asserted; the figures are printed for people to read."""

import re
from pathlib import Path

import netlab

ROOT = Path(__file__).resolve().parent.parent.parent


def test_demo_command_runs_the_sel4_encryptors():
    p = netlab.run_script([str(ROOT / "support/demo"), "--no-build", "--seconds", "3"], timeout=600)
    results = dict(re.findall(r"^RESULT (\S+) (\S+)$", p.stdout, re.M))
    tail = f"{p.stdout[-3000:]}\n{p.stderr[-2000:]}"
    assert p.returncode == 0, f"demo exited {p.returncode}:\n{tail}"
    assert "seL4" in p.stdout or "QEMU" in p.stdout, "the default platform must be seL4 in QEMU"
    assert results.get("ping_a_to_b") == "ok", tail
    assert results.get("ping_b_to_a") == "ok", tail
    assert float(results.get("iperf3_tcp_mbps", "0")) > 0, tail
    assert int(results.get("handshakes", "0")) >= 1, tail
    assert float(results.get("boot_to_ready_s", "-1")) > 0, tail

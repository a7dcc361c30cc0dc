"""support/bench-cpu-models works: each CPU model reaches both guests (the seL4 crypto PD's boot
line names the AEAD code that model gives ring: scalar on qemu64 + AVX, AVX2 on the Xeon D's
set), traffic goes through every pair, and the ratios are the ratios of the medians. One short
run; nothing here is about speed. Everything the script starts is removed by it.
"""

import os
import re

import pytest

import netlab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, TAP devices)")


def test_bench_cpu_models_runs_each_model_on_both_guests():
    p = netlab.run_script([os.path.join(ROOT, "support", "bench-cpu-models"), "--reps", "1", "--seconds", "2",
                           "--models", "avx,xeon-d"], timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    rows = dict((m, aead) for m, aead in re.findall(r"^\| (\S+) \| (\S+) \|", p.stdout, re.M))
    assert rows.get("avx") == "portable" and rows.get("xeon-d") == "AVX2", p.stdout[-2000:]
    results = dict(re.findall(r"^RESULT (\S+) (\S+)$", p.stdout, re.M))
    for m in ("avx", "xeon_d"):
        sel4, linux = float(results[f"cpu_{m}_sel4_mbps"]), float(results[f"cpu_{m}_linux_mbps"])
        assert sel4 > 0 and linux > 0, f"no traffic through a pair on {m}"
        assert abs(float(results[f"cpu_{m}_ratio_sel4_vs_linux"]) - sel4 / linux) < 0.01

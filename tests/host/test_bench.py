"""The benchmark harness works and its output is well formed (quick mode).
Nothing here asserts anything about speed."""

import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_quick_mode_runs_and_reports(tmp_path):
    p = subprocess.run([os.path.join(ROOT, "support", "bench"), "--quick", "--no-build", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    results = dict(re.findall(r"^RESULT (\S+) (\S+)$", p.stdout, re.M))
    for key in ("host_tcp_mbps_ours", "host_tcp_mbps_wireguard_go", "host_tcp_ratio_ours_vs_wireguard_go",
                "host_udp_mbps_ours", "host_tcp_cpu_s_per_gb_ours", "instructions_per_packet_seal",
                "instructions_per_packet_crypto", "instructions_per_packet_pipeline",
                "cost_ratio_crypto_vs_seal", "cost_ratio_pipeline_vs_seal"):
        assert key in results, f"missing RESULT {key}"
        float(results[key])
    # Each path costs at least the seal it contains: a harness that measured
    # nothing (or the wrong thing) would break this.
    assert float(results["cost_ratio_crypto_vs_seal"]) > 1.0
    assert float(results["cost_ratio_pipeline_vs_seal"]) > float(results["cost_ratio_crypto_vs_seal"])
    assert float(results["host_tcp_mbps_ours"]) > 0, "no traffic went through our pair"
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["quick"] is True and "ours" in data["host"] and "seal" in data["cost"]
    for svg in ("throughput.svg", "cost.svg"):
        assert (tmp_path / svg).read_text().startswith("<svg")
    assert "| ours |" in p.stdout, "the table is printed"

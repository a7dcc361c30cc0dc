"""The benchmark harness works and its output is well formed (quick mode), the QEMU rows
included (our seL4 pair and the Linux kernel-WireGuard pair, on the pc shape and on box twins,
one short run each) and the NIC PD rows (igb and e1000e).
Nothing here asserts anything about speed."""

import json
import os
import re

import netlab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_quick_mode_runs_and_reports(tmp_path):
    p = netlab.run_script([os.path.join(ROOT, "support", "bench"), "--quick", "--no-build", "--out", str(tmp_path)],
                          timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    results = dict(re.findall(r"^RESULT (\S+) (\S+)$", p.stdout, re.M))
    for key in ("host_tcp_mbps_ours", "host_tcp_mbps_wireguard_go", "host_tcp_ratio_ours_vs_wireguard_go",
                "host_udp_mbps_ours", "host_tcp_cpu_s_per_gb_ours", "instructions_per_packet_seal",
                "instructions_per_packet_crypto", "instructions_per_packet_pipeline",
                "cost_ratio_crypto_vs_seal", "cost_ratio_pipeline_vs_seal",
                "instructions_per_packet_crypto_pd", "instructions_per_packet_worker_pd",
                "instructions_per_packet_dispatcher_pd", "instructions_per_packet_dispatch",
                "instructions_per_packet_net_red_pd", "instructions_per_packet_net_black_pd",
                "cost_ratio_crypto_pd_vs_seal", "cost_ratio_worker_pd_vs_seal", "workers_per_dispatcher",
                "instructions_per_packet_pipeline_1024", "cost_ratio_pipeline_1024_peers_vs_1",
                "qemu_tcp_mbps_sel4", "qemu_tcp_mbps_linux", "qemu_tcp_ratio_sel4_vs_linux",
                "qemu_ping_ms_sel4", "qemu_ping_ms_linux", "qemu_tcp_cpu_s_per_gb_sel4",
                "qemu_tcp_cpu_s_per_gb_linux", "qemu_boot_to_ready_s_sel4", "qemu_boot_to_ready_s_linux",
                "qemu_tcp_mbps_sel4_box", "qemu_tcp_mbps_linux_box", "qemu_tcp_ratio_sel4_vs_linux_box",
                "nic_pps_igb", "nic_pps_e1000e", "nic_pps_ratio_igb_vs_e1000e",
                "qemu_tcp_mbps_sel4_noiommu", "qemu_tcp_ratio_iommu_on_vs_off",
                "nic_pps_e1000e_vtd", "nic_pps_e1000e_q35", "nic_pps_ratio_iommu_on_vs_off"):
        assert key in results, f"missing RESULT {key}"
        float(results[key])
    # Each path costs at least the seal it contains: a harness that measured
    # nothing (or the wrong thing) would break this.
    assert float(results["cost_ratio_crypto_vs_seal"]) > 1.0
    assert float(results["cost_ratio_pipeline_vs_seal"]) > float(results["cost_ratio_crypto_vs_seal"])
    # A PD's own share (callgrind --toggle-collect) is part of the whole it was counted in, and
    # the PD that seals does at least the seal: a toggle that matched nothing, or everything,
    # would break this.
    cost = {k: float(results[f"instructions_per_packet_{k}"]) for k in
            ("seal", "crypto", "crypto_pd", "dispatch", "worker_pd", "dispatcher_pd", "pipeline", "net_red_pd",
             "net_black_pd")}
    assert cost["seal"] < cost["crypto_pd"] < cost["crypto"]
    assert cost["seal"] < cost["worker_pd"] and cost["worker_pd"] + cost["dispatcher_pd"] < cost["dispatch"]
    assert 0 < cost["dispatcher_pd"] < cost["seal"], "the dispatcher seals nothing itself"
    assert 0 < cost["net_red_pd"] < cost["seal"] and 0 < cost["net_black_pd"] < cost["seal"], "the stacks seal nothing"
    assert cost["net_red_pd"] + cost["crypto_pd"] + cost["net_black_pd"] < cost["pipeline"]
    # The 1024-peer row does the pipeline's work at least (its tables are bigger, its packets the
    # same), and its ratio is the two rows' quotient.
    big = float(results["instructions_per_packet_pipeline_1024"])
    assert big >= cost["pipeline"] * 0.99
    assert abs(float(results["cost_ratio_pipeline_1024_peers_vs_1"]) - big / cost["pipeline"]) < 0.01
    assert float(results["host_tcp_mbps_ours"]) > 0, "no traffic went through our pair"
    # Traffic went through both QEMU pairs, and the ratio is the ratio of the two medians.
    sel4, linux = float(results["qemu_tcp_mbps_sel4"]), float(results["qemu_tcp_mbps_linux"])
    assert sel4 > 0 and linux > 0, "no traffic through a QEMU pair"
    assert abs(float(results["qemu_tcp_ratio_sel4_vs_linux"]) - sel4 / linux) < 0.01
    assert float(results["qemu_ping_ms_sel4"]) > 0 and float(results["qemu_ping_ms_linux"]) > 0
    box, linux_box = float(results["qemu_tcp_mbps_sel4_box"]), float(results["qemu_tcp_mbps_linux_box"])
    assert box > 0 and linux_box > 0, "no traffic through a box twin pair"
    assert abs(float(results["qemu_tcp_ratio_sel4_vs_linux_box"]) - box / linux_box) < 0.01
    igb, e1000e = float(results["nic_pps_igb"]), float(results["nic_pps_e1000e"])
    assert igb > 0 and e1000e > 0, "no frames through a NIC PD"
    assert abs(float(results["nic_pps_ratio_igb_vs_e1000e"]) - igb / e1000e) < 0.01
    # The IOMMU's cost: the same image and NIC with VT-d on and off.
    on, off = float(results["qemu_tcp_mbps_sel4"]), float(results["qemu_tcp_mbps_sel4_noiommu"])
    assert off > 0 and abs(float(results["qemu_tcp_ratio_iommu_on_vs_off"]) - on / off) < 0.01
    on, off = float(results["nic_pps_e1000e_vtd"]), float(results["nic_pps_e1000e_q35"])
    assert on > 0 and off > 0 and abs(float(results["nic_pps_ratio_iommu_on_vs_off"]) - on / off) < 0.01
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["quick"] is True and "ours" in data["host"] and "seal" in data["cost"]
    for name in ("sel4", "sel4_noiommu", "linux", "sel4_box", "linux_box"):
        runs = data["qemu"][name]["tcp"]["runs"]
        assert len(runs) == data["reps"] and all(r and r["bytes"] > 0 for r in runs), data["qemu"][name]
    assert "| sel4 |" in p.stdout and "| linux |" in p.stdout, "the QEMU table is printed"
    for svg in ("throughput.svg", "cost.svg", "qemu.svg"):
        assert (tmp_path / svg).read_text().startswith("<svg")
    assert "| ours |" in p.stdout, "the table is printed"

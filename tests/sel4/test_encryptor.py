"""The encryptor on seL4, end to end: QEMU (TCG) booting the seL4 image of system.xml, each
encryptor with its own config file, NICs on TAP devices in namespaces the tests create.

- two encryptors, pc_a — [QEMU enc_a] — wan — [QEMU enc_b] — pc_b: ping both ways, then marked
  UDP and TCP traffic while the wan bridge is captured: no plaintext on the wan;
- one encryptor against wireguard-go (a stock WireGuard peer): pc_a pings the peer's tunnel
  address;
- the crypto PD on a CPU without RDRAND/RDSEED: it says so and refuses to start, and the rest of
  the system stays up (the red stack still answers pings for its own address);
- a PD that faults (net_black, given a read-only ring by a system.xml variant) is reported by
  the root task while crypto and the red side run on;
- the operator console on COM1 (the serial PD): `status` shows each peer like `wg show` and each
  PD's state (running, refused to start, faulted), `counters` each PD's counters;
- the config is a boot module: both encryptors boot the same image, each with its own file; a
  file with a broken key line makes crypto refuse to start naming the line while the stack PDs
  (which get the file without keys) run; no module at all is reported by the root task.

Needs root (namespaces, TAP devices), qemu-system-x86_64, wireguard-go and wg.
"""

import os
import re
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "support/lib"))
sys.path.insert(0, str(ROOT / "tests/host"))
import netlab  # noqa: E402
from netlab import SITES  # noqa: E402
import test_interop as host_interop  # noqa: E402  (its helpers: keys, files, the peer)
import test_leak as host_leak  # noqa: E402  (its traffic generator and receiver)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, TAP devices)")


def test_two_sel4_encryptors_pass_traffic_both_ways_and_no_plaintext_reaches_the_wan():
    marker = "LEAK-MARKER-" + os.urandom(12).hex()
    with netlab.Lab("s4e") as lab:
        t = netlab.sel4_topology(lab)
        pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
        wan_cap = netlab.Capture(lab, wan, "br0", "wan")
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], seconds=60), "ping pc_a -> pc_b failed\n" + \
            t["enc_a"].console()[-3000:]
        assert netlab.ping_until(lab, pc_b, SITES["a"]["pc"], seconds=30), "ping pc_b -> pc_a failed\n" + \
            t["enc_b"].console()[-3000:]
        server = netlab.spawn_python(lab, pc_b, host_leak.SERVER, SITES["b"]["pc"], marker, log_name="server.log")
        netlab.wait_for_line(server, "listening", 10)
        netlab.run_python(lab, pc_a, host_leak.CLIENT, SITES["b"]["pc"], marker, host_leak.UDP_COUNT, 200,
                          timeout=120)
        out = netlab.wait_for_line(server, r"udp \d+ tcp \d+", 60)
        wan_frames = wan_cap.stop()
        handshakes = t["enc_a"].handshakes()
        # The operator console, after the traffic (every PD's page republished since).
        status = t["enc_a"].wait_status_after(time.time())
        counters = t["enc_a"].counters()
        consoles = [enc.stop() for enc in (t["enc_a"], t["enc_b"])]
    for site, text in zip("ab", consoles):
        assert "FATAL" not in text and "PANIC" not in text, text[-3000:]
        # One image, two configs: each encryptor took its own file from its boot module.
        assert re.search(rf"memory_region crypto_config: \d+ bytes from boot module 1 \('[^']*enc_{site}\.conf'", text), \
            text[-3000:]
        assert "memory_region net_red_config: " in text and "crypto_config without its keys" in text, text[-3000:]
        # The kernel enables AVX state (XSAVE) and the CPU model has the Xeon D's AVX2 and BMI2:
        # the crypto PD runs ring's AVX2 ChaCha20-Poly1305, not its SSE4.1 or scalar code.
        assert re.search(r"^crypto: 1 peer\(s\); ChaCha20-Poly1305: AVX2$", text, re.M), text[-3000:]
        # One vCPU: system.xml's cores 1-3 are not there; those PDs run on core 0, each said.
        assert "root: cores: 1 running" in text, text[-3000:]
        for pd in ("crypto", "net_black", "nic_black", "timer", "serial"):
            assert re.search(rf"^root: PD {pd}: cpu \d is not among this machine's 1 cores: placed on core 0", text, re.M), text[-3000:]
            assert re.search(rf"^root: started PD {pd} \(priority \d+, core 0,", text, re.M), text[-3000:]
        # VT-d (q35 + QEMU's intel-iommu): each NIC reaches only its own buffers.
        assert "root: iommu: VT-d on" in text, text[-3000:]
        for side, domain in (("red", 1), ("black", 2)):
            assert re.search(rf"^root: iommu: PCI \S+ \(PD nic_{side}\) domain {domain}: nic_{side}_dma \S+ rw "
                             rf"nic_{side}_to_net_{side}_data \S+ rw net_{side}_to_nic_{side}_data \S+ r$", text, re.M), text[-3000:]
        # One MAC per port: the config names none; each stack answers with its NIC's own.
        red_mac, black_mac = netlab.SEL4_MACS[site]
        assert f"net_red: using the NIC's address {red_mac}" in text, text[-3000:]
        assert f"net_black: using the NIC's address {black_mac}" in text, text[-3000:]
        # The product kernel keeps no per-thread CPU time, and no PD holds its own TCB.
        assert "bench kernel" not in text, text[-3000:]
    assert not [k for k in counters if k[1] == "runtime_cpu_ns"], counters
    assert handshakes >= 1
    udp, tcp = map(int, re.search(r"udp (\d+) tcp (\d+)", out).groups())
    assert udp > 0, f"no marked UDP datagram reached pc_b: {out}"
    assert tcp == 200, f"the TCP stream did not arrive whole: {out}"
    wg = [f for f in wan_frames if netlab.udp_ports(f) and 51820 in netlab.udp_ports(f)]
    assert len(wg) >= udp, f"only {len(wg)} WireGuard frames of {len(wan_frames)} on the wan capture"
    wan_bytes = b"".join(wan_frames)
    m = marker.encode()
    for needle in (m, m[-16:], b"LEAK-MARKER", m[::-1]):
        assert needle not in wan_bytes, f"plaintext {needle!r} on the wan side"
    # status: enc_a's one peer is enc_b, at enc_b's black address, with a handshake and traffic.
    peer = re.search(r"^crypto peer 0 \S{43}= endpoint (\S+) latest-handshake (\d+) s ago "
                     r"transfer (\d+) B received, (\d+) B sent", status, re.M)
    assert peer, status
    assert peer.group(1) == f"{SITES['b']['black']}:51820", status
    assert int(peer.group(3)) > 0 and int(peer.group(4)) > 0, status
    for pd in ("nic_red", "net_red", "crypto", "net_black", "nic_black", "timer"):
        assert re.search(rf"^pd {pd} running", status, re.M), status
    # counters: the traffic is counted where it went, by each PD.
    assert counters[("crypto", "handshakes_completed")] + counters[("crypto", "handshakes_answered")] >= 1, counters
    assert counters[("nic_red", "rx_to_ring")] > 0 and counters[("nic_black", "tx_to_nic")] > 0, counters
    assert counters[("net_black", "to_crypto")] > 0 and counters[("net_black", "from_crypto")] > 0, counters
    assert counters[("serial", "log_errors")] == 0 and counters[("serial", "console_log_dropped")] == 0, counters


ECHO_BURST = netlab.ECHO_BURST


def test_the_encryptor_with_its_pds_on_several_cores_carries_traffic_without_loss_or_duplication():
    """The SMP kernel with system.xml's placement (red on core 0, crypto on 1, black on 2, timer
    and serial on 3) on as many vCPUs as this host has cores, up to four, each its own host thread
    (multi-threaded TCG): the rings and notifications then cross cores for real. More vCPUs than
    host cores would have Linux preempt a vCPU holding seL4's kernel lock while the others spin on
    it: on this 2-core host a 4-vCPU guest then took minutes to boot whenever anything else ran
    (all four vCPUs in c_handle_interrupt's lock spin), so on 2 cores the PDs of cores 2 and 3 go
    to 0 and 1 (cpu % cores, the root task's fallback) and crypto still has a core of its own
    side. Its peer is wireguard-go, for the same reason. A burst of pings comes back whole and once
    each, a TCP stream arrives whole, no plaintext reaches the wan, and every PD keeps running."""
    vcpus = min(4, len(os.sched_getaffinity(0)))
    if vcpus < 2:
        pytest.skip("one host core: the vCPUs would not run at the same time")
    marker = "SMP-MARKER-" + os.urandom(12).hex()
    with netlab.Lab("s4c") as lab:
        t = sel4_interop_topology(lab, "c", vcpus=vcpus)
        pc_a, peer, wan = t["pc_a"], t["peer"], t["wan"]
        wan_cap = netlab.Capture(lab, wan, "br0", "wan")
        assert netlab.ping_until(lab, pc_a, host_interop.PEER_TUNNEL, seconds=60), t["enc_a"].console()[-3000:]
        # Every reply waited for (30 s): late because the host is busy is not lost. (ping waits
        # only twice the round trip after its last request.)
        burst = netlab.run_python(lab, pc_a, ECHO_BURST, host_interop.PEER_TUNNEL, 200, 0.01, 30, timeout=90).stdout
        server = netlab.spawn_python(lab, peer, host_leak.SERVER, host_interop.PEER_TUNNEL, marker,
                                     log_name="server.log")
        netlab.wait_for_line(server, "listening", 10)
        netlab.run_python(lab, pc_a, host_leak.CLIENT, host_interop.PEER_TUNNEL, marker, host_leak.UDP_COUNT, 200,
                          timeout=120)
        out = netlab.wait_for_line(server, r"udp \d+ tcp \d+", 60)
        wan_frames = wan_cap.stop()
        status = t["enc_a"].command("status", r"^pd timer .*\n")
        counters = t["enc_a"].counters()
        text = t["enc_a"].stop()
    assert "FATAL" not in text and "PANIC" not in text and "FAULT" not in text, text[-3000:]
    # Where a lost ping went, should one be (the PDs' drop counters, per reason).
    drops = " ".join(f"{pd}.{name}={v}" for (pd, name), v in counters.items() if v and ("drop" in name or "full" in name))
    ids = ", ".join(str(i) for i in range(vcpus))
    cores = "\n".join(re.findall(r"^root: (?:cores|core \d).*$", text, re.M))
    assert f"root: cores: {vcpus} running" in text and f"root: cores: local APIC ids [{ids}]" in text, cores
    for pd, cpu in (("nic_red", 0), ("net_red", 0), ("crypto", 1), ("net_black", 2), ("nic_black", 2),
                    ("timer", 3), ("serial", 3)):
        assert re.search(rf"^root: started PD {pd} \(priority \d+, core {cpu % vcpus},", text, re.M), text[-3000:]
    # Every echo answered, none twice (a ring slot consumed twice would show as a doubled one).
    assert "received 200 of 200 missing [] doubled []" in burst, burst + drops
    udp, tcp = map(int, re.search(r"udp (\d+) tcp (\d+)", out).groups())
    assert udp > 0 and tcp == 200, out
    wan_bytes = b"".join(wan_frames)
    assert marker.encode() not in wan_bytes and b"SMP-MARKER" not in wan_bytes, "plaintext on the wan side"
    for pd in ("nic_red", "net_red", "crypto", "net_black", "nic_black", "timer"):
        assert re.search(rf"^pd {pd} running", status, re.M), status


def test_two_crypto_workers_on_an_smp_kernel_carry_a_tunnel_without_loss_or_duplication():
    """system.xml with two crypto worker PDs (netlab.with_crypto_workers: worker 0 on core 1
    beside crypto, worker 1 on core 3) on the SMP kernel with as many vCPUs as the host has cores
    (up to four; on two, cpu % 2 puts worker 1 on core 1 too), against wireguard-go: crypto hands
    every transport packet to a worker in turn and publishes the results in order. A burst of
    pings comes back whole and once each, both workers did their share of the AEAD, and no ring
    or job went wrong."""
    vcpus = min(4, len(os.sched_getaffinity(0)))
    if vcpus < 2:
        pytest.skip("one host core: the vCPUs would not run at the same time")
    with netlab.Lab("s4w") as lab:
        xml = os.path.join(lab.tmp, "system-workers.xml")
        with open(netlab.SYSTEM_XML) as f, open(xml, "w") as out:
            out.write(netlab.with_crypto_workers(f.read()))
        image = netlab.sel4_build(os.path.join(lab.tmp, "sel4-workers"), system_xml=xml)
        t = sel4_interop_topology(lab, "w", vcpus=vcpus, image=image)
        pc_a = t["pc_a"]
        assert netlab.ping_until(lab, pc_a, host_interop.PEER_TUNNEL, seconds=60), t["enc_a"].console()[-3000:]
        burst = netlab.run_python(lab, pc_a, ECHO_BURST, host_interop.PEER_TUNNEL, 200, 0.01, 30, timeout=90).stdout
        # The workers' pages come after the timer's: wait for the summary, the last line.
        status = t["enc_a"].command("status", r"^encryptor .*\n")
        counters = t["enc_a"].counters()
        text = t["enc_a"].stop()
    assert "FATAL" not in text and "PANIC" not in text and "FAULT" not in text, text[-3000:]
    for pd, cpu in (("crypto", 1), ("crypto_worker_0", 1), ("crypto_worker_1", 3)):
        assert re.search(rf"^root: started PD {pd} \(priority \d+, core {cpu % vcpus},", text, re.M), text[-3000:]
    drops = " ".join(f"{pd}.{name}={v}" for (pd, name), v in counters.items() if v and ("drop" in name or "full" in name))
    assert "received 200 of 200 missing [] doubled []" in burst, burst + drops
    for n in (0, 1):
        done = counters[(f"crypto_worker_{n}", "sealed_packets")] + counters[(f"crypto_worker_{n}", "opened_packets")]
        assert done >= 150, counters
        assert re.search(rf"^pd crypto_worker_{n} running", status, re.M), status
        # The AEAD runs on the worker's core with the code the CPU model allows (netlab.SEL4_CPU).
        assert re.search(rf"^crypto_worker_{n} ChaCha20-Poly1305: AVX2; session copies [1-9]", status, re.M), status
    assert re.search(r"^crypto workers 2, 2 taking jobs$", status, re.M), status
    errors = {k: v for k, v in counters.items() if v and ("ring_error" in k[1] or "bad_job" in k[1] or "bad_batches" in k[1])}
    assert not errors, errors


def test_pcs_at_mtu_1500_get_through_two_sel4_encryptors_without_black_holes():
    """tests/host/test_mtu.py's path-MTU checks against the seL4 encryptors: big pings with and
    without DF (IPv4 and IPv6), TCP both families with the SYNs' MSS clamped."""
    import test_mtu as host_mtu
    with netlab.Lab("s4m") as lab:
        t = netlab.sel4_topology(lab)
        seen = netlab.check_path_mtu(lab, t, seconds=2)
        done = time.time()
        counters = [enc.counters(since=done) for enc in (t["enc_a"], t["enc_b"])]
        status = t["enc_a"].command("status", r"^pd timer .*\n")
        for enc in (t["enc_a"], t["enc_b"]):
            enc.stop()
    a, b = ({f"{pd}.{name}": v for (pd, name), v in c.items()} for c in counters)
    host_mtu.assert_no_black_hole(seen, a, b)
    # The status line shows the MTU in force.
    assert re.search(r"^net_red tunnel mtu 1420 \(ipv6 1420\)", status, re.M), status


def sel4_interop_topology(lab, tag, peer_path_mtu=None, vcpus=1, image=None):
    """host_interop's topology with enc_a an seL4 encryptor in QEMU (with `vcpus` cores; the
    image of system.xml, or the build directory `image`) instead of a host process."""
    real = netlab.HostEncryptor

    def qemu_encryptor(lab, site, config, red_ns, black_ns, bridge):
        return netlab.QemuEncryptor(lab, site, image or netlab.sel4_build(), red_ns, black_ns, bridge,
                                    config=config, vcpus=vcpus)

    netlab.HostEncryptor = qemu_encryptor
    try:
        return host_interop.interop_topology(lab, tag, peer_path_mtu)
    finally:
        netlab.HostEncryptor = real


def test_the_bench_kernel_reports_each_pds_cpu_time_and_it_follows_the_traffic():
    """`support/bench-wakeups --cycles`' image (the bench kernel: each thread's CPU time kept):
    every PD on the data path reports `runtime_cpu_ns`, a burst of traffic adds to each of
    them, and together they add less than the time that passed (one vCPU)."""
    image = netlab.sel4_build(netlab.SEL4_IMAGE_DIR + "-bench", kernel="bench")
    data_path = ("nic_red", "net_red", "crypto", "net_black", "nic_black")
    with netlab.Lab("s4c") as lab:
        t = sel4_interop_topology(lab, "c", image=image)
        enc = t["enc_a"]
        assert netlab.ping_until(lab, t["pc_a"], host_interop.PEER_TUNNEL, seconds=60), enc.console()[-3000:]
        start = time.time()
        before = enc.counters(since=start)
        mbps, _ = netlab.iperf3(lab, t["pc_a"], t["peer"], host_interop.PEER_TUNNEL, seconds=3)
        end = time.time()
        after = enc.counters(since=end)
        text = enc.stop()
    assert "root: bench kernel: every thread's CPU time is kept" in text, text[-3000:]
    assert mbps > 0
    grown = {pd: after[(pd, "runtime_cpu_ns")] - before[(pd, "runtime_cpu_ns")] for pd in data_path}
    assert all(ns > 0 for ns in grown.values()), grown
    # The counts are up to a publication period (200 ms) old at either end; the vCPU cannot
    # have run them for longer than the whole stretch from before the first read to the last.
    assert sum(grown.values()) < (time.time() - start + 0.5) * 1e9, grown
    # Crypto does the AEAD of every packet: it is not the cheapest stage.
    assert grown["crypto"] > min(grown.values()), grown


def test_a_rebooted_encryptor_handshakes_again_because_its_clock_kept_going():
    """WireGuard rejects an initiation whose TAI64N timestamp is not newer than the last one it
    accepted from that peer. enc_a takes it from the CMOS wall clock; booted with no clock, it
    would restart from the same small time and enc_b would refuse it as stale until enc_b's
    own state expired. So: handshake, reboot enc_a, and the tunnel must come back at once,
    with a new handshake that enc_b accepted and no stale timestamp counted."""
    with netlab.Lab("s4w") as lab:
        t = netlab.sel4_topology(lab)
        pc_a, pc_b = t["pc_a"], t["pc_b"]
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"], seconds=60), t["enc_a"].console()[-3000:]
        before = t["enc_b"].counters()
        first_boot = t["enc_a"].reboot()
        netlab.setup_pc(lab, pc_a, t["enc_a"].red_tap, "a", "b")
        back = netlab.ping_until(lab, pc_a, SITES["b"]["pc"], seconds=30)
        after = t["enc_b"].counters(since=time.time())
        second_boot = t["enc_a"].console()
    assert "wall clock at boot" in first_boot and "handshake #" in first_boot, first_boot[-3000:]
    assert back, f"no tunnel after enc_a rebooted\n{second_boot[-3000:]}"
    answered = after[("crypto", "handshakes_answered")] - before[("crypto", "handshakes_answered")]
    stale = after[("crypto", "drop_stale_timestamp")] - before[("crypto", "drop_stale_timestamp")]
    assert answered >= 1 and stale == 0, f"enc_b answered {answered} new initiations, refused {stale} as stale"


def test_a_sel4_encryptor_interoperates_with_wireguard_go_behind_a_1280_byte_path():
    """The peer sits behind a router and a 1280-byte link (tests/host/test_interop.py): enc_a's
    datagrams reach it as fragments the router made, the peer's reach enc_a as fragments that
    net_black reassembles."""
    with netlab.Lab("s4i") as lab:
        t = sel4_interop_topology(lab, "s", peer_path_mtu=1280)
        ok = netlab.ping_until(lab, t["pc_a"], host_interop.PEER_TUNNEL, seconds=60)
        # Full-size packets both ways (pc_a's MTU is 1500: net_red fragments to the tunnel's).
        big = netlab.ping(lab, t["pc_a"], host_interop.PEER_TUNNEL, count=3) and \
            lab.exec(t["peer"], ["ping", "-c", "3", "-W", "3", "-s", "1392", SITES["a"]["pc"]],
                     check=False, timeout=30).returncode == 0
        counters = t["enc_a"].counters(since=time.time())
        console = t["enc_a"].stop()
        assert ok, f"pc_a could not ping the wireguard-go peer's tunnel address\n{console[-3000:]}\n" + \
            open(t["wg"].log_path).read()[-2000:]
        assert big, f"full-size pings through the 1280-byte path failed\n{console[-3000:]}"
        assert "handshake #" in console, console[-3000:]
        assert counters[("net_black", "frags_reassembled")] > 0, counters


def test_crypto_refuses_to_start_without_rdrand_and_the_rest_stays_up():
    with netlab.Lab("s4r") as lab:
        cfg_a, _ = netlab.make_configs(lab)
        image = netlab.sel4_build()
        pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc = netlab.QemuEncryptor(lab, "a", image, pc_a, wan, "br0", cpu=netlab.SEL4_CPU_NO_RDRAND,
                                   ready_lines=("crypto: refusing to start", "net_red: net_red ready"),
                                   config=cfg_a)
        netlab.setup_pc(lab, pc_a, enc.red_tap, "a", "b")
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        status = enc.command("status", r"^pd timer .*\n")
        console = enc.stop()
    assert re.search(r"^crypto refused to start: .*random", status, re.M), status
    assert re.search(r"^pd net_red running", status, re.M), status
    refusal = re.search(r"crypto: refusing to start: .*", console)
    assert refusal and "random" in refusal.group(0), console[-3000:]
    assert "crypto: crypto ready" not in console
    assert alive, f"net_red stopped answering once crypto refused to start\n{console[-3000:]}"


def test_a_faulting_pd_is_reported_and_the_others_stay_up():
    """net_black is given its receive ring's control region read-only (a system.xml variant): its
    first write there is a VM fault, and so is each restarted copy's. The root task reports each,
    gives up after three restarts, and the console shows it FAULTED; crypto and the red side run
    on."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    writable = 'mr="crypto_to_net_black_ctl" vaddr="0x20200000" perms="rw" setvar_vaddr="crypto_rx_ctl"'
    assert xml.count(writable) == 1
    with netlab.Lab("s4f") as lab:
        broken = os.path.join(lab.tmp, "system-net_black-faults.xml")
        with open(broken, "w") as f:
            f.write(xml.replace(writable, writable.replace('perms="rw"', 'perms="r"')))
        cfg_a, _ = netlab.make_configs(lab)
        image = netlab.sel4_build(os.path.join(lab.tmp, "sel4-net_black-faults"), system_xml=broken)
        pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc = netlab.QemuEncryptor(lab, "a", image, pc_a, wan, "br0",
                                   ready_lines=("RESTART pd=net_black given up", "crypto: crypto ready", "net_red: net_red ready"),
                                   config=cfg_a)
        netlab.setup_pc(lab, pc_a, enc.red_tap, "a", "b")
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        status = enc.command("status", r"^pd timer .*\n")
        help_text = enc.command("help", r"^  help ")
        unknown = enc.command("reboot now", r"unknown command")
        crypto_only = enc.command("counters crypto", r"^\d+ counters of crypto")
        no_such = enc.command("counters nobody", r"^no PD")
        drops = enc.command("drops", r"^\d+ drop counters above zero")
        console = enc.stop()
    # The console reports the crashed PD, the others running.
    assert re.search(r"^pd net_black FAULTED \(vm-fault\)", status, re.M), status
    for pd in ("nic_red", "net_red", "crypto", "nic_black", "timer"):
        assert re.search(rf"^pd {pd} running", status, re.M), status
    assert "status" in help_text and "counters" in help_text, help_text
    assert 'unknown command "reboot now"' in unknown, unknown
    # `counters PD` gives that PD's counters only; `drops` only drop counters above zero.
    rows = re.findall(r"^(\w+) (\w+) (\d+)\r?$", crypto_only, re.M)
    assert rows and {pd for pd, _, _ in rows} == {"crypto"}, crypto_only
    assert any(name == "handshakes_completed" for _, name, _ in rows), crypto_only
    assert re.search(r"^(\d+) counters of crypto", crypto_only, re.M).group(1) == str(len(rows)), crypto_only
    assert 'no PD "nobody"' in no_such, no_such
    drop_rows = re.findall(r"^(\w+) (\w+) (\d+)\r?$", drops, re.M)
    assert all(("drop" in name) and int(v) > 0 for _, name, v in drop_rows), drops
    assert re.search(r"^(\d+) drop counters above zero", drops, re.M).group(1) == str(len(drop_rows)), drops
    faults = re.findall(r"FAULT pd=(\S+)", console)
    assert faults == ["net_black"] * 5, console[-3000:]
    assert re.search(r"^RESTART pd=net_black given up", console, re.M), console[-3000:]
    assert "net_black: net_black ready" not in console
    assert alive, f"net_red stopped answering after net_black faulted\n{console[-3000:]}"


def _boot_variant(lab, name, xml_text, ready_lines, config=None):
    """Boots encryptor a (PC a on its red side) from the system.xml text `xml_text`, with its
    usual config or the file `config`."""
    path = os.path.join(lab.tmp, f"system-{name}.xml")
    with open(path, "w") as f:
        f.write(xml_text)
    cfg_a = config or netlab.make_configs(lab)[0]
    image = netlab.sel4_build(os.path.join(lab.tmp, f"sel4-{name}"), system_xml=path)
    pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    enc = netlab.QemuEncryptor(lab, "a", image, pc_a, wan, "br0", ready_lines=ready_lines, config=cfg_a)
    netlab.setup_pc(lab, pc_a, enc.red_tap, "a", "b")
    return enc, pc_a


def _system_xml_with(old, new):
    """system.xml's text with `old` (which it holds once) replaced by `new`."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    assert xml.count(old) == 1, old
    return xml.replace(old, new)


def _wait_console(enc, pattern, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if re.search(pattern, enc.console(), re.M):
            return True
        time.sleep(0.5)
    return False


def test_a_faulted_pd_that_shares_no_ring_is_restarted_with_fresh_state():
    """The timer PD is made to fault 8 s after boot (a test-only system.xml attribute: the root
    task points its thread at address 0). The root task reports the fault, restarts it with its
    program's memory as in the image, and the new timer ticks again: its status page is fresh,
    `status` counts the restart, and traffic still passes."""
    timer = '<protection_domain name="timer" domain="neutral" priority="250" cpu="3">'
    xml = _system_xml_with(timer, timer.replace('priority="250"', 'priority="250" inject_fault_ms="8000"'))
    with netlab.Lab("s4r") as lab:
        enc, pc_a = _boot_variant(lab, "timer-faults", xml,
                                  ("crypto: crypto ready", "net_red: net_red ready", "timer: timer ready"))
        restarted = _wait_console(enc, r"^RESTART pd=timer count=1", 60)
        time.sleep(2)
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        status = enc.command("status", r"^pd serial .*\n|^encryptor .*\n")
        console = enc.stop()
    assert restarted, console[-3000:]
    assert re.search(r"^FAULT pd=timer kind=vm-fault access=\w+ addr=0x0 ", console, re.M), console[-3000:]
    # The program started again from its entry point: its ready line twice.
    assert console.count("timer: timer ready") == 2, console[-3000:]
    line = re.search(r"^pd timer running \(status (\d+) ms old; restarted 1 time after faults\)", status, re.M)
    assert line and int(line.group(1)) < 1000, status
    assert "FAULTED" not in status, status
    assert alive, console[-3000:]


def _config_with_peers(lab, extra, full=False):
    """enc_a's config with `extra` more peers (random public keys, a /24 each), as a site with
    many branch offices has. `full`: each [Peer] as an operator writes it for a branch office,
    with a comment, a preshared key, an IPv6 prefix beside the IPv4 one and an endpoint (no
    keepalive: nothing is sent to them)."""
    cfg_a, _ = netlab.make_configs(lab)
    with open(cfg_a) as f:
        text = f.read()
    import base64
    for k in range(extra):
        key = base64.b64encode(os.urandom(32)).decode()
        net = f"10.{200 + k // 250}.{k % 250}"
        if full:
            psk = base64.b64encode(os.urandom(32)).decode()
            text += (f"\n[Peer]\n# branch office {k:04}\nPublicKey = {key}\nPresharedKey = {psk}\n"
                     f"AllowedIPs = {net}.0/24, fd00:{200 + k // 250}:{k % 250}::/64\n"
                     f"Endpoint = 198.51.100.{k % 250 + 1}:{51820 + k // 250}\n")
        else:
            text += f"\n[Peer]\nPublicKey = {key}\nAllowedIPs = {net}.0/24\n"
    path = os.path.join(lab.tmp, f"enc_a-{extra + 1}-peers.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def _heap_kib(fixed_kib, peers, per_peer_kib, prefixes, text_bytes, per_prefix=320):
    """The heap the root task gives a PD that reads a config, in KiB: the fixed part, each peer's
    and each prefix's, and the text's own bytes, in whole pages."""
    total = (fixed_kib + peers * per_peer_kib) * 1024 + prefixes * per_prefix + text_bytes
    return -(-total // 4096) * 4


def test_crypto_gets_a_heap_sized_for_its_configured_peers_and_refuses_a_heap_too_small():
    """A config with 100 peers (the fixed 1 MiB heap every PD had held 32): the root task counts
    them and gives crypto system.xml's heap_size plus heap_per_peer for each, says so, and crypto
    starts. The same config on a system whose heap_per_peer is too small: crypto refuses to start
    and names the shortfall, the rest runs."""
    with netlab.Lab("s4h") as lab:
        config = _config_with_peers(lab, 99)
        with open(config) as f:
            config_text = f.read()
        with open(netlab.SYSTEM_XML) as f:
            xml = f.read()
        enc, pc_a = _boot_variant(lab, "heap", xml, ("crypto: crypto ready", "net_red: net_red ready"), config)
        status = enc.command("status", r"^encryptor .*\n")
        console = enc.stop()
    starved = xml.replace('heap_per_peer="0x8000"', 'heap_per_peer="0x1000"')
    assert starved != xml
    with netlab.Lab("s4h") as lab:
        config = os.path.join(lab.tmp, "enc_a-100-peers.conf")
        with open(config, "w") as f:
            f.write(config_text)
        enc, pc_a = _boot_variant(lab, "heap-starved", starved, ("crypto: refusing to start", "net_red: net_red ready"),
                                  config)
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        refused = enc.stop()
    # 101 prefixes: each extra peer's one, enc_b's two; crypto's region holds the file whole.
    size = len(config_text.encode())
    line = re.search(rf"^root: PD crypto: heap (\d+) KiB \(256 KiB \+ 100 peers of crypto_config x 32 KiB"
                     rf" \+ 101 prefixes x 320 B \+ its {size} bytes\)$", console, re.M)
    assert line and int(line.group(1)) == _heap_kib(256, 100, 32, 101, size), console[-3000:]
    assert re.search(r"^crypto peers 100 configured, 0 with a handshake", status, re.M), status
    assert re.search(r"^crypto peer 0 \S+ endpoint 192\.0\.2\.2:51820 ", status, re.M), status
    m = re.search(r"crypto: refusing to start: 100 peers with 101 AllowedIPs networks need (\d+) KiB of heap; "
                  r"this PD has (\d+) KiB", refused)
    assert m and int(m.group(2)) == _heap_kib(256, 100, 4, 101, size) < int(m.group(1)), refused[-3000:]
    assert alive, refused[-3000:]


def test_crypto_with_workers_starts_with_as_many_peers_as_it_takes():
    """The system with two crypto workers (support/lib/systemxml.py) and a config of 1024 peers,
    crypto's most, each [Peer] with a preshared key, two prefixes and an endpoint (some 200 KiB:
    the config regions and the kernel's boot-module buffer held 64 KiB, refused with "larger than
    the 65536 bytes the kernel passes on", and the session table crypto shares with its workers
    held 262 peers; the stack PDs and workers had a fixed 1 MiB heap, too little to read it):
    every PD with the config gets it whole and heap for it, and crypto and both workers start."""
    with netlab.Lab("s4p") as lab:
        config = _config_with_peers(lab, 1023, full=True)
        size = os.path.getsize(config)
        assert 64 * 1024 < size <= 256 * 1024, size
        with open(netlab.SYSTEM_XML) as f:
            xml = netlab.with_crypto_workers(f.read())
        enc, pc_a = _boot_variant(lab, "workers-1024", xml, ("crypto: crypto ready", "net_red: net_red ready"), config)
        status = enc.command("status", r"^encryptor .*\n")
        console = enc.stop()
    assert "refusing to start" not in console and "FAULT" not in console, console[-3000:]
    assert f"memory_region crypto_config: {size} bytes from boot module 1" in console, console[-3000:]
    # Every PD that reads the config gets heap for it (a worker on a fixed 1 MiB ran out).
    for pd, region in (("net_red", "net_red_config"), ("crypto_worker_0", "crypto_workers_config")):
        # 2048 prefixes: two of each peer's; the region's text is the config without its keys.
        line = re.search(rf"^root: PD {pd}: heap (\d+) KiB \(1024 KiB \+ 1024 peers of {region} x 2 KiB"
                         rf" \+ 2048 prefixes x 320 B \+ its (\d+) bytes\)$", console, re.M)
        assert line and int(line.group(1)) == _heap_kib(1024, 1024, 2, 2048, int(line.group(2))), console[-3000:]
    assert re.search(r"^crypto workers 2, 2 taking jobs$", status, re.M), status
    assert re.search(r"^crypto peers 1024 configured, 0 with a handshake", status, re.M), status
    for pd in ("net_red", "net_black", "crypto_worker_0", "crypto_worker_1"):
        assert re.search(rf"^pd {pd} running", status, re.M), status


@pytest.mark.parametrize("shape", ["networks", "repeats"])
def test_one_peer_with_a_config_as_long_as_the_region_starts(shape):
    """enc_a's one peer given some 230 KB more of config (the region holds 256 KiB):
    - "networks": 20 000 more AllowedIPs prefixes in one line (a site that routes many networks
      through one tunnel; IPv6 host addresses, the shortest a prefix is written). Reading and
      routing them takes some 3.5 MB in each PD that reads the config, which a heap sized on
      peers alone (1 MiB for the stacks, 288 KiB for crypto with one peer) did not hold: the
      root task counts the prefixes (heap_per_prefix).
    - "repeats": one network written 20 000 times more, then a comment as long: each PD copies
      the text before it parses it, which crypto's 288 KiB did not hold either: the root task
      adds the text's size.
    Every PD starts."""
    extra = 20_000
    with netlab.Lab("s4x") as lab:
        cfg_a, _ = netlab.make_configs(lab)
        with open(cfg_a) as f:
            text = f.read()
        line = re.search(r"^AllowedIPs = (.*)$", text, re.M)
        prefixes = len(line.group(1).split(","))
        if shape == "networks":
            more, prefixes = "".join(f", fd99::{k + 1:x}" for k in range(extra)), prefixes + extra
        else:
            more = ", fd00:2::1/64" * (extra // 2) + "\n# " + "the same network again; " * 4_000
        text = text.replace(line.group(0), line.group(0) + more, 1)
        config = os.path.join(lab.tmp, "enc_a-long.conf")
        with open(config, "w") as f:
            f.write(text)
        size = os.path.getsize(config)
        assert 200 * 1024 < size <= 256 * 1024, size
        enc, pc_a = _boot_variant(lab, f"long-{shape}", open(netlab.SYSTEM_XML).read(),
                                  ("crypto: crypto ready", "net_red: net_red ready", "net_black: net_black ready"), config)
        status = enc.command("status", r"^encryptor .*\n")
        console = enc.stop()
    assert "refusing to start" not in console and "FAULT" not in console and "allocation" not in console, console[-3000:]
    for pd, region in (("net_red", "net_red_config"), ("crypto", "crypto_config"), ("net_black", "net_black_config")):
        assert re.search(rf"root: PD {pd}: heap \d+ KiB \(\d+ KiB \+ 1 peers of {region} x \d+ KiB \+ {prefixes} prefixes x 320 B"
                         rf" \+ its \d+ bytes\)", console), console[-3000:]
    assert f"root: PD crypto: heap {_heap_kib(256, 1, 32, prefixes, size)} KiB" in console, console[-3000:]
    assert re.search(r"^crypto peers 1 configured", status, re.M), status
    for pd in ("net_red", "crypto", "net_black"):
        assert re.search(rf"^pd {pd} running", status, re.M), status


@pytest.mark.parametrize("damage", ["bad line", "NUL"])
def test_a_damaged_config_is_named_by_the_root_task_and_refused_by_crypto(damage):
    """A config with a bad AllowedIPs line, or with a NUL byte in the middle (a damaged file:
    read up to the NUL, it would be a shorter config): the root task says why it cannot size the
    heaps on it (the parse error, which names the line and key), crypto refuses to start naming
    the problem, and the rest of the system runs."""
    with netlab.Lab("s4d") as lab:
        cfg_a, _ = netlab.make_configs(lab)
        with open(cfg_a, "rb") as f:
            text = f.read()
        line = re.search(rb"^AllowedIPs = .*$", text, re.M)
        if damage == "bad line":
            text = text.replace(line.group(0), line.group(0) + b", 10.300.0.0/24", 1)
            number = text[:line.start()].count(b"\n") + 1
            root_says = rf"memory_region crypto_config: does not parse \(line {number}: AllowedIPs: .*10\.300\.0\.0/24.*\)"
            crypto_says = rf"crypto: refusing to start: config: line {number}: AllowedIPs"
        else:
            text = text[:line.start()] + b"\0" + text[line.start():]
            # Up to the NUL, the peer has no AllowedIPs yet.
            root_says = r"memory_region crypto_config: does not parse \(line \d+: \[Peer\]: missing AllowedIPs\)"
            crypto_says = rf"crypto: refusing to start: the config holds a NUL byte at offset {line.start()}"
        config = os.path.join(lab.tmp, "enc_a-damaged.conf")
        with open(config, "wb") as f:
            f.write(text)
        enc, pc_a = _boot_variant(lab, "damaged", open(netlab.SYSTEM_XML).read(), ("crypto: refusing to start",), config)
        status = enc.command("status", r"^encryptor .*\n")
        console = enc.stop()
    assert re.search(root_says, console), console[-3000:]
    assert re.search(crypto_says, console), console[-3000:]
    # The operator console answers, and says why the encryptor is not ready.
    assert re.search(r"^encryptor NOT READY: .*crypto refused to start", status, re.M), status
    assert re.search(r"^pd nic_red running", status, re.M), status


# The PDs in the order the next test kills them, and when (ms after the root task starts). The
# serial PD first: a restarted one knows only the restarts it saw (it shows them in `status`).
RESTART_ORDER = ("serial", "nic_red", "net_red", "crypto", "net_black", "nic_black")
FIRST_FAULT_MS, FAULT_GAP_MS = 30_000, 15_000
# Slots of each ring in system.xml: more replies than this after a restart and every ring of the
# restarted PD has gone round (the requirement; not a rate).
RING_SLOTS = 512


def test_each_pd_killed_in_turn_under_traffic_is_restarted_and_traffic_resumes():
    """pc_a pings a stock WireGuard peer (wireguard-go) through the seL4 encryptor 100 times a
    second while the serial PD and then each PD on the data path is made to fault in turn, 15 s
    apart (the test-only inject_fault_ms). The root task takes COM1 back from the serial PD and
    hands it to the restarted one, whose operator console answers the `status` at the end. The
    root task restarts each PD with fresh state; its rings re-attach (pd-ring's
    rejoin protocol: the survivor takes back what it lent and resets the queues); a NIC PD's
    device stops DMA at the fault and is reset by the new driver; crypto reads its config again
    and handshakes anew. After each restart more replies come back than a ring has slots (512)
    before the next fault, so every ring of the restarted PD has gone round since: a ring whose
    ends disagree about what is lent would show ring errors, which must stay at zero; the
    console's `status` counts one restart per PD."""
    xml = open(netlab.SYSTEM_XML).read()
    for k, pd in enumerate(RESTART_ORDER):
        xml, n = re.subn(rf'(<protection_domain name="{pd}" [^>]*?)>',
                         rf'\1 inject_fault_ms="{FIRST_FAULT_MS + k * FAULT_GAP_MS}">', xml)
        assert n == 1, pd
    with netlab.Lab("s4k") as lab:
        path = os.path.join(lab.tmp, "system-ring-pds-fault.xml")
        with open(path, "w") as f:
            f.write(xml)
        image = netlab.sel4_build(os.path.join(lab.tmp, "sel4-ring-pds-fault"), system_xml=path)
        t = sel4_interop_topology(lab, "k", image=image)
        pc_a, enc = t["pc_a"], t["enc_a"]
        assert netlab.ping_until(lab, pc_a, host_interop.PEER_TUNNEL, seconds=60), enc.console()[-3000:]
        # -D: each reply with the host's time, to set against when each restart was seen.
        last_fault_s = (FIRST_FAULT_MS + (len(RESTART_ORDER) - 1) * FAULT_GAP_MS) / 1000
        pings = lab.spawn(pc_a, ["ping", "-D", "-n", "-i", "0.01", "-W", "1", "-c",
                                 str(int((last_fault_s + 40) * 100)), host_interop.PEER_TUNNEL], "pings.log")
        restarted_at = {}
        deadline = time.time() + last_fault_s + 60
        while len(restarted_at) < len(RESTART_ORDER) and time.time() < deadline:
            for pd in RESTART_ORDER:
                if pd not in restarted_at and re.search(rf"^RESTART pd={pd} count=1", enc.console(), re.M):
                    restarted_at[pd] = time.time()
            time.sleep(0.2)
        # After the last restart, as long as between two faults.
        time.sleep(FAULT_GAP_MS / 1000)
        lab.stop(pings)
        status = enc.command("status", r"^encryptor .*\n")
        counters = enc.counters()
        console = enc.stop()
        replies = _reply_times(pings.log_path)
    assert list(restarted_at) == list(RESTART_ORDER), f"restarts seen: {restarted_at}\n{console[-4000:]}"
    faults = re.findall(r"^FAULT pd=(\S+) kind=vm-fault access=\w+ addr=0x0 ", console, re.M)
    assert faults == list(RESTART_ORDER), console[-4000:]
    assert "given up" not in console, console[-4000:]
    for pd in RESTART_ORDER:
        # The program ran again from its entry point (the runtime says so).
        assert f"{pd}: started again after a fault (restart 1)" in console, (pd, console[-4000:])
        if pd != "serial":  # the console lists the PDs it watches, not itself
            assert re.search(rf"^pd {pd} running \(status \d+ ms old; restarted 1 time after faults\)", status,
                             re.M), status
    # COM1 went back to the root task at the serial PD's fault and to the new serial PD after.
    assert "COM1 is back with the root task" in console and "COM1 goes back to it" in console, console[-4000:]
    # Traffic came back after every restart, before the next PD was killed.
    times = [restarted_at[pd] for pd in RESTART_ORDER] + [float("inf")]
    for k, pd in enumerate(RESTART_ORDER):
        back = [r for r in replies if times[k] < r < times[k + 1]]
        assert len(back) > RING_SLOTS, f"{len(back)} replies after {pd} restarted\n{console[-4000:]}"
    ring_errors = {k: v for k, v in counters.items() if "ring_error" in k[1] and v}
    assert not ring_errors, ring_errors
    assert re.search(r"^encryptor ready", status, re.M), status
    # Crypto read its config again and made a new session with the peer.
    assert console.count("crypto: crypto ready") == 2, console[-4000:]


def test_crypto_and_its_workers_restart_as_a_group_and_traffic_resumes():
    """The system with two crypto workers (netlab.with_crypto_workers): crypto, then later a
    worker, is made to fault under traffic (pings to wireguard-go, 100 a second). Crypto shares
    the session table and its rings' result slots with the workers, so the root task stops the
    whole group at either fault and starts all three afresh (crypto wipes the session table);
    traffic comes back after each, with no ring error."""
    order = ("crypto", "crypto_worker_1")
    with netlab.Lab("s4g") as lab:
        with open(netlab.SYSTEM_XML) as f:
            xml = netlab.with_crypto_workers(f.read())
        for k, pd in enumerate(order):
            xml, n = re.subn(rf'(<protection_domain name="{pd}" [^>]*?)>',
                             rf'\1 inject_fault_ms="{FIRST_FAULT_MS + k * FAULT_GAP_MS}">', xml)
            assert n == 1, pd
        path = os.path.join(lab.tmp, "system-workers-fault.xml")
        with open(path, "w") as f:
            f.write(xml)
        image = netlab.sel4_build(os.path.join(lab.tmp, "sel4-workers-fault"), system_xml=path)
        t = sel4_interop_topology(lab, "g", image=image)
        pc_a, enc = t["pc_a"], t["enc_a"]
        assert netlab.ping_until(lab, pc_a, host_interop.PEER_TUNNEL, seconds=60), enc.console()[-3000:]
        last_fault_s = (FIRST_FAULT_MS + (len(order) - 1) * FAULT_GAP_MS) / 1000
        pings = lab.spawn(pc_a, ["ping", "-D", "-n", "-i", "0.01", "-W", "1", "-c",
                                 str(int((last_fault_s + 40) * 100)), host_interop.PEER_TUNNEL], "pings.log")
        restarted_at = {}
        deadline = time.time() + last_fault_s + 60
        while len(restarted_at) < len(order) and time.time() < deadline:
            for k, pd in enumerate(order):
                if pd not in restarted_at and re.search(rf"^RESTART pd={pd} count={k + 1}", enc.console(), re.M):
                    restarted_at[pd] = time.time()
            time.sleep(0.2)
        time.sleep(FAULT_GAP_MS / 1000)
        lab.stop(pings)
        counters = enc.counters()
        console = enc.stop()
        replies = _reply_times(pings.log_path)
    assert list(restarted_at) == list(order), f"restarts seen: {restarted_at}\n{console[-4000:]}"
    # Each fault stopped the other two and restarted all three.
    assert re.search(r"^RESTART pd=crypto_worker_0 stopped with crypto", console, re.M), console[-4000:]
    assert re.search(r"^RESTART pd=crypto stopped with crypto_worker_1", console, re.M), console[-4000:]
    for pd in ("crypto", "crypto_worker_0", "crypto_worker_1"):
        assert re.search(rf"^RESTART pd={pd} count=2", console, re.M), (pd, console[-4000:])
    assert "given up" not in console, console[-4000:]
    times = [restarted_at[pd] for pd in order] + [float("inf")]
    for k, pd in enumerate(order):
        back = [r for r in replies if times[k] < r < times[k + 1]]
        assert len(back) > RING_SLOTS, f"{len(back)} replies after {pd}'s group restarted\n{console[-4000:]}"
    ring_errors = {k: v for k, v in counters.items() if "ring_error" in k[1] and v}
    assert not ring_errors, ring_errors
    assert console.count("crypto: crypto ready") == 3, console[-4000:]


def _reply_times(path):
    """The host times of the echo replies in `ping -D`'s output."""
    with open(path) as f:
        return [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from", f.read(), re.M)]


def test_the_watchdog_reports_a_pd_that_stops_answering_without_a_fault():
    """net_red's thread is stopped 8 s after boot (a test-only system.xml attribute: the root task
    suspends it, as a PD hung in a loop or starved would be, with no fault to report). The serial
    PD's watchdog sees its status page stop being republished and says so once on the console;
    `status` names it and says the encryptor cannot pass traffic; the other PDs run on."""
    net_red = '<protection_domain name="net_red" '
    xml = _system_xml_with(net_red, net_red + 'inject_stall_ms="8000" ')
    with netlab.Lab("s4w") as lab:
        enc, pc_a = _boot_variant(lab, "net-red-stalls", xml,
                                  ("crypto: crypto ready", "net_red: net_red ready", "timer: timer ready"))
        reported = _wait_console(enc, r"^watchdog: PD net_red has not published its status for \d+ ms: not answering", 90)
        time.sleep(1)
        status = enc.command("status", r"^encryptor .*\n")
        console = enc.stop()
    assert reported, console[-3000:]
    assert console.count("watchdog:") == 1, console[-3000:]
    assert "FAULT" not in console, console[-3000:]
    m = re.search(r"^watchdog: PD net_red has not published its status for (\d+) ms", console, re.M)
    assert 10_000 < int(m.group(1)) < 20_000, m.group(0)
    assert re.search(r"^pd net_red NOT ANSWERING \(status \d+ ms old\)", status, re.M), status
    assert "encryptor NOT READY: net_red not answering" in status, status
    for pd in ("nic_red", "crypto", "net_black", "nic_black", "timer"):
        assert re.search(rf"^pd {pd} running \(status \d+ ms old\)", status, re.M), status


def test_a_pd_that_keeps_faulting_is_restarted_later_each_time_then_left_stopped():
    """The timer is given its status page read-only: each fresh copy faults on its first tick.
    The root task restarts it at once, then after 1, 2 and 4 s (a root-task thread woken by the
    CMOS RTC's periodic interrupt waits out the delay), then leaves it stopped; the rest runs
    on. The gaps between the restarts, seen from the host, are at least the delays."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    page = '<map mr="timer_status" vaddr="0x11000000" perms="rw" setvar_vaddr="status" />'
    assert xml.count(page) == 1
    with netlab.Lab("s4b") as lab:
        enc, pc_a = _boot_variant(lab, "timer-loops", xml.replace(page, page.replace('perms="rw"', 'perms="r"')),
                                  ("crypto: crypto ready", "net_red: net_red ready"))
        seen = {}
        deadline = time.time() + 60
        while time.time() < deadline:
            text = enc.console()
            for n in re.findall(r"^RESTART pd=timer count=(\d+)", text, re.M):
                seen.setdefault(int(n), time.time())
            if re.search(r"^RESTART pd=timer given up", text, re.M):
                break
            time.sleep(0.1)
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        console = enc.stop()
    assert re.search(r"^RESTART pd=timer given up: it faulted 5 times in a row", console, re.M), \
        console[-3000:]
    assert re.findall(r"^RESTART pd=timer count=(\d+)", console, re.M) == ["1", "2", "3", "4"], console[-3000:]
    assert re.findall(r"^RESTART pd=timer in (\d+) s", console, re.M) == ["1", "2", "4"], console[-3000:]
    assert len(re.findall(r"^FAULT pd=timer ", console, re.M)) == 5, console[-3000:]
    # The delays are timed by the RTC's periodic interrupt, not by polling when the core idles.
    assert "restart timer: no RTC interrupt" not in console, console[-3000:]
    assert sorted(seen) == [1, 2, 3, 4], seen
    # The back-off waits at least its delay, in the machine's own time: each RESTART line carries
    # the TSC (the host sees console lines late by however busy it is, which once made a 1 s
    # delay look like 0.7 s).
    mhz = int(re.search(r"TSC (\d+) MHz", console).group(1))
    at = {int(n): int(t) / (mhz * 1e6) for n, t in re.findall(r"^RESTART pd=timer count=(\d+) tsc=(\d+)", console, re.M)}
    assert sorted(at) == [1, 2, 3, 4], console[-3000:]
    for (a, b), delay in zip([(1, 2), (2, 3), (3, 4)], [1, 2, 4]):
        assert at[b] - at[a] >= delay, (at, console[-3000:])
    assert alive, console[-3000:]


def test_when_the_serial_pd_dies_the_root_task_takes_com1_back_and_loses_no_line():
    """The serial PD is given no I/O ports for COM1 (a system.xml variant), so it panics at start,
    and again after each restart until the root task gives up. The root task reports each fault,
    prints what the console log still held, and prints every later line itself: all PDs' ready
    lines reach the console, and the system runs on."""
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    ioport = '<ioport id="0" base="0x3f8" size="8" />'
    assert xml.count(ioport) == 1
    with netlab.Lab("s4c") as lab:
        broken = os.path.join(lab.tmp, "system-serial-dies.xml")
        with open(broken, "w") as f:
            f.write(xml.replace(ioport, ""))
        cfg_a, _ = netlab.make_configs(lab)
        image = netlab.sel4_build(os.path.join(lab.tmp, "sel4-serial-dies"), system_xml=broken)
        pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc = netlab.QemuEncryptor(lab, "a", image, pc_a, wan, "br0",
                                   ready_lines=("RESTART pd=serial given up", "crypto: crypto ready", "net_red: net_red ready",
                                                "net_black: net_black ready"),
                                   config=cfg_a)
        netlab.setup_pc(lab, pc_a, enc.red_tap, "a", "b")
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        console = enc.stop()
    assert re.search(r"^FAULT pd=serial kind=panic", console, re.M), console[-3000:]
    assert "serial: PANIC:" in console and "no I/O ports for COM1" in console, console[-3000:]
    assert "COM1 is back with the root task" in console, console[-3000:]
    assert re.search(r"^RESTART pd=serial given up", console, re.M), console[-3000:]
    assert "console log dropped" not in console and "lines were dropped" not in console
    assert alive, f"net_red stopped answering after the serial PD died\n{console[-3000:]}"


def test_a_config_module_with_a_broken_key_line_stops_crypto_only_and_names_the_line():
    """enc_a's config with a PresharedKey that is not a key: crypto refuses to start and names
    the line; the stack PDs get the file without that line (no keys), so net_red starts and
    answers pings for its own address."""
    with netlab.Lab("s4c") as lab:
        cfg_a, _ = netlab.make_configs(lab)
        good = cfg_a
        with open(good) as f:
            lines = f.read().splitlines()
        peer = next(i for i, line in enumerate(lines) if line.strip().lower() == "[peer]")
        lines.insert(peer + 1, "PresharedKey = this-is-not-a-key")
        broken = os.path.join(lab.tmp, "enc_a.broken.conf")
        with open(broken, "w") as f:
            f.write("\n".join(lines) + "\n")
        pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc = netlab.QemuEncryptor(lab, "a", netlab.sel4_build(), pc_a, wan, "br0", config=broken,
                                   ready_lines=("crypto: refusing to start", "net_red: net_red ready",
                                                "net_black: net_black ready"))
        netlab.setup_pc(lab, pc_a, enc.red_tap, "a", "b")
        alive = netlab.ping_until(lab, pc_a, SITES["a"]["red_gw"], seconds=30)
        console = enc.stop()
    refusal = re.search(r"crypto: refusing to start: .*", console)
    assert refusal and f"line {peer + 2}" in refusal.group(0) and "PresharedKey" in refusal.group(0), console[-3000:]
    assert "this-is-not-a-key" not in refusal.group(0), "a key value must never be echoed"
    assert "crypto: crypto ready" not in console and "FATAL" not in console and "FAULT" not in console
    assert alive, f"net_red stopped answering once crypto refused to start\n{console[-3000:]}"


def test_without_a_config_module_the_root_task_says_so_and_crypto_refuses():
    with netlab.Lab("s4n") as lab:
        pc_a, wan = lab.ns("pc_a"), lab.ns("wan")
        lab.ip(wan, "link", "add", "br0", "type", "bridge")
        lab.ip(wan, "link", "set", "br0", "up")
        enc = netlab.QemuEncryptor(lab, "a", netlab.sel4_build(), pc_a, wan, "br0",
                                   ready_lines=("crypto: refusing to start", "net_red: refusing to start"))
        console = enc.stop()
    assert "memory_region crypto_config: boot module 1 missing" in console, console[-3000:]
    assert re.search(r"crypto: refusing to start: no config", console), console[-3000:]
    assert "FATAL" not in console and "FAULT" not in console, console[-3000:]

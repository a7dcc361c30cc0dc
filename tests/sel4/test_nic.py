"""The NIC PDs on seL4 in QEMU, against a TAP device in a namespace the test creates.

For each emulated NIC (e1000, e1000e, igb with MSI-X, virtio-net), a system of two PDs (tests/sel4/nic-<nic>.xml): the NIC PD and a
responder PD on its ring link "net" (ARP, ICMP echo, UDP counting). QEMU runs inside the
namespace (`ip netns exec`), so its TAP device appears there; the namespace side gets
10.77.0.1/24 and the responder is 10.77.0.2. Checked:
- ping from the namespace gets replies;
- 10,000 UDP datagrams from the namespace are all counted by the responder, or each loss is
  accounted for by a counter (the TAP device's transmit drops, the NIC's missed frames, the NIC
  PD's drops by reason);
- the 1,000 frames the responder sends back after the end marker all arrive in the namespace
  (counted with a packet socket);
- the e1000/e1000e PD moved every frame without a copy (its counters), virtio-net with one.
Every test removes its namespace and QEMU, pass or fail.
"""
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "support/lib"))
import netlab  # noqa: E402
from sel4_qemu import QEMU_BASE, ROOT  # noqa: E402

# The responder's addresses (tests/pds/src/bin/nic_responder.rs).
PD_MAC = "52:54:00:4e:49:43"
PD_ADDR = "10.77.0.2"
NS_ADDR = "10.77.0.1"
UDP_FRAMES = 10_000
BURST = 1000
# QEMU device per NIC PD system.
NICS = {"e1000": "e1000", "e1000e": "e1000e", "igb": "igb", "virtio": "virtio-net-pci,disable-legacy=on"}
# The NIC PDs whose NIC reads and writes the ring slots directly (see protection-domains/nic).
ZERO_COPY = {"e1000", "e1000e", "igb"}

SEND_UDP = r"""
import socket, sys, time
count, addr, pace = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "paced"
size = int(sys.argv[4]) if len(sys.argv) > 4 else 64
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes(i % 256 for i in range(size))
sent = 0
deadline = time.time() + 60
for i in range(count):
    while time.time() < deadline:
        try:
            s.sendto(i.to_bytes(4, "big") + payload, (addr, 9000))
            sent += 1
            break
        except BlockingIOError:
            time.sleep(0.001)
    # Paced: 100 frames, then a pause, so that QEMU keeps up and the TAP queue rarely overflows.
    if pace and i % 100 == 99:
        time.sleep(0.004)
time.sleep(0.5)
s.sendto(b"end", (addr, 9001))
print("sent", sent, flush=True)
"""

# Counts the frames the PD sends to UDP port 9002, with a packet socket on the TAP device.
CAPTURE = r"""
import socket, sys, time
iface, want, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((iface, 0))
s.settimeout(0.2)
print("listening", flush=True)
seen = set()
first = last = None
deadline = time.time() + timeout
while len(seen) < want and time.time() < deadline:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    ip = frame[14:]
    if len(ip) >= 36 and ip[9] == 17 and ip[12:16] == bytes([10, 77, 0, 2]) and ip[22:24] == (9002).to_bytes(2, "big"):
        seen.add(int.from_bytes(ip[28:36], "big"))
        last = time.monotonic()
        first = first or last
# One string, one write: under `python -u` print() writes each argument on its own, and a reader
# could see "captured N" before the rest of the line.
print(f"captured {len(seen)} seconds {(last - first) if first else 0}", flush=True)
"""


def build_nic_system(nic, kernel="debug"):
    """Builds tests/sel4/nic-<nic>.xml (kernel, NIC and test PDs, root task) on the debug or
    release kernel configuration."""
    out = ROOT / f"build/sel4/nic-{nic}" if kernel == "debug" else ROOT / f"build/sel4/nic-{nic}-{kernel}"
    env = dict(os.environ, SEL4_KERNEL=kernel)
    netlab.run([str(ROOT / "platforms/sel4/build"), str(HERE / f"nic-{nic}.xml"), str(out)], env=env, timeout=1800)
    return out


class NicBoot:
    """QEMU booting a NIC system inside a fresh namespace of `lab`, its TAP device addressed."""

    def __init__(self, lab, nic, build, machine="pc"):
        self.lab = lab
        self.ns = lab.ns("n")
        self.tap = f"{lab.prefix}t"[:15]
        device = NICS[nic]
        base = list(QEMU_BASE)
        port = []
        if machine in ("q35", "q35-no-iommu", "q35-port"):
            at = base.index("-machine")
            base[at:at + 2] = netlab.QEMU_MACHINE_WITHOUT_IOMMU if machine == "q35-no-iommu" else netlab.QEMU_MACHINE
        if machine == "q35-port":
            # Behind a PCIe root port, as the box's NICs are: INTx swizzled to the port's pin.
            port = ["-device", "pcie-root-port,id=rp1,chassis=1,slot=1"]
            device += ",bus=rp1"
        cmd = base + port + [
            "-kernel", str(build / "kernel32.elf"), "-initrd", str(build / "roottask"),
            "-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
            "-device", f"{device},netdev=n0,mac={PD_MAC}",
        ]
        self.qemu = lab.spawn(self.ns, cmd, f"qemu-{nic}.log")
        deadline = time.time() + 20
        while lab.ip(self.ns, "link", "show", self.tap, check=False).returncode != 0:
            if time.time() > deadline or self.qemu.poll() is not None:
                raise RuntimeError(f"no TAP device {self.tap}:\n{self.console()}")
            time.sleep(0.05)
        lab.ip(self.ns, "addr", "add", f"{NS_ADDR}/24", "dev", self.tap)
        lab.ip(self.ns, "link", "set", self.tap, "up")
        # The igb link comes up when auto-negotiation ends (QEMU: 500 ms after the driver starts it).
        netlab.wait_for_line(self.qemu, r"(?m)^nic: (.* )?link up", 60)

    def console(self):
        with open(self.qemu.log_path, errors="replace") as f:
            return f.read().replace("\r", "")

    def results(self):
        return dict(re.findall(r"^RESULT (\S+) (\S+)\s*$", self.console(), re.M))

    def tap_stats(self):
        """The TAP device's counters (`ip -s -j`): what the namespace sent toward QEMU and dropped."""
        info = json.loads(self.lab.ip(self.ns, "-s", "-j", "link", "show", "dev", self.tap).stdout)[0]
        return info["stats64"]

    def udp_run(self, count, paced=True, timeout=120, payload=64):
        """Sends `count` datagrams to port 9000 and the end marker; waits for the responder's
        burst to be sent. Returns (results, TAP transmit drops during the run, burst frames
        captured, seconds from the first to the last of them)."""
        capture = netlab.spawn_python(self.lab, self.ns, CAPTURE, self.tap, BURST, timeout, log_name="capture.log")
        netlab.wait_for_line(capture, r"listening", 10)
        dropped_before = self.tap_stats()["tx"]["dropped"]
        sender = netlab.run_python(self.lab, self.ns, SEND_UDP, count, PD_ADDR, "paced" if paced else "fast", payload,
                                   timeout=timeout)
        assert f"sent {count}" in sender.stdout, sender.stdout
        dropped = self.tap_stats()["tx"]["dropped"] - dropped_before
        netlab.wait_for_line(self.qemu, r"RESULT nic_responder_burst_sent", 60)
        text = netlab.wait_for_line(capture, r"captured \d+ seconds \S+\n", timeout + 10)
        m = re.search(r"captured (\d+) seconds (\S+)", text)
        return self.results(), dropped, int(m.group(1)), float(m.group(2))


# Every NIC on the debug kernel on the pc machine (no IOMMU); e1000 (INTx routed by ACPI: on the
# root bus and behind a PCIe root port) and the MSI NICs also on q35 with VT-d (netlab.QEMU_MACHINE,
# the product's machine: each NIC's DMA confined to its io_address_space), e1000e on the release
# kernel (the product's).
SYSTEMS = [(nic, "debug", "pc") for nic in sorted(NICS)] + [("e1000", "debug", "q35"), ("e1000", "debug", "q35-port"),
                                                             ("igb", "debug", "q35"), ("virtio", "debug", "q35"),
                                                             ("e1000e", "release", "q35")]


@pytest.fixture(scope="module", params=SYSTEMS, ids=lambda p: "-".join(p))
def nic_system(request):
    nic, kernel, machine = request.param
    return nic, build_nic_system(nic, kernel), machine


def test_nic_pd_ping_udp_and_burst(nic_system):
    nic, build, machine = nic_system
    with netlab.Lab("nq") as lab:
        boot = NicBoot(lab, nic, build, machine)
        if machine in ("q35", "q35-port"):
            # All of the NIC's DMA below goes through its IO space: its buffers, and the ring
            # slots where it lends them to the NIC (zero-copy).
            view = " nic_to_stack_data 0x\\w+\\+0x80000 rw stack_to_nic_data 0x\\w+\\+0x80000 r" if nic in ZERO_COPY else ""
            assert re.search(r"^root: iommu: PCI \S+ \(PD nic\) domain 1: nic_dma 0x\w+\+0x110000 rw" + view + "$",
                             boot.console(), re.M), boot.console()[-3000:]
        if nic == "e1000":
            # INTx (the 82540EM has no MSI). On q35 the line register holds what firmware set up
            # for the legacy PIC; the IOAPIC input comes from the root bridge's ACPI _PRT (the
            # ICH9's PIRQ links, GSI 16..23). The pc machine's PIIX links compute their _CRS in a
            # way the AML interpreter does not follow: the line register, said so.
            want = (r"PCI 00:\S+ INTA -> GSI (1[6-9]|2[0-3]) \(level, active high; ACPI \\_SB_\.PCI0\._PRT device 0x\w+ INTA\)"
                    if machine == "q35" else
                    # The port is 00:02.0: its INTA, which QEMU's q35 takes to PIRQG, GSI 22.
                    r"PCI 01:00\.0 INTA -> GSI 22 \(level, active high; ACPI \\_SB_\.PCI0\._PRT device 0x2 INTA\)"
                    if machine == "q35-port" else r"PCI 00:\S+ INTA: no ACPI route \(.*\); taking the interrupt line register \(11\) as the IOAPIC pin")
            assert re.search(rf"^root: PD nic: {want}$", boot.console(), re.M), boot.console()[-3000:]
        ping = lab.exec(boot.ns, ["ping", "-c", "5", "-i", "0.2", "-W", "2", PD_ADDR], check=False, timeout=30)
        replies = int(re.search(r"(\d+) received", ping.stdout).group(1))
        assert replies == 5, f"{ping.stdout}\n{boot.console()[-3000:]}"

        results, tap_dropped, captured, _ = boot.udp_run(UDP_FRAMES)
        counted = int(results["nic_responder_udp_frames"])
        nic_losses = sum(int(results.get(f"nic_{name}", 0)) for name in (
            "hw_rx_missed", "rx_errors", "rx_oversize", "drop_rx_ring_full", "drop_rx_oversize", "drop_ring_error"))
        print(f"{nic}: counted {counted} of {UDP_FRAMES}, TAP dropped {tap_dropped}, NIC/PD losses {nic_losses}, "
              f"burst captured {captured}, rx pps in the PD {results.get('nic_responder_udp_pps')}")
        assert counted + tap_dropped + nic_losses == UDP_FRAMES, boot.console()[-3000:]
        assert counted > 0
        assert int(results["nic_responder_echo_replies"]) >= 5
        assert int(results["nic_responder_burst_sent"]) == BURST
        assert captured == BURST
        assert int(results["nic_responder_ring_errors"]) == 0
        # The e1000 and igb PDs lend ring slots to the NIC both ways (no copy); virtio-net copies (its
        # driver puts a header in the frame's buffer). A copy creeping back fails here.
        rx_zc, rx_copied = int(results["nic_rx_zero_copy"]), int(results["nic_rx_copied"])
        tx_zc, tx_copied = int(results["nic_tx_zero_copy"]), int(results["nic_tx_copied"])
        if nic in ZERO_COPY:
            assert (rx_copied, tx_copied) == (0, 0), results
            # (The counters are printed when the burst is queued, before most of it is sent.)
            assert rx_zc >= counted and tx_zc > 0, results
            assert "receive: zero-copy" in boot.console() and "transmit: zero-copy" in boot.console()
        else:
            assert (rx_zc, tx_zc) == (0, 0), results
            assert rx_copied >= counted and tx_copied > 0, results
        assert not re.search(r"PANIC|FAULT|FATAL", boot.console())

"""DMA isolation with VT-d (issue 16): a NIC reaches its own driver's DMA regions and nothing else.

tests/sel4/system-dma-escape.xml's dma_escape PD programs its e1000e to send from and receive into
a region outside the device's io_address_space. The NIC's network backend is a Unix datagram socket
that this test holds: what the NIC sends arrives here, and this test keeps sending it
frames to receive. On q35 with QEMU's intel-iommu the escape must fail (the kernel reports the
faults) while the NIC's legitimate DMA works; on the same machine without an IOMMU the escape must
succeed, so that the test can fail.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from conftest import build
from sel4_qemu import QEMU_BASE, ROOT, Boot

XML = ROOT / "tests/sel4/system-dma-escape.xml"
SECRET = (ROOT / "tests/sel4/dma-escape-victim.bin").read_bytes()[:40]
HOST_FRAME = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x99" + b"\x88\xb5" + b"HOST-FRAME" + bytes(range(50))


def q35(iommu):
    """QEMU_BASE's machine turned into q35 (PCIe), with or without QEMU's VT-d model."""
    base = list(QEMU_BASE)
    base[base.index("pc")] = "q35"
    return base + (["-device", "intel-iommu,intremap=off"] if iommu else [])


def boot_escape(build_dir, iommu, timeout=120):
    """Boots the escape system with the e1000e on a Unix datagram socket backend; returns the console and
    every frame the NIC sent."""
    # Unix datagram sockets in a fresh directory: the paths are ours alone (a UDP port picked by
    # binding and closing could be taken by another program before QEMU binds it).
    where = tempfile.mkdtemp(prefix="encryptor-iommu-")
    here, qemu_side = os.path.join(where, "test.sock"), os.path.join(where, "qemu.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(here)
    sock.settimeout(0.02)
    cmd = q35(iommu) + ["-kernel", str(build_dir / "kernel32.elf"), "-initrd", str(build_dir / "roottask"),
                        "-netdev", f"dgram,id=n0,local.type=unix,local.path={qemu_side},remote.type=unix,remote.path={here}",
                        "-device", "e1000e,netdev=n0"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    out = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    sent = []
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            # A frame every 20 ms for the NIC to receive, once the PD has enabled its receiver.
            # Until the NIC's receiver is on, QEMU stops reading its socket and the kernel queues
            # a few frames for it (net.unix.max_dgram_qlen), then refuses more
            # (the socket's timeout makes Python wait on that refusal: TimeoutError).
            try:
                sock.sendto(HOST_FRAME, qemu_side)
            except (BlockingIOError, TimeoutError):
                pass
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.02)  # QEMU has not made its socket yet
            try:
                while True:
                    sent.append(sock.recv(4096))
            except (socket.timeout, BlockingIOError):
                pass
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(10)
        sock.close()
        shutil.rmtree(where, ignore_errors=True)
    text = (out[0] if out else b"").decode("utf-8", "replace").replace("\r", "")
    return Boot(proc.returncode, text, time.monotonic() >= deadline), sent


def test_a_nic_cannot_dma_outside_its_io_address_space_and_can_without_an_iommu():
    d = build(XML, ROOT / "build/sel4/system-dma-escape")

    boot, frames = boot_escape(d, iommu=True)
    r = boot.results
    assert re.search(r"^root: iommu: VT-d on \(\d-level IO page tables\)", boot.log, re.M), boot.describe()
    assert re.search(r"^root: iommu: PCI 00:0\w\.0 \(PD dma_escape\) domain 1: dma 0x[0-9a-f]+\+0x4000 rw$", boot.log, re.M), boot.describe()
    assert r.get("escape_link") == "up" and r.get("escape_done") == "yes", boot.describe()
    # Its own region works both ways.
    assert r.get("escape_tx_legit") == "sent" and any(b"LEGIT-FRAME-FROM-MY-OWN-DMA-REGION" in f for f in frames), boot.describe()
    assert r.get("escape_rx_legit") == "ok", boot.describe()
    # The victim: never on the wire, never written, and the kernel says why.
    assert not any(SECRET[:16] in f for f in frames), "the victim's bytes left on the wire with the IOMMU on"
    assert r.get("escape_victim") == "intact", boot.describe()
    assert re.search(r"IOMMU: DMA read page fault from bus/dev/fun 0x\w+ on address 0x0:" + r.get("escape_victim_phys", "x")[2:],
                     boot.log), boot.describe()
    assert re.search(r"IOMMU: DMA write page fault", boot.log), boot.describe()
    assert r.get("notify") == "ok", "the other PDs must run on"

    # The same image without an IOMMU (iommu="optional"): the escape works, so the checks above can fail.
    boot, frames = boot_escape(d, iommu=False)
    assert "iommu: the kernel found no IOMMU" in boot.log and "device DMA is NOT confined" in boot.log, boot.describe()
    assert any(SECRET[:16] in f for f in frames), boot.describe()
    assert boot.results.get("escape_victim") == "overwritten", boot.describe()


def test_a_system_that_requires_the_iommu_refuses_to_start_without_one():
    required = ROOT / "build/sel4/system-dma-escape-required.xml"
    required.parent.mkdir(parents=True, exist_ok=True)
    text = XML.read_text().replace('iommu="optional"', 'iommu="required"')
    assert text != XML.read_text()
    required.write_text(text.replace('fill="dma-escape-victim.bin"', f'fill="{ROOT / "tests/sel4/dma-escape-victim.bin"}"'))
    d = build(required, ROOT / "build/sel4/system-dma-escape-required")
    boot, frames = boot_escape(d, iommu=False, timeout=60)
    assert re.search(r"iommu: the kernel found no IOMMU .*system.xml requires it \(iommu=\"required\"\) for 1 devices: not starting",
                     boot.log), boot.describe()
    assert "started PD" not in boot.log and "RESULT" not in boot.log, boot.describe()
    assert frames == []

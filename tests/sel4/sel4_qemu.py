"""Helpers of the seL4 boot tests: bounded QEMU runs and what their console says."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "support" / "lib"))
import netlab  # noqa: E402
SYSTEM_XML = ROOT / "tests/sel4/system-test.xml"
BUILD_DIR = ROOT / "build/sel4/system-test"
QEMU_BASE = [
    "qemu-system-x86_64", "-machine", "pc", "-cpu", netlab.SEL4_CPU, "-m", "512",
    # COM1 is the console; COM2 exists (to nothing) for the I/O-port test PD.
    "-nographic", "-serial", "stdio", "-serial", "null", "-monitor", "none", "-nic", "none", "-no-reboot",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
]
# QEMU exit status when the root task wrote 0 to isa-debug-exit: (0 << 1) | 1.
EXIT_IDLE = 1


def run_qemu(args, timeout=120):
    """Runs QEMU with `args` until it exits or `timeout` seconds pass; always kills it."""
    proc = subprocess.Popen(QEMU_BASE + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    # The kernel's debug putchar ends lines with "\n\r".
    text = out.decode("utf-8", "replace").replace("\r", "")
    return Boot(proc.returncode, text, timed_out)


class Boot:
    """The console output of one boot and what it says."""

    def __init__(self, status, log, timed_out):
        self.status = status
        self.log = log
        self.timed_out = timed_out
        self.results = dict(re.findall(r"^RESULT (\S+) (\S+)\s*$", log, re.M))
        self.faults = [dict(re.findall(r"(\w+)=(\S+)", line))
                       for line in re.findall(r"^FAULT .*$", log, re.M)]
        self.pci = re.findall(r"^PCI [0-9a-f]{2}:.*$", log, re.M)

    def describe(self):
        tail = "\n".join(self.log.splitlines()[-40:])
        return f"QEMU status {self.status}, timed out: {self.timed_out}\n--- console tail ---\n{tail}"

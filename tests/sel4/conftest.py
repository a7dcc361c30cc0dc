"""Fixtures for the seL4 boot tests: build the test system once, boot it once in QEMU."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sel4_qemu import BUILD_DIR, ROOT, SYSTEM_XML, run_qemu  # noqa: E402


@pytest.fixture(scope="session")
def built_system():
    """Builds the kernel, the test PDs and the root task for tests/sel4/system-test.xml."""
    subprocess.run([str(ROOT / "support/sel4/build"), str(SYSTEM_XML), str(BUILD_DIR)],
                   check=True, timeout=1800)
    return BUILD_DIR


@pytest.fixture(scope="session")
def boot(built_system):
    """One boot of the test system by -kernel/-initrd, with an e1000 and an e1000e (no network
    backend: the NICs only need to appear on the PCI bus)."""
    return run_qemu(["-kernel", str(built_system / "kernel32.elf"),
                     "-initrd", str(built_system / "roottask"),
                     "-device", "e1000", "-device", "e1000e"])

"""Fixtures for the seL4 boot tests: build the test system once, boot it once in QEMU."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sel4_qemu import BUILD_DIR, ROOT, SYSTEM_XML, run_qemu  # noqa: E402


def build(xml, out, kernel="debug"):
    """Builds the kernel (debug or release configuration), the test PDs and the root task for
    `xml` into `out`."""
    env = dict(os.environ, SEL4_KERNEL=kernel)
    subprocess.run([str(ROOT / "platforms/sel4/build"), str(xml), str(out)], check=True, timeout=1800, env=env)
    return out


@pytest.fixture(scope="session")
def built_system():
    """The build of tests/sel4/system-test.xml."""
    return build(SYSTEM_XML, BUILD_DIR)


@pytest.fixture(scope="session")
def built_concurrent_irq_system(built_system):
    """The build of tests/sel4/system-irq-concurrent.xml (after the main one: builds never
    overlap)."""
    return build(ROOT / "tests/sel4/system-irq-concurrent.xml", ROOT / "build/sel4/system-irq-concurrent")


@pytest.fixture(scope="session")
def boot(built_system):
    """One boot of the test system by -kernel/-initrd, with an e1000 and an e1000e (no network
    backend: the NICs only need to appear on the PCI bus)."""
    return run_qemu(["-kernel", str(built_system / "kernel32.elf"),
                     "-initrd", str(built_system / "roottask"),
                     "-device", "e1000", "-device", "e1000e"])


@pytest.fixture(scope="session")
def built_handover_irq_system(built_system):
    """The build of tests/sel4/system-irq-handover.xml."""
    return build(ROOT / "tests/sel4/system-irq-handover.xml", ROOT / "build/sel4/system-irq-handover")

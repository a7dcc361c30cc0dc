"""`support/image TARGET`, the one build command per product image that the README and
docs/hardware.md print: every target builds, each ISO holds the kernel, the root task and a GRUB
menu, and no config (the ISO carries no key unless built with --config)."""
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def iso_files(iso):
    p = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/", "-type", "f"], capture_output=True, text=True,
                       check=True)
    return {line.strip().strip("'") for line in p.stdout.splitlines() if line.startswith("'/")}


@pytest.mark.parametrize("target, system", [("qemu", "system.xml"), ("box", "box/system.xml"),
                                            ("box-10g", "box/system-10g.xml"), ("box-ixgbe", "box/system-ixgbe.xml")])
def test_the_image_command_builds_an_iso_without_keys(target, system):
    p = subprocess.run([str(ROOT / "support/image"), target], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr[-3000:]
    iso = Path(p.stdout.strip().splitlines()[-1])
    assert iso == ROOT / "build" / "image" / target / "image.iso"
    assert f"building the {target} image from {system}" in p.stderr, p.stderr
    files = iso_files(iso)
    assert {"/boot/kernel.elf", "/boot/roottask", "/boot/grub/grub.cfg"} <= files, files
    assert "/boot/encryptor.conf" not in files, "a config (with its key) in the product ISO"
    assert (iso.parent / "kernel32.elf").exists() and (iso.parent / "roottask").exists()


def test_an_unknown_target_is_refused_with_the_list():
    p = subprocess.run([str(ROOT / "support/image"), "raspberry"], capture_output=True, text=True)
    assert p.returncode == 2
    assert "qemu" in p.stderr and "box" in p.stderr, p.stderr

"""The crypto PD, with boringtun (patched by support/boringtun/no-std.patch) and ring, links as a
freestanding static ELF: no C library and no operating system underneath, as on seL4.

Runs support/boringtun/check-nostd, which fails on any undefined symbol."""

import os
import shutil
import subprocess

import pytest

import netlab


def test_crypto_pd_links_freestanding():
    missing = [tool for tool in ("cargo", "cc", "nm", "readelf", "git") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    check = os.path.join(netlab.ROOT, "support", "boringtun", "check-nostd")
    r = subprocess.run([check], cwd=netlab.ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"check-nostd failed:\n{r.stderr[-3000:]}"
    elf = r.stdout.strip().splitlines()[-1]
    assert os.path.isfile(elf)

"""System tests: network namespaces, TAP devices, encryptor-host processes.

They need root (namespaces, TAP devices) and the release binary, which
`support/test` builds before it runs pytest. Every test builds its topology in
`with netlab.Lab(...)`, so namespaces and processes are removed pass or fail.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "support", "lib"))

import netlab  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="system tests need root (network namespaces, TAP devices): "
                                       "run them as root, e.g. through support/test")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def encryptor_host():
    """The release binary; the tests do not build it (support/test does)."""
    if not os.access(netlab.HOST_BIN, os.X_OK):
        pytest.fail(f"{netlab.HOST_BIN} is missing: build it first with "
                    f"`cargo build --release -p encryptor-host` (support/test does)", pytrace=False)
    return netlab.HOST_BIN

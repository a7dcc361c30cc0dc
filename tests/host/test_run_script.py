"""netlab.run_script, which the tests use to run the project's own commands (support/demo,
support/bench...): a command stopped at its timeout takes down what it started. subprocess.run
would kill the command alone, and its QEMUs, namespaces and key-holding temp dirs would stay for
every later test to trip over."""

import os
import subprocess
import sys

import pytest

import netlab

# A command that makes a lab (a namespace, a process in it in a session of its own), says what
# they are, and waits. Not in a `with` (support/bench keeps labs in objects): it is the signal
# handler netlab installs in the command that tears them down.
SCRIPT = """
import sys, time
sys.path.insert(0, {lib!r})
import netlab
lab = netlab.Lab("rs")
ns = lab.ns("x")
p = lab.spawn(ns, ["sleep", "300"], "sleep.log")
print(ns, p.pid, lab.tmp, flush=True)
time.sleep(300)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
def test_a_command_stopped_at_its_timeout_leaves_nothing_behind(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(SCRIPT.format(lib=os.path.join(netlab.ROOT, "support", "lib")))
    with pytest.raises(subprocess.TimeoutExpired) as stopped:
        netlab.run_script([sys.executable, str(path)], timeout=10)
    ns, pid, tmp = stopped.value.output.split()
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not alive(int(pid)), "the process the command started still runs"
    assert not os.path.exists(tmp), "the command's temp dir is still there"


def test_the_pytest_process_itself_keeps_its_sigterm_handling():
    import signal
    before = signal.getsignal(signal.SIGTERM)
    with netlab.Lab("rt"):
        assert signal.getsignal(signal.SIGTERM) == before


def test_a_command_that_ends_in_time_is_run_as_subprocess_run_runs_it():
    p = netlab.run_script([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                          timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")

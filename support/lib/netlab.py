"""Test topologies in network namespaces: the encryptor demo and its tests.

Everything here runs only inside namespaces this module creates (their names
carry a per-run prefix), and `Lab.close()` removes every namespace and process
it made, pass or fail. Addresses are the documentation ranges of the demo
configs (10.1.0.0/24, 10.2.0.0/24, fd00:1::/64, fd00:2::/64, 192.0.2.0/24);
they exist only inside these namespaces.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# ENCRYPTOR_HOST_BIN overrides the binary (e.g. one built in another target directory).
HOST_BIN = os.environ.get("ENCRYPTOR_HOST_BIN") or os.path.join(ROOT, "target", "release", "encryptor-host")
# ENCRYPTOR_SYSTEM_XML overrides the system description (e.g. to run a binary against
# the description it was built with).
SYSTEM_XML = os.environ.get("ENCRYPTOR_SYSTEM_XML") or os.path.join(ROOT, "system.xml")
GEN_CONFIGS = os.path.join(ROOT, "support", "gen-demo-configs")

# The demo addressing (must match support/gen-demo-configs).
SITES = {
    "a": {"red_gw": "10.1.0.1", "pc": "10.1.0.2", "net": "10.1.0.0/24", "gw6": "fd00:1::1", "pc6": "fd00:1::2",
          "net6": "fd00:1::/64", "black": "192.0.2.1"},
    "b": {"red_gw": "10.2.0.1", "pc": "10.2.0.2", "net": "10.2.0.0/24", "gw6": "fd00:2::1", "pc6": "fd00:2::2",
          "net6": "fd00:2::/64", "black": "192.0.2.2"},
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, check=True, **kw):
    """Runs a command (a list), returning CompletedProcess with text output."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
    return p


def wait_unchanged(read, quiet, seconds):
    """Waits until `read()` has returned the same value for `quiet` seconds (a queue drained, a
    counter settled), at most `seconds`; returns the last value."""
    deadline = time.time() + seconds
    last, since = read(), time.time()
    while time.time() < deadline:
        time.sleep(quiet / 5)
        now = read()
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            break
    return last


class Lab:
    """A set of namespaces and processes that is torn down as a whole."""

    def __init__(self, tag):
        # Short, unique per run: namespace and interface names must not clash with
        # other runs (wireguard-go's control sockets are global to the machine).
        self.prefix = f"{tag}{os.getpid() % 10000}"
        _OPEN_LABS.append(self)
        # In a command run_script runs: a SIGTERM (its timeout) tears the labs down first.
        if os.environ.get(_CLEAN_UP_ON_SIGTERM) and threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _close_labs_and_exit)
        self.namespaces = []
        self.procs = []
        # Files outside tmp that the lab's processes leave behind (wireguard-go's control socket
        # in /var/run/wireguard: killed with SIGKILL, it cannot remove it), removed at close.
        self.sockets = []
        self.tmp = tempfile.mkdtemp(prefix=f"encryptor-{tag}-")

    def ns(self, name):
        full = f"{self.prefix}-{name}"
        run(["ip", "netns", "add", full])
        self.namespaces.append(full)
        run(["ip", "-n", full, "link", "set", "lo", "up"])
        return full

    def ip(self, ns, *args, check=True):
        return run(["ip", "-n", ns, *args], check=check)

    def exec(self, ns, cmd, check=True, timeout=60):
        return run(["ip", "netns", "exec", ns, *cmd], check=check, timeout=timeout)

    def spawn(self, ns, cmd, log_name):
        """Starts a long-running process in `ns` with output to a log file."""
        path = os.path.join(self.tmp, log_name)
        f = open(path, "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        p.log_path = path
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGINT, timeout=10):
        """Stops a process (its whole session), returning its log text."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
                p.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        with open(p.log_path) as f:
            return f.read()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for ns in reversed(self.namespaces):
            # Kill anything still running inside (iperf3 daemons...), then delete.
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            p = run(["ip", "netns", "del", ns], check=False)
            if p.returncode != 0:
                # Said, not raised: the rest must still go. A later lab of this process with the
                # same tag would then fail at `ip netns add`, and this line says why.
                print(f"netlab: ip netns del {ns} failed: {p.stderr.strip()}", file=sys.stderr)
        self.namespaces.clear()
        for path in self.sockets:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.sockets.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _OPEN_LABS:
            _OPEN_LABS.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The labs made and not yet closed in this process, and the variable run_script sets for the
# commands it runs.
_OPEN_LABS = []
_CLEAN_UP_ON_SIGTERM = "NETLAB_CLEAN_UP_ON_SIGTERM"


def _close_labs_and_exit(signum, frame):
    """SIGTERM in a command run_script runs: every open lab is torn down (its namespaces, the
    processes it started in their own sessions, its temp dir), then the command exits."""
    for lab in reversed(list(_OPEN_LABS)):
        lab.close()
    raise SystemExit(128 + signum)


def run_script(argv, timeout, **kwargs):
    """Runs a project command (support/demo, support/bench...) to its end, as subprocess.run with
    capture_output and text would. On a timeout (or an exception here, Ctrl-C included) the
    command's whole process group gets SIGTERM, on which its labs tear themselves down (the
    processes they started in sessions of their own included), SIGKILL 30 s later if anything
    is left; then TimeoutExpired (or the exception) is raised: nothing the command started
    outlives the test."""
    env = dict(kwargs.pop("env", None) or os.environ)
    env[_CLEAN_UP_ON_SIGTERM] = "1"
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=env, **kwargs)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException as e:
        out, err = _stop_group(p)
        if isinstance(e, subprocess.TimeoutExpired):
            raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err) from None
        raise
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def _stop_group(p):
    """SIGTERM to `p`'s process group, SIGKILL 30 s later if it has not ended; its output."""
    out, err = "", ""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            out, err = p.communicate(timeout=30)
            break
        except subprocess.TimeoutExpired:
            continue
    return out, err


def wait_for_line(p, pattern, timeout):
    """Waits until the process log has a line matching `pattern`."""
    deadline = time.time() + timeout
    rx = re.compile(pattern)
    while time.time() < deadline:
        with open(p.log_path) as f:
            text = f.read()
        if rx.search(text):
            return text
        if p.poll() is not None:
            raise RuntimeError(f"process ended early ({p.returncode}):\n{text}")
        time.sleep(0.05)
    raise TimeoutError(f"no line matching {pattern!r} within {timeout}s")


def wait_for_uapi(sock, proc, seconds=10):
    """Waits until a userspace WireGuard (`proc`: wireguard-go, boringtun-cli) accepts
    connections on its control socket `sock`. The file appears at bind(), before listen(): a
    `wg` run in between has its connect refused, takes the socket for a stale one, deletes it
    and falls back to the kernel's netlink ("Unable to modify interface: Protocol not
    supported"). Seen once when QEMU kept both cores busy while wireguard-go started."""
    deadline = time.time() + seconds
    while True:
        if proc.poll() is not None or time.time() > deadline:
            with open(proc.log_path) as f:
                raise RuntimeError(f"the userspace WireGuard for {sock} did not start:\n{f.read()}")
        if os.path.exists(sock):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sock)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)


def parse_counters(text):
    """`counter <pd>.<name> <value>` lines from encryptor-host's exit report."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^counter (\S+) (\d+)$", text, re.M)}


def ping(lab, ns, addr, count=3, wait=2, timeout=30):
    """True if at least one echo reply came back."""
    p = lab.exec(ns, ["ping", "-c", str(count), "-W", str(wait), "-i", "0.2", addr], check=False, timeout=timeout)
    return p.returncode == 0


def arp_unresolved_discards():
    """Packets the kernel dropped because they waited for an IPv4 neighbour's address longer than
    its queue allows (/proc/net/stat/arp_cache, all CPUs; the ARP table's statistics are not per
    namespace, so take differences while only one test sends)."""
    with open("/proc/net/stat/arp_cache") as f:
        header, *rows = (line.split() for line in f.read().splitlines())
    column = header.index("unresolved_discards")
    return sum(int(r[column], 16) for r in rows)


def ping_until(lab, ns, addr, seconds=15):
    """Pings once a second until a reply (the first packets start the handshake)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ping(lab, ns, addr, count=1, wait=1):
            return True
    return False


# A burst of ICMP echo requests, then every reply waited for (up to a deadline, however late):
# prints how many came back, and which sequence numbers were missing or answered twice.
ECHO_BURST = r"""
import os, select, socket, struct, sys, time
dst, count, gap, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff

def echo(seq):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"burst" * 8
    total = sum(struct.unpack("!%dH" % (len(body) // 2), body))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return body[:2] + struct.pack("!H", ~total & 0xffff) + body[4:]

seen = {}
def drain(wait):
    while select.select([s], [], [], wait)[0]:
        data = s.recv(2048)
        icmp = data[(data[0] & 0xf) * 4:]
        if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
            seq = struct.unpack("!H", icmp[6:8])[0]
            seen[seq] = seen.get(seq, 0) + 1
        wait = 0
for seq in range(1, count + 1):
    s.sendto(echo(seq), (dst, 0))
    drain(gap)
end = time.time() + deadline
while len(seen) < count and time.time() < end:
    drain(0.2)
drain(0.5)  # duplicates of the last ones
missing = [q for q in range(1, count + 1) if q not in seen]
doubled = [q for q, n in seen.items() if n > 1]
print(f"received {len(seen)} of {count} missing {missing} doubled {doubled}", flush=True)
"""


class HostEncryptor:
    """One encryptor-host process with its red and black TAP devices."""

    def __init__(self, lab, site, config, red_ns, black_ns, black_bridge, system=None):
        self.lab, self.site = lab, site
        self.ns = lab.ns(f"enc_{site}")
        self.red_tap = f"{lab.prefix}{site}r"
        self.black_tap = f"{lab.prefix}{site}k"
        for tap in (self.red_tap, self.black_tap):
            lab.ip(self.ns, "tuntap", "add", "dev", tap, "mode", "tap")
        self.proc = lab.spawn(self.ns, [HOST_BIN, "--config", config, "--red", self.red_tap, "--black",
                                        self.black_tap, "--system", system or SYSTEM_XML], f"enc_{site}.log")
        wait_for_line(self.proc, r"encryptor-host: ready", 20)
        # The TAP devices stay attached to the process while they move to the
        # namespaces of the PC (red) and of the WAN bridge (black).
        lab.ip(self.ns, "link", "set", self.red_tap, "netns", red_ns)
        lab.ip(self.ns, "link", "set", self.black_tap, "netns", black_ns)
        lab.ip(black_ns, "link", "set", self.black_tap, "master", black_bridge, "up")

    def stop(self):
        """Stops the process; returns (log text, counters)."""
        text = self.lab.stop(self.proc)
        return text, parse_counters(text)


def setup_pc(lab, ns, dev, site, peer_site, mtu=None):
    """A PC as it comes: its link's own MTU (1500 on the TAP devices), its addresses and routes
    to the other site through the encryptor. `mtu` sets another MTU (benchmarks compare)."""
    s, o = SITES[site], SITES[peer_site]
    if mtu:
        lab.ip(ns, "link", "set", dev, "mtu", str(mtu))
    lab.ip(ns, "link", "set", dev, "up")
    lab.ip(ns, "addr", "add", f"{s['pc']}/24", "dev", dev)
    lab.ip(ns, "addr", "add", f"{s['pc6']}/64", "dev", dev, "nodad")
    lab.ip(ns, "route", "add", o["net"], "via", s["red_gw"])
    lab.ip(ns, "-6", "route", "add", o["net6"], "via", s["gw6"])


def make_configs(lab):
    out = os.path.join(lab.tmp, "configs")
    run([GEN_CONFIGS, out])
    return os.path.join(out, "enc_a.conf"), os.path.join(out, "enc_b.conf")


def host_topology(lab, configs=None, pc_mtu=None, system=None):
    """pc_a — enc_a — wan — enc_b — pc_b with two host encryptors (of `system`, else
    system.xml); the PCs keep their links' MTU (1500) unless `pc_mtu` says otherwise. Returns a
    dict of namespaces and encryptors."""
    cfg_a, cfg_b = configs or make_configs(lab)
    pc_a, wan, pc_b = lab.ns("pc_a"), lab.ns("wan"), lab.ns("pc_b")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    enc_a = HostEncryptor(lab, "a", cfg_a, pc_a, wan, "br0", system=system)
    enc_b = HostEncryptor(lab, "b", cfg_b, pc_b, wan, "br0", system=system)
    setup_pc(lab, pc_a, enc_a.red_tap, "a", "b", mtu=pc_mtu)
    setup_pc(lab, pc_b, enc_b.red_tap, "b", "a", mtu=pc_mtu)
    return {"pc_a": pc_a, "pc_b": pc_b, "wan": wan, "enc_a": enc_a, "enc_b": enc_b}


def tcp_syn_mss(frames):
    """(source address, MSS) of every TCP SYN (and SYN-ACK) in Ethernet `frames`."""
    import ipaddress
    out = []
    for f in frames:
        ethertype = int.from_bytes(f[12:14], "big")
        ip = f[14:]
        if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            src, tcp = str(ipaddress.IPv4Address(ip[12:16])), ip[(ip[0] & 0x0F) * 4:]
        elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
            src, tcp = str(ipaddress.IPv6Address(ip[8:24])), ip[40:]
        else:
            continue
        if len(tcp) < 20 or not tcp[13] & 0x02:
            continue
        opts, i = tcp[20:(tcp[12] >> 4) * 4], 0
        while i < len(opts) and opts[i] != 0:
            if opts[i] == 1:
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            if opts[i] == 2 and opts[i + 1] == 4:
                out.append((src, int.from_bytes(opts[i + 2:i + 4], "big")))
            i += opts[i + 1]
    return out


def check_path_mtu(lab, t, seconds=3):
    """What PCs at MTU 1500 see through two encryptors whose tunnel MTU is 1420: runs the
    checks of the README's "PCs as they come" (issue: no MTU black holes) and returns what was
    observed, for the caller to assert on (the host and the seL4 tests share it):
      big_ping_v4 / big_ping_v6: `ping -s 3000` replies (IPv4: fragmented by the PC, then again
        by net_red; IPv6: packet too big, then fragmented by the PC to the tunnel MTU);
      frag_needed: the output of `ping -M do -s 1472` (ICMP "fragmentation needed", mtu 1420);
      too_big_v6: the output of `ping -6 -M do -s 1452` (ICMPv6 "packet too big", mtu 1420);
      tcp_v4_bytes / tcp_v6_bytes: iperf3 TCP through the tunnel, each way's SYNs captured;
      syn_mss_at_b / syn_mss_at_a: (source, MSS) of the SYNs seen on pc_b's and pc_a's links."""
    pc_a, pc_b = t["pc_a"], t["pc_b"]
    a, b = SITES["a"], SITES["b"]
    seen = {}
    assert ping_until(lab, pc_a, b["pc"], seconds=60), "no tunnel"
    assert ping_until(lab, pc_a, b["pc6"], seconds=30), "no tunnel for IPv6"
    # TCP first: after an ICMP error the PC knows the path MTU and would lower its MSS itself.
    cap_b = Capture(lab, pc_b, t["enc_b"].red_tap, "pc_b-syn", bpf=("tcp[tcpflags] & tcp-syn != 0 or "
                                                                     "(ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)",))
    cap_a = Capture(lab, pc_a, t["enc_a"].red_tap, "pc_a-syn", bpf=("tcp[tcpflags] & tcp-syn != 0 or "
                                                                     "(ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)",))
    seen["tcp_v4_bytes"] = iperf3(lab, pc_a, pc_b, b["pc"], seconds=seconds)[1]
    seen["tcp_v6_bytes"] = iperf3(lab, pc_a, pc_b, b["pc6"], seconds=seconds)[1]
    seen["syn_mss_at_b"] = tcp_syn_mss(cap_b.stop())
    seen["syn_mss_at_a"] = tcp_syn_mss(cap_a.stop())
    # The large IPv4 ping before the DF one: the ICMP error leaves the PC a cached path MTU, and it
    # would then fragment to fit by itself instead of net_red. IPv6 routers never fragment: the
    # first "packet too big" teaches the PC, which fragments from then on.
    seen["big_ping_v4"] = lab.exec(pc_a, ["ping", "-c", "3", "-W", "3", "-i", "0.3", "-s", "3000", b["pc"]],
                                   check=False, timeout=30).returncode == 0
    seen["frag_needed"] = lab.exec(pc_a, ["ping", "-M", "do", "-c", "1", "-W", "3", "-s", "1472", b["pc"]],
                                   check=False, timeout=30).stdout
    seen["too_big_v6"] = lab.exec(pc_a, ["ping", "-6", "-M", "do", "-c", "1", "-W", "3", "-s", "1452", b["pc6"]],
                                  check=False, timeout=30).stdout
    seen["big_ping_v6"] = lab.exec(pc_a, ["ping", "-6", "-c", "3", "-W", "3", "-i", "0.3", "-s", "3000", b["pc6"]],
                                   check=False, timeout=30).returncode == 0
    return seen


def iperf3(lab, client_ns, server_ns, server_addr, seconds=10, extra=()):
    """Runs an iperf3 TCP test; returns the received rate in Mbit/s."""
    import json
    server = lab.spawn(server_ns, ["iperf3", "-s", "-1", "--forceflush"], f"iperf3-server-{time.time_ns()}.log")
    wait_for_line(server, r"Server listening", 10)
    p = lab.exec(client_ns, ["iperf3", "-c", server_addr, "-t", str(seconds), "-J", *extra], check=False,
                 timeout=seconds + 30)
    lab.stop(server, signal.SIGTERM)
    if p.returncode != 0:
        raise RuntimeError(f"iperf3 failed: {p.stdout[-500:]} {p.stderr[-500:]}")
    result = json.loads(p.stdout)
    if "error" in result:
        raise RuntimeError(f"iperf3 to {server_addr} failed: {result['error']}")
    end = result["end"]
    if "sum_received" in end:
        return end["sum_received"]["bits_per_second"] / 1e6, end["sum_received"]["bytes"]
    return end["sum"]["bits_per_second"] / 1e6, end["sum"]["bytes"]


# --- Helpers for the system tests (captures, scripts in namespaces) -----------------


def run_python(lab, ns, code, *args, timeout=60, check=True):
    """Runs a Python snippet (`code`, with sys.argv[1:] = args) inside `ns`."""
    return lab.exec(ns, [sys.executable, "-c", code, *map(str, args)], check=check, timeout=timeout)


def spawn_python(lab, ns, code, *args, log_name):
    """Starts a Python snippet inside `ns` as a lab process (killed at lab close)."""
    return lab.spawn(ns, [sys.executable, "-u", "-c", code, *map(str, args)], log_name)


class Capture:
    """A tcpdump capture to a pcap file in the lab's directory.

        cap = Capture(lab, ns, "br0", "wan"); ...traffic...; frames = cap.stop()
    """

    def __init__(self, lab, ns, iface, name, bpf=()):
        self.lab = lab
        self.path = os.path.join(lab.tmp, f"{name}.pcap")
        # -Z root: tcpdump must still be able to write into the lab's private tmp dir.
        self.proc = lab.spawn(ns, ["tcpdump", "-n", "-i", iface, "-U", "--immediate-mode", "-s", "0", "-Z", "root",
                                   "-w", self.path, *bpf], f"tcpdump-{name}.log")
        wait_for_line(self.proc, r"listening on", 10)

    STATS = re.compile(r"(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel")

    def stop(self):
        """Stops tcpdump once it has written every frame the kernel handed its socket, and
        returns the captured frames. A frame delivered to the socket but not yet read when
        tcpdump is interrupted would be lost: a test looking for a frame would miss it, and
        one asserting a frame's absence would not see it. So tcpdump is asked for its counts
        (SIGUSR1) until all it received is captured or dropped (counted by the kernel), for at
        most 5 s; frames still to come (a guest yet to send) are the caller's to wait for."""
        deadline = time.time() + 5
        seen = 0
        while self.proc.poll() is None and time.time() < deadline:
            with open(self.proc.log_path) as f:
                counts = self.STATS.findall(f.read())
            if len(counts) > seen:
                seen = len(counts)
                captured, received, dropped = map(int, counts[-1])
                if captured + dropped >= received:
                    break
            if len(counts) == seen:
                os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(0.02)
        self.log = self.lab.stop(self.proc)
        return read_pcap(self.path)


def read_pcap(path):
    """The frames (bytes) of a classic pcap file; tolerates a cut-off last record."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    frames, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        off += 16
        if off + incl > len(data):
            break
        frames.append(data[off:off + incl])
        off += incl
    return frames


def udp_ports(frame):
    """(src port, dst port) of an Ethernet/IPv4-or-IPv6/UDP frame, else None."""
    if len(frame) < 14:
        return None
    ethertype = int.from_bytes(frame[12:14], "big")
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        hl = (ip[0] & 0x0F) * 4
        udp = ip[hl:hl + 4]
    elif ethertype == 0x86DD and len(ip) >= 44 and ip[6] == 17:
        udp = ip[40:44]
    else:
        return None
    if len(udp) < 4:
        return None
    return int.from_bytes(udp[0:2], "big"), int.from_bytes(udp[2:4], "big")


def mac_of(lab, ns, dev):
    """The MAC address (bytes) of interface `dev` in `ns`."""
    out = lab.ip(ns, "-o", "link", "show", "dev", dev).stdout
    m = re.search(r"link/ether ([0-9a-f:]{17})", out)
    if not m:
        raise RuntimeError(f"no MAC for {dev} in {ns}: {out}")
    return bytes.fromhex(m.group(1).replace(":", ""))


def neighbour_mac(lab, ns, addr):
    """The MAC (bytes) `ns` has learned for `addr`, or None."""
    out = lab.ip(ns, "neigh", "show", addr, check=False).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return bytes.fromhex(m.group(1).replace(":", "")) if m else None


# ---- seL4 encryptors in QEMU ------------------------------------------------------------

SEL4_BUILD = os.path.join(ROOT, "platforms", "sel4", "build")
# Each NIC's own MAC (QEMU's mac=, as a real NIC's EEPROM holds one; QEMU would give every NIC
# of a model the same default). The stack PDs learn it from their NIC PD's port page and answer
# with it: the config files name no MAC.
SEL4_MACS = {"a": ("02:00:00:0a:00:01", "02:00:00:0a:00:02"), "b": ("02:00:00:0b:00:01", "02:00:00:0b:00:02")}
# The lines an seL4 encryptor prints once its data path runs.
SEL4_READY = ("crypto: crypto ready", "net_red: net_red ready", "net_black: net_black ready")


# Where the product image is built: one image for every encryptor (each gets its config file
# as a boot module), kept between runs so that an unchanged tree rebuilds in seconds.
SEL4_IMAGE_DIR = os.path.join(ROOT, "build", "sel4", "encryptor")


def sel4_build(out_dir=None, system_xml=None, kernel="release"):
    """Builds the seL4 image of the product system (kernel32.elf + roottask in out_dir, by
    default SEL4_IMAGE_DIR). It holds no config: QemuEncryptor passes each encryptor's file as
    the second boot module, which the root task copies to the crypto PD (and, without its keys,
    to the stack PDs). On the release kernel, as the product: no debug system calls; `kernel`
    "release-unmitigated" (support/bench-mitigations only) leaves out the speculation fixes, "bench"
    (support/bench-wakeups --cycles) keeps each thread's CPU time."""
    out_dir = out_dir or SEL4_IMAGE_DIR
    run([SEL4_BUILD, system_xml or SYSTEM_XML, out_dir], env=dict(os.environ, SEL4_KERNEL=kernel))
    return out_dir


# System-file variants (support/lib/systemxml.py), here for the tests and benchmarks.
from systemxml import with_crypto_workers  # noqa: E402,F401


def sel4_build_without_iommu():
    """The product image built from a copy of system.xml that lets it run without an IOMMU
    (iommu="optional"), for the benchmark that measures what DMA confinement costs."""
    with open(SYSTEM_XML) as f:
        text = f.read()
    variant = text.replace('<system iommu="required">', '<system iommu="optional">')
    if variant == text:
        raise RuntimeError("system.xml has no <system iommu=\"required\"> to relax")
    path = os.path.join(ROOT, "build", "sel4", "system-no-iommu.xml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(variant)
    return sel4_build(SEL4_IMAGE_DIR + "-no-iommu", path)


# The CPU the seL4 image needs: 1 GiB pages, x2APIC (the kernel runs its local APIC in x2APIC
# mode, as on the board), XSAVE with AVX (the kernel enables AVX state: autoconf.h), and RDRAND
# and RDSEED, the crypto PD's random sources (XORed; the Xeon D has both). Besides, the rest of
# the Xeon D-2123IT's user instruction set that TCG emulates (all but AVX-512), so that code
# which picks its path by CPUID (ring's ChaCha20-Poly1305: AVX2 with BMI2, else SSE4.1, else
# scalar) takes the path it takes on the box; qemu64 alone is SSE3-era and sent it to scalar
# code. The Linux guests of the benchmarks get the same CPU.
XEON_D_USER_ISA = "+ssse3,+sse4.1,+sse4.2,+popcnt,+movbe,+aes,+pclmulqdq,+avx,+avx2,+fma,+f16c,+bmi1,+bmi2,+adx"
SEL4_CPU_NO_RDRAND = "qemu64,+pdpe1gb,+x2apic,+xsave,+xsaveopt," + XEON_D_USER_ISA
SEL4_CPU = SEL4_CPU_NO_RDRAND + ",+rdrand,+rdseed"


# The encryptor's QEMU machine: PCIe (q35) with QEMU's VT-d model, which the product's
# system.xml requires (iommu="required": each NIC's DMA confined to its own buffers). No interrupt
# remapping: seL4 5.0 does not use it.
QEMU_MACHINE = ["-machine", "q35", "-device", "intel-iommu,intremap=off"]
# The same machine without the IOMMU (benchmarks: what confinement costs).
QEMU_MACHINE_WITHOUT_IOMMU = ["-machine", "q35"]


def qemu_command(image_dir, nics, extra=(), cpu=SEL4_CPU, config=None, console_in=None, boot=None, machine=None,
                 vcpus=1):
    """QEMU booting an seL4 image (-kernel/-initrd) with `nics`: (model, netdev id, TAP, MAC),
    and `config` (a file) as the second boot module, the encryptor's config. The serial console
    is QEMU's stdio; its input comes from the FIFO `console_in` (operator commands), or from
    nothing. `boot` replaces the -kernel/-initrd arguments (the Linux guest's kernel, initrd and
    command line); everything else is the same for both guests. `machine` replaces QEMU_MACHINE.
    `vcpus` > 1 gives the guest that many cores, each its own host thread (multi-threaded TCG),
    so PDs placed on different cores (system.xml `cpu`) really run at the same time."""
    if boot is None:
        modules = [os.path.join(image_dir, "roottask")] + ([config] if config else [])
        if any("," in m for m in modules):
            raise ValueError(f"QEMU separates -initrd modules by commas: {modules}")
        boot = ["-kernel", os.path.join(image_dir, "kernel32.elf"), "-initrd", ",".join(modules)]
    cmd = ["qemu-system-x86_64", *(machine or QEMU_MACHINE), "-cpu", cpu, "-m", "512",
           "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-no-reboot", *boot]
    if vcpus > 1:
        cmd += ["-smp", str(vcpus), "-accel", "tcg,thread=multi"]
    for model, netdev, tap, mac in nics:
        cmd += ["-netdev", f"tap,id={netdev},ifname={tap},script=no,downscript=no",
                "-device", f"{model},netdev={netdev},mac={mac}"]
    cmd += list(extra)
    # QEMU must not read the operator's terminal. The FIFO is opened read-write so that the open
    # does not wait for a writer, and QEMU never sees end-of-file between commands.
    if console_in:
        return ["sh", "-c", 'f="$1"; shift; exec "$@" <>"$f"', "qemu", console_in, *cmd]
    return ["sh", "-c", 'exec "$@" </dev/null', "qemu", *cmd]


# The box twins' I350 ports' own MACs (17:00.0 red, 17:00.1 black), per encryptor.
BOX_MACS = {"a": ("02:25:90:0a:00:00", "02:25:90:0a:00:01"), "b": ("02:25:90:0b:00:00", "02:25:90:0b:00:01")}


class QemuEncryptor:
    """One seL4 encryptor in QEMU, its red and black NICs each on a TAP device made in the
    encryptor's namespace and then moved to the PC's (red) and the WAN's (black) namespace, as the
    host encryptor's TAPs are; `config` is its config file, given at boot (the image is the same
    for every encryptor). `platform`:
    - "qemu": a q35 machine with VT-d (QEMU_MACHINE) and two e1000e (red, then black; MSI) booting
      `image` (a build directory) by -kernel/-initrd, the config as the second module;
    - "qemu-no-iommu": the same machine without its IOMMU (`image` built with iommu="optional");
    - "box-twin": a twin of the SYS-E300-9D (support/lib/boxtwin.py) booting `image` (the box's
      ISO) from its CD, the config on a USB stick, red and black on the I350 ports 17:00.0/.1;
      `twin` passes more options to boxtwin.command (other devices, a port without cable)."""

    def __init__(self, lab, site, image_dir, red_ns, black_ns, black_bridge, ready_timeout=120, extra=(),
                 cpu=SEL4_CPU, ready_lines=SEL4_READY, config=None, boot=None, platform="qemu", twin=None,
                 vcpus=1):
        self.lab, self.site = lab, site
        self.ns = lab.ns(f"enc_{site}")
        self.red_tap = f"{lab.prefix}{site}r"
        self.black_tap = f"{lab.prefix}{site}k"
        # A QMP socket lets a benchmark pause the guest (its virtual clock stops with it).
        self.qmp_path = os.path.join(lab.tmp, f"enc_{site}.qmp")
        extra = [*extra, "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.console_in = os.path.join(lab.tmp, f"enc_{site}.console-in")
        os.mkfifo(self.console_in, 0o600)
        if platform == "box-twin":
            import boxtwin
            stick = boxtwin.config_disk(config, os.path.join(lab.tmp, f"enc_{site}.stick.img")) if config else None
            options = dict(red=self.red_tap, black=self.black_tap, macs=BOX_MACS[site], cpu=cpu, extra=extra, boot=boot)
            options.update(twin or {})
            # A port without cable (None) or without a device has no TAP device.
            self.red_tap = options["red"] if (options.get("models") or ("igb",))[0] else None
            self.black_tap = options["black"] if (options.get("models") or ("igb", "igb"))[1] else None
            cmd = boxtwin.command(image_dir, stick, **options)
            self.command_line = ["sh", "-c", 'f="$1"; shift; exec "$@" <>"$f"', "qemu", self.console_in, *cmd]
        else:
            red_mac, black_mac = SEL4_MACS[site]
            nics = [("e1000e", "red", self.red_tap, red_mac), ("e1000e", "black", self.black_tap, black_mac)]
            machine = QEMU_MACHINE_WITHOUT_IOMMU if platform == "qemu-no-iommu" else QEMU_MACHINE
            self.command_line = qemu_command(image_dir, nics, extra, cpu, config, self.console_in, boot, machine,
                                             vcpus)
        self.red_ns, self.black_ns, self.black_bridge = red_ns, black_ns, black_bridge
        self.ready_lines, self.ready_timeout = ready_lines, ready_timeout
        self.boots = 0
        self._boot()

    def _boot(self):
        """Starts QEMU (which creates the TAP devices in the encryptor's namespace), waits for the
        ready lines, then moves the TAPs to the PC's and the WAN's namespaces."""
        started = time.time()
        self.boots += 1
        log = f"enc_{self.site}.console" + ("" if self.boots == 1 else f".{self.boots}")
        self.proc = self.lab.spawn(self.ns, self.command_line, log)
        self.wait_ready(self.ready_lines, self.ready_timeout)
        self.boot_to_ready_s = time.time() - started
        if self.red_tap:
            self.lab.ip(self.ns, "link", "set", self.red_tap, "netns", self.red_ns)
        if self.black_tap:
            self.lab.ip(self.ns, "link", "set", self.black_tap, "netns", self.black_ns)
            self.lab.ip(self.black_ns, "link", "set", self.black_tap, "master", self.black_bridge, "up")

    def reboot(self):
        """Powers the encryptor off and boots the same image and config again (its TAP devices
        go with QEMU and come back new: the caller sets the PC's side up again). Returns the
        console text of the boot that ended."""
        text = self.stop()
        self._boot()
        return text

    def wait_ready(self, lines, timeout):
        """Waits for each of `lines` on the console; fails early on a fatal root-task error, and
        on a PD refusing to start unless a refusal is among `lines`."""
        deadline = time.time() + timeout
        stoppers = "FATAL" if any("refusing" in line for line in lines) else "refusing to start|FATAL"
        for line in lines:
            try:
                text = wait_for_line(self.proc, f"{re.escape(line)}|{stoppers}", max(1, deadline - time.time()))
            except TimeoutError as e:
                raise TimeoutError(f"enc_{self.site}: {e}; its console ended with:\n{self.console()[-3000:]}") from None
            bad = re.search(f".*({stoppers}).*", text)
            if bad:
                raise RuntimeError(f"enc_{self.site}: {bad.group(0)}")

    def qmp(self, command, arguments=None):
        """Runs one QMP command (e.g. "stop", "cont"; "set_link" with {"name", "up"}) and returns
        its result."""
        import json
        import socket
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(self.qmp_path)
            f = sock.makefile("rw")
            json.loads(f.readline())  # the greeting
            for cmd, args in (("qmp_capabilities", None), (command, arguments)):
                f.write(json.dumps({"execute": cmd, **({"arguments": args} if args else {})}) + "\n")
                f.flush()
                while True:  # asynchronous events may come before the answer
                    reply = json.loads(f.readline())
                    if "error" in reply:
                        raise RuntimeError(f"enc_{self.site}: QMP {cmd}: {reply['error']}")
                    if "return" in reply:
                        break
        return reply["return"]

    def pause(self):
        """Stops the guest's CPU (it then costs the host nothing) until resume()."""
        self.qmp("stop")

    def resume(self):
        self.qmp("cont")

    def console(self):
        with open(self.proc.log_path) as f:
            return f.read()

    def command(self, line, until, timeout=30):
        """Types `line` on the serial console and returns the console text that followed it,
        once that text matches the regex `until`."""
        start = len(self.console())
        fd = os.open(self.console_in, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, line.encode() + b"\r")
        finally:
            os.close(fd)
        deadline = time.time() + timeout
        rx = re.compile(until, re.M)
        while time.time() < deadline:
            after = self.console()[start:]
            if rx.search(after):
                return after
            if self.proc.poll() is not None:
                raise RuntimeError(f"enc_{self.site}: QEMU ended ({self.proc.returncode})")
            time.sleep(0.1)
        raise TimeoutError(f"enc_{self.site}: no console output matching {until!r} within {timeout}s after {line!r}:\n{self.console()[start:]}")

    def counters(self, since=None):
        """The `counters` command's table: {(pd, counter): value}. PDs republish their counters
        every 200 ms of their activity, so a count is up to that old, or older on a loaded host;
        with `since` (a time.time()), first waits until `status` shows every PD's page published
        after it (at most 15 s), so the counts include everything done before it."""
        if since is not None:
            self.wait_status_after(since)
        # The serial PD is listed last; its last counter is the watchdog's.
        text = self.command("counters", r"^serial watchdog_not_answering \d+")
        return {(m.group(1), m.group(2)): int(m.group(3)) for m in re.finditer(r"^(\w+) (\w+) (\d+)\r?$", text, re.M)}

    def wait_status_after(self, since, seconds=15, timeout=60):
        """Waits until `status` shows every PD running with its status page published after host
        time `since` (its age, as the console measured it when it read the page after this
        asked); returns the last `status` text. Gives up after `seconds` (the caller's
        assertions then say what is stale); `timeout` bounds each `status`."""
        deadline = time.time() + seconds
        while True:
            asked = time.time()
            text = self.command("status", r"^encryptor .*\n", timeout=timeout)
            pds = re.findall(r"^pd \S+ .*$", text, re.M)
            ages = [int(ms) for ms in re.findall(r"^pd \S+ running \(status (\d+) ms old", text, re.M)]
            fresh = pds and len(ages) == len(pds) and all(asked - ms / 1000 > since for ms in ages)
            if fresh or time.time() > deadline:
                return text
            time.sleep(0.2)

    def handshakes(self):
        """The highest `crypto: handshake #N` the console has shown."""
        return max((int(n) for n in re.findall(r"crypto: handshake #(\d+)", self.console())), default=0)

    def stop(self):
        """Stops QEMU; returns the console text."""
        return self.lab.stop(self.proc, sig=signal.SIGTERM)


BOX_ISO = os.path.join(ROOT, "build", "image", "box", "image.iso")


def box_image():
    """Builds the box's product ISO (support/image box) and returns its path."""
    run([os.path.join(ROOT, "support", "image"), "box"])
    return BOX_ISO


def sel4_topology(lab, configs=None, build=True, platform="qemu", cpu=SEL4_CPU, image=None):
    """pc_a — [QEMU enc_a] — wan — [QEMU enc_b] — pc_b: one seL4 image, booted twice, each time
    with that encryptor's config file as its boot module. Returns a dict of namespaces and
    encryptors; `boot_to_ready_s` is the slower encryptor's time from QEMU start to ready.
    `platform` "box-twin" boots the box's ISO on two box twins instead (QemuEncryptor); `cpu`
    is QEMU's -cpu (support/bench-cpu-models compares several); `image`, if given, is booted
    instead of the platform's own (an image directory, or an ISO for the box twins)."""
    cfg_a, cfg_b = configs or make_configs(lab)
    if image is None and platform == "box-twin":
        image = box_image() if build else BOX_ISO
    elif image is None and platform == "qemu-no-iommu":
        image = sel4_build_without_iommu() if build else SEL4_IMAGE_DIR + "-no-iommu"
    elif image is None:
        image = sel4_build() if build else SEL4_IMAGE_DIR
    pc_a, wan, pc_b = lab.ns("pc_a"), lab.ns("wan"), lab.ns("pc_b")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    # The box twins take longer to boot: SeaBIOS, two GRUBs, and a 6 GiB machine.
    timeout = 240 if platform == "box-twin" else 120
    enc_a = QemuEncryptor(lab, "a", image, pc_a, wan, "br0", config=cfg_a, platform=platform, ready_timeout=timeout, cpu=cpu)
    enc_b = QemuEncryptor(lab, "b", image, pc_b, wan, "br0", config=cfg_b, platform=platform, ready_timeout=timeout, cpu=cpu)
    setup_pc(lab, pc_a, enc_a.red_tap, "a", "b")
    setup_pc(lab, pc_b, enc_b.red_tap, "b", "a")
    return {"pc_a": pc_a, "pc_b": pc_b, "wan": wan, "enc_a": enc_a, "enc_b": enc_b,
            "boot_to_ready_s": max(enc_a.boot_to_ready_s, enc_b.boot_to_ready_s)}


# ---- Linux guests with kernel WireGuard in QEMU (the baseline) ------------------------------

LINUX_GUEST_BUILD = os.path.join(ROOT, "support", "linux-guest", "build")
LINUX_READY = ("linux-guest: ready",)


def read_encryptor_config(path):
    """{section: [(key, value)]} of an encryptor config file (gen-demo-configs' format)."""
    sections, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
            elif "=" in line and cur is not None:
                k, v = line.split("=", 1)
                cur.append((k.strip(), v.strip()))
    return sections


def linux_guest_initrd(config, site, guest_dir, out_dir, macs=None):
    """The Linux guest's initrd for one encryptor: the cached image of support/linux-guest/build
    with a second archive appended that holds this run's keys and addresses, taken from the
    encryptor's config file (so both pairs get the same keys' kind, peers and addressing).
    The file holds a private key: mode 0600 in the lab's directory."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from initramfs import Cpio
    sec = read_encryptor_config(config)
    enc = dict(sec["Encryptor"])
    wg = "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in sec[name]) for name in ("Interface", "Peer"))
    peer_nets = " ".join(a.strip() for a in dict(sec["Peer"])["AllowedIPs"].split(","))
    red_addrs = " ".join(a.strip() for a in enc["RedAddress"].split(","))
    red_mac, black_mac = macs or SEL4_MACS[site]
    env = (f"RED_MAC={red_mac}\nBLACK_MAC={black_mac}\nRED_ADDRS='{red_addrs}'\n"
           f"BLACK_ADDR={enc['BlackAddress']}\nPEER_NETS='{peer_nets}'\n")
    c = Cpio()
    c.file("etc/encryptor.env", env.encode())
    c.file("etc/wg0.conf", wg.encode(), 0o600)
    path = os.path.join(out_dir, f"linux-enc_{site}.initrd")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f, open(os.path.join(guest_dir, "initrd.gz"), "rb") as base:
        f.write(base.read())
        f.write(c.gzipped())
    return path


def linux_guest_build():
    """Builds (or finds cached) the Linux guest; returns its directory."""
    return run([LINUX_GUEST_BUILD]).stdout.strip().splitlines()[-1]


def linux_topology(lab, configs=None, guest_dir=None, platform="qemu", cpu=SEL4_CPU):
    """pc_a — [QEMU Linux enc_a] — wan — [QEMU Linux enc_b] — pc_b: sel4_topology with each
    encryptor a Linux guest running kernel WireGuard (support/linux-guest) on the same QEMU
    command line (machine, CPU model, memory, NIC models and MACs, TAPs), and the same PC
    set-up; `platform` "box-twin" boots the guests on box twins (q35, 4 vCPUs, the igb ports
    at 17:00.0/.1; the guest's kernel is given directly); `cpu` as in sel4_topology. Returns
    the same dict as sel4_topology."""
    cfg_a, cfg_b = configs or make_configs(lab)
    guest_dir = guest_dir or linux_guest_build()
    boots = {}
    for site, cfg in (("a", cfg_a), ("b", cfg_b)):
        macs = BOX_MACS[site] if platform == "box-twin" else SEL4_MACS[site]
        initrd = linux_guest_initrd(cfg, site, guest_dir, lab.tmp, macs)
        # No IOMMU for Linux (as Linux appliances ship; the seL4 image uses it, docs/performance.md
        # has its cost), and on the twin no ARI: QEMU's igb has an ARI capability whose
        # next-function field is 0, so Linux, following it, would find only the first port.
        append = "console=ttyS0 panic=-1 quiet intel_iommu=off" + (" pci=noari" if platform == "box-twin" else "")
        boots[site] = ["-kernel", os.path.join(guest_dir, "vmlinuz"), "-initrd", initrd, "-append", append]
    pc_a, wan, pc_b = lab.ns("pc_a"), lab.ns("wan"), lab.ns("pc_b")
    lab.ip(wan, "link", "add", "br0", "type", "bridge")
    lab.ip(wan, "link", "set", "br0", "up")
    enc_a = QemuEncryptor(lab, "a", None, pc_a, wan, "br0", ready_lines=LINUX_READY, boot=boots["a"], platform=platform, cpu=cpu)
    enc_b = QemuEncryptor(lab, "b", None, pc_b, wan, "br0", ready_lines=LINUX_READY, boot=boots["b"], platform=platform, cpu=cpu)
    setup_pc(lab, pc_a, enc_a.red_tap, "a", "b")
    setup_pc(lab, pc_b, enc_b.red_tap, "b", "a")
    return {"pc_a": pc_a, "pc_b": pc_b, "wan": wan, "enc_a": enc_a, "enc_b": enc_b,
            "boot_to_ready_s": max(enc_a.boot_to_ready_s, enc_b.boot_to_ready_s)}


class QemuPair:
    """Two encryptors in QEMU (seL4 image or Linux guest) in their own lab: pc_a — [QEMU] — wan —
    [QEMU] — pc_b, built by `topology(lab, configs)` (sel4_topology, linux_topology or a variant)
    from copies of `configs_from` ({"a": path, "b": path}), so that pairs compared in one run get
    the same keys' kind and addressing. The benchmarks pause the pairs they are not measuring."""

    def __init__(self, name, label, topology, configs_from, tag):
        self.name, self.label = name, label
        self.lab = Lab(tag)
        # Same keys' kind and addressing for both pairs: one config pair, copied into each lab.
        configs = []
        for site in "ab":
            path = os.path.join(self.lab.tmp, f"enc_{site}.conf")
            shutil.copyfile(configs_from[site], path)
            configs.append(path)
        try:
            self.t = topology(self.lab, configs)
        except BaseException:
            self.lab.close()
            raise
        self.pc_a, self.pc_b = self.t["pc_a"], self.t["pc_b"]
        self.target = SITES["b"]["pc"]
        self.boot_to_ready_s = self.t["boot_to_ready_s"]

    def pids(self):
        return [self.t["enc_a"].proc.pid, self.t["enc_b"].proc.pid]

    def pause(self):
        for enc in (self.t["enc_a"], self.t["enc_b"]):
            enc.pause()

    def resume(self):
        for enc in (self.t["enc_a"], self.t["enc_b"]):
            enc.resume()

    def ping_ms(self, count):
        """Average RTT pc_a → pc_b over `count` pings, or None if none came back."""
        p = self.lab.exec(self.pc_a, ["ping", "-q", "-c", str(count), "-i", "0.2", "-W", "2", self.target],
                          check=False, timeout=count + 30)
        m = re.search(r"= [\d.]+/([\d.]+)/", p.stdout)
        return float(m.group(1)) if m else None

    def close(self):
        for enc in (self.t["enc_a"], self.t["enc_b"]):
            enc.stop()
        self.lab.close()

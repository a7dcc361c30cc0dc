"""The PCs' side of the benchmark: the iperf3 matrix people report for a VPN box, run through the
tunnel and, as the baseline, over a plain cable or switch, with a table and a plot of
encrypted ÷ plain. support/pc-bench runs it on a real PC; support/demo runs it between its
namespaces (the runner decides where iperf3 runs).

The matrix, each case for `seconds`, PCs at MTU 1500:
- TCP, 1 stream and 4 streams, each direction (client → server, and server → client with -R);
- UDP at a set rate, each direction, 1372-byte datagrams (they fit the tunnel's 1420-byte MTU,
  so no case measures fragmentation); the rate counted is what arrived.
"""
import json
import subprocess
import time

UDP_PAYLOAD = 1372
CASES = [
    ("tcp", 1, False), ("tcp", 1, True),
    ("tcp", 4, False), ("tcp", 4, True),
    ("udp", 1, False), ("udp", 1, True),
]


# iperf3's errors for a server between two tests (see run_case): its listening socket closed,
# the previous test still running, or the new control connection reset while the server
# finishes the previous test (iperf3 3.12 accepts it, then drops it).
SERVER_NOT_READY = ("Connection refused", "the server is busy running a test",
                    "unable to receive control message: Connection reset by peer")
SERVER_READY_ATTEMPTS = 10
SERVER_READY_WAIT_S = 0.5


def case_name(case):
    proto, streams, reverse = case
    direction = "server->client" if reverse else "client->server"
    if proto == "tcp":
        return f"TCP {streams} stream{'s' if streams > 1 else ''} {direction}"
    return f"UDP {direction}"


def local_runner(argv, timeout):
    """Runs iperf3 on this machine."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def run_case(runner, server, case, seconds, udp_rate):
    """One iperf3 run: the received rate in Mbit/s (UDP: what arrived), or raises with iperf3's
    error."""
    proto, streams, reverse = case
    argv = ["iperf3", "-c", server, "-t", str(seconds), "-J", "-P", str(streams)]
    if reverse:
        argv.append("-R")
    if proto == "udp":
        argv += ["-u", "-b", udp_rate, "-l", str(UDP_PAYLOAD)]
    # iperf3 -s serves one test at a time and, between tests, closes and reopens its listening
    # socket: a run that starts just as the previous one ends finds the port closed
    # ("Connection refused"), the server still busy, or its control connection reset before the
    # test begins. That is the server not ready yet, not a
    # failure: wait for it, a bounded number of times (about 5 s in all).
    for attempt in range(SERVER_READY_ATTEMPTS):
        p = runner(argv, seconds + 30)
        try:
            result = json.loads(p.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 {case_name(case)}: {p.stderr.strip() or p.stdout[-300:]}")
        error = result.get("error", "")
        if not any(s in error for s in SERVER_NOT_READY) or attempt == SERVER_READY_ATTEMPTS - 1:
            break
        time.sleep(SERVER_READY_WAIT_S)
    if "error" in result:
        raise RuntimeError(f"iperf3 {case_name(case)} to {server}: {result['error']}")
    end = result["end"]
    if proto == "tcp":
        return end["sum_received"]["bits_per_second"] / 1e6
    s = end["sum"]
    return s["bits_per_second"] * (1 - s.get("lost_percent", 0) / 100) / 1e6


def run_matrix(runner, server, seconds=10, udp_rate="500M", progress=print):
    """Every case against `server` (where iperf3 -s runs): {case name: Mbit/s or None}."""
    rows = {}
    for case in CASES:
        name = case_name(case)
        try:
            rows[name] = run_case(runner, server, case, seconds, udp_rate)
            progress(f"  {name}: {rows[name]:.1f} Mbit/s")
        except Exception as e:  # one failed case does not lose the others
            rows[name] = None
            progress(f"  {name}: failed ({e})")
    return rows


def fmt(v):
    return "-" if v is None else f"{v:.1f}"


def table(encrypted, plain=None):
    """A Markdown table: each case, through the tunnel, plain, and the ratio."""
    lines = ["| case | encrypted (Mbit/s) | plain (Mbit/s) | encrypted ÷ plain |", "|---|---|---|---|"]
    for name, enc in encrypted.items():
        base = (plain or {}).get(name)
        ratio = f"{enc / base:.2f}" if enc is not None and base else "-"
        lines.append(f"| {name} | {fmt(enc)} | {fmt(base)} | {ratio} |")
    return "\n".join(lines) + "\n"


def svg(encrypted, plain=None, title="iperf3 through the encryptor and plain"):
    """A bar chart (SVG, no dependencies): per case, encrypted and plain bars, with the ratio."""
    names = list(encrypted)
    values = [v for v in list(encrypted.values()) + list((plain or {}).values()) if v]
    top = max(values, default=1.0)
    row, left, width = 34, 250, 420
    height = 60 + row * len(names)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 140}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14">{title}</text>',
           f'<rect x="{left}" y="30" width="12" height="10" fill="#c0392b"/><text x="{left + 16}" y="39">encrypted</text>',
           f'<rect x="{left + 100}" y="30" width="12" height="10" fill="#95a5a6"/><text x="{left + 116}" y="39">plain</text>']
    for i, name in enumerate(names):
        y = 50 + i * row
        enc, base = encrypted[name], (plain or {}).get(name)
        out.append(f'<text x="10" y="{y + 14}">{name}</text>')
        if enc:
            w = width * enc / top
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="12" fill="#c0392b"/>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + 10}">{enc:.0f}</text>')
        if base:
            w = width * base / top
            out.append(f'<rect x="{left}" y="{y + 14}" width="{w:.1f}" height="12" fill="#95a5a6"/>')
            ratio = f" (×{enc / base:.2f})" if enc else ""
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + 24}">{base:.0f}{ratio}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"

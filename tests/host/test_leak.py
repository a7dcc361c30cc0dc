"""Plaintext leak: traffic carrying a marker goes from pc_a to pc_b while
captures run on the wan bridge and on pc_b's link. The marker must never
appear on the wan side, and must arrive at pc_b."""

import os
import re

import netlab
from netlab import SITES

UDP_PORT, TCP_PORT = 9000, 9001
UDP_COUNT = 50
TCP_REPEAT = 2000

# Runs in pc_b: counts UDP datagrams and TCP bytes carrying the marker, then exits
# after one TCP connection has ended (or after its deadline).
SERVER = r"""
import select, socket, sys, time
addr, marker = sys.argv[1], sys.argv[2].encode()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, %d))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((addr, %d)); t.listen(1)
print("listening", flush=True)
socks, conn, data, udp = [u, t], None, b"", 0
deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select(socks, [], [], 0.5)
    for s in r:
        if s is u:
            if marker in u.recv(65535):
                udp += 1
        elif s is t:
            conn, _ = t.accept(); socks.append(conn)
        else:
            chunk = s.recv(65536)
            if not chunk:
                print(f"udp {udp} tcp {data.count(marker)}", flush=True)
                sys.exit(0)
            data += chunk
print(f"udp {udp} tcp {data.count(marker)} timeout", flush=True)
""" % (UDP_PORT, TCP_PORT)

# Runs in pc_a: the UDP datagrams, then one TCP stream.
CLIENT = r"""
import socket, sys, time
addr, marker, n_udp, n_tcp = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n_udp):
    u.sendto(b"udp %%d " %% i + marker, (addr, %d))
    time.sleep(0.005)
t = socket.create_connection((addr, %d), timeout=10)
t.sendall((b"tcp " + marker + b"\n") * n_tcp)
t.shutdown(socket.SHUT_WR)
t.settimeout(10)
t.recv(1)
t.close()
print("done")
""" % (UDP_PORT, TCP_PORT)


def test_no_plaintext_on_the_wan():
    marker = "LEAK-MARKER-" + os.urandom(12).hex()
    with netlab.Lab("lk") as lab:
        t = netlab.host_topology(lab)
        pc_a, pc_b, wan = t["pc_a"], t["pc_b"], t["wan"]
        wan_cap = netlab.Capture(lab, wan, "br0", "wan")
        b_cap = netlab.Capture(lab, pc_b, t["enc_b"].red_tap, "pc_b")
        # The handshake first (its packets are on the capture too).
        assert netlab.ping_until(lab, pc_a, SITES["b"]["pc"]), "ping pc_a -> pc_b failed"
        server = netlab.spawn_python(lab, pc_b, SERVER, SITES["b"]["pc"], marker, log_name="server.log")
        netlab.wait_for_line(server, "listening", 10)
        netlab.run_python(lab, pc_a, CLIENT, SITES["b"]["pc"], marker, UDP_COUNT, TCP_REPEAT, timeout=60)
        out = netlab.wait_for_line(server, r"udp \d+ tcp \d+", 30)
        wan_frames = wan_cap.stop()
        b_frames = b_cap.stop()
        for enc in (t["enc_a"], t["enc_b"]):
            text, _ = enc.stop()
            assert enc.proc.returncode == 0, text[-3000:]
    udp, tcp = map(int, re.search(r"udp (\d+) tcp (\d+)", out).groups())
    assert udp > 0, f"no marked UDP datagram reached pc_b: {out}"
    assert tcp == TCP_REPEAT, f"the TCP stream did not arrive whole: {out}"
    # The captures worked: pc_b saw the marker in clear, the wan saw WireGuard.
    m = marker.encode()
    assert any(m in f for f in b_frames), f"the marker is not on pc_b's capture ({len(b_frames)} frames; {b_cap.log})"
    wg = [f for f in wan_frames if netlab.udp_ports(f) and 51820 in netlab.udp_ports(f)]
    assert len(wg) >= UDP_COUNT, f"only {len(wg)} WireGuard frames of {len(wan_frames)} on the wan capture"
    # No plaintext: neither the marker nor any recognisable piece of it.
    wan_bytes = b"".join(wan_frames)
    for needle in (m, m[-16:], b"LEAK-MARKER", m[::-1]):
        assert needle not in wan_bytes, f"plaintext {needle!r} on the wan side"

"""CBR over one MPTCP connection: ``python -m sigma_sn.emulate.traffic send|recv ...``.

Run inside a namespace (``ip netns exec``). Every message is ``payload_bytes`` long and
starts with its sequence number, its scheduled send time and the time it was handed
to the socket (CLOCK_MONOTONIC, in ns; one clock for both ends on one machine). The
receiver writes, per message, those three and its arrival time to a binary file of
``<qqqq`` records. Standard library only, so a child starts fast.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time

#: IPPROTO_MPTCP (Linux >= 5.6); Python's socket module names it only from 3.10 on
IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)
HEADER = struct.Struct("!qqq")
RECORD = struct.Struct("<qqqq")
PORT = 5201
#: how long the receiver waits past the sender's last message before it gives up
DRAIN_S = 10.0


def send(src: str, dst: str, rate_pps: float, payload_bytes: int, count: int) -> None:
    """Connect from ``src``, say so, read the start ``t0_ns`` from stdin, then send
    ``count`` messages at ``t0_ns + i / rate_pps``."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.bind((src, 0))
    s.connect((dst, PORT))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("connected", flush=True)
    t0_ns = int(sys.stdin.readline())
    pad = b"\0" * (payload_bytes - HEADER.size)
    period_ns = 1e9 / rate_pps
    for i in range(count):
        due = t0_ns + round(i * period_ns)
        wait = due - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        # a busy host may run this late: the third field says how late
        s.sendall(HEADER.pack(i, due, time.monotonic_ns()) + pad)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)   # the receiver closes once it has everything (or gives up)
    s.close()


def recv(addr: str, payload_bytes: int, out: str, until_ns: int, count: int) -> None:
    """Accept one connection on ``addr`` and log every message until ``count`` of them,
    EOF or ``until_ns`` (CLOCK_MONOTONIC), whichever comes first."""
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, PORT))
    ls.listen(16)   # MP_JOIN SYNs queue on the listener too
    print("ready", flush=True)
    ls.settimeout(max(0.1, (until_ns - time.monotonic_ns()) / 1e9))
    c, _ = ls.accept()
    buf = bytearray()
    got = 0
    with open(out, "wb") as fh:
        while True:
            left = (until_ns - time.monotonic_ns()) / 1e9
            if left <= 0:
                break
            c.settimeout(left)
            try:
                data = c.recv(1 << 16)
            except socket.timeout:
                break
            now = time.monotonic_ns()
            if not data:
                break
            buf += data
            n = len(buf) // payload_bytes
            for j in range(n):
                fh.write(RECORD.pack(*HEADER.unpack_from(buf, j * payload_bytes), now))
            del buf[:n * payload_bytes]
            got += n
            if got >= count:
                break
    c.close()
    ls.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sigma_sn.emulate.traffic")
    sub = p.add_subparsers(dest="role", required=True)
    s = sub.add_parser("send")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("rate_pps", type=float)
    s.add_argument("payload_bytes", type=int)
    s.add_argument("count", type=int)
    r = sub.add_parser("recv")
    r.add_argument("addr")
    r.add_argument("payload_bytes", type=int)
    r.add_argument("out")
    r.add_argument("until_ns", type=int)
    r.add_argument("count", type=int)
    a = p.parse_args(argv)
    try:
        if a.role == "send":
            send(a.src, a.dst, a.rate_pps, a.payload_bytes, a.count)
        else:
            recv(a.addr, a.payload_bytes, a.out, a.until_ns, a.count)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"{a.role}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

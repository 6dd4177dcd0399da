#!/usr/bin/env python3
"""A minimal ivshmem server for QEMU's ivshmem-doorbell device (docs/specs/ivshmem-spec).

On each connection it sends, as 8-byte little-endian signed integers on a Unix stream socket:
the protocol version (0), the new peer's ID, then -1 with the shared-memory fd attached
(SCM_RIGHTS); then, for every other peer, that peer's ID once per vector with its eventfds;
and last the new peer's own ID once per vector with its own eventfds. Existing peers are told
about the new one the same way, and about a departure by its ID with no fd.

The shared memory is a file (so the harness can check what the guest wrote after the VM has
gone), a power of two in size, with a magic string written at offset 0 for the guest to find.

Usage: ivshmem_server.py SOCKET SHMFILE [--vectors N] [--size BYTES] [--ready FILE]
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys

PROTOCOL_VERSION = 0
HOST_MAGIC = b"EVNIC-IVSHMEM-HOST"


def send(conn, value, fd=None):
    data = struct.pack("<q", value)
    if fd is None:
        conn.sendall(data)
    else:
        socket.send_fds(conn, [data], [fd])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("shm")
    ap.add_argument("--vectors", type=int, default=2)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--ready")
    a = ap.parse_args()
    if a.size & (a.size - 1):
        sys.exit("ivshmem: the shared memory size must be a power of two")

    shm = os.open(a.shm, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(shm, a.size)
    os.pwrite(shm, HOST_MAGIC, 0)

    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(8)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(str(os.getpid()))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    peers = {}  # id -> (conn, [eventfd])
    next_id = 1
    while True:
        rd, _, _ = select.select([srv] + [c for c, _ in peers.values()], [], [])
        for s in rd:
            if s is srv:
                conn, _ = srv.accept()
                pid = next_id
                next_id += 1
                fds = [os.eventfd(0) for _ in range(a.vectors)]
                send(conn, PROTOCOL_VERSION)
                send(conn, pid)
                send(conn, -1, shm)
                for oid, (oconn, ofds) in peers.items():
                    for fd in ofds:
                        send(conn, oid, fd)
                    for fd in fds:
                        send(oconn, pid, fd)
                for fd in fds:
                    send(conn, pid, fd)
                peers[pid] = (conn, fds)
                print(f"ivshmem: peer {pid} connected", file=sys.stderr, flush=True)
            else:
                if s.recv(64):
                    continue  # peers are not supposed to talk; ignore
                gone = [p for p, (c, _) in peers.items() if c is s][0]
                _, fds = peers.pop(gone)
                s.close()
                for fd in fds:
                    os.close(fd)
                for oconn, _ in peers.values():
                    send(oconn, gone)
                print(f"ivshmem: peer {gone} left", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

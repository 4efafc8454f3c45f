#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# pp-pingpong.py: the small TCP tools the NAT fault tests need on both sides of a tunnel.
# It measures and reports; it never decides pass or fail (the calling script does).
#
#   pp-pingpong.py server
#       echo server on 127.0.0.1 (port printed as "port N"); for every connection that ends
#       it prints "conn-end eof" (clean FIN), "conn-end reset" or "conn-end error TEXT"
#   pp-pingpong.py client PORT [--interval S] [--stop-file PATH] [--timeout S]
#       1-byte round trips, one every S seconds (0: back to back); "ready" after the first;
#       stops when PATH exists (then prints "median_ms X count N") or when the connection
#       ends ("ended eof", "ended reset", "ended error TEXT", "ended timeout")
import os
import socket
import statistics
import sys
import threading
import time


def end_kind(exc):
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, socket.timeout):
        return "timeout"
    return "error %s" % exc


def serve_one(conn):
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                print("conn-end eof", flush=True)
                return
            conn.sendall(data)
    except OSError as exc:
        print("conn-end %s" % end_kind(exc), flush=True)
    finally:
        conn.close()


def server():
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print("port %d" % lsock.getsockname()[1], flush=True)
    while True:
        conn, _ = lsock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def client(port, interval, stop_file, timeout):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    rtts = []
    try:
        while stop_file is None or not os.path.exists(stop_file):
            t0 = time.monotonic()
            sock.sendall(b"x")
            if not sock.recv(1):
                print("ended eof", flush=True)
                return
            rtts.append((time.monotonic() - t0) * 1000.0)
            if len(rtts) == 1:
                print("ready", flush=True)
            if interval > 0:
                time.sleep(interval)  # pacing of the probe, not synchronisation
    except OSError as exc:
        print("ended %s" % end_kind(exc), flush=True)
        return
    print("median_ms %.2f count %d" % (statistics.median(rtts), len(rtts)), flush=True)


def main():
    args = sys.argv[1:]
    if args[:1] == ["server"]:
        server()
        return
    port = int(args[1])
    opts = dict(zip(args[2::2], args[3::2]))
    client(port, float(opts.get("--interval", "0")), opts.get("--stop-file"),
           float(opts.get("--timeout", "60")))


if __name__ == "__main__":
    main()

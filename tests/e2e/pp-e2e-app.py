#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The applications at both ends of the tunnel in the e2e tests: a threaded TCP server and a
# client, each with a few behaviours (half-close in either order, holding a connection open and
# telling a reset from a clean EOF, an endless HTTP/1.0 body).  Payloads are deterministic so
# either end can check what it got.  It only talks to 127.0.0.1 and never sleeps.
#
# usage: pp-e2e-app.py server PORTFILE LOG MODE [SIZE]
#        pp-e2e-app.py client PORT MODE [SIZE]
# modes: echo-after-eof, talk-first SIZE, hold SIZE, http-endless (server);
#        send-then-read SIZE, read-then-send SIZE, hold SIZE (client)

import errno
import hashlib
import os
import socket
import sys
import threading


def pattern(seed, size):
    """SIZE deterministic bytes: SHA-256 in counter mode, so corruption cannot hide."""
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.sha256(b'%s:%d' % (seed, n)).digest() * 64
        n += 1
    return bytes(out[:size])


def read_to_eof(sock):
    """All bytes until EOF; raises OSError on a reset."""
    chunks = []
    while True:
        b = sock.recv(1 << 16)
        if not b:
            return b''.join(chunks)
        chunks.append(b)


def describe_end(sock, got):
    """Reads until the connection ends; 'EOF after N' or 'RESET after N (error)'."""
    try:
        while True:
            b = sock.recv(1 << 16)
            if not b:
                return 'EOF after %d' % got
            got += len(b)
    except OSError as e:
        return 'RESET after %d (%s)' % (got, errno.errorcode.get(e.errno, e.errno))


class Server:
    def __init__(self, log, mode, size):
        self.log = open(log, 'a', buffering=1)
        self.lock = threading.Lock()
        self.mode = mode
        self.size = size
        self.count = 0

    def say(self, n, text):
        with self.lock:
            self.log.write('conn %d: %s\n' % (n, text))

    def handle(self, conn, n):
        try:
            getattr(self, 'serve_' + self.mode.replace('-', '_'))(conn, n)
        except OSError as e:
            self.say(n, 'RESET (%s)' % errno.errorcode.get(e.errno, e.errno))
        finally:
            conn.close()

    def serve_echo_after_eof(self, conn, n):
        data = read_to_eof(conn)
        self.say(n, 'read %d bytes to EOF' % len(data))
        conn.sendall(hashlib.sha256(data).hexdigest().encode() + b'\n' + data)
        self.say(n, 'answered')

    def serve_talk_first(self, conn, n):
        conn.sendall(pattern(b'server', self.size))
        conn.shutdown(socket.SHUT_WR)
        data = read_to_eof(conn)
        ok = data == pattern(b'client', self.size)
        self.say(n, 'got %d bytes after my half-close, %s' % (len(data),
                                                             'intact' if ok else 'CORRUPT'))

    def serve_hold(self, conn, n):
        conn.sendall(pattern(b'hold', self.size))
        self.say(n, 'sent %d, holding' % self.size)
        self.say(n, describe_end(conn, 0))

    def serve_http_endless(self, conn, n):
        conn.recv(65536)
        conn.sendall(b'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n')
        block = pattern(b'endless', 1 << 16)
        self.say(n, 'streaming')
        while True:
            conn.sendall(block)

    def run(self, portfile):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(('127.0.0.1', 0))
        ls.listen(128)
        with open(portfile + '.tmp', 'w') as f:
            f.write('%d\n' % ls.getsockname()[1])
        os.rename(portfile + '.tmp', portfile)
        while True:
            conn, _ = ls.accept()
            self.count += 1
            threading.Thread(target=self.handle, args=(conn, self.count), daemon=True).start()


def client(port, mode, size):
    sock = socket.create_connection(('127.0.0.1', port), timeout=60)
    if mode == 'send-then-read':
        data = pattern(b'client', size)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = read_to_eof(sock)
        head, _, body = answer.partition(b'\n')
        if head.decode() != hashlib.sha256(data).hexdigest() or body != data:
            print('answer wrong: %d bytes, header %r' % (len(answer), head[:64]))
            return 1
        print('answer intact: %d bytes after my half-close' % len(body))
        return 0
    if mode == 'read-then-send':
        got = read_to_eof(sock)
        if got != pattern(b'server', size):
            print('server data wrong: %d bytes' % len(got))
            return 1
        sock.sendall(pattern(b'client', size))
        sock.shutdown(socket.SHUT_WR)
        rest = read_to_eof(sock)
        print('server data intact: %d bytes; sent mine; %d bytes after' % (len(got), len(rest)))
        return 0
    if mode == 'hold':
        got = 0
        while got < size:
            try:
                b = sock.recv(65536)
            except OSError as e:
                print('RESET after %d (early, %s)' % (got, errno.errorcode.get(e.errno, e.errno)),
                      flush=True)
                return 1
            if not b:
                print('EOF after %d (early)' % got, flush=True)
                return 1
            got += len(b)
        print('ready %d' % got, flush=True)
        sock.settimeout(None)
        print(describe_end(sock, got), flush=True)
        return 0
    print('unknown client mode %s' % mode)
    return 2


def main(argv):
    if len(argv) >= 5 and argv[1] == 'server':
        size = int(argv[5]) if len(argv) > 5 else 0
        Server(argv[3], argv[4], size).run(argv[2])
        return 0
    if len(argv) >= 4 and argv[1] == 'client':
        return client(int(argv[2]), argv[3], int(argv[4]) if len(argv) > 4 else 0)
    print(__doc__ if __doc__ else 'bad usage', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))

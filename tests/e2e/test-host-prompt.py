#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# `peerport host` on a terminal (a pty): the join request is asked as
#   peer "NAME" wants to join — code 123 456 — accept? [y/N]
# with the code the joining side shows.  'n' declines (join exits 77, the
# link works again); 'y' accepts and the tunnel opens; SIGINT to the join
# side then ends both: join 0, host 69 saying the peer ended the session.
# Every wait polls a condition with a deadline; no process is left behind.
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

PEERPORT = sys.argv[1]
procs = []


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def read_until(fd, buf, pattern, seconds):
    deadline = time.monotonic() + seconds
    while True:
        m = re.search(pattern, buf[0])
        if m:
            return m
        left = deadline - time.monotonic()
        if left <= 0:
            fail("no %r after %d s in:\n%s" % (pattern, seconds, buf[0].decode(errors="replace")))
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            try:
                buf[0] += os.read(fd, 4096)
            except OSError:
                pass


def spawn(args):
    p = subprocess.Popen([PEERPORT] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def join(url, name):
    return spawn(["join", url, "--name", name])


def main():
    sig = spawn(["signal", "--listen", "127.0.0.1:0", "--stun-port", "off"])
    line = sig.stdout.readline().decode()
    m = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not m:
        fail("signal printed %r" % line)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(PEERPORT, [PEERPORT, "host", "--signal", m.group(0), "--allow",
                            "127.0.0.1:9", "--name", "prompt-host"])
    buf = [b""]
    try:
        url = read_until(fd, buf, rb"join URL: (\S+)", 10).group(1).decode()

        j = join(url, "first")
        read_until(fd, buf, rb'peer "first" wants to join .{1,8} code (\d{3} \d{3}) .{1,8} '
                   rb"accept\? \[y/N\] ", 20)
        os.write(fd, b"n\n")
        out = j.communicate(timeout=20)[0].decode()
        if j.returncode != 77:
            fail("declined join exited %d:\n%s" % (j.returncode, out))

        j = join(url, "second")
        code = read_until(fd, buf, rb'peer "second" wants to join .{1,8} code (\d{3} \d{3})',
                          20).group(1).decode()
        os.write(fd, b"y\n")
        read_until(fd, buf, rb"tunnel open", 20)
        jout = b""
        deadline = time.monotonic() + 20
        while b"tunnel open" not in jout:
            if time.monotonic() > deadline:
                fail("join never opened:\n" + jout.decode(errors="replace"))
            r, _, _ = select.select([j.stdout], [], [], 0.2)
            if r:
                jout += os.read(j.stdout.fileno(), 4096)
        if ("code " + code).encode() not in jout:
            fail("join showed another code than %s:\n%s" % (code, jout.decode()))
        j.send_signal(signal.SIGINT)
        j.communicate(timeout=20)
        if j.returncode != 0:
            fail("join exited %d after SIGINT" % j.returncode)
        read_until(fd, buf, rb"the peer ended the session", 20)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                fail("host still running after the peer left")
            time.sleep(0.05)
        pid = 0
        rc = os.waitstatus_to_exitcode(status)
        if rc != 69:
            fail("host exited %d after the peer left, want 69" % rc)
        print("ok: prompt declined, then accepted with code %s; endings 0 and 69" % code)
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                print("process %d was left behind" % p.pid)
                sys.exit(1)


main()

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# `peerport join` on a terminal (a pty for stdin and stdout):
#   - the live status line ("\r ESC[K open | direct udp … | in … out … | N
#     sockets") appears once the tunnel is open;
#   - a command typed at the console ("maps") is answered on the terminal,
#     and "quit" ends join with 0;
#   - with --json on the same terminal there is no status line, only JSON
#     lines, among them a "stats" event every second and a "path" event;
#   - a curl through that tunnel shows as "socket-opened" then "socket-closed"
#     (reason 0, "normal", with its byte counts).
# Every wait polls a condition with a deadline; no process is left behind.
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PEERPORT = sys.argv[1]
procs = []
n = 0


def ok(what):
    global n
    n += 1
    print("ok %d - %s" % (n, what), flush=True)


def fail(msg):
    print("not ok %d - %s" % (n + 1, msg), flush=True)
    raise SystemExit(1)


def read_until(fd, buf, pattern, seconds):
    deadline = time.monotonic() + seconds
    while True:
        m = re.search(pattern, buf[0])
        if m:
            return m
        left = deadline - time.monotonic()
        if left <= 0:
            fail("no %r after %d s in:\n%r" % (pattern, seconds, buf[0][-2000:]))
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            try:
                buf[0] += os.read(fd, 4096)
            except OSError:
                pass


def wait_pid(pid, seconds):
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            fail("process %d still running after %d s" % (pid, seconds))
        time.sleep(0.05)


def spawn(args, env):
    p = subprocess.Popen([PEERPORT] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env)
    procs.append(p)
    return p


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello-through-the-tunnel\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def host_url(signal_url, env, target="127.0.0.1:9"):
    h = spawn(["host", "--signal", signal_url, "--allow", target, "--yes"], env)
    buf = b""
    deadline = time.monotonic() + 10
    while True:
        m = re.search(rb"join URL: (\S+)", buf)
        if m:
            return m.group(1).decode()
        if time.monotonic() > deadline:
            fail("host printed no URL: %r" % buf)
        r, _, _ = select.select([h.stdout], [], [], 0.2)
        if r:
            buf += os.read(h.stdout.fileno(), 4096)


def join_on_pty(url, extra, env, target="127.0.0.1:9"):
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(PEERPORT, [PEERPORT, "join", url, "-L", "127.0.0.1:0=>" + target] + extra,
                  env)
    return pid, fd


def run(tmp):
    env = dict(os.environ, XDG_RUNTIME_DIR=tmp)
    sig = spawn(["signal", "--listen", "127.0.0.1:0", "--stun-port", "off"], env)
    m = re.search(r"http://127\.0\.0\.1:\d+", sig.stdout.readline().decode())
    if not m:
        fail("signal printed no URL")
    signal_url = m.group(0)

    pid, fd = join_on_pty(host_url(signal_url, env), [], env)
    buf = [b""]
    try:
        read_until(fd, buf, rb"\r\x1b\[Kopen \| direct udp [^|]+\| (rtt [0-9.]+ ms \| )?in "
                   rb"[0-9.]+ k?B/s out [0-9.]+ k?B/s \| \d+ sockets?", 20)
        ok("status line on a terminal once the tunnel is open")
        os.write(fd, b"maps\n")
        read_until(fd, buf, rb"#1 127\.0\.0\.1:\d+ => 127\.0\.0\.1:9 \(port \d+\)", 10)
        ok("a command typed at the console is answered")
        os.write(fd, b"quit\n")
        rc = wait_pid(pid, 15)
        pid = 0
        if rc != 0:
            fail("join exited %d after quit" % rc)
        ok("quit typed at the console: exit 0")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)

    web = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    target = "127.0.0.1:%d" % web.server_address[1]
    pid, fd = join_on_pty(host_url(signal_url, env, target), ["--json"], env, target)
    buf = [b""]
    try:
        read_until(fd, buf, rb'"event":"stats"[^\n]*\n(.|\n)*"event":"stats"', 20)
        port = int(read_until(fd, buf, rb'"event":"mapping"[^\n]*"port":(\d+)', 5).group(1))
        got = subprocess.run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:%d/" % port],
                             capture_output=True, timeout=15)
        if got.stdout != b"hello-through-the-tunnel\n":
            fail("curl through the tunnel: %r %r" % (got.stdout, got.stderr))
        read_until(fd, buf, rb'"event":"socket-closed"[^\n]*\n', 10)
        text = buf[0].decode(errors="replace")
        if "\x1b" in text:
            fail("an escape sequence with --json: %r" % text[-500:])
        events = [json.loads(l) for l in text.replace("\r", "").splitlines() if l.strip()]
        names = [e["event"] for e in events]
        stats = [e for e in events if e["event"] == "stats"]
        paths = [e for e in events if e["event"] == "path"]
        if not paths or paths[0]["kind"] != "host" or not paths[0]["local"]:
            fail("no usable path event: %r" % paths)
        for key in ("rtt_ms", "rate_in", "rate_out", "bytes_in", "bytes_out", "sockets",
                    "tuples", "buffered"):
            if key not in stats[0]:
                fail("stats without %s: %r" % (key, stats[0]))
        if "mapping" not in names:
            fail("no mapping event: %r" % names)
        ok("--json on a terminal: JSON lines only, stats every second, path and mapping")
        opened = [e for e in events if e["event"] == "socket-opened"]
        closed = [e for e in events if e["event"] == "socket-closed"]
        if len(opened) != 1 or opened[0]["via"] != "#1" or opened[0]["name"] is not None \
                or not opened[0]["tuple"].endswith(" => " + target):
            fail("socket-opened: %r" % opened)
        if len(closed) != 1 or closed[0]["id"] != opened[0]["id"] or closed[0]["reason"] != 0 \
                or closed[0]["reason_name"] != "normal" or closed[0]["bytes_in"] <= 24 \
                or closed[0]["bytes_out"] <= 0:
            fail("socket-closed: %r" % closed)
        if names.index("socket-opened") > names.index("socket-closed"):
            fail("socket-closed before socket-opened: %r" % names)
        ok("--json: a curl through the tunnel is socket-opened, then socket-closed (normal)")
        os.kill(pid, signal.SIGINT)
        rc = wait_pid(pid, 15)
        pid = 0
        if rc != 0:
            fail("join --json exited %d after SIGINT" % rc)
        ok("join --json: SIGINT ends it with 0")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
        web.shutdown()
        web.server_close()


def main():
    print("1..6", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)
        try:
            run(tmp)
        finally:
            left = False
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    left = True
            if left:
                print("# a process was left behind", flush=True)
                sys.exit(1)


main()

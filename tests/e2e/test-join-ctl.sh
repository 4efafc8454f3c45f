#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `peerport ctl` against a running `peerport join`, real processes on loopback:
#
#   curl ──> [join -L …] ══WebRTC══ [host --yes] ──> python3 http.server
#     ▲          ▲  └──── peerport signal ────┘
#     └── ctl ───┘ (control socket in a private XDG_RUNTIME_DIR)
#
# With no instance ctl says so (69).  A -L whose port is taken is reported
# and the session goes on with the other mapping.  Then at runtime: `map`
# a new port and fetch through it, `maps`/`status`/`conns` answer, `unmap`
# closes the port, a bad mapping, a port in use and (when the kernel keeps
# ports < 1024 privileged) port 80 without CAP_NET_BIND_SERVICE are refused
# with exit 1 and a clear message while the session keeps serving; two
# instances make ctl ask for --instance (64); `quit` ends join with 0.
# Every wait polls a condition with a deadline; nothing sleeps to synchronise.
set -euo pipefail

PEERPORT=${1:?usage: test-join-ctl.sh PATH/TO/peerport}
TMP=$(mktemp -d)
PIDS=()
N=0

cleanup ()
{
  local rc=$? left=0
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "# process $p still alive after cleanup" >&2
      kill -KILL "$p" 2>/dev/null || true
      left=1
    fi
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/*.out "$TMP"/*.err; do
      [ -f "$f" ] && { echo "# --- $f"; tail -n 40 "$f" | sed 's/^/# /'; } >&2
    done
  fi
  rm -rf "$TMP"
  [ "$left" -eq 0 ] || exit 1
  exit "$rc"
}
trap cleanup EXIT

fail () { N=$((N + 1)); echo "not ok $N - $*"; exit 1; }
pass () { N=$((N + 1)); echo "ok $N - $*"; }

wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE "$3" "$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no '$3' in $2 after $1 s"
    sleep 0.05
  done
}

wait_exit ()
{
  local deadline=$((SECONDS + $1))
  while [ -d "/proc/$2" ] && ! grep -q '^State:.*Z' "/proc/$2/status" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "process $2 still running after $1 s"
    sleep 0.05
  done
  RC=0
  wait "$2" || RC=$?
}

# ctl ARGS...: runs `peerport ctl` in the join's runtime folder; sets RC,
# and leaves stdout in $TMP/ctl.out, stderr in $TMP/ctl.err.
ctl ()
{
  RC=0
  XDG_RUNTIME_DIR="$TMP/run" timeout 20 "$PEERPORT" ctl "$@" > "$TMP/ctl.out" 2> "$TMP/ctl.err" \
    || RC=$?
}

refused () { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "1..17"
mkdir -m 0700 "$TMP/run" "$TMP/hostrun"
echo hello-through-the-tunnel > "$TMP/index.html"

ctl status
[ "$RC" -eq 69 ] && grep -q 'no peerport host or join' "$TMP/ctl.err" \
  || fail "ctl with no instance exited $RC: $(cat "$TMP/ctl.err")"
pass "ctl with no instance: exit 69 and says so"

"$PEERPORT" signal --listen 127.0.0.1:0 --stun-port off > "$TMP/signal.out" 2> "$TMP/signal.err" &
PIDS+=($!)
wait_for 10 "$TMP/signal.out" 'listening on http://'
SIGNAL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$TMP/signal.out" | head -1)

(cd "$TMP" && exec python3 -u -m http.server --bind 127.0.0.1 0) > "$TMP/http.out" 2>&1 &
PIDS+=($!)
wait_for 10 "$TMP/http.out" 'port [0-9]+'
HTTP=$(grep -oE 'port [0-9]+' "$TMP/http.out" | head -1 | cut -d' ' -f2)

# A port nobody may share: a listener of our own, without SO_REUSEPORT.
python3 -c '
import socket, sys, signal
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
signal.pause()' > "$TMP/busy.out" 2>&1 &
PIDS+=($!)
wait_for 10 "$TMP/busy.out" '^[0-9]+$'
BUSY=$(head -1 "$TMP/busy.out")

XDG_RUNTIME_DIR="$TMP/hostrun" "$PEERPORT" host --signal "$SIGNAL" --allow "127.0.0.1:$HTTP" \
  --yes --name ctl-host > "$TMP/host.out" 2> "$TMP/host.err" &
PIDS+=($!)
wait_for 10 "$TMP/host.out" 'join URL: http://'
JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$TMP/host.out" | head -1 | cut -d' ' -f3)

# Without CAP_NET_BIND_SERVICE even as root, so port 80 is privileged.
DROP=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null; then
  DROP=(setpriv --bounding-set=-net_bind_service --inh-caps=-net_bind_service --)
fi
XDG_RUNTIME_DIR="$TMP/run" "${DROP[@]}" "$PEERPORT" join "$JOIN_URL" --name ctl-join \
  -L "127.0.0.1:$BUSY=>127.0.0.1:$HTTP" -L "127.0.0.1:0=>127.0.0.1:$HTTP" \
  > "$TMP/join.out" 2> "$TMP/join.err" &
JOIN_PID=$!
PIDS+=($JOIN_PID)
wait_for 20 "$TMP/join.out" 'tunnel open'
grep -qE "127\.0\.0\.1:$BUSY=>.*address already in use" "$TMP/join.err" \
  || fail "-L on a taken port was not reported"
PORT1=$(grep -oE 'listening on port [0-9]+' "$TMP/join.out" | head -1 | cut -d' ' -f4)
[ "$(curl -sS --max-time 20 "http://127.0.0.1:$PORT1/index.html")" = hello-through-the-tunnel ] \
  || fail "no page through the -L that listens"
pass "-L on a taken port reported; the session goes on with the other mapping"

ctl maps
[ "$RC" -eq 0 ] && grep -qE "^#1 127\.0\.0\.1:$PORT1 => 127\.0\.0\.1:$HTTP \(port $PORT1\)$" \
  "$TMP/ctl.out" || fail "ctl maps ($RC): $(cat "$TMP/ctl.out" "$TMP/ctl.err")"
pass "ctl picks the only instance; maps lists #1 with its port"

ctl map "127.0.0.1:0=>127.0.0.1:$HTTP"
PORT2=$(grep -oE 'listening on port [0-9]+' "$TMP/ctl.out" | cut -d' ' -f4 || true)
[ "$RC" -eq 0 ] && [ -n "$PORT2" ] || fail "ctl map ($RC): $(cat "$TMP/ctl.out" "$TMP/ctl.err")"
pass "ctl map: a new mapping listens on port $PORT2"

[ "$(curl -sS --max-time 20 "http://127.0.0.1:$PORT2/index.html")" = hello-through-the-tunnel ] \
  || fail "no page through the new mapping"
pass "traffic through the new mapping"

# A connection held open shows in conns.
exec 4<>"/dev/tcp/127.0.0.1/$PORT2"
deadline=$((SECONDS + 10))
until ctl conns; grep -qE "=> 127\.0\.0\.1:$HTTP .* open" "$TMP/ctl.out"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "conns never listed the open connection: $(cat "$TMP/ctl.out")"
  sleep 0.05
done
pass "ctl conns lists the open connection"

ctl status
[ "$RC" -eq 0 ] && grep -q '^state: open$' "$TMP/ctl.out" && grep -q '^path: direct udp ' \
  "$TMP/ctl.out" && grep -qE '^sockets: [1-9]' "$TMP/ctl.out" && grep -q '^mappings: 2$' \
  "$TMP/ctl.out" || fail "ctl status ($RC): $(cat "$TMP/ctl.out")"
pass "ctl status: open, direct path, sockets, mappings"

ctl unmap '#2'
[ "$RC" -eq 0 ] && grep -qE "unmapped .*:$PORT2 => .*; 1 connection reset" "$TMP/ctl.out" \
  || fail "ctl unmap ($RC): $(cat "$TMP/ctl.out" "$TMP/ctl.err")"
exec 4<&- 4>&-
refused "$PORT2" || fail "port $PORT2 still accepts after unmap"
pass "ctl unmap: the held connection reset, the port refuses"

ctl map 'bogus'
[ "$RC" -eq 1 ] && grep -q "peerport: ctl: join-$JOIN_PID: bogus: bad mapping" "$TMP/ctl.err" \
  || fail "bad mapping ($RC): $(cat "$TMP/ctl.err")"
pass "ctl map with a bad mapping: exit 1 and the parser's reason"

ctl map "127.0.0.1:$PORT1=>127.0.0.1:$HTTP"
[ "$RC" -eq 1 ] && grep -q "address already in use: 127.0.0.1:$PORT1: pick another port" \
  "$TMP/ctl.err" || fail "port in use ($RC): $(cat "$TMP/ctl.err")"
pass "ctl map on a port in use: exit 1, says so"

UNPRIV=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
if [ "$UNPRIV" -gt 80 ] && { [ "$(id -u)" -ne 0 ] || [ "${#DROP[@]}" -gt 0 ]; }; then
  ctl map '80=>127.0.0.1:80'
  [ "$RC" -eq 1 ] && grep -q '80=>127.0.0.1:80: port 80 is privileged: run as root' \
    "$TMP/ctl.err" || fail "privileged port ($RC): $(cat "$TMP/ctl.err")"
  pass "ctl map on port 80: exit 1, says it is privileged and what to do"
else
  N=$((N + 1)); echo "ok $N - # SKIP ports below 1024 are not privileged here"
fi

[ "$(curl -sS --max-time 20 "http://127.0.0.1:$PORT1/index.html")" = hello-through-the-tunnel ] \
  || fail "the session stopped serving after refused commands"
ctl maps
[ "$(grep -c '^#' "$TMP/ctl.out")" -eq 1 ] || fail "refused maps were added: $(cat "$TMP/ctl.out")"
pass "after the refusals the session still serves, with one mapping"

ctl frobnicate
[ "$RC" -eq 1 ] && grep -q 'unknown command (type help)' "$TMP/ctl.err" \
  || fail "unknown command ($RC): $(cat "$TMP/ctl.err")"
ctl help
[ "$RC" -eq 0 ] && grep -q 'unmap MAPPING|#ID' "$TMP/ctl.out" || fail "help ($RC)"
pass "unknown command refused (exit 1); help lists the commands"

# A second instance (a stand-in answering on a socket of its own).
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
print("up", flush=True)
while True:
    c, _ = s.accept(); c.settimeout(2)
    try:
        c.recv(2048); c.sendall(b"stand-in\nOK\n")
    except OSError:
        pass
    c.close()' "$TMP/run/peerport/join-1.sock" > "$TMP/standin.out" 2>&1 &
STANDIN=$!
PIDS+=($STANDIN)
wait_for 10 "$TMP/standin.out" '^up$'
ctl maps
[ "$RC" -eq 64 ] && grep -q "several instances run (join-1, join-$JOIN_PID); pick one with --instance" \
  "$TMP/ctl.err" || fail "two instances ($RC): $(cat "$TMP/ctl.err")"
ctl
[ "$RC" -eq 0 ] && [ "$(cat "$TMP/ctl.out")" = "join-1
join-$JOIN_PID" ] || fail "ctl listing ($RC): $(cat "$TMP/ctl.out")"
pass "two instances: ctl lists them and asks for --instance (64)"

ctl --instance "join-$JOIN_PID" maps
[ "$RC" -eq 0 ] && grep -q "^#1 " "$TMP/ctl.out" || fail "--instance ($RC)"
kill -TERM "$STANDIN"
rm -f "$TMP/run/peerport/join-1.sock"
pass "--instance picks one"

ctl quit
[ "$RC" -eq 0 ] && grep -q 'ending the session' "$TMP/ctl.out" || fail "quit ($RC)"
wait_exit 15 "$JOIN_PID"
[ "$RC" -eq 0 ] || fail "join exited $RC after quit, want 0"
pass "ctl quit: join exits 0"

refused "$PORT1" || fail "port $PORT1 still accepts after join exited"
[ ! -e "$TMP/run/peerport/join-$JOIN_PID.sock" ] || fail "control socket left behind"
ctl status
[ "$RC" -eq 69 ] || fail "ctl after quit exited $RC, want 69"
pass "after quit: listener and control socket gone, ctl finds no instance"

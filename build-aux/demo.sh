#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `make demo`: a real service reached through a real tunnel between two peerport processes on
# this machine, narrated.  Everything it starts runs under one trap and is gone when it ends,
# whether it succeeds, fails or is interrupted; only loopback is used.
#
#   curl ──TCP──> peerport join ══ WebRTC DataChannel ══ peerport host ──TCP──> python3 http.server
#                       └──────────── peerport signal (introduces them) ───────────┘
set -euo pipefail

PEERPORT=${1:?usage: demo.sh PATH/TO/peerport}
TMP=$(mktemp -d /tmp/peerport-demo.XXXXXX)
PIDS=()

bold () { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
say () { printf '%s\n' "$*"; }
show () { sed 's/^/    │ /' "$1"; }

cleanup ()
{
  local rc=$?
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    say "The demo failed (exit $rc).  What the processes printed:"
    for f in "$TMP"/*.out "$TMP"/*.err; do [ -s "$f" ] && { say "  $f:"; show "$f"; }; done
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail () { say "demo: $*" >&2; exit 1; }

# wait_for SECONDS FILE REGEX: polls until a line of FILE matches, or fails.
wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE "$3" "$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no '$3' in $2 after $1 s"
    sleep 0.05
  done
}

bold "1. A service to share: a web server on 127.0.0.1, as a game server or an API would be."
mkdir -p "$TMP/www"
printf 'Hello from the host side of a peerport tunnel.\n' > "$TMP/www/hello.txt"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$TMP/www/big.bin"
(cd "$TMP/www" && exec python3 -u -m http.server --bind 127.0.0.1 0) > "$TMP/http.out" 2>&1 &
PIDS+=($!)
wait_for 10 "$TMP/http.out" 'port [0-9]+'
HTTP_PORT=$(grep -oE 'port [0-9]+' "$TMP/http.out" | head -1 | cut -d' ' -f2)
say "   python3 -m http.server listens on 127.0.0.1:$HTTP_PORT (only this machine can reach it)."
say ""

bold "2. A signaling server introduces the two peers (normally on a small public server)."
"$PEERPORT" signal --listen 127.0.0.1:0 > "$TMP/signal.out" 2> "$TMP/signal.err" &
PIDS+=($!)
wait_for 10 "$TMP/signal.out" 'listening on http://'
SIGNAL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$TMP/signal.out" | head -1)
say "   \$ peerport signal --listen 127.0.0.1:0"
show "$TMP/signal.out"
say ""

bold "3. The host shares exactly one address; everything else stays refused."
say "   \$ peerport host --signal $SIGNAL --allow 127.0.0.1:$HTTP_PORT --yes"
"$PEERPORT" host --signal "$SIGNAL" --allow "127.0.0.1:$HTTP_PORT" --yes --name demo-host \
  > "$TMP/host.out" 2> "$TMP/host.err" &
HOST_PID=$!
PIDS+=($HOST_PID)
wait_for 15 "$TMP/host.out" 'join URL: http://'
JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$TMP/host.out" | head -1 | cut -d' ' -f3)
show "$TMP/host.out"
say "   The URL is single-use; its #h=… part pins the host's certificate and never reaches"
say "   the signaling server.  (--yes skips the 'accept? [y/N]' question a person would answer"
say "   after comparing the verification code; it trusts the signaling server.)"
say ""

bold "4. The peer joins and maps a local port to the host's service."
say "   \$ peerport join '$JOIN_URL' -L '127.0.0.1:0=>127.0.0.1:$HTTP_PORT'"
say "   (local port 0: any free port; the join prints which.)"
"$PEERPORT" join "$JOIN_URL" -L "127.0.0.1:0=>127.0.0.1:$HTTP_PORT" --name demo-peer \
  > "$TMP/join.out" 2> "$TMP/join.err" &
JOIN_PID=$!
PIDS+=($JOIN_PID)
wait_for 10 "$TMP/join.out" 'listening on port [0-9]+'
LOCAL_PORT=$(grep -oE 'listening on port [0-9]+' "$TMP/join.out" | head -1 | cut -d' ' -f4)
wait_for 30 "$TMP/join.out" 'tunnel open'
wait_for 10 "$TMP/host.out" 'tunnel open'
show "$TMP/join.out"
say "   Both sides showed the same verification code; the host's side now reads:"
show "$TMP/host.out"
say ""

bold "5. A real program uses the tunnel: curl talks to 127.0.0.1:$LOCAL_PORT on the peer's side."
say "   \$ curl http://127.0.0.1:$LOCAL_PORT/hello.txt"
curl -sS --max-time 20 "http://127.0.0.1:$LOCAL_PORT/hello.txt" | sed 's/^/    │ /'
start=$(date +%s.%N)
curl -sS --max-time 60 -o "$TMP/big.got" "http://127.0.0.1:$LOCAL_PORT/big.bin"
end=$(date +%s.%N)
cmp -s "$TMP/www/big.bin" "$TMP/big.got" || fail "the 64 MiB download differs"
say "   64 MiB downloaded through the tunnel byte-identical in $(python3 -c \
  "print(f'{$end - $start:.2f} s ({64 * 8 / ($end - $start):.0f} Mbit/s)')")."
say "   The bytes went curl → join → DTLS/SCTP over UDP → host → http.server and back:"
say "   the signaling server only carried the introduction, never the data."
say ""

bold "6. Ending: Ctrl-C (here SIGINT) on the host tells the peer at once."
kill -INT "$HOST_PID"
for _ in $(seq 200); do kill -0 "$JOIN_PID" 2>/dev/null || break; sleep 0.05; done
JOIN_RC=0
wait "$JOIN_PID" || JOIN_RC=$?
HOST_RC=0
wait "$HOST_PID" || HOST_RC=$?
say "   host exited $HOST_RC, join exited $JOIN_RC (69: the peer ended the session); join said:"
show "$TMP/join.err"
say ""
bold "Done.  Try it between two machines: see README.md, 'Quick start'."

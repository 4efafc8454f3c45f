#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End to end on loopback, real processes only:
#
#   curl ──TCP──> [peerport join] ══WebRTC══ [peerport host] ──TCP──> python3 http.server
#                        └────── peerport signal (HTTP) ──────┘
#
# A 100 MiB file must arrive byte-identical through the tunnel; then SIGTERM
# to the host must end both sides (host 0, join 69 saying the host ended the
# session) and leave no process behind.  Every wait polls a condition with a
# deadline; nothing sleeps for synchronisation.
set -euo pipefail

PEERPORT=${1:?usage: test-host-join.sh PATH/TO/peerport}
TMP=$(mktemp -d)
PIDS=()

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
      [ -f "$f" ] && { echo "# --- $f"; sed 's/^/# /' "$f"; } >&2
    done
  fi
  rm -rf "$TMP"
  [ "$left" -eq 0 ] || exit 1
  exit "$rc"
}
trap cleanup EXIT

fail () { echo "FAIL: $*" >&2; exit 1; }

# wait_for SECONDS FILE REGEX: until a line of FILE matches.
wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE "$3" "$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no '$3' in $2 after $1 s"
    sleep 0.05
  done
}

# wait_exit SECONDS PID: until PID is gone; its exit status in $RC (no
# subshell: only this shell can reap its children).
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

head -c $((100 * 1024 * 1024)) /dev/urandom > "$TMP/blob"

"$PEERPORT" signal --listen 127.0.0.1:0 --stun-port off > "$TMP/signal.out" 2> "$TMP/signal.err" &
PIDS+=($!)
wait_for 10 "$TMP/signal.out" 'listening on http://'
SIGNAL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$TMP/signal.out" | head -1)

(cd "$TMP" && exec python3 -u -m http.server --bind 127.0.0.1 0) > "$TMP/http.out" 2>&1 &
PIDS+=($!)
wait_for 10 "$TMP/http.out" 'port [0-9]+'
HTTP_PORT=$(grep -oE 'port [0-9]+' "$TMP/http.out" | head -1 | cut -d' ' -f2)

"$PEERPORT" host --signal "$SIGNAL" --allow "127.0.0.1:$HTTP_PORT" --yes --name e2e-host \
  > "$TMP/host.out" 2> "$TMP/host.err" &
HOST_PID=$!
PIDS+=($HOST_PID)
wait_for 10 "$TMP/host.out" 'join URL: http://'
JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$TMP/host.out" | head -1 | cut -d' ' -f3)
case "$JOIN_URL" in *'#h='*) ;; *) fail "join URL without pin: $JOIN_URL" ;; esac

"$PEERPORT" join "$JOIN_URL" -L "127.0.0.1:0=>127.0.0.1:$HTTP_PORT" --name e2e-join \
  > "$TMP/join.out" 2> "$TMP/join.err" &
JOIN_PID=$!
PIDS+=($JOIN_PID)
wait_for 10 "$TMP/join.out" 'listening on port [0-9]+'
LOCAL_PORT=$(grep -oE 'listening on port [0-9]+' "$TMP/join.out" | head -1 | cut -d' ' -f4)

# Both sides show the same verification code.
wait_for 20 "$TMP/join.out" 'code [0-9]{3} [0-9]{3}'
wait_for 20 "$TMP/host.out" 'code [0-9]{3} [0-9]{3}'
CODE_J=$(grep -oE 'code [0-9]{3} [0-9]{3}' "$TMP/join.out" | head -1)
CODE_H=$(grep -oE 'code [0-9]{3} [0-9]{3}' "$TMP/host.out" | head -1)
[ "$CODE_J" = "$CODE_H" ] || fail "codes differ: join '$CODE_J', host '$CODE_H'"
echo "# $CODE_J on both sides"

# The listener accepts before the tunnel is open: curl's connection waits.
start=$SECONDS
curl -sS --max-time 60 -o "$TMP/got" "http://127.0.0.1:$LOCAL_PORT/blob"
echo "# 100 MiB in $((SECONDS - start)) s"
wait_for 5 "$TMP/join.out" 'tunnel open'
wait_for 5 "$TMP/host.out" 'tunnel open'
[ "$(sha256sum < "$TMP/blob")" = "$(sha256sum < "$TMP/got")" ] || fail "download differs"
echo "# download byte-identical"

kill -TERM "$HOST_PID"
wait_exit 10 "$HOST_PID"
HOST_RC=$RC
wait_exit 10 "$JOIN_PID"
JOIN_RC=$RC
[ "$HOST_RC" -eq 0 ] || fail "host exited $HOST_RC, want 0"
[ "$JOIN_RC" -eq 69 ] || fail "join exited $JOIN_RC, want 69"
grep -q 'the host ended the session' "$TMP/join.err" || fail "join did not say the host left"
# The join side's listener is gone with it.
if (exec 3<>"/dev/tcp/127.0.0.1/$LOCAL_PORT") 2>/dev/null; then
  fail "port $LOCAL_PORT still accepts after join exited"
fi

# A host that cannot ask (no terminal, no --yes) declines: join exits 77,
# and the session waits again.  Then a link whose pin names another host is
# refused: 76 (last, as the server counts that join).
"$PEERPORT" host --signal "$SIGNAL" --allow "127.0.0.1:$HTTP_PORT" < /dev/null \
  > "$TMP/host2.out" 2> "$TMP/host2.err" &
HOST_PID=$!
PIDS+=($HOST_PID)
wait_for 10 "$TMP/host2.out" 'join URL: http://'
JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$TMP/host2.out" | head -1 | cut -d' ' -f3)
RC=0
timeout 30 "$PEERPORT" join "$JOIN_URL" > "$TMP/join2.out" 2> "$TMP/join2.err" || RC=$?
[ "$RC" -eq 77 ] || fail "declined join exited $RC, want 77"
grep -q 'declined' "$TMP/host2.err" || fail "host did not say it declined"
RC=0
timeout 30 "$PEERPORT" join "${JOIN_URL%#h=*}#h=AAAAAAAAAAAAAAAAAAAAAA" 2> "$TMP/pin.err" || RC=$?
[ "$RC" -eq 76 ] || fail "join with a wrong pin exited $RC, want 76"
grep -q 'different host' "$TMP/pin.err" || fail "no pin mismatch message"
kill -TERM "$HOST_PID"
wait_exit 10 "$HOST_PID"
[ "$RC" -eq 0 ] || fail "host exited $RC after SIGTERM while waiting, want 0"
# SIGTERM withdrew the session: the link no longer works.
RC=0
timeout 10 "$PEERPORT" join "$JOIN_URL" > "$TMP/join3.out" 2> "$TMP/join3.err" || RC=$?
[ "$RC" -eq 68 ] || fail "join of a withdrawn session exited $RC, want 68"
echo "ok: host/join end to end"

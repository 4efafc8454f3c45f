#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `peerport host` without --signal (DESIGN §5, embedded mode), real processes on loopback:
#
#   pp-e2e-app client ──TCP──> [peerport join] ══WebRTC══ [peerport host] ──TCP──> pp-e2e-app
#                                     └──── HTTP to the host's own signaling ────┘
#
# The host runs the signaling server itself on --listen-signal 127.0.0.1:0, prints the join URL
# and says who can use it; a peer joins, 8 MiB go through the tunnel and back intact; the
# server stops listening once the session is answered; `peerport ctl status` answers; SIGTERM
# ends both sides (host 0, join 69 saying the host ended the session) and leaves no process,
# port or control socket.  Bad flags fail with 64 and a message naming the fix.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 11

# --- flags ---
rc=0
"$PEERPORT" host --turn turn:host > "$PP_TMP/bad.out" 2> "$PP_TMP/bad.err" < /dev/null || rc=$?
if [ "$rc" = 64 ] && grep -q 'bad --turn "turn:host": expected turn:USER:PASS@HOST' \
     "$PP_TMP/bad.err"; then
  pp_pass "--turn turn:host: exit 64 naming the expected form"
else
  pp_fail "--turn turn:host: exit 64 naming the expected form" "exit $rc" \
    "$(cat "$PP_TMP/bad.err")"
fi
rc=0
"$PEERPORT" host --window 1K --listen-signal 127.0.0.1:0 > "$PP_TMP/bad.out" \
  2> "$PP_TMP/bad.err" < /dev/null || rc=$?
if [ "$rc" = 64 ] && grep -q 'bad --window "1K": too small' "$PP_TMP/bad.err"; then
  pp_pass "--window 1K: exit 64, too small"
else
  pp_fail "--window 1K: exit 64, too small" "exit $rc" "$(cat "$PP_TMP/bad.err")"
fi

# --- the embedded server ---
pp_start_app app echo-after-eof
pp_spawn host "$PEERPORT" host --listen-signal 127.0.0.1:0 --yes --name embedded \
  --allow "127.0.0.1:$PP_APP_PORT"
HOST_PID=$PP_PID
pp_wait_for 15 "$PP_TMP/host.out" 'join URL: http://' || pp_bail "host: no join URL"
PP_JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$PP_TMP/host.out" | head -1 | cut -d' ' -f3)
SIG_PORT=$(echo "$PP_JOIN_URL" | sed -nE 's|^http://127\.0\.0\.1:([0-9]+)/session/.*#h=.*|\1|p')
if [ -n "$SIG_PORT" ] && grep -q 'work only for peers that can reach this machine' \
     "$PP_TMP/host.out" && grep -q 'peerport signal' "$PP_TMP/host.out"; then
  pp_pass "join URL on the listen address, with who can use it ($PP_JOIN_URL)"
else
  pp_fail "join URL on the listen address, with who can use it" "$(cat "$PP_TMP/host.out")"
fi

# A second host on the same port: a clear error, exit 69.
rc=0
"$PEERPORT" host --listen-signal "127.0.0.1:$SIG_PORT" --yes > "$PP_TMP/busy.out" \
  2> "$PP_TMP/busy.err" < /dev/null || rc=$?
if [ "$rc" = 69 ] && grep -qi 'in use' "$PP_TMP/busy.err"; then
  pp_pass "listen address in use: exit 69"
else
  pp_fail "listen address in use: exit 69" "exit $rc" "$(cat "$PP_TMP/busy.err")"
fi

pp_start_join join "0=>127.0.0.1:$PP_APP_PORT"
JOIN_PID=$PP_JOIN_PID
pp_wait_for 30 "$PP_TMP/host.out" 'tunnel open' || pp_bail "host: tunnel not open"
pp_wait_for 30 "$PP_TMP/join.out" 'tunnel open' || pp_bail "join: tunnel not open"
pp_pass "join through the host's own signaling server: tunnel open"

out=$(python3 "$PP_APP" client "${PP_LPORTS[0]}" send-then-read $((8 * 1024 * 1024)) 2>&1) || true
case "$out" in
  'answer intact'*) pp_pass "8 MiB through the tunnel and back: $out" ;;
  *) pp_fail "8 MiB through the tunnel and back" "$out" ;;
esac

# Answered: nothing waits, so the server stops listening (checked each second).
deadline=$((SECONDS + 10))
while pp_listening "$SIG_PORT" && [ "$SECONDS" -lt "$deadline" ]; do pp_nap; done
if pp_listening "$SIG_PORT"; then
  pp_fail "the signaling port closes once the session is answered" "$(ss -Hltn)"
else
  pp_pass "the signaling port closes once the session is answered"
fi

out=$("$PEERPORT" ctl --instance "host-$HOST_PID" status 2>&1) || true
case "$out" in
  *'"join"'*open*) pp_pass "ctl status names the peer and says open" ;;
  *) pp_fail "ctl status names the peer and says open" "$out" ;;
esac

# --- the end ---
kill -TERM "$HOST_PID"
if pp_wait_exit 10 "$HOST_PID" && [ "$PP_RC" = 0 ]; then
  pp_pass "SIGTERM: host exits 0"
else
  pp_fail "SIGTERM: host exits 0" "exit ${PP_RC:-still running}"
fi
if pp_wait_exit 15 "$JOIN_PID" && [ "$PP_RC" = 69 ] \
     && grep -q 'the host ended the session' "$PP_TMP/join.err"; then
  pp_pass "the peer is told: exit 69, 'the host ended the session'"
else
  pp_fail "the peer is told: exit 69, 'the host ended the session'" \
    "exit ${PP_RC:-still running}" "$(cat "$PP_TMP/join.err")"
fi
left=$(find "$XDG_RUNTIME_DIR" -name "host-$HOST_PID*" 2>/dev/null)
if [ -z "$left" ] && ! pp_listening "$SIG_PORT" && ! pp_alive "$HOST_PID"; then
  pp_pass "nothing left: no process, port or control socket"
else
  pp_fail "nothing left: no process, port or control socket" "$left"
fi

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# One host, two peers, rules changed at runtime through `peerport ctl` (DESIGN §4, §7):
#
#   client A ─> [join a] ══╗                       ╔═> app1 (hold: 1 MiB, then waits)
#                          ╠══ [peerport host] ════╣
#   client B ─> [join b] ══╝   (embedded signaling) ╚═> app2 (echo)
#
# Peer a joins the first link, `ctl invite` makes a second one for peer b; each gets its own
# tunnel.  b cannot reach app2 until `ctl allow`; `ctl deny #1` resets a's live connection to
# app1 and says how many it closed.  When a leaves the host stays for b; when b leaves too and
# no link waits, the host exits 69.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 10

ctl () { "$PEERPORT" ctl --instance "host-$HOST_PID" "$@" 2>&1; }

pp_start_app app1 hold $((1024 * 1024))
APP1=$PP_APP_PORT
pp_start_app app2 echo-after-eof
APP2=$PP_APP_PORT

pp_spawn host "$PEERPORT" host --listen-signal 127.0.0.1:0 --yes --name multi \
  --allow "127.0.0.1:$APP1"
HOST_PID=$PP_PID
pp_wait_for 15 "$PP_TMP/host.out" 'join URL: http://' || pp_bail "host: no join URL"
PP_JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$PP_TMP/host.out" | head -1 | cut -d' ' -f3)
pp_start_join a "0=>127.0.0.1:$APP1"
A_PID=$PP_JOIN_PID
A_PORT=${PP_LPORTS[0]}
pp_wait_for 30 "$PP_TMP/a.out" 'tunnel open' || pp_bail "a: tunnel not open"

out=$(ctl invite) || true
URL2=$(echo "$out" | grep -oE 'link #2: http://[^ ]+' | head -1 | cut -d' ' -f3)
if [ -n "$URL2" ] && [ "$URL2" != "$PP_JOIN_URL" ]; then
  pp_pass "ctl invite: a second link ($URL2)"
else
  pp_bail "ctl invite gave no second link: $out"
fi
PP_JOIN_URL=$URL2
pp_start_join b "0=>127.0.0.1:$APP2"
B_PID=$PP_JOIN_PID
B_PORT=${PP_LPORTS[0]}
if pp_wait_for 30 "$PP_TMP/b.out" 'tunnel open' \
     && pp_wait_for 10 "$PP_TMP/host.out" 'tunnel open with "b"'; then
  pp_pass "the second peer has its own tunnel"
else
  pp_bail "b: tunnel not open"
fi

out=$(ctl status) || true
case "$out" in
  *'"a"'*open*'"b"'*open*) pp_pass "ctl status: both peers open" ;;
  *) pp_fail "ctl status: both peers open" "$out" ;;
esac

out=$(python3 "$PP_APP" client "$B_PORT" send-then-read 4096 2>&1) || true
case "$out" in
  'answer intact'*) pp_fail "b cannot reach app2 before 'allow'" "$out" ;;
  *) pp_pass "b cannot reach app2 before 'allow'" ;;
esac
out=$(ctl allow "127.0.0.1:$APP2") || true
case "$out" in
  *"allowed #2 127.0.0.1:$APP2"*) pp_pass "ctl allow: rule #2" ;;
  *) pp_fail "ctl allow: rule #2" "$out" ;;
esac
out=$(python3 "$PP_APP" client "$B_PORT" send-then-read $((1024 * 1024)) 2>&1) || true
case "$out" in
  'answer intact'*) pp_pass "after 'allow', b reaches app2: $out" ;;
  *) pp_fail "after 'allow', b reaches app2" "$out" ;;
esac

# a holds a connection to app1; denying rule #1 resets it.
pp_spawn holder python3 -u "$PP_APP" client "$A_PORT" hold $((1024 * 1024))
pp_wait_for 20 "$PP_TMP/holder.out" '^ready' || pp_bail "a: no connection to app1"
out=$(ctl deny '#1') || true
if echo "$out" | grep -q 'closed 1 connection' \
     && pp_wait_for 10 "$PP_TMP/holder.out" '^RESET'; then
  pp_pass "ctl deny #1: 'closed 1 connection', and the app sees a reset"
else
  pp_fail "ctl deny #1: 'closed 1 connection', and the app sees a reset" "$out" \
    "$(cat "$PP_TMP/holder.out")"
fi
out=$(ctl rules) || true
case "$out" in
  *"#1 "*) pp_fail "ctl rules: only #2 left" "$out" ;;
  *"#2 127.0.0.1:$APP2"*) pp_pass "ctl rules: only #2 left" ;;
  *) pp_fail "ctl rules: only #2 left" "$out" ;;
esac

# a leaves: the host stays for b.
kill -TERM "$A_PID"
pp_wait_exit 10 "$A_PID" || true
if pp_wait_for 15 "$PP_TMP/host.out" 'the peer ended the session \(peer "a"' \
     && pp_alive "$HOST_PID" && ctl status | grep -q '"b"'; then
  pp_pass "a leaves: the host goes on with b"
else
  pp_fail "a leaves: the host goes on with b" "$(tail -5 "$PP_TMP/host.out")"
fi

# b leaves too: nothing left, the host exits 69.
kill -TERM "$B_PID"
pp_wait_exit 10 "$B_PID" || true
if pp_wait_exit 15 "$HOST_PID" && [ "$PP_RC" = 69 ] \
     && grep -q 'no peer left and no link waiting' "$PP_TMP/host.out"; then
  pp_pass "b leaves: the host exits 69 (no peer, no link)"
else
  pp_fail "b leaves: the host exits 69 (no peer, no link)" "exit ${PP_RC:-still running}"
fi

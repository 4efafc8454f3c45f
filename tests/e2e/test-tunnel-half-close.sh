#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Half-close through the tunnel, both directions:
#
#   client ──> [join] ══WebRTC══ [host] ──> server
#
# 1. The client sends, shuts its write side, and reads: the server reads to EOF and only then
#    answers; the answer must arrive in full (nc -N, then a 4 MiB python client).
# 2. The server talks first and shuts its write side: the client reads to EOF, then sends its own
#    4 MiB, which the server must get in full after its half-close.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 6

SIZE=$((4 * 1024 * 1024 / PP_SCALE))
pp_start_app echo echo-after-eof
ECHO_PORT=$PP_APP_PORT
pp_start_app talk talk-first "$SIZE"
TALK_PORT=$PP_APP_PORT
pp_tunnel "127.0.0.1:$ECHO_PORT" "127.0.0.1:$TALK_PORT" -- \
  "127.0.0.1:0=>127.0.0.1:$ECHO_PORT" "127.0.0.1:0=>127.0.0.1:$TALK_PORT"
ECHO_L=${PP_LPORTS[0]}
TALK_L=${PP_LPORTS[1]}

# nc -N: shutdown(SHUT_WR) after stdin's EOF, then print what comes back until the server closes.
head -c 100000 /dev/urandom > "$PP_TMP/small"
rc=0
timeout 30 nc -N 127.0.0.1 "$ECHO_L" < "$PP_TMP/small" > "$PP_TMP/small.back" || rc=$?
want="$(sha256sum < "$PP_TMP/small" | cut -d' ' -f1)"
head=$(head -n 1 "$PP_TMP/small.back")
if [ "$rc" -eq 0 ] && [ "$head" = "$want" ] \
   && cmp -s "$PP_TMP/small" <(tail -c +66 "$PP_TMP/small.back"); then
  pp_pass "nc -N: the answer to 100000 bytes arrives in full after the half-close"
else
  pp_fail "nc -N: the answer to 100000 bytes arrives in full after the half-close" \
    "nc exit $rc, $(wc -c < "$PP_TMP/small.back") bytes back, header '$head'"
fi

out=$(timeout 40 python3 "$PP_APP" client "$ECHO_L" send-then-read "$SIZE" 2>&1)
rc=$?
pp_diag "client: $out"
pp_check "client half-closes after $SIZE bytes: the answer arrives in full" [ "$rc" -eq 0 ]
pp_check "the server read to EOF before answering (twice)" \
  [ "$(grep -c 'read [0-9]* bytes to EOF' "$PP_TMP/echo.log")" -eq 2 ]

out=$(timeout 40 python3 "$PP_APP" client "$TALK_L" read-then-send "$SIZE" 2>&1)
rc=$?
pp_diag "client: $out"
pp_check "server half-closes after $SIZE bytes: the client reads them all to EOF" [ "$rc" -eq 0 ]
if pp_wait_for 20 "$PP_TMP/talk.log" "got $SIZE bytes after my half-close, intact"; then
  pp_pass "the client's $SIZE bytes reach the server after the server's half-close"
else
  pp_fail "the client's $SIZE bytes reach the server after the server's half-close" \
    "server log: $(cat "$PP_TMP/talk.log" 2>/dev/null)"
fi

# Ten at once, in both orders: half-closes of concurrent connections do not mix.
pids=()
for _ in 1 2 3 4 5; do
  timeout 40 python3 "$PP_APP" client "$ECHO_L" send-then-read $((SIZE / 8)) \
    > /dev/null 2>&1 & pids+=($!)
  timeout 40 python3 "$PP_APP" client "$TALK_L" read-then-send "$SIZE" \
    > /dev/null 2>&1 & pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
pp_check "ten concurrent half-closed exchanges, both orders: all intact ($bad failed)" \
  [ "$bad" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Rules, mappings and peers changed at runtime with `peerport ctl`:
#
#   clients ──> [join] ══WebRTC══ [host] ──> A (holds connections), B (echo after EOF)
#               [join2] ═════════╝            (a second peer, from `ctl invite`)
#
# A connection the rules do not allow is refused (the app sees a reset, the server nothing);
# `allow` lets it through; `deny RULE` resets the live sockets it no longer allows and says how
# many, `deny #ID --keep` spares them; `unmap` closes the listener and its sockets; `invite`
# makes a link for a second peer who shares the rules; `quit` ends a side like Ctrl-C.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 22

pp_start_app A hold 1000
A=$PP_APP_PORT
pp_start_app B echo-after-eof
B=$PP_APP_PORT
pp_tunnel "127.0.0.1:$A" -- "127.0.0.1:0=>127.0.0.1:$A"
M1=${PP_LPORTS[0]}
HOST=$PP_HOST_PID
JOIN=$PP_JOIN_PID

# hctl/jctl ARGS: `peerport ctl` to the host or the join side; answer in $PP_TMP/ctl.out.
ctl () { timeout 20 "$PEERPORT" ctl "$@" > "$PP_TMP/ctl.out" 2>&1; }
hctl () { ctl --instance "host-$HOST" "$@"; }
jctl () { ctl --instance "join-$JOIN" "$@"; }
said () { grep -qE -- "$1" "$PP_TMP/ctl.out"; }
answer () { tr '\n' '|' < "$PP_TMP/ctl.out" | cut -c1-300; }

# ctl_check DESC ERE ARGS...: ok when the host/join command (first ARG hctl or jctl) succeeds
# and its answer matches ERE.
ctl_check ()
{
  local desc=$1 re=$2
  shift 2
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -eq 0 ] && said "$re"; then
    pp_pass "$desc"
  else
    pp_fail "$desc" "ctl ${*:2}: exit $rc, answer: $(answer)"
  fi
}

# hold NAME PORT: a client holding a connection through PORT, once it got A's 1000 bytes.
hold ()
{
  pp_spawn "$1" timeout 60 python3 -u "$PP_APP" client "$2" hold 1000
  pp_wait_for 20 "$PP_TMP/$1.out" '^(ready|EOF|RESET)'
}
conns_of () { grep -c "^conn" "$PP_TMP/$1.log" 2>/dev/null || true; }
echo_through () { timeout 30 python3 "$PP_APP" client "$1" send-then-read 100000 > /dev/null 2>&1; }

ctl
if grep -qx "host-$HOST" "$PP_TMP/ctl.out" && grep -qx "join-$JOIN" "$PP_TMP/ctl.out"; then
  pp_pass "ctl without a command lists both instances"
else
  pp_fail "ctl without a command lists both instances" "$(answer)"
fi

# Refused, then allowed.
ctl_check "join: map a second port to B" "listening on port [0-9]+" \
  jctl map "127.0.0.1:0=>127.0.0.1:$B"
M2=$(grep -oE 'listening on port [0-9]+' "$PP_TMP/ctl.out" | cut -d' ' -f4)
M2_ID=$(grep -oE '^#[0-9]+' "$PP_TMP/ctl.out" | head -1)
if echo_through "$M2"; then
  pp_fail "a connection to B, which no rule allows, is refused" "it went through"
else
  pp_pass "a connection to B, which no rule allows, is refused"
fi
pp_check "B's server never saw that connection" [ "$(conns_of B)" -eq 0 ]
ctl_check "host: allow B" "allowed #[0-9]+" hctl allow "127.0.0.1:$B"
pp_check "after allow, the echo through the new mapping arrives intact" echo_through "$M2"

# deny RULE with live sockets: they are reset and counted.
hold h1 "$M1"
hold h2 "$M1"
hctl conns
pp_check "host: conns lists the two live connections to A" \
  [ "$(grep -c "127.0.0.1:$A.*open" "$PP_TMP/ctl.out")" -eq 2 ]
ctl_check "host: deny A says it closed 2 connections" "closed 2 connection" \
  hctl deny "127.0.0.1:$A"
pp_wait_for 10 "$PP_TMP/h1.out" '^(EOF|RESET)'
pp_wait_for 10 "$PP_TMP/h2.out" '^(EOF|RESET)'
pp_check "both apps see a reset" [ "$(cat "$PP_TMP"/h[12].out | grep -c '^RESET')" -eq 2 ]
before=$(conns_of A)
hold h3 "$M1"
pp_check "after deny, a new connection to A is refused" grep -qE '^(EOF|RESET)' "$PP_TMP/h3.out"
pp_check "A's server saw no new connection" [ "$(conns_of A)" -eq "$before" ]

# deny #ID --keep spares live sockets; unmap resets them and closes the listener.
ctl_check "host: allow A again" "allowed #[0-9]+" hctl allow "127.0.0.1:$A"
RULE_ID=$(grep -oE '#[0-9]+' "$PP_TMP/ctl.out" | head -1)
hold h4 "$M1"
ctl_check "host: deny $RULE_ID --keep keeps the live connection" "kept" \
  hctl deny "$RULE_ID" --keep
hctl conns
pp_check "the kept connection is still open" \
  [ "$(grep -c "127.0.0.1:$A.*open" "$PP_TMP/ctl.out")" -eq 1 ]
pp_check "and its app saw no end" [ "$(grep -cE '^(EOF|RESET)' "$PP_TMP/h4.out")" -eq 0 ]
ctl_check "join: unmap the first mapping" "unmapped .*1 connection" jctl unmap '#1'
pp_wait_for 10 "$PP_TMP/h4.out" '^(EOF|RESET)'
pp_check "unmap resets the connection it carried" grep -q '^RESET' "$PP_TMP/h4.out"
pp_check "unmap closes the listener" eval "! pp_listening $M1"

# invite: a second peer, sharing the rules (B is allowed).
ctl_check "host: invite announces a new link" "link #[0-9]+" hctl invite
deadline=$((SECONDS + 15))
while [ "$(grep -c 'join URL: ' "$PP_TMP/host.out")" -lt 2 ] && [ "$SECONDS" -lt "$deadline" ]; do
  pp_nap
done
PP_JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$PP_TMP/host.out" | tail -1 | cut -d' ' -f3)
pp_start_join join2 "127.0.0.1:0=>127.0.0.1:$B"
JOIN2=$PP_JOIN_PID
pp_wait_for 30 "$PP_TMP/join2.out" 'tunnel open' || true
pp_check "the second peer reaches B through its own tunnel" echo_through "${PP_LPORTS[0]}"
hctl status
pp_check "host status shows two open peers" [ "$(grep -c ': open' "$PP_TMP/ctl.out")" -eq 2 ]

# quit: the first join ends; the host goes on with the second peer.
ctl --instance "join-$JOIN" quit
PP_RC=none
pp_wait_exit 10 "$JOIN" || true
if [ "$PP_RC" = 0 ] && pp_alive "$HOST" && pp_alive "$JOIN2"; then
  pp_pass "join quits with exit 0; the host and the second peer go on"
else
  pp_fail "join quits with exit 0; the host and the second peer go on" "join exit $PP_RC"
fi
[ -z "$M2_ID" ] || pp_diag "B's first mapping was $M2_ID"

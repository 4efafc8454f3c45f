#!/bin/bash
# SPDX-License-Identifier: MIT
#
# One side of an open tunnel dies without a word (SIGKILL): the host in one session, the join
# side in another, at the same moment:
#
#   3 clients ──> [join] ══WebRTC══ [host] ──> server holding 3 connections open
#
# The survivor must notice within the transport's 15 s liveness limit (DESIGN §6; 3 s slack for
# a loaded machine), say so on stderr, reset its app sockets (each app sees a reset, never a
# clean EOF after a partial transfer), close its listeners and exit 69 (docs/cli.md).
# shellcheck disable=SC2154  # HOST_x, JOIN_x, LPORT_x are set by eval in setup()
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 9

HELD=$((256 * 1024))
LIMIT=18

# setup VICTIM: a session whose VICTIM (host or join) will die, with three held connections.
setup ()
{
  local victim=$1 i
  pp_start_app "hold-$victim" hold "$HELD"
  PP_H=host-$victim PP_J=join-$victim \
    pp_tunnel "127.0.0.1:$PP_APP_PORT" -- "127.0.0.1:0=>127.0.0.1:$PP_APP_PORT"
  eval "HOST_$victim=$PP_HOST_PID JOIN_$victim=$PP_JOIN_PID LPORT_$victim=${PP_LPORTS[0]}"
  for i in 1 2 3; do
    pp_spawn "client-$victim-$i" timeout 60 python3 -u "$PP_APP" client "${PP_LPORTS[0]}" \
      hold "$HELD"
  done
  for i in 1 2 3; do
    pp_wait_for 30 "$PP_TMP/client-$victim-$i.out" '^ready' \
      || pp_bail "client $i got no data through the tunnel"
  done
}

# check VICTIM: what the survivor of VICTIM's death did.
check ()
{
  local victim=$1 survivor spid out ms ends
  if [ "$victim" = host ]; then
    survivor=join-host spid=$JOIN_host
  else
    survivor=host-join spid=$HOST_join
  fi
  if pp_wait_for $((LIMIT + 2)) "$PP_TMP/$survivor.err" 'connection (to the peer )?closed'; then
    ms=$(( $(pp_now_ms) - T0 ))
    out=$(grep -m1 -E 'connection (to the peer )?closed' "$PP_TMP/$survivor.err")
    pp_diag "$survivor noticed after $ms ms (or less): $out"
    pp_check "$victim killed: ${survivor%-*} says so on stderr within $LIMIT s" \
      [ "$ms" -le $((LIMIT * 1000)) ]
  else
    pp_fail "$victim killed: ${survivor%-*} says so on stderr within $LIMIT s" \
      "nothing after $((LIMIT + 2)) s"
  fi
  if pp_wait_exit 10 "$spid"; then
    pp_check "${survivor%-*} exits 69 (got $PP_RC)" [ "$PP_RC" -eq 69 ]
  else
    pp_fail "${survivor%-*} exits 69" "still running 10 s after noticing"
  fi
  if [ "$victim" = host ]; then
    for i in 1 2 3; do
      pp_wait_for 10 "$PP_TMP/client-$victim-$i.out" '^(EOF|RESET)' || true
    done
    ends=$(cat "$PP_TMP"/client-"$victim"-*.out | grep -E '^(EOF|RESET)')
    pp_check "the join side's apps see resets" [ "$(grep -c '^RESET' <<< "$ends")" -eq 3 ]
    pp_check "the join side's listener is closed" eval "! pp_listening $LPORT_host"
  else
    local log=$PP_TMP/hold-$victim.log
    local deadline=$((SECONDS + 10))
    while [ "$(grep -cE 'EOF|RESET' "$log")" -lt 3 ] && [ "$SECONDS" -lt "$deadline" ]; do
      pp_nap
    done
    ends=$(grep -E 'EOF|RESET' "$log")
    pp_check "the host side's app connections see resets" \
      [ "$(grep -c 'RESET' <<< "$ends")" -eq 3 ]
  fi
  [ -z "$ends" ] || pp_diag "${ends//$'\n'/; }"
}

# Both sessions at once, so that the two 15 s waits overlap.
setup host
setup join
T0=$(pp_now_ms)
kill -KILL "$HOST_host" "$JOIN_join"
wait "$HOST_host" "$JOIN_join" 2>/dev/null
check host
check join
pp_check "no host or join process is left" [ -z "$(pp_peerport_left)" ]
pp_check "the signaling server is still up" pp_alive "$PP_SIGNAL_PID"

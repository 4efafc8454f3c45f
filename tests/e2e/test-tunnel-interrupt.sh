#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Ctrl-C (SIGINT) during an open tunnel with live connections, first to the join side, then (in
# a new session) to the host:
#
#   3 clients ──> [join] ══WebRTC══ [host] ──> server holding 3 connections open
#
# The interrupted side exits 0 and the other 69 saying the peer ended the session, both within
# 5 s; the apps on both sides see resets, not clean EOFs (DESIGN §7: "sockets reset with a
# reason"); afterwards no peerport process, no listener and nothing under
# $XDG_RUNTIME_DIR/peerport is left (XDG_RUNTIME_DIR is the test's own temp dir).
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 18

HELD=$((64 * 1024))

# resets/eofs FILE...: how many lines of the FILEs say RESET, or EOF.
resets () { cat "$@" 2>/dev/null | grep -c 'RESET'; }
eofs () { cat "$@" 2>/dev/null | grep -c 'EOF'; }

# wait_lines SECONDS N FILE...: until N lines of the FILEs tell how a connection ended.
wait_lines ()
{
  local deadline=$((SECONDS + $1)) n=$2
  shift 2
  until [ "$(cat "$@" 2>/dev/null | grep -cE 'RESET|EOF')" -ge "$n" ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    pp_nap
  done
}

# round TARGET: SIGINT to TARGET (join or host) with three connections open.
round ()
{
  local target=$1 other tpid opid t0 ms i
  pp_start_app "hold-$target" hold "$HELD"
  pp_tunnel "127.0.0.1:$PP_APP_PORT" -- "127.0.0.1:0=>127.0.0.1:$PP_APP_PORT"
  local lport=${PP_LPORTS[0]} clients=()
  for i in 1 2 3; do
    pp_spawn "client-$target-$i" timeout 60 python3 -u "$PP_APP" client "$lport" hold "$HELD"
    clients+=("$PP_TMP/client-$target-$i.out")
  done
  for i in 1 2 3; do
    pp_wait_for 30 "${clients[$((i - 1))]}" '^ready' || pp_bail "client $i got no data"
  done
  [ ! -d "$XDG_RUNTIME_DIR/peerport" ] \
    || pp_diag "while open: $(find "$XDG_RUNTIME_DIR/peerport" -mindepth 1 -printf '%f ')"
  if [ "$target" = join ]; then
    tpid=$PP_JOIN_PID opid=$PP_HOST_PID other=host
  else
    tpid=$PP_HOST_PID opid=$PP_JOIN_PID other=join
  fi
  pp_check "join listens on port $lport while the tunnel is open" pp_listening "$lport"
  t0=$(pp_now_ms)
  kill -INT "$tpid"
  if pp_wait_exit 5 "$tpid"; then
    ms=$(( $(pp_now_ms) - t0 ))
    pp_check "SIGINT: $target exits 0 within 5 s (exit $PP_RC after $ms ms)" [ "$PP_RC" -eq 0 ]
  else
    pp_fail "SIGINT: $target exits 0 within 5 s" "still running"
  fi
  if pp_wait_exit 5 "$opid"; then
    pp_check "$other exits 69 within 5 s (exit $PP_RC)" [ "$PP_RC" -eq 69 ]
  else
    pp_fail "$other exits 69 within 5 s" "still running"
  fi
  pp_check "$other says the peer ended the session" \
    grep -qE '(peer|host) ended the session' "$PP_TMP/$other.err"
  wait_lines 10 3 "${clients[@]}" || true
  wait_lines 10 3 "$PP_TMP/hold-$target.log" || true
  pp_diag "join-side apps: $(resets "${clients[@]}") resets, $(eofs "${clients[@]}") EOFs;\
 host-side apps: $(resets "$PP_TMP/hold-$target.log") resets,\
 $(eofs "$PP_TMP/hold-$target.log") EOFs"
  pp_check "the join side's apps see resets" [ "$(resets "${clients[@]}")" -eq 3 ]
  pp_check "the host side's apps see resets" [ "$(resets "$PP_TMP/hold-$target.log")" -eq 3 ]
  pp_check "no host or join process is left" [ -z "$(pp_peerport_left)" ]
  pp_check "no listener is left on port $lport" eval "! pp_listening $lport"
}

left_in_runtime_dir () { find "$XDG_RUNTIME_DIR/peerport" ! -type d 2>/dev/null; }

round join
round host
stale=$(left_in_runtime_dir)
pp_check "nothing is left under \$XDG_RUNTIME_DIR/peerport" [ -z "$stale" ]
[ -z "$stale" ] || pp_diag "left: $stale"
pp_check "the signaling server is still up" pp_alive "$PP_SIGNAL_PID"

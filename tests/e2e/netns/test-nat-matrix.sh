#!/bin/bash
# SPDX-License-Identifier: MIT
#
# NAT traversal matrix in network namespaces (topology: pp-netns.sh).  For every pair of NAT
# flavours (host side x client side: eim, prc, sym) plus a public client, hairpinning behind
# one NAT and symmetric<->symmetric through coturn, it starts real host and join processes,
# records whether the tunnel opens, on which path (host/srflx/relay), how long from the start
# of `join` to "tunnel open", and moves a file through the tunnel that must arrive
# byte-identical.  Cells that cannot connect without a relay must fail with a message that
# names TURN.  Prints TAP plus the measured table; never sleeps to synchronise.
#
# usage: test-nat-matrix.sh PATH/TO/peerport
# env:   PP_NAT_MATRIX=full|quick (default full; quick under PEERPORT_TEST_ASAN=1)
#        PP_NAT_MIB=N file size (default 50; 5 in quick)
#        PP_NAT_CELLS=ERE only the cells whose name matches
set -uo pipefail

PEERPORT=${1:?usage: test-nat-matrix.sh PATH/TO/peerport}
. "$(dirname "$0")/pp-netns.sh"

if ! pp_netns_can_run; then
  echo "1..0 # SKIP $PP_NETNS_SKIP"
  exit 0
fi

MODE=${PP_NAT_MATRIX:-full}
[ "${PEERPORT_TEST_ASAN:-0}" = 1 ] && MODE=${PP_NAT_MATRIX:-quick}
if [ "$MODE" = quick ]; then MIB=${PP_NAT_MIB:-5}; else MIB=${PP_NAT_MIB:-50}; fi
# Liveness deadlines, not measurements: ASan makes everything ~3x slower.
OPEN_S=20
FAIL_S=45
[ "${PEERPORT_TEST_ASAN:-0}" = 1 ] && OPEN_S=45 FAIL_S=90

# name  host-NAT  client-NAT  client-ns  turn (- | turn | turn0 = turn + --stun none)  expect
#   expect: host|srflx|relay = opens on that path; fail = must not open, must name TURN;
#   any = report only (the hairpin cells: see docs/nat.md).
FULL_CELLS=(
  "eim-eim      eim eim C  -    srflx"
  "eim-prc      eim prc C  -    srflx"
  "eim-sym      eim sym C  -    srflx"
  "prc-eim      prc eim C  -    srflx"
  "prc-prc      prc prc C  -    srflx"
  "prc-sym      prc sym C  -    fail"
  "sym-eim      sym eim C  -    srflx"
  "sym-prc      sym prc C  -    fail"
  "sym-sym      sym sym C  -    fail"
  "sym-sym+turn sym sym C  turn relay"
  "sym-sym+turn-nostun sym sym C turn0 relay"
  "sym-public   sym none P  -    srflx"
  "hairpin-eim  eim none C2 -    any"
  "hairpin-prc  prc none C2 -    any"
)
QUICK_CELLS=(
  "prc-prc      prc prc C  -    srflx"
  "sym-sym      sym sym C  -    fail"
  "sym-sym+turn sym sym C  turn relay"
)
if [ "$MODE" = quick ]; then CELLS=("${QUICK_CELLS[@]}"); else CELLS=("${FULL_CELLS[@]}"); fi
# PP_NAT_CELLS=ERE keeps only the cells whose name matches (for debugging one cell).
if [ -n "${PP_NAT_CELLS:-}" ]; then
  KEEP=()
  for c in "${CELLS[@]}"; do [[ ${c%% *} =~ $PP_NAT_CELLS ]] && KEEP+=("$c"); done
  CELLS=("${KEEP[@]}")
fi

now_ms () { echo $(($(date +%s%N) / 1000000)); }

pp_netns_init "$PEERPORT"
TMP=$PP_NETNS_TMP
pp_netns_setup || { echo "Bail out! could not build the topology"; exit 1; }
pp_netns_start_signal || { echo "Bail out! signal did not start"; exit 1; }
HAVE_TURN=0
if pp_netns_have_turn && pp_netns_start_turn; then HAVE_TURN=1; fi
head -c $((MIB * 1024 * 1024)) /dev/urandom > "$TMP/www/blob"
WANT_SHA=$(sha256sum < "$TMP/www/blob")
pp_netns_start_http "$PP_NS_H" || { echo "Bail out! http.server did not start"; exit 1; }

echo "1..${#CELLS[@]}"
pp_netns_log "peerport NAT matrix ($MODE, $MIB MiB per cell)"

N=0
FAILED=0
TABLE=()

# run_cell NAME HNAT CNAT CNS TURN EXPECT: one TAP line and one table row.
run_cell ()
{
  local name=$1 hnat=$2 cnat=$3 cns_role=$4 turn=$5 expect=$6
  local cns extra=() host_pid= join_pid= url t0 t_open= t_end= result path= pair= rate=- why=
  N=$((N + 1))
  case "$cns_role" in
    C) cns=$PP_NS_C ;;
    C2) cns=$PP_NS_C2 ;;
    P) cns=$PP_NS_P ;;
  esac
  pp_netns_set_nat rh "$hnat" && pp_netns_set_nat rc "$cnat" || { why="NAT setup failed"; }
  if [ "$turn" != - ]; then
    if [ "$HAVE_TURN" -eq 0 ]; then
      echo "ok $N - $name # SKIP coturn not installed"
      TABLE+=("$name|$hnat|$cnat|skipped (no coturn)|-|-|-|-")
      return
    fi
    extra=(--turn "$PP_TURN_URI")
    # turn0: TURN only, no STUN server (see docs/nat.md: the STUN binding then never waits).
    [ "$turn" = turn0 ] && extra+=(--stun none)
  fi
  # Each cell also tests the default: a remote --signal means its STUN (DESIGN §5).
  rm -f "$TMP"/host-"$N".* "$TMP"/join-"$N".*
  pp_netns_spawn "$PP_NS_H" "host-$N" "$PEERPORT" host --signal "$PP_SIGNAL_URL" \
    --allow "127.0.0.1:$PP_HTTP_PORT" --yes --name "nat-host" "${extra[@]}"
  host_pid=$PP_NETNS_PID
  if ! pp_netns_wait_for 10 "$TMP/host-$N.out" 'join URL: http://'; then
    why="host printed no join URL"
  else
    url=$(grep -oE 'join URL: [^ ]+' "$TMP/host-$N.out" | head -1 | cut -d' ' -f3)
    t0=$(now_ms)
    pp_netns_spawn "$cns" "join-$N" "$PEERPORT" join "$url" --name "nat-join" \
      -L "127.0.0.1:0=>127.0.0.1:$PP_HTTP_PORT" "${extra[@]}"
    join_pid=$PP_NETNS_PID
    wait_open_or_exit "$join_pid" "$host_pid" "$N" "$([ "$expect" = fail ] && echo "$FAIL_S" \
      || echo "$OPEN_S")"
    if grep -q 'tunnel open' "$TMP/join-$N.out"; then
      t_open=$(( $(now_ms) - t0 ))
      pair=$(pp_netns_pair "$TMP/join-$N.out")
      path=$(pp_netns_path "$TMP/join-$N.out")
      transfer "$cns" "$N" || why=$TRANSFER_WHY
      rate=$TRANSFER_RATE
    else
      t_end=$(( $(now_ms) - t0 ))
      # The host outlives a failed peer (it may invite another): give it a moment to say why.
      pp_netns_wait_for 5 "$TMP/host-$N.err" 'peerport: host: peer .*: ' || true
    fi
  fi
  [ -n "${PP_NAT_DEBUG:-}" ] && cat "$TMP/host-$N.err" "$TMP/join-$N.err" >&2
  # Exit statuses catch crashes and (under ASan) leaks: the host ends first (SIGTERM: 0; 69
  # when it had already given up on its only peer), then the join (69: the host ended the
  # session or the path failed; 0: SIGTERM).
  pp_netns_stop "$host_pid" || why=${why:-"host did not end on SIGTERM"}
  case "$PP_RC" in 0|69) ;; *) why=${why:-"host exited $PP_RC"} ;; esac
  if [ -n "$join_pid" ]; then
    # It ends by itself when the host leaves; a SIGTERM during that shutdown would race.
    if pp_netns_wait_exit 10 "$join_pid"; then
      pp_netns_forget "$join_pid"
    else
      pp_netns_stop "$join_pid" || why=${why:-"join did not end on SIGTERM"}
    fi
    case "$PP_RC" in 0|69) ;; *) why=${why:-"join exited $PP_RC"} ;; esac
  fi
  judge "$expect" "$path" "$why" "$N" "$name"
  result=$JUDGED
  if [ -z "$path" ]; then
    TABLE+=("$name|$hnat|$cnat|${cns_role}|none|-|ended ${t_end:-?} ms|$(fail_reason "$N")")
  else
    TABLE+=("$name|$hnat|$cnat|${cns_role}|$path|$pair|${t_open} ms|$rate")
  fi
  if [ "$result" = ok ]; then
    echo "ok $N - $name: $(cell_summary "$path" "${t_open:-$t_end}" "$N")"
  else
    echo "not ok $N - $name: $JUDGED_WHY"
    FAILED=$((FAILED + 1))
    pp_netns_log "--- host-$N.err"; tail -n 15 "$TMP/host-$N.err" | sed 's/^/#   /' >&2
    pp_netns_log "--- join-$N.err"; tail -n 15 "$TMP/join-$N.err" | sed 's/^/#   /' >&2
  fi
}

# wait_open_or_exit JOIN_PID HOST_PID N SECS: until "tunnel open" in the join's output, or
# either process ended, or SECS passed.
wait_open_or_exit ()
{
  local deadline=$((SECONDS + $4))
  while [ "$SECONDS" -lt "$deadline" ]; do
    grep -q 'tunnel open' "$TMP/join-$3.out" 2> /dev/null && return 0
    alive "$1" && alive "$2" || return 0
    sleep 0.05
  done
}

alive () { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2> /dev/null; }

# transfer NS N: the blob through the join's listener; TRANSFER_RATE in MiB/s.
transfer ()
{
  local lport t0 ms
  TRANSFER_RATE=- TRANSFER_WHY=
  lport=$(grep -oE 'listening on port [0-9]+' "$TMP/join-$2.out" | head -1 | cut -d' ' -f4)
  t0=$(now_ms)
  if ! pp_netns_exec "$1" curl -sS --max-time 60 -o "$TMP/got" \
      "http://127.0.0.1:$lport/blob" 2> "$TMP/curl-$2.err"; then
    TRANSFER_WHY="download failed: $(head -c 200 "$TMP/curl-$2.err")"
    return 1
  fi
  ms=$(( $(now_ms) - t0 ))
  [ "$ms" -gt 0 ] || ms=1
  TRANSFER_RATE="$(awk -v b="$MIB" -v ms="$ms" 'BEGIN { printf "%.1f MiB/s", b * 1000 / ms }')"
  if [ "$(sha256sum < "$TMP/got")" != "$WANT_SHA" ]; then
    TRANSFER_WHY="download differs"
    return 1
  fi
  rm -f "$TMP/got"
}

# judge EXPECT PATH WHY N NAME -> JUDGED ok|fail, JUDGED_WHY
judge ()
{
  local name=$5
  JUDGED=ok JUDGED_WHY=
  if [ -n "$3" ]; then JUDGED=fail JUDGED_WHY=$3; return; fi
  case "$1" in
    any) ;;
    fail)
      if [ -n "$2" ]; then
        JUDGED=fail JUDGED_WHY="opened ($2) where no path should exist"
      elif ! grep -q -- '--turn' "$TMP/host-$4.err" 2> /dev/null; then
        JUDGED=fail JUDGED_WHY="no path, but the host does not suggest --turn: $(fail_reason "$4")"
      elif ! grep -q -- '--turn' "$TMP/join-$4.err" 2> /dev/null; then
        JUDGED=fail JUDGED_WHY="no path, but the join does not suggest --turn: $(fail_reason "$4")"
      fi
      ;;
    host|srflx|relay)
      if [ -z "$2" ]; then
        JUDGED=fail JUDGED_WHY="no tunnel: $(fail_reason "$4")"
      elif [ "$2" != "$1" ] && ! { [ "$1" = srflx ] && [ "$2" = host ]; }; then
        JUDGED=fail JUDGED_WHY="path $2, want $1"
      fi
      ;;
    *) JUDGED=fail JUDGED_WHY="bad expectation $1" ;;
  esac
}

# The host's line about the failed peer (else the join's first error line), for the table.
fail_reason ()
{
  local l
  l=$(grep -h -m1 -E '^peerport: host: peer .*: ' "$TMP/host-$1.err" 2> /dev/null | head -1)
  [ -n "$l" ] || l=$(grep -h -m1 -E '^peerport: ' "$TMP/join-$1.err" 2> /dev/null | head -1)
  [ -n "$l" ] || l="no tunnel within the deadline"
  echo "$l" | tr '|' '/' | cut -c1-220
}

cell_summary ()
{
  if [ -n "$1" ]; then echo "$1 path, open after $2 ms, $MIB MiB identical ($TRANSFER_RATE)"
  else echo "no tunnel, as expected, after $2 ms: $(fail_reason "$3")"; fi
}

T_START=$SECONDS
for cell in "${CELLS[@]}"; do
  # shellcheck disable=SC2086
  run_cell $cell
done

{
  echo "#"
  echo "# | cell | host NAT | client NAT | client | path | selected pair | join->open | rate, why |"
  echo "# |---|---|---|---|---|---|---|---|"
  for row in "${TABLE[@]}"; do echo "# | ${row//|/ | } |"; done
  echo "# ($MODE matrix, $MIB MiB per cell, $((SECONDS - T_START)) s)"
}
[ "$FAILED" -eq 0 ]

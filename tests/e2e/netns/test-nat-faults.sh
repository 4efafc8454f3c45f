#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Faults on the path between a host and a client behind port-restricted NATs (pp-netns.sh's
# topology), with the tunnel direct (no relay):
#
#   H ── RH ══wan══ I ══wan══ RC ── C        (C: P, the public client, while join has no
#        ▲ faults here: delay, loss,                  --stun and cannot learn its NAT)
#          cuts, conntrack flush
#
# a) 25 ms each way on RH's outside link (50 ms path RTT) and 1 % loss each way: a bulk
#    download arrives byte-identical while 1-byte ping-pongs on another socket of the same
#    tunnel keep their median RTT within 2x the path's (ping, same run): no head-of-line
#    blocking across sockets.  The kernel here has no sch_netem: pp-netem.py (NFQUEUE)
#    delays and drops instead.
# b) the outside link cut for 5 s mid-transfer: the transfer resumes and completes.
# d) RH's and RC's conntrack tables flushed mid-session: reported or recovered (printed).
# c) cut for good: both sides report it within 15 s (+2 s slack for timers and polling) and
#    reset their app sockets: the echo client and the echo server see a reset, not EOF.
# Nothing sleeps to synchronise: every wait polls a condition with a deadline.
set -uo pipefail

PEERPORT=${1:?usage: test-nat-faults.sh PATH/TO/peerport}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pp-netns.sh
. "$HERE/pp-netns.sh"
# shellcheck source=pp-faults.sh
. "$HERE/pp-faults.sh"

if ! pp_netns_can_run; then
  echo "1..0 # SKIP $PP_NETNS_SKIP"
  exit 0
fi

# 1 % loss at 50 ms holds SCTP near 200 KB/s (Mathis): 6 MiB keeps the suite short.
MIB=6
[ -n "${PEERPORT_TEST_ASAN:-}" ] && MIB=2
echo "1..7"
pp_netns_init "$PEERPORT"
pp_netns_setup || pp_faults_bail "cannot build the topology"
pp_netns_set_nat rh prc && pp_netns_set_nat rc prc || pp_faults_bail "cannot set the NATs"
pp_netns_start_signal || pp_faults_bail "signaling server did not start"
pp_faults_start_pair || pp_faults_bail "no tunnel"
head -c $((MIB * 1024 * 1024)) /dev/urandom > "$PP_NETNS_TMP/www/blob"
T=$PP_NETNS_TMP

# 1: the tunnel is direct (through the NATs, no relay).
# join's line (the host's names the peer too): "tunnel open (direct udp A <-> B (K/K))".
KIND=$(pp_netns_path "$T/join.out")
pp_faults_tap "$( [ -n "$KIND" ] && [ "$KIND" != relay ]; echo $?)" \
  "tunnel open and direct through the NATs ($(pp_netns_pair "$T/join.out"))"

# 2, 3: delay and loss.
pp_faults_netem_on 25 1 || pp_faults_bail "pp-netem.py did not start"
PATH_MS=$(pp_faults_ping_median 20)
pp_netns_spawn "$FAULT_CLIENT_NS" pingpong python3 "$HERE/pp-pingpong.py" client "$ECHO_LOCAL" \
  --interval 0.05 --stop-file "$T/stop-pingpong"
PINGPONG_PID=$PP_NETNS_PID
pp_netns_wait_for 20 "$T/pingpong.out" '^ready' || pp_faults_bail "ping-pong did not start"
start=$SECONDS
pp_faults_download "$T/got-a" 240
RC=$?
touch "$T/stop-pingpong"
pp_netns_wait_exit 10 "$PINGPONG_PID" || true
pp_faults_netem_off
pp_faults_log "$MIB MiB at ${PATH_MS} ms path RTT and 1 % loss in $((SECONDS - start)) s"
pp_faults_tap "$( [ "$RC" -eq 0 ] && cmp -s "$T/www/blob" "$T/got-a"; echo $?)" \
  "(a) $MIB MiB byte-identical through 50 ms RTT and 1 % loss"
TUN_MS=$(grep -oE 'median_ms [0-9.]+' "$T/pingpong.out" | cut -d' ' -f2)
pp_faults_log "ping-pong median ${TUN_MS:-none} ms through the tunnel," \
  "path RTT median ${PATH_MS:-none} ms (ping)"
pp_faults_tap "$(pp_faults_within "${TUN_MS:-}" "${PATH_MS:-}" 2; echo $?)" \
  "(a) 1-byte ping-pong median ${TUN_MS:-?} ms <= 2 x path RTT ${PATH_MS:-?} ms during bulk"

# 4: a 5 s cut in the middle of a (rate-limited, so it lasts) transfer.
pp_faults_download "$T/got-b" 90 --limit-rate 2M &
DL_PID=$!
pp_faults_wait_bytes 20 "$T/got-b" $((2 * 1024 * 1024))
pp_faults_cut on
CUT_AT=$SECONDS
pp_faults_wait_seconds 5
pp_faults_cut off
pp_faults_log "link cut for $((SECONDS - CUT_AT)) s"
RC=0
wait "$DL_PID" || RC=$?
pp_faults_tap "$( [ "$RC" -eq 0 ] && cmp -s "$T/www/blob" "$T/got-b"; echo $?)" \
  "(b) the transfer resumes after a 5 s cut and completes byte-identical"

# 5: conntrack flushed on both NATs mid-session.
pp_faults_conntrack_flush
pp_faults_tap "$?" "(d) conntrack flushed on both NATs: ${FLUSH_OUTCOME:-?}"

# 6, 7: cut for good.
pp_faults_mark_server
pp_netns_spawn "$FAULT_CLIENT_NS" watch python3 "$HERE/pp-pingpong.py" client "$ECHO_LOCAL" \
  --interval 0.2 --timeout 60
WATCH_PID=$PP_NETNS_PID
pp_netns_wait_for 20 "$T/watch.out" '^ready' || pp_faults_bail "watch connection did not start"
pp_faults_cut on
pp_faults_dead_within 17
pp_faults_tap "$?" "(c) cut for good: both sides report it (host ${HOST_DEAD_S:-never} s," \
  "join ${JOIN_DEAD_S:-never} s; limit 15 s + 2 s slack)"
pp_netns_wait_exit 10 "$WATCH_PID" || true
CLIENT_END=$(grep -oE '^ended .*' "$T/watch.out" | head -1)
SERVER_END=$(pp_faults_wait_server_end 10)
pp_faults_log "client socket: ${CLIENT_END:-still open}; host-side socket: ${SERVER_END:-open}"
pp_faults_tap "$( [ "$CLIENT_END" = "ended reset" ] && [ "$SERVER_END" = "conn-end reset" ]
                  echo $?)" \
  "(c) app sockets reset on both sides (client: ${CLIENT_END:-open}, host: ${SERVER_END:-open})"
pp_faults_done

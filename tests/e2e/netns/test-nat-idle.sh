#!/bin/bash
# SPDX-License-Identifier: MIT
#
# An idle session behind NATs that forget a UDP mapping after 30 s (nf_conntrack_udp_timeout
# and _stream = 30, set inside both router namespaces; these sysctls are per namespace):
#
#   H ── RH(prc, udp timeout 30 s) ══ I ══ RC(prc, udp timeout 30 s) ── C   (P without --stun)
#
# After PP_IDLE_SECONDS (default 600) without a byte of application data, the old tunnel must
# still carry a new connection and a byte-identical download, without reconnecting: only the
# transport's keepalives (SCTP heartbeats, ICE keepalive checks) kept the mappings alive.
# Slow: runs only with PEERPORT_SLOW=1 (`make check-slow`).  Polls, never sleeps to sync.
set -uo pipefail

PEERPORT=${1:?usage: test-nat-idle.sh PATH/TO/peerport}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pp-netns.sh
. "$HERE/pp-netns.sh"
# shellcheck source=pp-faults.sh
. "$HERE/pp-faults.sh"

if [ "${PEERPORT_SLOW:-0}" != 1 ]; then
  echo "1..0 # SKIP slow (10 minutes idle): run make check-slow (PEERPORT_SLOW=1)"
  exit 0
fi
if ! pp_netns_can_run; then
  echo "1..0 # SKIP $PP_NETNS_SKIP"
  exit 0
fi
IDLE=${PP_IDLE_SECONDS:-600}
echo "1..4"
pp_netns_init "$PEERPORT"
T=$PP_NETNS_TMP
pp_netns_setup || pp_faults_bail "cannot build the topology"
pp_netns_set_nat rh prc && pp_netns_set_nat rc prc || pp_faults_bail "cannot set the NATs"
# Per namespace?  An odd value inside RH must not show in the root namespace.
ROOT_BEFORE=$(sysctl -n net.netfilter.nf_conntrack_udp_timeout)
ip netns exec "$PP_NS_RH" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=17
ROOT_MID=$(sysctl -n net.netfilter.nf_conntrack_udp_timeout)
for r in "$PP_NS_RH" "$PP_NS_RC"; do
  ip netns exec "$r" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 \
    net.netfilter.nf_conntrack_udp_timeout_stream=30 || pp_faults_bail "sysctl in $r failed"
done
IN_NS=$(ip netns exec "$PP_NS_RH" sysctl -n net.netfilter.nf_conntrack_udp_timeout)
ROOT_AFTER=$(sysctl -n net.netfilter.nf_conntrack_udp_timeout)
pp_faults_tap "$( [ "$IN_NS" = 30 ] && [ "$ROOT_AFTER" = "$ROOT_BEFORE" ] &&
                  [ "$ROOT_MID" = "$ROOT_BEFORE" ]; echo $?)" \
  "udp conntrack timeout 30 s inside the routers only (root namespace keeps $ROOT_AFTER s)"

pp_netns_start_signal || pp_faults_bail "signaling server did not start"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$T/www/blob"
pp_faults_start_pair || pp_faults_bail "no tunnel"
pp_faults_download "$T/got-0" 60
pp_faults_tap "$(cmp -s "$T/www/blob" "$T/got-0"; echo $?)" \
  "a download before the idle time ($(pp_netns_pair "$T/join.out"))"

pp_faults_log "idle for $IDLE s; RH's UDP mappings now:"
ip netns exec "$PP_NS_RH" conntrack -L -p udp 2> /dev/null | sed 's/^/#   /'
start=$SECONDS
while [ $((SECONDS - start)) -lt "$IDLE" ] && pp_faults_alive; do
  sleep 1 # the idle time itself; liveness is checked each second
done
pp_faults_log "after $((SECONDS - start)) s; RH's UDP mappings now:"
ip netns exec "$PP_NS_RH" conntrack -L -p udp 2> /dev/null | sed 's/^/#   /'
pp_faults_tap "$(pp_faults_alive; echo $?)" "both sides still up after $IDLE s idle"

pp_faults_download "$T/got-1" 60
pp_faults_tap "$(cmp -s "$T/www/blob" "$T/got-1" && pp_faults_tunnel_works 10 &&
                 [ "$(grep -c 'tunnel open' "$T/join.out")" -eq 1 ]; echo $?)" \
  "the old tunnel carries a new download and connection after the idle time (no reconnect)"
pp_faults_done

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `peerport doctor` against a real `peerport signal --stun-alt-port`:
#   on loopback (always): the server answers, both STUN ports answer, the mapping is
#     endpoint-independent, --json agrees; an unreachable server exits 69; usage exits 64;
#   in namespaces (root only, pp-netns.sh): behind a port-restricted NAT the mapping is
#     endpoint-independent (direct likely); behind a symmetric NAT it is dependent and the
#     advice names TURN.
# Every wait polls with a deadline; nothing is left behind.
set -uo pipefail

PEERPORT=${1:?usage: test-doctor.sh PATH/TO/peerport}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pp-netns.sh
. "$HERE/pp-netns.sh"
# shellcheck source=pp-faults.sh
. "$HERE/pp-faults.sh"

NETNS=1
pp_netns_can_run || NETNS=0
[ "$NETNS" = 1 ] && echo "1..8" || echo "1..5"
pp_netns_init "$PEERPORT"
T=$PP_NETNS_TMP

"$PEERPORT" signal --listen 127.0.0.1:0 --stun-alt-port 0 > "$T/lo-signal.out" \
  2> "$T/lo-signal.err" &
PP_NETNS_PIDS+=($!)
pp_netns_wait_for 10 "$T/lo-signal.out" 'STUN on udp ports [0-9]+ and [0-9]+' ||
  pp_faults_bail "signal --stun-alt-port did not start"
URL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$T/lo-signal.out" | head -1)

RC=0
"$PEERPORT" doctor --signal "$URL" > "$T/doc.out" 2>&1 || RC=$?
sed 's/^/# /' "$T/doc.out"
pp_faults_tap "$( [ "$RC" -eq 0 ] && grep -q 'answers (/healthz ok' "$T/doc.out" &&
                  [ "$(grep -c '): answers in' "$T/doc.out")" -eq 2 ]; echo $?)" \
  "loopback: the server and both of its STUN ports answer (exit $RC)"
pp_faults_tap "$(grep -q 'mapping: endpoint-independent' "$T/doc.out"; echo $?)" \
  "loopback: mapping endpoint-independent"

RC=0
"$PEERPORT" doctor --signal "$URL" --json > "$T/doc.json" 2>&1 || RC=$?
pp_faults_tap "$(python3 - "$T/doc.json" << 'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok = (d["signal"]["reachable"] and d["mapping"] == "endpoint-independent"
      and d["directLikely"] and len([s for s in d["stun"] if s["answered"]]) == 2
      and d["stun"][0]["mapped"] == d["stun"][1]["mapped"])
sys.exit(0 if ok else 1)
EOF
echo $?)" "loopback: --json says the same (exit $RC)"

# A port nobody listens on: the HTTP check fails fast, STUN gets no answer.
RC=0
"$PEERPORT" doctor --signal http://127.0.0.1:9 > "$T/down.out" 2>&1 || RC=$?
pp_faults_tap "$( [ "$RC" -eq 69 ] && grep -q 'does not answer' "$T/down.out"; echo $?)" \
  "an unreachable server: exit 69 and says so (exit $RC)"
RC=0
"$PEERPORT" doctor --stun bogus > "$T/usage.out" 2>&1 || RC=$?
RC2=0
"$PEERPORT" doctor > /dev/null 2>&1 || RC2=$?
pp_faults_tap "$( [ "$RC" -eq 64 ] && [ "$RC2" -eq 64 ]; echo $?)" \
  "usage errors exit 64 (bad --stun: $RC, nothing to check: $RC2)"

[ "$NETNS" = 1 ] || { pp_faults_log "netns part skipped: $PP_NETNS_SKIP"; pp_faults_done; }

pp_netns_setup || pp_faults_bail "cannot build the topology"
pp_netns_spawn "$PP_NS_I" alt-signal "$PEERPORT" signal --listen "$PP_IP_SIGNAL:8090" \
  --stun-alt-port 8091
pp_netns_wait_for 10 "$T/alt-signal.out" 'STUN on udp ports 8090 and 8091' ||
  pp_faults_bail "signal in the namespace did not start"

pp_netns_set_nat rh prc
RC=0
ip netns exec "$PP_NS_H" "$PEERPORT" doctor --signal "http://$PP_IP_SIGNAL:8090" \
  > "$T/prc.out" 2>&1 || RC=$?
sed 's/^/# /' "$T/prc.out"
pp_faults_tap "$( [ "$RC" -eq 0 ] && grep -q "as $PP_IP_RH_WAN:" "$T/prc.out" &&
                  grep -q 'NAT: yes; mapping: endpoint-independent' "$T/prc.out" &&
                  grep -q 'direct connection: likely' "$T/prc.out"; echo $?)" \
  "behind a port-restricted NAT: seen as its WAN address, endpoint-independent"

pp_netns_set_nat rh sym
RC=0
ip netns exec "$PP_NS_H" "$PEERPORT" doctor --signal "http://$PP_IP_SIGNAL:8090" \
  > "$T/sym.out" 2>&1 || RC=$?
sed 's/^/# /' "$T/sym.out"
pp_faults_tap "$( [ "$RC" -eq 0 ] && grep -q 'mapping: address/port-dependent' "$T/sym.out"
                  echo $?)" "behind a symmetric NAT: the two STUN ports see different mappings"
pp_faults_tap "$(grep -q 'direct connection: unlikely' "$T/sym.out" &&
                 grep -q -- '--turn' "$T/sym.out"; echo $?)" \
  "behind a symmetric NAT: direct unlikely, advice names --turn"
pp_faults_done

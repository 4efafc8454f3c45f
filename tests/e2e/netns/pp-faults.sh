# SPDX-License-Identifier: MIT
#
# pp-faults.sh: what the NAT fault tests (test-nat-faults.sh, test-nat-idle.sh) add to
# pp-netns.sh — a host in H and a client behind the other router with an HTTP and a TCP echo
# mapping, TAP output, and the faults themselves on RH's outside link ("wan"): delay and loss
# through pp-netem.py, cuts (DROP rules), conntrack flushes.  Sourced after pp-netns.sh; it
# only touches the namespaces that library created.
#
#   pp_faults_start_pair          host in H, join in $FAULT_CLIENT_NS (C with --stun when both
#                                 have it and C connects, else the public client P);
#                                 HTTP_LOCAL and ECHO_LOCAL are the client's local ports;
#                                 waits for "tunnel open"
#   pp_faults_netem_on MS PCT     MS delay and PCT % loss each way on RH's wan; _off undoes it
#   pp_faults_cut on|off          drop everything on RH's wan (both ways), or stop dropping
#   pp_faults_ping_median N       median ping RTT (ms) from H across the wan to the client side
#   pp_faults_download OUT SECS [CURL-ARGS]   the blob through the tunnel, in the client ns
#   pp_faults_tap RC TEXT...      "ok N - TEXT" when RC is 0, else "not ok N - TEXT"

FAULT_N=0
FAULT_FAILED=0
HTTP_LOCAL=18080
ECHO_LOCAL=18081
FAULT_QUEUE=7

pp_faults_log () { echo "# $*"; }

pp_faults_tap ()
{
  local rc=$1
  shift
  FAULT_N=$((FAULT_N + 1))
  if [ "$rc" = 0 ]; then
    echo "ok $FAULT_N - $*"
  else
    echo "not ok $FAULT_N - $*"
    case "$*" in *'# TODO'*) ;; *) FAULT_FAILED=1 ;; esac
  fi
}

pp_faults_bail () { echo "Bail out! $*"; exit 1; }

pp_faults_done () { exit "$FAULT_FAILED"; }

pp_faults_now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# Holds a fault for N seconds: the length of the fault, not a synchronisation.
pp_faults_wait_seconds ()
{
  local until=$(( $(pp_faults_now_ms) + $1 * 1000 ))
  while [ "$(pp_faults_now_ms)" -lt "$until" ]; do sleep 0.1; done
}

# (No `| grep -q`: under pipefail its early exit would SIGPIPE peerport and read as "no".)
pp_faults_has_stun ()
{
  local h j
  h=$("$PP_PEERPORT" host --help 2>&1)
  j=$("$PP_PEERPORT" join --help 2>&1)
  grep -qE '^ +--stun' <<< "$h" && grep -qE '^ +--stun' <<< "$j"
}

# C behind RC when host and join have --stun; P (public) when they lack it or C cannot connect.
pp_faults_start_pair ()
{
  if pp_faults_has_stun && [ "${FAULT_FORCE_P:-0}" != 1 ]; then
    pp_faults__start_pair C && return 0
    pp_faults_log "C behind RC could not connect:" \
      "$(grep -h 'peerport:' "$PP_NETNS_TMP/host.err" "$PP_NETNS_TMP/join.err" | tail -1)"
    pp_faults_log "falling back to the public client P"
    pp_netns_stop "$HOST_PID"
    pp_netns_stop "$JOIN_PID"
  fi
  pp_faults__start_pair P
}

pp_faults__start_pair ()
{
  local T=$PP_NETNS_TMP stun=() target
  [ -n "${PP_HTTP_PORT:-}" ] || pp_netns_start_http "$PP_NS_H" || return 1
  if [ -z "${ECHO_PORT:-}" ]; then
    pp_netns_spawn "$PP_NS_H" echo python3 "$HERE/pp-pingpong.py" server || return 1
    pp_netns_wait_for 10 "$T/echo.out" '^port [0-9]+' || return 1
    ECHO_PORT=$(grep -oE '^port [0-9]+' "$T/echo.out" | head -1 | cut -d' ' -f2)
  fi
  if [ "$1" = C ]; then
    # Only RH's wan is slowed: P (public, answers ping) has the same path RTT as C.
    FAULT_CLIENT_NS=$PP_NS_C stun=(--stun "$PP_STUN_URI") target=$PP_IP_P
  else
    FAULT_CLIENT_NS=$PP_NS_P target=$PP_IP_P
    pp_faults_has_stun && stun=(--stun "$PP_STUN_URI")
    pp_faults_log "the client is P (public), the host behind RH"
  fi
  FAULT_PING_TARGET=$target
  rm -f "$T/host.out" "$T/host.err" "$T/join.out" "$T/join.err"
  pp_netns_spawn "$PP_NS_H" host "$PP_PEERPORT" host --signal "$PP_SIGNAL_URL" "${stun[@]}" \
    --allow "127.0.0.1:$PP_HTTP_PORT" --allow "127.0.0.1:$ECHO_PORT" --yes --name faults-host
  HOST_PID=$PP_NETNS_PID
  pp_netns_wait_for 20 "$T/host.out" 'join URL: http://' || return 1
  local url
  url=$(grep -oE 'join URL: [^ ]+' "$T/host.out" | head -1 | cut -d' ' -f3)
  pp_netns_spawn "$FAULT_CLIENT_NS" join "$PP_PEERPORT" join "$url" "${stun[@]}" \
    -L "127.0.0.1:$HTTP_LOCAL=>127.0.0.1:$PP_HTTP_PORT" \
    -L "127.0.0.1:$ECHO_LOCAL=>127.0.0.1:$ECHO_PORT" --name faults-join
  JOIN_PID=$PP_NETNS_PID
  pp_netns_wait_for 30 "$T/join.out" 'tunnel open' && pp_netns_wait_for 10 "$T/host.out" \
    'tunnel open'
}

pp_faults_netem_on ()
{
  local ipt=(ip netns exec "$PP_NS_RH" iptables -w -t mangle)
  pp_netns_spawn "$PP_NS_RH" netem python3 "$HERE/pp-netem.py" "$FAULT_QUEUE" "$1" "$2"
  NETEM_PID=$PP_NETNS_PID
  pp_netns_wait_for 10 "$PP_NETNS_TMP/netem.out" '^ready' || return 1
  "${ipt[@]}" -A PREROUTING -i wan -j NFQUEUE --queue-num "$FAULT_QUEUE" --queue-bypass &&
    "${ipt[@]}" -A POSTROUTING -o wan -j NFQUEUE --queue-num "$FAULT_QUEUE" --queue-bypass
}

pp_faults_netem_off ()
{
  local ipt=(ip netns exec "$PP_NS_RH" iptables -w -t mangle)
  "${ipt[@]}" -D PREROUTING -i wan -j NFQUEUE --queue-num "$FAULT_QUEUE" --queue-bypass
  "${ipt[@]}" -D POSTROUTING -o wan -j NFQUEUE --queue-num "$FAULT_QUEUE" --queue-bypass
  pp_netns_stop "${NETEM_PID:-}"
}

pp_faults_cut ()
{
  local ipt=(ip netns exec "$PP_NS_RH" iptables -w -t mangle) op=-I
  [ "$1" = on ] || op=-D
  "${ipt[@]}" "$op" PREROUTING -i wan -j DROP && "${ipt[@]}" "$op" POSTROUTING -o wan -j DROP
}

# Median of the "time=X ms" of N pings from H to the client side (both wan directions).
pp_faults_ping_median ()
{
  ip netns exec "$PP_NS_H" ping -n -c "$1" -i 0.2 -W 2 "$FAULT_PING_TARGET" 2> /dev/null \
    | grep -oE 'time=[0-9.]+' | cut -d= -f2 | sort -n \
    | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] \
                                : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

pp_faults_download ()
{
  local out=$1 secs=$2
  shift 2
  ip netns exec "$FAULT_CLIENT_NS" curl -sS --max-time "$secs" "$@" -o "$out" \
    "http://127.0.0.1:$HTTP_LOCAL/blob"
}

pp_faults_wait_bytes ()
{
  local deadline=$((SECONDS + $1))
  while [ "$(stat -c %s "$2" 2> /dev/null || echo 0)" -lt "$3" ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# 0 when A <= FACTOR x B (decimals).
pp_faults_within ()
{
  [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { exit !(a <= f * b) }'
}

# The tunnel still carries a new connection (one echo round trip) within SECS?
pp_faults_tunnel_works ()
{
  ip netns exec "$FAULT_CLIENT_NS" timeout "$1" python3 - "$ECHO_LOCAL" "$1" << 'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=float(sys.argv[2]))
s.sendall(b"y")
sys.exit(0 if s.recv(1) == b"y" else 1)
EOF
}

pp_faults_alive () { [ -d "/proc/$HOST_PID" ] && [ -d "/proc/$JOIN_PID" ] &&
                     ! grep -q '^State:.*Z' "/proc/$HOST_PID/status" "/proc/$JOIN_PID/status"; }

# Flushes both NATs' conntrack tables and says what became of the session in FLUSH_OUTCOME:
# recovered (a new connection works and the session lives) or reported (a side said so and
# exited); 1 when neither within 25 s.  A dead session is replaced, so later steps have one.
pp_faults_conntrack_flush ()
{
  local t0 deadline
  t0=$(pp_faults_now_ms)
  ip netns exec "$PP_NS_RH" conntrack -F > /dev/null 2>&1
  ip netns exec "$PP_NS_RC" conntrack -F > /dev/null 2>&1
  deadline=$((SECONDS + 25))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! pp_faults_alive; then
      FLUSH_OUTCOME="session ended after $(( $(pp_faults_now_ms) - t0 )) ms:"
      FLUSH_OUTCOME+=" $(grep -h 'peerport:' "$PP_NETNS_TMP/host.err" "$PP_NETNS_TMP/join.err" \
                           | tail -1)"
      pp_netns_stop "$HOST_PID"
      pp_netns_stop "$JOIN_PID"
      pp_faults_start_pair || pp_faults_bail "no new tunnel after the flush"
      return 0
    fi
    if pp_faults_tunnel_works 5; then
      FLUSH_OUTCOME="recovered: a new connection worked $(( $(pp_faults_now_ms) - t0 )) ms later"
      return 0
    fi
  done
  FLUSH_OUTCOME="neither recovered nor reported within 25 s"
  return 1
}

# Waits (LIMIT s at most) for a new "peerport:" stderr line from each side after a cut; sets
# HOST_DEAD_S and JOIN_DEAD_S (seconds, decimals) and prints the lines.
pp_faults_dead_within ()
{
  local t0 limit_ms=$(( $1 * 1000 )) now h0 j0 line
  h0=$(grep -c 'peerport:' "$PP_NETNS_TMP/host.err")
  j0=$(grep -c 'peerport:' "$PP_NETNS_TMP/join.err")
  t0=$(pp_faults_now_ms)
  HOST_DEAD_S= JOIN_DEAD_S=
  while :; do
    now=$(pp_faults_now_ms)
    if [ -z "$HOST_DEAD_S" ] && [ "$(grep -c 'peerport:' "$PP_NETNS_TMP/host.err")" -gt "$h0" ]
    then
      HOST_DEAD_S=$(awk -v d=$((now - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
      line=$(grep 'peerport:' "$PP_NETNS_TMP/host.err" | sed -n "$((h0 + 1))p")
      pp_faults_log "host after ${HOST_DEAD_S} s: $line"
    fi
    if [ -z "$JOIN_DEAD_S" ] && [ "$(grep -c 'peerport:' "$PP_NETNS_TMP/join.err")" -gt "$j0" ]
    then
      JOIN_DEAD_S=$(awk -v d=$((now - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
      line=$(grep 'peerport:' "$PP_NETNS_TMP/join.err" | sed -n "$((j0 + 1))p")
      pp_faults_log "join after ${JOIN_DEAD_S} s: $line"
    fi
    [ -n "$HOST_DEAD_S" ] && [ -n "$JOIN_DEAD_S" ] && return 0
    [ $((now - t0)) -lt "$limit_ms" ] || return 1
    sleep 0.1
  done
}

# The echo server's verdict on the newest connection that ends after this call (SECS max).
pp_faults_mark_server () { FAULT_SERVER_ENDS=$(grep -c '^conn-end' "$PP_NETNS_TMP/echo.out"); }

pp_faults_wait_server_end ()
{
  local deadline=$((SECONDS + $1))
  while [ "$(grep -c '^conn-end' "$PP_NETNS_TMP/echo.out")" -le "${FAULT_SERVER_ENDS:-0}" ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 0
    sleep 0.1
  done
  grep '^conn-end' "$PP_NETNS_TMP/echo.out" | sed -n "$((FAULT_SERVER_ENDS + 1))p"
}

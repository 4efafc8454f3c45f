# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# pp-netns.sh: a sourced bash library that builds a small "internet" out of network
# namespaces, puts NAT routers of a chosen flavour in front of the peers, and starts the
# signaling server, coturn and peerport processes inside them.  It only ever touches
# namespaces it created (names start with ppn<PID>-) and processes it started, and removes
# all of them on exit; it must never change the root namespace (no links, no rules there).
#
# Topology (only documentation ranges; every box is a namespace named $PP_NS_<ROLE>):
#
#                  I "internet": bridge br0 203.0.113.1/24 (everyone's default route;
#                    anything else goes to a "void" ifb link and is lost)
#                    signal  203.0.113.2 (HTTP tcp/8080 + STUN udp/8080)
#                    coturn  203.0.113.3 (udp+tcp 3478, relays 203.0.113.3:49152-49999)
#          ┌──────────────────────────┼───────────────────────────┐
#   wan 203.0.113.11            wan 203.0.113.12            203.0.113.50
#   RH (NAT router, host side)  RC (NAT router, client side)  P (public client, no NAT)
#   lan0 192.0.2.1/25           lan0 198.51.100.1/24
#   lan1 192.0.2.129/25
#     │          │                │
#   H 192.0.2.2  C2 192.0.2.130   C 198.51.100.2
#   (host)       (client behind   (client)
#                 the host's NAT:
#                 hairpin case)
#
# RH forwards nothing between lan0 and lan1 (two homes behind one carrier NAT): H and C2
# reach each other only through RH's public address, i.e. by hairpinning.
#
# NAT flavours (pp_netns_set_nat ROUTER FLAVOUR), all with a stateful FORWARD that lets
# replies in:
#   eim   endpoint-independent mapping and filtering ("full cone"): SNAT to the WAN address
#         (port-preserving) plus a DNAT of every inbound UDP packet to the one inside peer
#         (H or C); hairpin from RH's lan1 to the WAN address works too.
#   prc   port-restricted cone: plain MASQUERADE (port-preserving mapping, only replies to
#         what went out come back).
#   sym   symmetric: MASQUERADE --random-fully (a new random port per destination).
#   none  routing only, no NAT (the inside addresses are then unreachable from outside:
#         nobody routes to them).
#
# API (stable names; other tests source this file):
#   pp_netns_can_run                  0 when root, ip, iptables and `ip netns add` work;
#                                     else 1 with the reason in $PP_NETNS_SKIP
#   pp_netns_have_turn                0 when turnserver (coturn) is installed
#   pp_netns_init PEERPORT            temp dir $PP_NETNS_TMP, EXIT trap -> pp_netns_cleanup,
#                                     namespace names $PP_NS_{I,RH,RC,H,C,C2,P}
#   pp_netns_setup                    create the topology above (flavour "none" on both routers)
#   pp_netns_set_nat rh|rc FLAVOUR    (re)install the NAT rules and flush the router's conntrack
#   pp_netns_exec NS CMD...           run CMD inside namespace NS (foreground)
#   pp_netns_spawn NS NAME CMD...     run CMD in NS in the background, stdout to
#                                     $PP_NETNS_TMP/NAME.out, stderr to NAME.err; the PID is
#                                     in $PP_NETNS_PID and killed by cleanup
#   pp_netns_start_signal             peerport signal in I; sets PP_SIGNAL_URL, PP_STUN_URI
#   pp_netns_start_turn               coturn in I; sets PP_TURN_URI (turn:pp:pp@203.0.113.3:3478);
#                                     $PP_TURN_EXTRA adds turnserver options (e.g. -V)
#   pp_netns_start_http NS            python3 http.server on 127.0.0.1 in NS serving
#                                     $PP_NETNS_TMP/www; sets PP_HTTP_PORT
#   pp_netns_wait_for SECS FILE ERE   0 when a line of FILE matches within SECS, else 1
#   pp_netns_wait_exit SECS PID       0 when PID ended within SECS (status in $PP_RC), else 1
#   pp_netns_stop PID                 SIGTERM, then SIGKILL after 5 s; reaps it (status in
#                                     $PP_RC) and drops it from cleanup's list
#   pp_netns_forget PID               drop a PID that has already been reaped from that list
#   pp_netns_pair FILE                the "tunnel open (...)" pair text of FILE, or ""
#   pp_netns_path FILE                host | srflx | relay | "" from that line
#   pp_netns_cleanup                  kill everything started, delete the namespaces, rm tmp
#   pp_netns_log MSG                  "# MSG" on stderr (TAP diagnostics)
#
# Addresses: PP_IP_SIGNAL PP_IP_TURN PP_IP_RH_WAN PP_IP_RC_WAN PP_IP_H PP_IP_C PP_IP_C2 PP_IP_P.

PP_IP_BR=203.0.113.1
PP_IP_SIGNAL=203.0.113.2
PP_IP_TURN=203.0.113.3
PP_IP_RH_WAN=203.0.113.11
PP_IP_RC_WAN=203.0.113.12
PP_IP_P=203.0.113.50
PP_IP_RH_LAN0=192.0.2.1
PP_IP_H=192.0.2.2
PP_IP_RH_LAN1=192.0.2.129
PP_IP_C2=192.0.2.130
PP_IP_RC_LAN=198.51.100.1
PP_IP_C=198.51.100.2
PP_SIGNAL_PORT=8080
PP_TURN_PORT=3478
PP_TURN_USER=pp
PP_TURN_PASS=pp

PP_NETNS_PIDS=()
PP_NETNS_LIST=()
PP_NETNS_TMP=
PP_NETNS_SKIP=

pp_netns_log () { echo "# $*" >&2; }

pp_netns_can_run ()
{
  local probe="ppn$$-probe"

  if [ "$(id -u)" -ne 0 ]; then
    PP_NETNS_SKIP="needs root and network namespaces (not root)"
    return 1
  fi
  local tool
  for tool in ip iptables; do
    if ! command -v "$tool" > /dev/null; then
      PP_NETNS_SKIP="needs root and network namespaces ($tool not installed)"
      return 1
    fi
  done
  if ! ip netns add "$probe" 2> /dev/null; then
    PP_NETNS_SKIP="needs root and network namespaces (ip netns add failed)"
    return 1
  fi
  if ! ip netns exec "$probe" iptables -t nat -L -n > /dev/null 2>&1; then
    ip netns del "$probe" 2> /dev/null
    PP_NETNS_SKIP="needs root and network namespaces (no iptables NAT in a namespace)"
    return 1
  fi
  ip netns del "$probe"
  return 0
}

pp_netns_have_turn () { command -v turnserver > /dev/null; }

# Namespaces of runs that died without cleaning up (their PID is gone).
pp_netns__sweep_stale ()
{
  local ns pid
  for ns in $(ip netns list 2> /dev/null | grep -oE '^ppn[0-9]+-[a-z0-9]+'); do
    pid=${ns#ppn}
    pid=${pid%%-*}
    [ -d "/proc/$pid" ] && continue
    ip netns pids "$ns" 2> /dev/null | xargs -r kill -KILL 2> /dev/null
    ip netns del "$ns" 2> /dev/null
  done
  return 0
}

pp_netns_init ()
{
  PP_PEERPORT=${1:?pp_netns_init PEERPORT}
  local p="ppn$$-"
  PP_NS_I=${p}i PP_NS_RH=${p}rh PP_NS_RC=${p}rc
  PP_NS_H=${p}h PP_NS_C=${p}c PP_NS_C2=${p}c2 PP_NS_P=${p}p
  PP_NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pp-netns.XXXXXX")
  mkdir -p "$PP_NETNS_TMP/www" "$PP_NETNS_TMP/run"
  chmod 0700 "$PP_NETNS_TMP/run"
  export XDG_RUNTIME_DIR=$PP_NETNS_TMP/run
  trap pp_netns__on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  pp_netns__sweep_stale
}

pp_netns__on_exit ()
{
  local rc=$? f
  if [ "$rc" -ne 0 ] && [ -n "$PP_NETNS_TMP" ]; then
    for f in "$PP_NETNS_TMP"/*.out "$PP_NETNS_TMP"/*.err "$PP_NETNS_TMP"/*.log; do
      [ -s "$f" ] && { echo "# --- $f (last 15 lines)"; tail -n 15 "$f" | sed 's/^/# /'; } >&2
    done
  fi
  pp_netns_cleanup || rc=1
  exit "$rc"
}

pp_netns_exec ()
{
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

pp_netns__add ()
{
  ip netns add "$1" || return 1
  PP_NETNS_LIST+=("$1")
  # IPv4 only: veths would otherwise carry fe80:: addresses that ICE happily pairs.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1
  ip -n "$1" link set lo up
}

# pp_netns__link NS1 IF1 NS2 IF2: a veth pair between two namespaces (never in the root one).
pp_netns__link ()
{
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

pp_netns__router_sysctl ()
{
  ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0
}

pp_netns_setup ()
{
  local ns
  for ns in "$PP_NS_I" "$PP_NS_RH" "$PP_NS_RC" "$PP_NS_H" "$PP_NS_C" "$PP_NS_C2" "$PP_NS_P"; do
    pp_netns__add "$ns" || return 1
  done
  # The internet: one bridge; the servers are addresses on it.
  ip -n "$PP_NS_I" link add br0 type bridge || return 1
  ip -n "$PP_NS_I" link set br0 up
  ip -n "$PP_NS_I" addr add "$PP_IP_BR/24" dev br0
  ip -n "$PP_NS_I" addr add "$PP_IP_SIGNAL/24" dev br0
  ip -n "$PP_NS_I" addr add "$PP_IP_TURN/24" dev br0
  # Like the real internet, addresses nobody routes (a peer's private candidates) vanish
  # silently: without a default route, sendto() fails with ENETUNREACH and coturn closes
  # the whole allocation on that error.
  # (ifb: a sink that drops what is routed to it; this kernel has no "dummy".)
  ip -n "$PP_NS_I" link add void type ifb || return 1
  ip -n "$PP_NS_I" link set void up
  ip -n "$PP_NS_I" route add default dev void || return 1
  pp_netns__uplink "$PP_NS_RH" wan "$PP_IP_RH_WAN" i-rh || return 1
  pp_netns__uplink "$PP_NS_RC" wan "$PP_IP_RC_WAN" i-rc || return 1
  pp_netns__uplink "$PP_NS_P" eth0 "$PP_IP_P" i-p || return 1
  # The LANs behind the routers.
  pp_netns__lan "$PP_NS_RH" lan0 "$PP_IP_RH_LAN0/25" "$PP_NS_H" "$PP_IP_H/25" || return 1
  pp_netns__lan "$PP_NS_RH" lan1 "$PP_IP_RH_LAN1/25" "$PP_NS_C2" "$PP_IP_C2/25" || return 1
  pp_netns__lan "$PP_NS_RC" lan0 "$PP_IP_RC_LAN/24" "$PP_NS_C" "$PP_IP_C/24" || return 1
  pp_netns__router_sysctl "$PP_NS_RH"
  pp_netns__router_sysctl "$PP_NS_RC"
  pp_netns_set_nat rh none && pp_netns_set_nat rc none
}

# pp_netns__uplink NS IF ADDR BRPORT: NS joins the internet bridge with ADDR/24.
pp_netns__uplink ()
{
  pp_netns__link "$1" "$2" "$PP_NS_I" "$4" || return 1
  ip -n "$PP_NS_I" link set "$4" master br0
  ip -n "$1" addr add "$3/24" dev "$2"
  ip -n "$1" route add default via "$PP_IP_BR"
}

# pp_netns__lan ROUTER IF ROUTER_CIDR NS NS_CIDR: NS behind ROUTER, default route via it.
pp_netns__lan ()
{
  pp_netns__link "$1" "$2" "$4" eth0 || return 1
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$5" dev eth0
  ip -n "$4" route add default via "${3%/*}"
}

# pp_netns_set_nat rh|rc eim|prc|sym|none
pp_netns_set_nat ()
{
  local ns wan inside lans
  case "$1" in
    rh) ns=$PP_NS_RH wan=$PP_IP_RH_WAN inside=$PP_IP_H lans=192.0.2.0/24 ;;
    rc) ns=$PP_NS_RC wan=$PP_IP_RC_WAN inside=$PP_IP_C lans=198.51.100.0/24 ;;
    *) echo "pp_netns_set_nat: unknown router '$1'" >&2; return 1 ;;
  esac
  local ipt=(ip netns exec "$ns" iptables -w)
  "${ipt[@]}" -t nat -F || return 1
  "${ipt[@]}" -F FORWARD
  "${ipt[@]}" -F INPUT
  "${ipt[@]}" -P FORWARD DROP
  # A router's own firewall: unsolicited packets to its WAN address are dropped, so they
  # never become conntrack entries.  (Accepting them, answered by ICMP, leaves an entry
  # that collides with the mapping the inside peer creates a moment later: MASQUERADE
  # then picks another port and two port-restricted NATs can no longer punch through.)
  "${ipt[@]}" -A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  "${ipt[@]}" -A INPUT -i wan -j DROP
  "${ipt[@]}" -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  "${ipt[@]}" -A FORWARD -i lan+ -o wan -j ACCEPT
  case "$2" in
    none) ;;
    eim)
      "${ipt[@]}" -t nat -A POSTROUTING -o wan -j SNAT --to-source "$wan"
      "${ipt[@]}" -t nat -A PREROUTING -d "$wan" -p udp -j DNAT --to-destination "$inside"
      "${ipt[@]}" -A FORWARD -d "$inside" -p udp -m conntrack --ctstate DNAT -j ACCEPT
      # Hairpin: inside peers that reach the WAN address appear to come from it.
      "${ipt[@]}" -t nat -A POSTROUTING -o lan0 -s "$lans" -m conntrack --ctstate DNAT \
        -j SNAT --to-source "$wan"
      ;;
    prc)
      "${ipt[@]}" -t nat -A POSTROUTING -o wan -j MASQUERADE
      ;;
    sym)
      "${ipt[@]}" -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully
      ;;
    *) echo "pp_netns_set_nat: unknown flavour '$2'" >&2; return 1 ;;
  esac
  pp_netns__flush_conntrack "$ns"
}

# Old mappings would outlive a flavour change; conntrack(8) is optional (a new cell's
# peers use new ports anyway).
pp_netns__flush_conntrack ()
{
  command -v conntrack > /dev/null || return 0
  ip netns exec "$1" conntrack -F > /dev/null 2>&1 || true
}

pp_netns_spawn ()
{
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" > "$PP_NETNS_TMP/$name.out" 2> "$PP_NETNS_TMP/$name.err" &
  PP_NETNS_PID=$!
  PP_NETNS_PIDS+=("$PP_NETNS_PID")
}

pp_netns_wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE "$3" "$2" 2> /dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# No subshell: only this shell can reap its children.
pp_netns_wait_exit ()
{
  local deadline=$((SECONDS + $1))
  while [ -d "/proc/$2" ] && ! grep -q '^State:.*Z' "/proc/$2/status" 2> /dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
  PP_RC=0
  wait "$2" 2> /dev/null || PP_RC=$?
}

# Also forgets PID, so that cleanup never signals a number the kernel has handed out again.
pp_netns_stop ()
{
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2> /dev/null || true
  if ! pp_netns_wait_exit 5 "$1"; then
    kill -KILL "$1" 2> /dev/null || true
    pp_netns_wait_exit 5 "$1" || return 1
  fi
  pp_netns_forget "$1"
}

# Drops PID (already reaped, e.g. by pp_netns_wait_exit) from cleanup's list.
pp_netns_forget ()
{
  local p keep=()
  for p in "${PP_NETNS_PIDS[@]}"; do
    [ "$p" = "$1" ] || keep+=("$p")
  done
  PP_NETNS_PIDS=("${keep[@]}")
}

pp_netns_start_signal ()
{
  pp_netns_spawn "$PP_NS_I" signal "$PP_PEERPORT" signal \
    --listen "$PP_IP_SIGNAL:$PP_SIGNAL_PORT" || return 1
  pp_netns_wait_for 10 "$PP_NETNS_TMP/signal.out" 'listening on http://' || return 1
  PP_SIGNAL_URL=http://$PP_IP_SIGNAL:$PP_SIGNAL_PORT
  PP_STUN_URI=stun:$PP_IP_SIGNAL:$PP_SIGNAL_PORT
}

pp_netns_start_turn ()
{
  local d=$PP_NETNS_TMP
  pp_netns_spawn "$PP_NS_I" turn turnserver -n --listening-ip "$PP_IP_TURN" \
    --relay-ip "$PP_IP_TURN" --listening-port "$PP_TURN_PORT" --min-port 49152 \
    --max-port 49999 --lt-cred-mech --user "$PP_TURN_USER:$PP_TURN_PASS" --realm peerport \
    --fingerprint --no-tls --no-dtls --no-cli --no-rfc5780 --log-file "$d/turn.log" \
    --simple-log --pidfile "$d/turn.pid" --userdb "$d/turndb" --verbose --new-log-timestamp \
    ${PP_TURN_EXTRA:-} || return 1
  # Only --verbose logs the listeners; the UDP one opens last.
  pp_netns_wait_for 10 "$d/turn.log" "UDP listener opened on *: *$PP_IP_TURN:$PP_TURN_PORT" \
    || return 1
  PP_TURN_URI=turn:$PP_TURN_USER:$PP_TURN_PASS@$PP_IP_TURN:$PP_TURN_PORT
}

pp_netns_start_http ()
{
  local name="http-$1"
  pp_netns_spawn "$1" "$name" python3 -u -m http.server --bind 127.0.0.1 \
    --directory "$PP_NETNS_TMP/www" 0 || return 1
  pp_netns_wait_for 10 "$PP_NETNS_TMP/$name.out" 'port [0-9]+' || return 1
  PP_HTTP_PORT=$(grep -oE 'port [0-9]+' "$PP_NETNS_TMP/$name.out" | head -1 | cut -d' ' -f2)
}

pp_netns_pair ()
{
  grep -oE 'tunnel open \(.*\)' "$1" 2> /dev/null | head -1 | sed -E 's/^tunnel open \((.*)\)$/\1/'
}

# "relayed udp A <-> B (relay/srflx)" -> relay; "direct ... (host/host)" -> host; else srflx
# (a reflexive address on either end: srflx or prflx).
pp_netns_path ()
{
  local pair
  pair=$(pp_netns_pair "$1")
  case "$pair" in
    '') echo "" ;;
    relayed*|*relay*) echo relay ;;
    *'(host/host)') echo host ;;
    *) echo srflx ;;
  esac
}

pp_netns_cleanup ()
{
  local p left=0 ns
  for p in "${PP_NETNS_PIDS[@]}"; do
    kill -TERM "$p" 2> /dev/null || true
  done
  for p in "${PP_NETNS_PIDS[@]}"; do
    if ! pp_netns_wait_exit 5 "$p"; then
      pp_netns_log "process $p still alive after cleanup"
      kill -KILL "$p" 2> /dev/null || true
      left=1
    fi
  done
  PP_NETNS_PIDS=()
  for ns in "${PP_NETNS_LIST[@]}"; do
    # Anything still inside (a grandchild) would keep the namespace alive.
    ip netns pids "$ns" 2> /dev/null | xargs -r kill -KILL 2> /dev/null
    ip netns del "$ns" 2> /dev/null || { pp_netns_log "could not delete $ns"; left=1; }
  done
  PP_NETNS_LIST=()
  [ -n "$PP_NETNS_TMP" ] && rm -rf "$PP_NETNS_TMP"
  PP_NETNS_TMP=
  [ "$left" -eq 0 ]
}

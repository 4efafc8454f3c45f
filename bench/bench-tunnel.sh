#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench-tunnel: `peerport host`/`join` against direct TCP, `ssh -L` (to an sshd it starts with
# its own config, host key and user key) and `socat ... fork`, all on this machine, in one run:
# iperf3 throughput both ways with CPU-seconds per GB per process, 1-byte round trips, short
# connections per second, 10,000 idle sockets (user memory per socket) and session set-up time.
# It prints a Markdown table with ratios to direct TCP and the DESIGN §8 targets; it measures
# and reports, it never changes the tree. Everything it starts is killed on exit, temp files go.
#
# As root it runs in a private network namespace (nothing leaves it, and the sysctls it sets
# are the namespace's): ICE never offers loopback addresses, so the peers' address is 127.0.0.2
# on a veth (a loopback pair: SCTP MTU 16384), then 198.18.0.1 (RFC 2544's benchmark range: MTU
# 1200) for a second throughput/latency column.
#
# usage: bench-tunnel.sh [--quick] [BUILD_DIR]   (default build-bench; needs src/cli/peerport
#        and bench/pp-bench-tcp built there; `make bench-tunnel` builds both and runs this)
set -euo pipefail

QUICK=0
BUILD=
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench-tunnel: unknown option $a" >&2; exit 64 ;;
    *) BUILD=$a ;;
  esac
done
BUILD=$(cd "${BUILD:-build-bench}" && pwd)
PEERPORT=$BUILD/src/cli/peerport
TCP=$BUILD/bench/pp-bench-tcp
for f in "$PEERPORT" "$TCP"; do
  [ -x "$f" ] || { echo "bench-tunnel: $f is not built" >&2; exit 69; }
done
for t in iperf3 sshd ssh ssh-keygen socat ss python3; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] \
    || { echo "bench-tunnel: $t is missing (make deps)" >&2; exit 69; }
done

# Re-run inside a private network namespace when we can (root); otherwise stay here and say so.
if [ -z "${PP_BENCH_NETNS-}" ]; then
  if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    exec unshare -n -- env PP_BENCH_NETNS=1 bash "$0" "$@"
  fi
  PP_BENCH_NETNS=0
fi

if [ "$QUICK" -eq 1 ]; then
  RUNS=1 SECS=2 PINGS=2000 CPS_SECS=2 IDLE=10000 SESSIONS=3
else
  RUNS=3 SECS=5 PINGS=10000 CPS_SECS=3 IDLE=10000 SESSIONS=5
fi
# ssh polls every channel on each wake-up, so opening thousands of them is quadratic: its
# memory per socket is measured with fewer.
IDLE_SSH=1000
CPS_PAR=64
LOOP_ADDR=127.0.0.2
LAN_ADDR=198.18.0.1

TMP=$(mktemp -d /tmp/pp-bench-tunnel.XXXXXX)
RES=$TMP/results.tsv
: > "$RES"
PIDS=()
T0=$SECONDS

cleanup ()
{
  local rc=$?
  exec 7>&- 2>/dev/null || true
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/*.err; do
      [ -s "$f" ] && { echo "--- $f"; tail -n 5 "$f"; } >&2
    done
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say () { echo "# [$((SECONDS - T0)) s] $*" >&2; }
fail () { echo "bench-tunnel: $*" >&2; exit 1; }

# wait_for SECONDS FILE REGEX: until a line of FILE matches.
wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE "$3" "$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no '$3' in $2 after $1 s"
    sleep 0.05
  done
}

# wait_listen SECONDS PORT: until something listens on 127.0.0.1:PORT.
wait_listen ()
{
  local deadline=$((SECONDS + $1))
  until [ -n "$(ss -Hltn "sport = :$2" 2>/dev/null)" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "nothing listens on port $2 after $1 s"
    sleep 0.05
  done
}

# stop PID: SIGTERM and wait (bounded) for it to go.
stop ()
{
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

record () { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RES"; }

# free_ports N: N ports nobody listens on (they are picked together, so they differ).
free_ports ()
{
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}

# cpu PID...: CPU seconds (user + system, and reaped children's) of the process trees at PIDs.
cpu ()
{
  python3 -c '
import os, sys
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            s = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        procs[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
roots = set(int(p) for p in sys.argv[1:])
total, changed = 0, True
tree = set(roots)
while changed:
    changed = False
    for p, (pp, _) in procs.items():
        if pp in tree and p not in tree:
            tree.add(p); changed = True
print(sum(procs[p][1] for p in tree if p in procs) / os.sysconf("SC_CLK_TCK"))' "$@"
}

# rss PID...: resident kB of the process trees at PIDs.
rss ()
{
  python3 -c '
import os, sys
kids, rs = {}, {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            st = open("/proc/%s/status" % d).read()
        except OSError:
            continue
        fld = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
        kids.setdefault(int(fld["PPid"]), []).append(int(d))
        rs[int(d)] = int(fld.get("VmRSS", "0 kB").split()[0])
todo, total = [int(p) for p in sys.argv[1:]], 0
while todo:
    p = todo.pop()
    total += rs.get(p, 0)
    todo += kids.get(p, [])
print(total)' "$@"
}

# ---------------------------------------------------------------- the namespace and the servers

if [ "$PP_BENCH_NETNS" = 1 ]; then
  ip link set lo up
  sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  # Short connections by the ten thousand: room for the ports the client and the tunnels use.
  sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
  ip link add ppa type veth peer name ppb
  ip addr add "$LOOP_ADDR/32" dev ppa
  ip link set ppa up
  ip link set ppb up
  WHERE="a private network namespace, peers on $LOOP_ADDR (veth)"
else
  WHERE="the machine's own network (not root: no namespace); ICE picks the path"
fi
# 10,000 idle sockets need more descriptors than the usual 1024: as many as the hard limit gives.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE + 100)) ] || IDLE=$(($(ulimit -n) - 100))

read -r IPERF ECHO SSHD_PORT PP_IPERF PP_ECHO SSH_IPERF SSH_ECHO SOCAT_IPERF SOCAT_ECHO \
  <<< "$(free_ports 9)"

iperf3 -s -B 127.0.0.1 -p "$IPERF" > "$TMP/iperf3s.out" 2> "$TMP/iperf3s.err" &
PIDS+=($!)
"$TCP" serve > "$TMP/echo.out" 2> "$TMP/echo.err" &
PIDS+=($!)
wait_for 10 "$TMP/echo.out" '^port [0-9]+'
ECHO=$(cut -d' ' -f2 "$TMP/echo.out")
wait_listen 10 "$IPERF"

# ---- ssh -L: a private sshd (own host key, key auth only), the client forwards two ports.
mkdir -p "$TMP/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/user_key"
cp "$TMP/ssh/user_key.pub" "$TMP/ssh/authorized_keys"
cat > "$TMP/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $TMP/ssh/host_key
AuthorizedKeysFile $TMP/ssh/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxStartups 100
LogLevel ERROR
EOF
# sshd's privilege-separation folder, as the package sets it up (left: other sshds use it).
mkdir -p /run/sshd
"$(command -v sshd || echo /usr/sbin/sshd)" -D -e -f "$TMP/ssh/sshd_config" 2> "$TMP/sshd.err" &
SSHD_PID=$!
PIDS+=($SSHD_PID)
wait_listen 10 "$SSHD_PORT"
ssh -F /dev/null -N -T -p "$SSHD_PORT" -i "$TMP/ssh/user_key" -o IdentitiesOnly=yes \
  -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ExitOnForwardFailure=yes -o LogLevel=ERROR \
  -L "127.0.0.1:$SSH_IPERF:127.0.0.1:$IPERF" -L "127.0.0.1:$SSH_ECHO:127.0.0.1:$ECHO" \
  "$(id -un)@127.0.0.1" 2> "$TMP/ssh.err" &
SSH_PID=$!
PIDS+=($SSH_PID)
wait_listen 15 "$SSH_IPERF"
wait_listen 15 "$SSH_ECHO"
SSH_CIPHER=$(ssh -F /dev/null -T -G 127.0.0.1 2>/dev/null \
  | awk '/^ciphers /{ split($2, c, ","); print c[1] }')

# ---- socat, one forking listener per target.
socat "TCP-LISTEN:$SOCAT_IPERF,bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
  "TCP:127.0.0.1:$IPERF" 2> "$TMP/socat1.err" &
SOCAT_IPERF_PID=$!
PIDS+=($SOCAT_IPERF_PID)
socat "TCP-LISTEN:$SOCAT_ECHO,bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
  "TCP:127.0.0.1:$ECHO" 2> "$TMP/socat2.err" &
SOCAT_ECHO_PID=$!
PIDS+=($SOCAT_ECHO_PID)
wait_listen 10 "$SOCAT_IPERF"
wait_listen 10 "$SOCAT_ECHO"

# ---- peerport: the signaling server, then host and join sessions on demand.
"$PEERPORT" signal --listen 127.0.0.1:0 --stun-port off > "$TMP/signal.out" 2> "$TMP/signal.err" &
PIDS+=($!)
wait_for 10 "$TMP/signal.out" 'listening on http://'
SIGNAL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$TMP/signal.out" | head -1)

HOST_ARGS=(host --signal "$SIGNAL" --allow "127.0.0.1:$IPERF" --allow "127.0.0.1:$ECHO" --yes
           --json --name bench-host)
# Everything is on this machine: host candidates suffice, and this signal server has no STUN.
STUN_OFF=()
case "$("$PEERPORT" host --help 2>&1)" in *--stun*) STUN_OFF=(--stun none) ;; esac
HOST_ARGS+=("${STUN_OFF[@]}")
NSESS=0

# start_session [-L ...]: a host and a join (with the given mappings) until both say "open";
# sets HOST_PID, JOIN_PID, SESS (the prefix of their output files).
start_session ()
{
  NSESS=$((NSESS + 1))
  SESS=$TMP/s$NSESS
  "$PEERPORT" "${HOST_ARGS[@]}" > "$SESS.host.out" 2> "$SESS.host.err" &
  HOST_PID=$!
  PIDS+=($HOST_PID)
  wait_for 10 "$SESS.host.out" '"join-url"'
  local url
  url=$(python3 -c 'import json, sys
print(next(e["url"] for e in map(json.loads, open(sys.argv[1])) if e["event"] == "join-url"))' \
    "$SESS.host.out")
  "$PEERPORT" join "$url" --json --name bench-join "${STUN_OFF[@]}" "$@" \
    > "$SESS.join.out" 2> "$SESS.join.err" &
  JOIN_PID=$!
  PIDS+=($JOIN_PID)
  wait_for 20 "$SESS.host.out" '"state":"open"'
  wait_for 20 "$SESS.join.out" '"state":"open"'
}

open_tunnel ()
{
  start_session -L "127.0.0.1:$PP_IPERF=>127.0.0.1:$IPERF" -L "127.0.0.1:$PP_ECHO=>127.0.0.1:$ECHO"
  wait_listen 10 "$PP_IPERF"
  wait_listen 10 "$PP_ECHO"
  PATH_DETAIL=$(grep -oE '"state":"open","detail":"[^"]*"' "$SESS.host.out" | cut -d'"' -f8)
  say "peerport tunnel open: $PATH_DETAIL"
}

# Ports and the processes whose CPU and memory count, per configuration.
declare -A P_IPERF=([direct]=$IPERF [ssh]=$SSH_IPERF [socat]=$SOCAT_IPERF)
declare -A P_ECHO=([direct]=$ECHO [ssh]=$SSH_ECHO [socat]=$SOCAT_ECHO)
declare -A SRV_PID=([ssh]=$SSHD_PID [socat]=$SOCAT_IPERF_PID)
declare -A CLI_PID=([ssh]=$SSH_PID)

use_peerport ()
{
  P_IPERF[$1]=$PP_IPERF P_ECHO[$1]=$PP_ECHO SRV_PID[$1]=$HOST_PID CLI_PID[$1]=$JOIN_PID
}

# ---------------------------------------------------------------- the measurements

# throughput CONFIG RUN: iperf3 one stream each way; Mbit/s and CPU s/GB per process.
throughput ()
{
  local c=$1 dir flag srv=${SRV_PID[$1]-} cli=${CLI_PID[$1]-} s0 s1 c0 c1 out
  for dir in fwd rev; do
    flag=
    [ "$dir" = rev ] && flag=-R
    out=$TMP/iperf-$c-$dir-$2.json
    s0=$( [ -n "$srv" ] && cpu "$srv" || echo 0)
    c0=$( [ -n "$cli" ] && cpu "$cli" || echo 0)
    iperf3 -c 127.0.0.1 -p "${P_IPERF[$c]}" -t "$SECS" $flag -J > "$out" 2> "$out.err" \
      || { say "iperf3 through $c ($dir) failed: $(tail -c 300 "$out")"; continue; }
    s1=$( [ -n "$srv" ] && cpu "$srv" || echo 0)
    c1=$( [ -n "$cli" ] && cpu "$cli" || echo 0)
    python3 - "$out" "$c" "$dir" "$s0" "$s1" "$c0" "$c1" "${srv:+1}" "${cli:+1}" >> "$RES" <<'EOF'
import json, sys
out, c, d, s0, s1, c0, c1, has_s, has_c = sys.argv[1:]
r = json.load(open(out))["end"]["sum_received"]
gb = r["bytes"] / 1e9
print("tput_%s\t%s\t%.1f" % (d, c, r["bits_per_second"] / 1e6))
if has_s:
    print("cpu_srv_%s\t%s\t%.2f" % (d, c, (float(s1) - float(s0)) / gb))
if has_c:
    print("cpu_cli_%s\t%s\t%.2f" % (d, c, (float(c1) - float(c0)) / gb))
EOF
  done
}

latency ()
{
  local r
  r=$("$TCP" rtt "${P_ECHO[$1]}" "$PINGS") || { say "rtt through $1 failed"; return; }
  record rtt_med "$1" "$(echo "$r" | awk '{print $3}')"
  record rtt_p99 "$1" "$(echo "$r" | awk '{print $5}')"
}

rate ()
{
  local r
  r=$("$TCP" cps "${P_ECHO[$1]}" "$CPS_SECS" "$CPS_PAR") || { say "cps through $1 failed"; return; }
  record cps "$1" "$(echo "$r" | awk '{print $2}')"
  record cps_err "$1" "$(echo "$r" | awk '{print $6}')"
}

# idle CONFIG: IDLE connections held open; resident kB per process before/during → bytes each.
idle ()
{
  local c=$1 n=$2 srv=${SRV_PID[$1]} cli=${CLI_PID[$1]} s0 c0 s1 c1 hp
  "$TCP" rtt "${P_ECHO[$c]}" 100 > /dev/null
  s0=$(rss "$srv") c0=$(rss "$cli")
  rm -f "$TMP/idle.in"
  mkfifo "$TMP/idle.in"
  exec 7<> "$TMP/idle.in"
  "$TCP" idle "${P_ECHO[$c]}" "$n" < "$TMP/idle.in" > "$TMP/idle-$c.out" 2> "$TMP/idle-$c.err" &
  hp=$!
  PIDS+=($hp)
  local deadline=$((SECONDS + 150))
  until grep -q '^ready' "$TMP/idle-$c.out"; do
    if ! kill -0 "$hp" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      say "idle sockets through $c: $(cat "$TMP/idle-$c.err")"
      record idle_note "$c" "failed: $(tr '\n' ' ' < "$TMP/idle-$c.err")"
      exec 7>&-
      stop "$hp"
      return
    fi
    sleep 0.1
  done
  s1=$(rss "$srv") c1=$(rss "$cli")
  echo >&7
  exec 7>&-
  wait_for 60 "$TMP/idle-$c.out" '^closed'
  wait "$hp" 2>/dev/null || true
  record idle_srv "$c" "$(((s1 - s0) * 1024 / n))"
  record idle_cli "$c" "$(((c1 - c0) * 1024 / n))"
  record idle_note "$c" "$n sockets; RSS kB server side $s0 -> $s1, client side $c0 -> $c1"
}

# setup: SESSIONS fresh host/join pairs; the host's accept (its join-request event, answered at
# once by --yes) to its "open", and the join's first event to its "open", in ms.
setup_times ()
{
  local i
  for i in $(seq "$SESSIONS"); do
    start_session
    python3 - "$SESS.host.out" "$SESS.join.out" >> "$RES" <<'EOF'
import json, sys
from datetime import datetime
def t(path, pred):
    for e in map(json.loads, open(path)):
        if pred(e):
            return datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    raise SystemExit("no such event in " + path)
is_open = lambda e: e["event"] == "state" and e["state"] == "open"
h = (t(sys.argv[1], is_open) - t(sys.argv[1], lambda e: e["event"] == "join-request")) * 1e3
j = (t(sys.argv[2], is_open) - t(sys.argv[2], lambda e: True)) * 1e3
print("setup_host\tpeerport\t%.0f\nsetup_join\tpeerport\t%.0f" % (h, j))
EOF
    stop "$JOIN_PID"
    stop "$HOST_PID"
  done
}

CONFIGS=(direct peerport ssh socat)
say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); in $WHERE"
open_tunnel
use_peerport peerport
LOOP_PATH=$PATH_DETAIL

say "idle sockets ($IDLE through peerport, $IDLE_SSH through ssh -L)"
idle peerport "$IDLE"
idle ssh "$IDLE_SSH"
say "1-byte round trips ($PINGS x $RUNS)"
for r in $(seq "$RUNS"); do for c in "${CONFIGS[@]}"; do latency "$c"; done; done
say "short connections ($CPS_PAR in parallel, ${CPS_SECS} s x $RUNS)"
for r in $(seq "$RUNS"); do for c in "${CONFIGS[@]}"; do rate "$c"; done; done
say "iperf3 throughput (${SECS} s each way x $RUNS)"
for r in $(seq "$RUNS"); do for c in "${CONFIGS[@]}"; do throughput "$c" "$r"; done; done
stop "$JOIN_PID"
stop "$HOST_PID"
say "session set-up ($SESSIONS sessions)"
setup_times

LAN_PATH=
if [ "$PP_BENCH_NETNS" = 1 ]; then
  # The same tunnel over a non-loopback address: SCTP MTU 1200, the size every real path gets.
  ip addr del "$LOOP_ADDR/32" dev ppa
  ip addr add "$LAN_ADDR/32" dev ppa
  open_tunnel
  use_peerport pp1200
  LAN_PATH=$PATH_DETAIL
  say "MTU 1200: round trips and throughput"
  for r in $(seq "$RUNS"); do latency pp1200; done
  for r in $(seq "$RUNS"); do throughput pp1200 "$r"; done
  stop "$JOIN_PID"
  stop "$HOST_PID"
fi

# ---------------------------------------------------------------- the table

python3 - "$RES" <<EOF
import statistics, sys
from collections import defaultdict
vals, notes = defaultdict(list), {}
for line in open(sys.argv[1]):
    fig, c, v = line.rstrip("\n").split("\t")
    if fig == "idle_note":
        notes[c] = v
    else:
        vals[(fig, c)].append(float(v))
def med(fig, c):
    v = vals.get((fig, c))
    return statistics.median(v) if v else None

cols = ["direct", "peerport", "pp1200", "ssh", "socat"]
names = {"direct": "direct TCP", "peerport": "peerport (MTU 16384)",
         "pp1200": "peerport (MTU 1200)", "ssh": "ssh -L", "socat": "socat fork"}
cols = [c for c in cols if any(k[1] == c for k in vals)]

def cell(fig, c, fmt, ratio):
    v = med(fig, c)
    if v is None:
        return "–"
    s = fmt % v
    d = med(fig, "direct")
    if ratio and c != "direct" and d:
        s += " (%.2f×)" % (v / d)
    return s

def cpu_cell(d, c):
    s, k = med("cpu_srv_" + d, c), med("cpu_cli_" + d, c)
    if s is None:
        return "–"
    side = {"peerport": ("host", "join"), "pp1200": ("host", "join"),
            "ssh": ("sshd", "ssh")}.get(c, (c, ""))
    return "%s %.2f" % (side[0], s) + (" / %s %.2f" % (side[1], k) if k is not None else "")

rows = [
    ("throughput join→host, Mbit/s", lambda c: cell("tput_fwd", c, "%.0f", True)),
    ("throughput host→join (-R), Mbit/s", lambda c: cell("tput_rev", c, "%.0f", True)),
    ("CPU s/GB join→host", lambda c: cpu_cell("fwd", c)),
    ("CPU s/GB host→join", lambda c: cpu_cell("rev", c)),
    ("1-byte RTT median, µs", lambda c: cell("rtt_med", c, "%.1f", True)),
    ("1-byte RTT p99, µs", lambda c: cell("rtt_p99", c, "%.1f", True)),
    ("connections/s ($CPS_PAR parallel)", lambda c: cell("cps", c, "%.0f", True)),
    ("idle socket, user bytes (host / join side)",
     lambda c: "–" if med("idle_srv", c) is None else
               "%.0f / %.0f" % (med("idle_srv", c), med("idle_cli", c))),
    ("session set-up accept→open, ms", lambda c: cell("setup_host", c, "%.0f", False)),
    ("join start→open, ms", lambda c: cell("setup_join", c, "%.0f", False)),
]
print("| figure | " + " | ".join(names[c] for c in cols) + " |")
print("|---|" + "---|" * len(cols))
for title, f in rows:
    print("| %s | %s |" % (title, " | ".join(f(c) for c in cols)))
print()
print("Medians of $RUNS run(s); iperf3 one stream ${SECS} s; $PINGS round trips per run;")
print("short connections for ${CPS_SECS} s; ratios are to direct TCP in the same run.")
print("CPU s/GB: the process (tree) on the target's side / the one on the client's side.")
for c, n in sorted(notes.items()):
    print("idle, %s: %s" % (names.get(c, c), n))
print()

def verdict(ok, text):
    print("- %s %s" % ("MET " if ok else "MISS", text))
pp, lan = "peerport", "pp1200"
print("DESIGN §8 targets:")
for d, word in (("fwd", "join→host"), ("rev", "host→join")):
    v = med("tput_" + d, pp)
    if v is not None:
        verdict(v >= 1000, "bulk %s ≥ 1000 Mbit/s at MTU 16384: %.0f" % (word, v))
    v = med("tput_" + d, lan)
    if v is not None:
        verdict(v >= 600, "bulk %s ≥ 600 Mbit/s at MTU 1200: %.0f" % (word, v))
d, p, s = med("rtt_med", "direct"), med("rtt_med", pp), med("rtt_med", "ssh")
if None not in (d, p, s):
    verdict(p - d <= 2.5 * d, "added RTT ≤ 2.5× direct: %.1f µs added to %.1f µs (%.1f×)"
            % (p - d, d, (p - d) / d))
    verdict(p <= s, "RTT no worse than ssh -L: %.1f µs vs %.1f µs" % (p, s))
v = med("cps", pp)
if v is not None:
    verdict(v >= 5000, "≥ 5,000 connections/s: %.0f" % v)
h, j = med("idle_srv", pp), med("idle_cli", pp)
if None not in (h, j):
    verdict(max(h, j) <= 4096, "≤ 4 KiB user memory per socket: host %.0f B, join %.0f B"
            % (h, j))
v = med("setup_host", pp)
if v is not None:
    verdict(v <= 500, "session set-up ≤ 500 ms: %.0f ms" % v)
EOF
echo
echo "peerport ${HOST_ARGS[*]}; join URL --json --name bench-join ${STUN_OFF[*]} -L ..." \
  "(defaults otherwise)"
echo "paths: MTU 16384 = $LOOP_PATH${LAN_PATH:+; MTU 1200 = $LAN_PATH}"
echo "ssh: $(ssh -V 2>&1), cipher $SSH_CIPHER; socat: $(socat -V | awk '/socat version/{print $3}')"
echo "iperf3: $(iperf3 --version | head -1 | cut -d' ' -f1-2); $WHERE; $(nproc) cores;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg); took $((SECONDS - T0)) s"

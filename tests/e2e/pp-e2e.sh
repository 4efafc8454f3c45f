# SPDX-License-Identifier: MIT
#
# Helper library sourced by the tests/e2e/test-tunnel-*.sh scripts: TAP output, processes started
# in the background with their output in a private temp dir, waits that poll a condition with a
# deadline, and a `peerport signal` + `host` + `join` tunnel on loopback.  The EXIT trap kills
# every process it started, fails the test if one had to be killed hard, and removes the temp
# dir.  It never sleeps for synchronisation and never touches anything outside its temp dir.
#
# usage (first lines of a test):  . "$(dirname "$0")/pp-e2e.sh" "$1"; pp_plan N

PEERPORT=${1:?usage: $0 PATH/TO/peerport}
PEERPORT=$(readlink -f "$PEERPORT")
PP_APP=$(dirname "${BASH_SOURCE[0]}")/pp-e2e-app.py
PP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pp-e2e.XXXXXX")
PP_PIDS=()
PP_AT_EXIT=()
PP_T=0
PP_FAILED=0
PP_PLANNED=0
# Under the ASan/UBSan pass everything runs several times slower: do a quarter of the work.
PP_ASAN=${PEERPORT_TEST_ASAN:-0}
[ "$PP_ASAN" = 1 ] && PP_SCALE=4 || PP_SCALE=1
export XDG_RUNTIME_DIR="$PP_TMP/run"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
mkfifo "$PP_TMP/.tick"
exec {PP_TICK}<>"$PP_TMP/.tick"

# --- TAP ---

pp_plan () { PP_PLANNED=$1; echo "1..$1"; }
pp_diag () { local l; for l in "$@"; do echo "# $l"; done; }
pp_pass () { PP_T=$((PP_T + 1)); echo "ok $PP_T - $1"; }

# pp_fail DESC [WHY...]: a failed case, with its reasons as diagnostics.
pp_fail ()
{
  PP_T=$((PP_T + 1))
  PP_FAILED=$((PP_FAILED + 1))
  echo "not ok $PP_T - $1"
  shift
  [ $# -eq 0 ] || pp_diag "$@"
}

# pp_todo DESC WHY: a known bug; the case prints as TODO and does not fail the script.
pp_todo ()
{
  PP_T=$((PP_T + 1))
  echo "not ok $PP_T - $1 # TODO $2"
}

# pp_check DESC COMMAND...: ok when COMMAND succeeds.
pp_check ()
{
  local desc=$1
  shift
  if "$@"; then pp_pass "$desc"; else pp_fail "$desc" "failed: $*"; fi
}

# pp_bail WHY: the set-up failed; no later case can mean anything.
pp_bail () { echo "Bail out! $*"; PP_FAILED=$((PP_FAILED + 1)); exit 1; }

# --- time ---

# A 50 ms pause between two looks at a condition (read on a FIFO nobody writes to).
pp_nap () { read -r -t 0.05 -u "$PP_TICK" _ || true; }

# Milliseconds since the epoch, for measured figures and liveness deadlines.
pp_now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# pp_wait_for SECONDS FILE ERE: until a line of FILE matches (1 on timeout).
pp_wait_for ()
{
  local deadline=$((SECONDS + $1))
  until grep -qE -- "$3" "$2" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    pp_nap
  done
}

# pp_alive PID: the process exists and is not a zombie.
pp_alive ()
{
  [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# pp_wait_exit SECONDS PID: until PID ends; its status in PP_RC (1 on timeout).  No subshell:
# only this shell can reap its children.
pp_wait_exit ()
{
  local deadline=$((SECONDS + $1))
  while pp_alive "$2"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    pp_nap
  done
  PP_RC=0
  wait "$2" 2>/dev/null || PP_RC=$?
}

# --- processes and ports ---

# pp_at_exit COMMAND: cleanup evals COMMAND after every process is gone.
pp_at_exit () { PP_AT_EXIT+=("$1"); }

# pp_spawn NAME COMMAND...: runs COMMAND in the background, stdout and stderr in
# $PP_TMP/NAME.out and NAME.err; its pid in PP_PID; cleanup kills it.
pp_spawn ()
{
  local name=$1
  shift
  "$@" > "$PP_TMP/$name.out" 2> "$PP_TMP/$name.err" < /dev/null &
  PP_PID=$!
  PP_PIDS+=("$PP_PID")
}

# A free TCP port on 127.0.0.1, for servers that cannot pick their own and print it.
pp_free_port ()
{
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])'
}

# pp_wait_port SECONDS PORT: until something accepts on 127.0.0.1:PORT.
pp_wait_port ()
{
  local deadline=$((SECONDS + $1))
  until (exec 3<> "/dev/tcp/127.0.0.1/$2") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    pp_nap
  done
}

# pp_listening PORT: a TCP listener on PORT exists on any address (ss, so no connection); its
# ss line, with the owning process, is printed as a TAP diagnostic.
pp_listening ()
{
  local l
  l=$(ss -Hltnp "sport = :$1" 2>/dev/null)
  [ -n "$l" ] || return 1
  pp_diag "listening: $l"
}

# pp_start_app NAME MODE [SIZE]: a pp-e2e-app.py server; its port in PP_APP_PORT, its log of
# how each connection ended in $PP_TMP/NAME.log.
pp_start_app ()
{
  local name=$1
  shift
  pp_spawn "$name" python3 -u "$PP_APP" server "$PP_TMP/$name.port" "$PP_TMP/$name.log" "$@"
  pp_wait_for 15 "$PP_TMP/$name.port" '^[0-9]+$' || pp_bail "$name: app server did not start"
  PP_APP_PORT=$(cat "$PP_TMP/$name.port")
}

# --- peerport ---

# Starts `peerport signal` on a free loopback port (STUN on the same port number, which host
# and join use by default): its URL in PP_SIGNAL.
pp_start_signal ()
{
  pp_spawn signal "$PEERPORT" signal --listen 127.0.0.1:0
  PP_SIGNAL_PID=$PP_PID
  pp_wait_for 15 "$PP_TMP/signal.out" 'listening on http://' || pp_bail "signal did not start"
  PP_SIGNAL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$PP_TMP/signal.out" | head -1)
}

# pp_start_host NAME ARGS...: `peerport host --signal --yes ARGS`; PP_HOST_PID, PP_JOIN_URL.
pp_start_host ()
{
  local name=$1
  shift
  pp_spawn "$name" "$PEERPORT" host --signal "$PP_SIGNAL" --yes --name "$name" "$@"
  PP_HOST_PID=$PP_PID
  pp_wait_for 15 "$PP_TMP/$name.out" 'join URL: http://' || pp_bail "$name: no join URL"
  PP_JOIN_URL=$(grep -oE 'join URL: [^ ]+' "$PP_TMP/$name.out" | head -1 | cut -d' ' -f3)
}

# pp_start_join NAME MAPPING...: `peerport join URL -L MAPPING...`; PP_JOIN_PID, and the local
# ports in PP_LPORTS, in the order of the mappings.
pp_start_join ()
{
  local name=$1 args=() m n
  shift
  for m in "$@"; do args+=(-L "$m"); done
  pp_spawn "$name" "$PEERPORT" join "$PP_JOIN_URL" --name "$name" "${args[@]}"
  PP_JOIN_PID=$PP_PID
  n=$#
  pp_wait_for 15 "$PP_TMP/$name.out" "listening on port" || pp_bail "$name: no listener"
  local deadline=$((SECONDS + 15))
  while [ "$(grep -c 'listening on port' "$PP_TMP/$name.out")" -lt "$n" ]; do
    [ "$SECONDS" -lt "$deadline" ] || pp_bail "$name: fewer than $n listeners"
    pp_nap
  done
  mapfile -t PP_LPORTS < <(grep -oE 'listening on port [0-9]+' "$PP_TMP/$name.out" \
                           | cut -d' ' -f4)
}

# pp_tunnel RULES -- MAPPINGS: signal (if not yet), host "host" allowing RULES, join "join"
# with MAPPINGS, and waits until both say the tunnel is open.  Set PP_H and PP_J to name the
# two processes (and their output files) otherwise.
pp_tunnel ()
{
  local rules=() r h=${PP_H:-host} j=${PP_J:-join}
  while [ $# -gt 0 ] && [ "$1" != -- ]; do rules+=(--allow "$1"); shift; done
  shift
  [ -n "${PP_SIGNAL:-}" ] || pp_start_signal
  pp_start_host "$h" "${rules[@]}"
  pp_start_join "$j" "$@"
  pp_wait_for 30 "$PP_TMP/$h.out" 'tunnel open' || pp_bail "$h: tunnel not open"
  pp_wait_for 30 "$PP_TMP/$j.out" 'tunnel open' || pp_bail "$j: tunnel not open"
  r=$(grep -oE 'tunnel open.*' "$PP_TMP/$j.out" | head -1)
  pp_diag "$j: $r"
}

# pp_peerport_left: pids of peerport processes still running with our signal URL in their
# command line (the signaling server itself excepted).
pp_peerport_left ()
{
  local exe p cmd
  while read -r exe; do
    p=${exe#/proc/}
    p=${p%/exe}
    [ "$p" != "${PP_SIGNAL_PID:-}" ] || continue
    cmd=$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null) || continue
    case "$cmd" in *"${PP_SIGNAL:-no signal}"*) echo "$p" ;; esac
  done < <(find /proc -mindepth 2 -maxdepth 2 -name exe -lname "$PEERPORT*" 2>/dev/null)
}

# --- the end ---

pp_dump_logs ()
{
  local f
  for f in "$PP_TMP"/*.out "$PP_TMP"/*.err; do
    [ -s "$f" ] || continue
    echo "# --- ${f##*/} (last 40 lines)"
    tail -n 40 "$f" | cut -c1-300 | sed 's/^/#   /'
  done
}

pp_cleanup ()
{
  local rc=$? p left=()
  for p in "${PP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PP_PIDS[@]}"; do
    pp_wait_exit 10 "$p" && continue
    left+=("$p")
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for p in "${PP_AT_EXIT[@]}"; do eval "$p" || true; done
  # A sanitizer report from any process (at exit too, e.g. a leak) fails the test.
  p=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$PP_TMP"/*.err 2>/dev/null)
  if [ -n "$p" ]; then
    echo "# sanitizer reports in: ${p//$'\n'/ }"
    PP_FAILED=$((PP_FAILED + 1))
  fi
  if [ ${#left[@]} -gt 0 ]; then
    echo "# processes still alive 10 s after SIGTERM: ${left[*]}"
    PP_FAILED=$((PP_FAILED + 1))
  fi
  if [ "$PP_T" -ne "$PP_PLANNED" ]; then
    echo "# planned $PP_PLANNED cases, ran $PP_T"
    PP_FAILED=$((PP_FAILED + 1))
  fi
  if [ "$PP_FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
    pp_dump_logs
  fi
  exec {PP_TICK}>&-
  rm -rf "$PP_TMP"
  [ "$PP_FAILED" -eq 0 ] || exit 1
  exit "$rc"
}
trap pp_cleanup EXIT
trap 'exit 130' INT TERM

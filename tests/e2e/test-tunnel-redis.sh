#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A real redis-server reached through the tunnel:
#
#   redis-benchmark/redis-cli ──> [join] ══WebRTC══ [host] ──> redis-server (loopback, no disk)
#
# redis-benchmark runs SET, GET, INCR and LPUSH without pipelining, first straight to the
# server, then through the tunnel: it must finish without an error, and the server's counters
# must show that every INCR and LPUSH arrived exactly once.  requests/s of both runs are printed.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 6

# 10,000 per test (40,000 round trips through the tunnel): ~2,000-5,000/s on a loaded 2-core VM.
N=$((10000 / PP_SCALE))
REDIS_PORT=$(pp_free_port)
pp_spawn redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --protected-mode no --dir "$PP_TMP" --logfile ''
pp_wait_port 15 "$REDIS_PORT" || pp_bail "redis-server did not start"

pp_tunnel "127.0.0.1:$REDIS_PORT" -- "127.0.0.1:0=>127.0.0.1:$REDIS_PORT"
LPORT=${PP_LPORTS[0]}

TOKEN="tok-$RANDOM$RANDOM-$$"
got=$(timeout 20 redis-cli -h 127.0.0.1 -p "$LPORT" SET e2e:key "$TOKEN" 2>&1)
pp_check "redis-cli SET through the tunnel answers OK" [ "$got" = OK ]
got=$(timeout 20 redis-cli -h 127.0.0.1 -p "$LPORT" GET e2e:key 2>&1)
if [ "$got" = "$TOKEN" ]; then
  pp_pass "redis-cli GET through the tunnel reads the value back"
else
  pp_fail "redis-cli GET through the tunnel reads the value back" "got '$got'"
fi

# bench PORT NAME: redis-benchmark against PORT; ok when it exits 0, prints a rate for each of
# the four tests and no error, and the server counted N INCR and N LPUSH.
bench ()
{
  local port=$1 name=$2 out=$PP_TMP/bench-$2.txt rc=0 lines incr llen
  redis-cli -p "$REDIS_PORT" FLUSHALL > /dev/null
  timeout 50 redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" -c 10 -t set,get,incr,lpush -q \
    > "$out" 2>&1 || rc=$?
  tr '\r' '\n' < "$out" | grep -E '^[A-Z]+: [0-9.]+ requests per second' > "$out.rates"
  lines=$(wc -l < "$out.rates")
  incr=$(redis-cli -p "$REDIS_PORT" GET counter:__rand_int__)
  llen=$(redis-cli -p "$REDIS_PORT" LLEN mylist)
  sed 's/, p50.*//; s/^/'"$name"': /' "$out.rates" | while read -r l; do pp_diag "$l"; done
  if [ "$rc" -eq 0 ] && [ "$lines" -eq 4 ] && ! grep -qiE 'error|could not' "$out" \
     && [ "$incr" = "$N" ] && [ "$llen" = "$N" ]; then
    pp_pass "redis-benchmark -n $N -c 10 $name: no error, every INCR and LPUSH counted once"
  else
    pp_fail "redis-benchmark -n $N -c 10 $name: no error, every INCR and LPUSH counted once" \
      "exit $rc, $lines rate lines, counter $incr, list length $llen (want $N)" \
      "$(tr '\r' '\n' < "$out" | grep -iE 'error|could not' | head -3)"
  fi
}

bench "$REDIS_PORT" direct
bench "$LPORT" tunnel

# A last command after the benchmark's 10 connections closed: the tunnel still serves.
got=$(timeout 20 redis-cli -h 127.0.0.1 -p "$LPORT" PING 2>&1)
pp_check "the tunnel still answers after the benchmark" [ "$got" = PONG ]
pp_check "host and join are still running" pp_alive "$PP_HOST_PID"

#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Downloads cut by the host's death (SIGKILL mid-transfer):
#
#   curl ──> [join] ══WebRTC══ [host] ──> python3 -m http.server (1 GiB file, Content-Length)
#   curl ──> [join] ══WebRTC══ [host] ──> endless HTTP/1.0 body (no length: EOF would mean done)
#
# Neither curl may succeed: the join side must reset both sockets (curl exit 56, "Recv failure"),
# never end them with a clean EOF, which curl would report as a complete download in the
# second case.  Both curls are rate-limited so that the kill lands mid-transfer.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 6

FULL=$((1024 * 1024 * 1024))
mkdir "$PP_TMP/www"
truncate -s "$FULL" "$PP_TMP/www/big"
pp_spawn http python3 -u -m http.server --bind 127.0.0.1 --directory "$PP_TMP/www" 0
pp_wait_for 15 "$PP_TMP/http.out" 'port [0-9]+' || pp_bail "http.server did not start"
HTTP_PORT=$(grep -oE 'port [0-9]+' "$PP_TMP/http.out" | head -1 | cut -d' ' -f2)
pp_start_app endless http-endless
pp_tunnel "127.0.0.1:$HTTP_PORT" "127.0.0.1:$PP_APP_PORT" -- \
  "127.0.0.1:0=>127.0.0.1:$HTTP_PORT" "127.0.0.1:0=>127.0.0.1:$PP_APP_PORT"

# get NAME URL: a rate-limited curl in the background; its pid in PP_PID.
get ()
{
  pp_spawn "curl-$1" curl -sS --limit-rate 2M --max-time 60 -o "$PP_TMP/$1.got" \
    -w '%{size_download} bytes\n' "$2"
}
get sized "http://127.0.0.1:${PP_LPORTS[0]}/big"
SIZED=$PP_PID
get endless "http://127.0.0.1:${PP_LPORTS[1]}/"
ENDLESS=$PP_PID

size_of () { stat -c %s "$1" 2>/dev/null || echo 0; }
deadline=$((SECONDS + 30))
until [ "$(size_of "$PP_TMP/sized.got")" -ge 1048576 ] \
      && [ "$(size_of "$PP_TMP/endless.got")" -ge 1048576 ]; do
  [ "$SECONDS" -lt "$deadline" ] || pp_bail "downloads did not start through the tunnel"
  pp_nap
done
kill -KILL "$PP_HOST_PID"
wait "$PP_HOST_PID" 2>/dev/null
pp_diag "host killed with $(size_of "$PP_TMP/sized.got") and $(size_of "$PP_TMP/endless.got") \
bytes received"

for name in sized endless; do
  [ "$name" = sized ] && pid=$SIZED || pid=$ENDLESS
  if ! pp_wait_exit 25 "$pid"; then
    pp_fail "$name download: curl fails after the host's death" "curl still running after 25 s"
    pp_fail "$name download: ends in a reset (curl exit 56)" "curl still running"
    continue
  fi
  got=$(size_of "$PP_TMP/$name.got")
  pp_diag "$name: curl exit $PP_RC, $got bytes: $(tr '\n' ' ' < "$PP_TMP/curl-$name.err")"
  if [ "$PP_RC" -ne 0 ]; then
    pp_pass "$name download: curl fails after the host's death"
  else
    pp_fail "$name download: curl fails after the host's death" \
      "curl reported success with $got bytes"
  fi
  pp_check "$name download: ends in a reset (curl exit 56, got $PP_RC)" [ "$PP_RC" -eq 56 ]
done
pp_check "the sized download is short of the full $FULL bytes" \
  [ "$(size_of "$PP_TMP/sized.got")" -lt "$FULL" ]
if pp_wait_exit 25 "$PP_JOIN_PID"; then
  pp_check "join exits 69 after the host's death (got $PP_RC)" [ "$PP_RC" -eq 69 ]
else
  pp_fail "join exits 69 after the host's death" "still running"
fi

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Configures, builds and tests one build directory, quietly: the Makefile's workhorse. It always
# reconfigures, because the meson.build files pick sources up with fs.exists() and Ninja cannot
# notice a newly written file. When part of the build fails, the tests that still built run
# anyway and the failure is added to testlog.json as one failed entry, so the summary never
# mistakes "nothing ran" for "nothing failed".
#
# usage: meson-suite.sh [--build-only] DIR LABEL [MESON_SETUP_OPTION...]
# env:   CC (compiler for a fresh directory), MESON_TEST_ARGS (extra `meson test` arguments),
#        BUILD_TARGETS (ninja targets to build instead of everything)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mode=test
if [ "${1-}" = --build-only ]; then
  mode=build
  shift
fi
dir=$1
label=$2
shift 2
testlog="$dir/meson-logs/testlog.json"

say() { printf '==> %s: %s\n' "$label" "$*"; }

# usage: add_failure STEP  (appends one failed entry to the test log)
add_failure() {
  mkdir -p "$dir/meson-logs"
  printf '{"name": "%s", "result": "ERROR", "returncode": 1, "stdout": ""}\n' "$1" >>"$testlog"
}

# The C compiler an existing directory was set up with (meson 1.0 cannot introspect it).
configured_cc() {
  awk '/^rule c_COMPILER$/ { getline; print $3; exit }' "$dir/build.ninja" 2>/dev/null
}

configure() {
  local setup_log
  local args=("$@")

  if [ -f "$dir/meson-private/coredata.dat" ]; then
    # Meson keeps the first compiler forever; start over when another one is asked for.
    if [ -n "${CC-}" ] && [ "$(configured_cc)" != "$CC" ]; then
      args=(--wipe "${args[@]}")
    else
      args=(--reconfigure "${args[@]}")
    fi
  fi
  say "configure $dir${args[*]:+ (${args[*]})}"
  # Logged outside $dir, which --wipe empties, then kept beside meson's own logs.
  setup_log=$(mktemp)
  meson setup "${args[@]}" "$dir" >"$setup_log" 2>&1
  local status=$?
  mkdir -p "$dir/meson-logs"
  mv -f "$setup_log" "$dir/meson-logs/pp-setup.log"
  setup_log="$dir/meson-logs/pp-setup.log"
  if [ $status -ne 0 ]; then
    tail -n 40 "$setup_log" >&2
    echo "peerport: $label: meson setup failed (log: $setup_log)" >&2
    rm -f "$testlog"
    add_failure "(meson setup)"
    exit 1
  fi
  grep -E '^(WARNING|DEPRECATION):' "$setup_log" || true
}

# -k 0: one file that does not compile must not hide every other test's result.
build() {
  local targets=()

  read -r -a targets <<<"${BUILD_TARGETS-}"
  say "build${BUILD_TARGETS:+ ${BUILD_TARGETS}}"
  ninja -C "$dir" --quiet -k 0 "${targets[@]}" && return 0
  echo "peerport: $label: build failed" >&2
  return 1
}

# usage: run_tests [TEST_NAME...]  (all tests when none are named)
run_tests() {
  local extra=()

  read -r -a extra <<<"${MESON_TEST_ARGS-}"
  say "test${1:+ (only what built: $*)}"
  # The per-result counters are dropped: the final summary line counts individual cases.
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 "${extra[@]}" "$@" |
    grep --line-buffered -Ev '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): +[0-9]+ *$|^$'
  return "${PIPESTATUS[0]}"
}

configure "$@"
rm -f "$testlog"
if build; then
  [ "$mode" = build ] && exit 0
  run_tests
  exit $?
fi
[ "$mode" = build ] && exit 1

mapfile -t runnable < <(python3 "$here/runnable-tests.py" "$dir")
if [ ${#runnable[@]} -gt 0 ]; then
  run_tests "${runnable[@]}"
fi
add_failure "(compile)"
exit 1

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Configures, builds and tests one build directory, quietly: the Makefile's workhorse. It always
# reconfigures, because the meson.build files pick sources up with fs.exists() and Ninja cannot
# notice a newly written file. A setup or build failure is written to the directory's testlog.json
# as one failed entry, so the summary never mistakes "nothing ran" for "nothing failed".
#
# usage: meson-suite.sh [--build-only] DIR LABEL [MESON_SETUP_OPTION...]
# env:   CC (compiler for a fresh directory), MESON_TEST_ARGS (extra `meson test` arguments),
#        BUILD_TARGETS (ninja targets to build instead of everything)
set -uo pipefail

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

# usage: record_failure STEP MESSAGE
record_failure() {
  mkdir -p "$dir/meson-logs"
  printf '{"name": "%s", "result": "ERROR", "returncode": 1, "stdout": ""}\n' "$1" >"$testlog"
  echo "peerport: $label: $2" >&2
  exit 1
}

configure() {
  local setup_log="$dir/pp-setup.log"
  local args=("$@")

  mkdir -p "$dir"
  if [ -f "$dir/meson-private/coredata.dat" ]; then
    args=(--reconfigure "${args[@]}")
  fi
  say "configure $dir${args[*]:+ (${args[*]})}"
  if ! meson setup "${args[@]}" "$dir" >"$setup_log" 2>&1; then
    tail -n 40 "$setup_log" >&2
    record_failure "(meson setup)" "see $setup_log"
  fi
  grep -E '^(WARNING|DEPRECATION):' "$setup_log" || true
}

build() {
  local targets=()

  read -r -a targets <<<"${BUILD_TARGETS-}"
  say "build${BUILD_TARGETS:+ ${BUILD_TARGETS}}"
  ninja -C "$dir" --quiet "${targets[@]}" || record_failure "(compile)" "build failed"
}

run_tests() {
  local extra=()

  read -r -a extra <<<"${MESON_TEST_ARGS-}"
  say "test"
  rm -f "$testlog"
  # The per-result counters are dropped: the final summary line counts individual cases.
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 "${extra[@]}" |
    grep --line-buffered -Ev '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): +[0-9]+ *$|^$'
  return "${PIPESTATUS[0]}"
}

configure "$@"
build
[ "$mode" = build ] && exit 0
run_tests

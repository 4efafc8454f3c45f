#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer targets with clang (ASan/UBSan, -Dfuzzing=true) and runs each for a fixed
# time on a working copy of its seed corpus, so the checked-in corpus only grows by hand. Crash
# inputs land in DIR/crashes/; add them to fuzz/corpus/<name>/ and write a regression test.
#
# usage: run-fuzz.sh DIR SECONDS        (CC should be clang)
set -uo pipefail

dir=$1
seconds=$2
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 1

names=()
for src in fuzz/fuzz-*.c; do
  [ -e "$src" ] || continue
  name=${src#fuzz/fuzz-}
  names+=("${name%.c}")
done
if [ ${#names[@]} -eq 0 ]; then
  echo "no fuzz targets (fuzz/fuzz-*.c) yet"
  exit 0
fi

if ! command -v "${CC:-clang}" >/dev/null || ! "${CC:-clang}" --version | grep -q clang; then
  echo "peerport: fuzz: libFuzzer needs clang (CC=${CC:-unset})" >&2
  exit 1
fi

BUILD_TARGETS="${names[*]/#/fuzz/fuzz-}" bash build-aux/meson-suite.sh --build-only "$dir" fuzz \
  -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false || exit 1

failed=0
mkdir -p "$dir/crashes"
for name in "${names[@]}"; do
  exe="$dir/fuzz/fuzz-$name"
  corpus="$dir/corpus/$name"
  log="$dir/fuzz-$name.log"
  if [ ! -x "$exe" ]; then
    echo "fuzz-$name: not built (is CC=clang?)"
    failed=1
    continue
  fi
  mkdir -p "$corpus"
  [ -d "fuzz/corpus/$name" ] && cp -rn "fuzz/corpus/$name/." "$corpus/"
  args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$dir/crashes/$name-")
  [ -f "fuzz/$name.dict" ] && args+=(-dict="fuzz/$name.dict")
  printf '==> fuzz-%s: %ss ... ' "$name" "$seconds"
  if "$exe" "${args[@]}" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "ok, ${runs:-?} runs, corpus $(find "$corpus" -type f | wc -l) files"
  else
    echo "FAILED (log: $log)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 8
    failed=1
  fi
done
exit $failed

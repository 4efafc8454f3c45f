#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs every benchmark built in DIR/bench/ one after another (never in parallel: they measure
# time). Each prints its own machine-readable line; this script adds only a header per binary.
#
# usage: run-bench.sh DIR
set -uo pipefail

dir=$1
status=0
found=0
for exe in "$dir"/bench/bench-*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  found=1
  echo "==> $(basename "$exe")"
  "$exe" || { echo "peerport: bench: $(basename "$exe") failed" >&2; status=1; }
done
[ $found -eq 1 ] || echo "no benchmarks (bench/bench-*.c) yet"
exit $status

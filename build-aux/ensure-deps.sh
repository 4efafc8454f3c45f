#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Makes sure the Debian packages named as arguments are installed. As root it runs `apt-get
# update` once and installs only what is missing; otherwise it prints the exact command to run
# and fails. It never removes or upgrades anything, and does nothing when all are present.
#
# usage: ensure-deps.sh PACKAGE...
set -uo pipefail

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "peerport: deps: not a Debian system (no dpkg-query); make sure these are installed: $*" >&2
  exit 0
fi

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) || status=
  [ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "peerport: deps: missing Debian packages: ${missing[*]}" >&2
  echo "peerport: deps: install them with:" >&2
  echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "==> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get update >"$log" 2>&1 ||
   ! apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "peerport: deps: apt-get failed (its last lines are above)" >&2
  exit 1
fi

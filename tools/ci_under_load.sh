#!/usr/bin/env bash
# The suite's robustness check: `.ci/run` N times in a row, each on a fresh clone of this
# repository's HEAD, while two CPU-bound loops run beside it (a shared machine's load).
# Prints one line per run (commit, exit status, seconds, processes left from the clone).
#
#   tools/ci_under_load.sh [N=3] [WORKDIR=/tmp/ci-under-load]
set -uo pipefail
runs="${1:-3}"
work="${2:-/tmp/ci-under-load}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$work"
python3 -c "while True: pass" & busy1=$!
python3 -c "while True: pass" & busy2=$!
trap 'kill "$busy1" "$busy2" 2>/dev/null' EXIT
for i in $(seq 1 "$runs"); do
  clone="$work/run$i"
  rm -rf "$clone"
  git clone -q "$repo" "$clone"
  start=$(date +%s)
  (cd "$clone" && CI=true bash .ci/run >"$work/run$i.log" 2>&1)
  status=$?
  sleep 5
  left=$(ps -eo args | grep -F "$clone/" | grep -vc grep)
  echo "run $i: commit $(git -C "$clone" rev-parse --short HEAD), exit $status," \
    "$(( $(date +%s) - start )) s, $left processes left (log: $work/run$i.log)"
  rm -rf "$clone"
done

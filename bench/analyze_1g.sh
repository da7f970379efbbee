#!/usr/bin/env bash
# `bmslink analyze` on a 1 GB candump log beside can-utils log2asc and python-can reading the same
# file, in one run (docs/PERFORMANCE.md, "Diagnosis on a 1 GB log"). The log comes from the
# shared deterministic generator (seed 1, 4000 frames/s: BMS set, inverter heartbeat, filler ids,
# error frames).
#   bench/analyze_1g.sh            # results in $WORK/results-1g
# Knobs: WORK=/tmp/bmslink-bench RUNS=5 PEER_RUNS=3 PEERS=1
#        BEFORE=/path/to/older/bmslink  also times an earlier build in the same run (before/after)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
WORK=${WORK:-/tmp/bmslink-bench}
RUNS=${RUNS:-5}
PEER_RUNS=${PEER_RUNS:-3}
PEERS=${PEERS:-1}
PY=/usr/bin/python3
BMS=$root/build/bmslink
[ -x "$BMS" ] || { echo "build first: make build" >&2; exit 1; }
mkdir -p "$WORK/results-1g"
cd "$WORK"
if [ ! -f bms-1G.log ]; then
  echo "== generating 1 GiB candump log (seed 1, 4000 frames/s)"
  $PY "$shared/gen_candump.py" -o bms-1G.log --size 1G --rate 4000 --seed 1
fi
cp "$shared/pycan_count.py" .
res=results-1g
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  dpkg-query -W -f='${Package} ${Version}\n' can-utils python3-can hyperfine 2>/dev/null
  echo "frames: $(wc -l < bms-1G.log)"
  echo "bms-1G.log: $(stat -c %s bms-1G.log) bytes"
} > $res/versions.txt
cat $res/versions.txt
: > $res/inputs.txt
measure() {  # name runs command...
  local name=$1 runs=$2; shift 2
  rm -f "$res/$name.mem"
  hyperfine --style basic --runs "$runs" --warmup 1 --export-json "$res/$name.json" -n "$name" \
    "/usr/bin/time -f %M -a -o $res/$name.mem $*" >/dev/null
  echo "$name bms-1G.log" >> $res/inputs.txt
  echo "   $name done"
}
measure bmslink-analyze-2-threads "$RUNS" "$BMS analyze bms-1G.log --threads 2"
measure bmslink-analyze-1-thread "$RUNS" "$BMS analyze bms-1G.log --threads 1"
if [ -n "${BEFORE:-}" ]; then
  measure bmslink-before-analyze-2-threads "$RUNS" "$BEFORE analyze bms-1G.log --threads 2"
fi
if [ "$PEERS" = 1 ]; then
  measure log2asc "$PEER_RUNS" "log2asc -I bms-1G.log -O /dev/null can0"
  measure python-can-count "$PEER_RUNS" "$PY pycan_count.py bms-1G.log"
fi
$PY "$root/bench/summarize.py" $res > $res/results.md
cat $res/results.md

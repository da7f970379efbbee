#!/usr/bin/env bash
# bmslink's capture readers side by side with the peer tools, on the same generated data and in
# the same run (docs/PERFORMANCE.md). Uses the shared, deterministic generator and python-can
# counting script from ../shared/bench (referenced, not copied).
#
#   bench/run.sh                       # 200 MB log, 3 runs per command, results in $WORK
# Knobs: WORK=/tmp/bmslink-bench SIZE=200M RATE=2000 SEED=1 RUNS=3 PEERS=1 (0: bmslink only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
WORK=${WORK:-/tmp/bmslink-bench}
SIZE=${SIZE:-200M}
RATE=${RATE:-2000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
PY=/usr/bin/python3
BMS=$root/build/bmslink
[ -x "$BMS" ] || { echo "build first: make build" >&2; exit 1; }
[ -f "$shared/gen_candump.py" ] || { echo "needs $shared/gen_candump.py" >&2; exit 1; }

mkdir -p "$WORK/results"
cd "$WORK"
if [ ! -f "bms-$SIZE.log" ]; then
  echo "== generating $SIZE candump log + pcap (seed $SEED, $RATE frames/s)"
  $PY "$shared/gen_candump.py" -o "bms-$SIZE.log" --pcap "bms-$SIZE.pcap" --size "$SIZE" --rate "$RATE" --seed "$SEED"
fi
ln -sf "bms-$SIZE.log" bms.log
ln -sf "bms-$SIZE.pcap" bms.pcap
[ -f ref.asc ] && [ ref.asc -nt bms.log ] || log2asc -I bms.log -O ref.asc can0
[ -f ref.trc ] && [ ref.trc -nt bms.log ] || $PY -m can.logconvert bms.log ref.trc 2>/dev/null
[ -f ref.csv ] && [ ref.csv -nt bms.log ] || $PY -m can.logconvert bms.log ref.csv 2>/dev/null
cp "$shared/pycan_count.py" .

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  dpkg-query -W -f='${Package} ${Version}\n' can-utils python3-can tshark hyperfine 2>/dev/null
  echo "frames: $(wc -l < bms.log)"
  ls -lL bms.log bms.pcap ref.asc ref.trc ref.csv | awk '{print $9": "$5" bytes"}'
} > results/versions.txt
cat results/versions.txt

measure() {  # name input command...
  local name=$1 input=$2; shift 2
  rm -f "results/$name.mem"
  hyperfine --style basic --runs "$RUNS" --warmup 1 --export-json "results/$name.json" -n "$name" \
    "/usr/bin/time -f %M -a -o results/$name.mem $*" >/dev/null
  echo "$name $input" >> results/inputs.txt
  echo "   $name done"
}
: > results/inputs.txt
measure bmslink-analyze-log bms.log "$BMS analyze bms.log"
measure bmslink-frames-json-log bms.log "sh -c '$BMS frames bms.log --json > /dev/null'"
measure bmslink-convert-asc bms.log "$BMS convert bms.log --to asc -o /dev/null"
measure bmslink-analyze-pcap bms.pcap "$BMS analyze bms.pcap"
measure bmslink-analyze-asc ref.asc "$BMS analyze ref.asc"
measure bmslink-analyze-trc ref.trc "$BMS analyze ref.trc"
measure bmslink-analyze-csv ref.csv "$BMS analyze ref.csv"
if [ "$PEERS" = 1 ]; then
  measure log2asc bms.log "log2asc -I bms.log -O /dev/null can0"
  measure python-can-log bms.log "$PY pycan_count.py bms.log"
  measure tshark-q-pcap bms.pcap "tshark -r bms.pcap -q"
  measure python-can-asc ref.asc "$PY pycan_count.py ref.asc"
  measure python-can-trc ref.trc "$PY pycan_count.py ref.trc"
  measure python-can-csv ref.csv "$PY pycan_count.py ref.csv"
fi
$PY "$root/bench/summarize.py" results > results/results.md
cat results/results.md

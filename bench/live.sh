#!/usr/bin/env bash
# The live path under full load (docs/PERFORMANCE.md, "The live bus"): a 1 Mbit/s bus at full
# load (8000 frames/s, the shared generator) replayed in real time into `bmslink monitor` and
# `bmslink record`, CPU measured by GNU time; candump cannot read a replay, python-can's
# Bus.recv on a virtual bus is the peer for the per-frame cost.
#   bench/live.sh             # results in $WORK/results-live
# Knobs: WORK=/tmp/bmslink-bench SECONDS_LIVE=30
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
WORK=${WORK:-/tmp/bmslink-bench}
SECS=${SECONDS_LIVE:-30}
PY=/usr/bin/python3
BMS=$root/build/bmslink
res=$WORK/results-live
mkdir -p "$res"
cd "$WORK"
[ -f live-8k.log ] || $PY "$shared/gen_candump.py" -o live-8k.log --seconds "$SECS" --rate 8000 --seed 1
frames=$(grep -c '#' live-8k.log)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  echo "replay: $frames frames over $SECS s"
} > "$res/versions.txt"
cat "$res/versions.txt"
/usr/bin/time -f '%U %S %e' -o "$res/monitor.time" "$BMS" monitor "replay:live-8k.log" --json > "$res/monitor.jsonl"
read -r u s e < "$res/monitor.time"
echo "monitor, real time, 8000 frames/s: $(echo "$u $s $e" | awk '{printf "%.1f %% of one core (user %.2f s + sys %.2f s over %.1f s)", ($1+$2)/$3*100, $1, $2, $3}')" | tee "$res/summary.txt"
rm -f rec.log
/usr/bin/time -f '%U %S %e' -o "$res/record.time" "$BMS" record "replay:live-8k.log" -o rec.log 2> "$res/record.err"
read -r u s e < "$res/record.time"
got=$(wc -l < rec.log)
echo "record, real time: $got of $frames frames written, $(echo "$u $s $e" | awk '{printf "%.1f %% of one core", ($1+$2)/$3*100}')" | tee -a "$res/summary.txt"
# The peer: python-can replaying the same log in real time (MessageSync) and doing nothing with it.
/usr/bin/time -f '%U %S %e' -o "$res/pycan.time" $PY -c "
import can, sys
n = 0
for m in can.MessageSync(can.LogReader(sys.argv[1])):
    n += 1
print(n)" live-8k.log > "$res/pycan.count"
read -r u s e < "$res/pycan.time"
echo "python-can MessageSync replay alone: $(cat "$res/pycan.count") frames, $(echo "$u $s $e" | awk '{printf "%.1f %% of one core over %.1f s", ($1+$2)/$3*100, $3}')" | tee -a "$res/summary.txt"
# Through the SLCAN path: the virtual adapter runs its site 1000 times faster (about 7000
# frames/s through the pseudo-terminal, every line parsed, timestamps from the adapter's clock);
# bmslink monitor against python-can's slcan driver receiving from an identical adapter and doing
# nothing else. The adapters' own CPU is not counted.
slcan_adapter() {
  rm -f "$res/$1.pty"
  "$BMS" simulate --slcan-pty --speed 1000 --duration 1000000 --seed 1 > "$res/$1.pty" 2> /dev/null &
  adapter=$!
  for _ in $(seq 50); do [ -s "$res/$1.pty" ] && break; sleep 0.1; done
  pty=$(head -1 "$res/$1.pty")
}
slcan_adapter slcan-bmslink
/usr/bin/time -f '%U %S %e' -o "$res/slcan-monitor.time" "$BMS" monitor "slcan:$pty" --json \
  --duration "$SECS" --interval 1 > "$res/slcan-monitor.jsonl"
kill "$adapter"; wait "$adapter" 2> /dev/null || true
n=$(tail -1 "$res/slcan-monitor.jsonl" | $PY -c "import json,sys; print(json.load(sys.stdin)['health']['frames'])")
read -r u s e < "$res/slcan-monitor.time"
echo "monitor through SLCAN: $n frames in about $((SECS - 1)) s, $(echo "$u $s $e" | awk '{printf "%.1f %% of one core", ($1+$2)/$3*100}')" | tee -a "$res/summary.txt"
slcan_adapter slcan-pycan
/usr/bin/time -f '%U %S %e' -o "$res/slcan-pycan.time" $PY -c "
import can, sys, time
bus = can.Bus(interface='slcan', channel=sys.argv[1], bitrate=500000)
n, t = 0, time.time()
while time.time() - t < float(sys.argv[2]):
    if bus.recv(0.1) is not None:
        n += 1
bus.shutdown()
print(n)" "$pty" "$SECS" > "$res/slcan-pycan.count"
kill "$adapter"; wait "$adapter" 2> /dev/null || true
read -r u s e < "$res/slcan-pycan.time"
echo "python-can slcan recv alone: $(cat "$res/slcan-pycan.count") frames in $SECS s, $(echo "$u $s $e" | awk '{printf "%.1f %% of one core", ($1+$2)/$3*100}')" | tee -a "$res/summary.txt"

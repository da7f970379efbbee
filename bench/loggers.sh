#!/usr/bin/env bash
# The loggers' formats beside the candump path, on the same frames, in one run
# (docs/PERFORMANCE.md, "Loggers' files"): the shared generator's candump log, converted by
# bmslink to MF4 (uncompressed, and re-packed as DZ blocks by bench/mf4_to_dz.py) and to BLF;
# `bmslink analyze` on each, and python-can's BLFReader counting the BLF.
#   bench/loggers.sh               # results in $WORK/results-loggers
# Knobs: WORK=/tmp/bmslink-bench SIZE=1G RUNS=3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
WORK=${WORK:-/tmp/bmslink-bench}
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
PY=/usr/bin/python3
BMS=$root/build/bmslink
[ -x "$BMS" ] || { echo "build first: make build" >&2; exit 1; }
mkdir -p "$WORK/results-loggers"
cd "$WORK"
log=bms-$SIZE.log
if [ ! -f "$log" ]; then
  echo "== generating $SIZE candump log (seed 1, 4000 frames/s)"
  $PY "$shared/gen_candump.py" -o "$log" --size "$SIZE" --rate 4000 --seed 1
fi
[ -f "bms-$SIZE.mf4" ] || "$BMS" convert "$log" --to mf4 -o "bms-$SIZE.mf4"
[ -f "bms-$SIZE.blf" ] || "$BMS" convert "$log" --to blf -o "bms-$SIZE.blf"
[ -f "bms-$SIZE-dz.mf4" ] || $PY "$root/bench/mf4_to_dz.py" "bms-$SIZE.mf4" "bms-$SIZE-dz.mf4"
res=results-loggers
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  dpkg-query -W -f='${Package} ${Version}\n' python3-can hyperfine 2>/dev/null
  echo "frames: $(wc -l < "$log")"
  for f in "$log" "bms-$SIZE.mf4" "bms-$SIZE-dz.mf4" "bms-$SIZE.blf"; do echo "$f: $(stat -c %s "$f") bytes"; done
} > $res/versions.txt
cat $res/versions.txt
: > $res/inputs.txt
measure() {  # name input runs command...
  local name=$1 input=$2 runs=$3; shift 3
  rm -f "$res/$name.mem"
  hyperfine --style basic --runs "$runs" --warmup 1 --export-json "$res/$name.json" -n "$name" \
    "/usr/bin/time -f %M -a -o $res/$name.mem $*" >/dev/null
  echo "$name $input" >> $res/inputs.txt
  echo "   $name done"
}
measure candump-analyze-1-thread "$log" "$RUNS" "$BMS analyze $log --threads 1"
measure candump-analyze-2-threads "$log" "$RUNS" "$BMS analyze $log --threads 2"
measure mf4-analyze "bms-$SIZE.mf4" "$RUNS" "$BMS analyze bms-$SIZE.mf4"
measure mf4-dz-analyze "bms-$SIZE-dz.mf4" "$RUNS" "$BMS analyze bms-$SIZE-dz.mf4"
measure blf-analyze "bms-$SIZE.blf" "$RUNS" "$BMS analyze bms-$SIZE.blf"
cat > pycan_blf_count.py <<'PYEOF'
import sys
import can
n = 0
with can.BLFReader(sys.argv[1]) as r:
    for _ in r:
        n += 1
print(n)
PYEOF
measure python-can-blf-count "bms-$SIZE.blf" 1 "$PY pycan_blf_count.py bms-$SIZE.blf"
$PY "$root/bench/summarize.py" $res > $res/results.md
cat $res/results.md
# The same four analyses again, interleaved round by round, so a noisy neighbour slows them
# alike: the ratios in docs/PERFORMANCE.md come from these medians.
ROUNDS=${ROUNDS:-5}
: > $res/interleaved.txt
for r in $(seq "$ROUNDS"); do
  for pair in "candump-2-threads $log" "mf4 bms-$SIZE.mf4" "mf4-dz bms-$SIZE-dz.mf4" "blf bms-$SIZE.blf"; do
    set -- $pair
    s=$(date +%s.%N); "$BMS" analyze "$2" >/dev/null; e=$(date +%s.%N)
    echo "$1 $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')" >> $res/interleaved.txt
  done
done
echo "== interleaved medians ($ROUNDS rounds)"
for name in candump-2-threads mf4 mf4-dz blf; do
  printf '%s %s\n' "$name" "$(awk -v n="$name" '$1 == n {print $2}' $res/interleaved.txt | sort -n |
    awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
done | tee $res/interleaved-medians.txt


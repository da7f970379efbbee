#!/usr/bin/env bash
# The web console under load (docs/PERFORMANCE.md, "The web console"): a 100 MB candump log
# uploaded to POST /api/analyze and analysed as it streams in, end to end with curl, beside the
# CLI on the same file; then 50 concurrent clients (wrk) on the case and statistics routes of a
# store with 200 cases, beside `bmslink stats --json` and `case list --json`.
#   bench/serve.sh            # results in $WORK/results-serve
# Knobs: WORK=/tmp/bmslink-bench RUNS=5 SECONDS_PER_ROUTE=10
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
WORK=${WORK:-/tmp/bmslink-bench}
RUNS=${RUNS:-5}
SECS=${SECONDS_PER_ROUTE:-10}
PY=/usr/bin/python3
BMS=$root/build/bmslink
[ -x "$BMS" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: scripts/bootstrap --bench" >&2; exit 1; }
res=$WORK/results-serve
mkdir -p "$res"
cd "$WORK"
[ -f bms-100M.log ] || $PY "$shared/gen_candump.py" -o bms-100M.log --size 100M --rate 4000 --seed 1
rm -rf serve-db && mkdir serve-db
$PY - <<'PYEOF'
import json, random
rnd = random.Random(1)
causes = ['inverter_protocol_mismatch', 'termination_fault', 'cable_unsuitable', 'dip_switch_wrong',
          'bitrate_mismatch', 'firmware_incompatibility']
with open('serve-db/cases.jsonl', 'w') as f:
    for i in range(200):
        day = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
        f.write(json.dumps({
            "id": f"b-{i}", "opened": day + "T08:00:00Z", "closed": day + "T09:00:00Z",
            "site": {"name": f"Site {i}", "customer": "C", "address": ""},
            "bms": {"model": rnd.choice(["US3000C", "US5000", "BYD LVS"]), "firmware": "V1", "count": 2, "energy_kwh": 7.1},
            "inverter": {"model": rnd.choice(["Deye SUN-5K", "Victron MultiPlus", "SMA SI"]), "firmware": "1"},
            "root_cause": rnd.choice(causes), "outcome": "fixed",
            "checks": [{"check": "l2.termination", "layer": 2, "inputs": {"termination_ohms": 120}, "verdict": "fail", "minutes": 4}],
            "minutes_by_layer": {"1": 5, "2": 6}}) + "\n")
PYEOF
$BMS case import serve-db/cases.jsonl --db serve-db/r.db >/dev/null
$BMS serve --port 0 --db serve-db/r.db > serve-db/serve.out 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q 'http://' serve-db/serve.out && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*/' serve-db/serve.out | head -1)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
  echo "upload: $(stat -c %s bms-100M.log) bytes"
} > "$res/versions.txt"
cat "$res/versions.txt"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$res/upload.txt"; : > "$res/cli.txt"
for _ in $(seq "$RUNS"); do
  curl -s -o serve-db/analyze.json -w '%{time_total}\n' --data-binary @bms-100M.log "${url}api/analyze?name=bms-100M.log" >> "$res/upload.txt"
  /usr/bin/time -f '%e' -o serve-db/t "$BMS" analyze bms-100M.log --json > /dev/null && cat serve-db/t >> "$res/cli.txt"
done
grep -q '"frames"' serve-db/analyze.json || { echo "upload failed: $(head -c 300 serve-db/analyze.json)" >&2; exit 1; }
echo "upload+analyze 100 MB (median of $RUNS): $(median < "$res/upload.txt") s; CLI analyze same file: $(median < "$res/cli.txt") s" | tee "$res/summary.txt"
for route in api/cases api/stats api/cases/b-7 api/compat; do
  name=$(echo "$route" | tr '/' '_')
  wrk -t2 -c50 -d"${SECS}s" -s "$root/bench/p95.lua" "$url$route" > "$res/$name.txt"
  echo "$route, 50 clients: $(grep -E '^(p50|p95|p99)_ms|^rps|^errors' "$res/$name.txt" | tr '\n' ' ')" | tee -a "$res/summary.txt"
done
: > "$res/cli_stats.txt"
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f '%e' -o serve-db/t "$BMS" stats --json --db serve-db/r.db > /dev/null && cat serve-db/t >> "$res/cli_stats.txt"
done
echo "CLI stats --json on the same store (one process per call, median): $(median < "$res/cli_stats.txt") s" | tee -a "$res/summary.txt"

#!/usr/bin/env bash
# What learning the check order costs a diagnose (docs/PERFORMANCE.md, "Check orders"): a store
# of N closed cases (default 10 000) on seven inverters and six batteries, and the same cases
# without models; POST /api/diagnose timed with curl, the first request after a change (counts
# every case) and the next ones (the counted history kept per store revision).
#   bench/diagnose.sh           # results in $WORK/results-diagnose
# Knobs: WORK=/tmp/bmslink-bench CASES=10000 RUNS=15
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/bmslink-bench}
CASES=${CASES:-10000}
RUNS=${RUNS:-15}
BMS=$root/build/bmslink
[ -x "$BMS" ] || { echo "build first: make build" >&2; exit 1; }
res=$WORK/results-diagnose
rm -rf "$WORK/diagnose-db" && mkdir -p "$WORK/diagnose-db" "$res"
cd "$WORK/diagnose-db"
CASES=$CASES /usr/bin/python3 - <<'PYEOF'
import json, os, random
rnd = random.Random(1)
causes = [('inverter_protocol_mismatch', 'l1.protocol_setting', 1), ('termination_fault', 'l2.termination', 2),
          ('cable_unsuitable', 'l3.cable_type', 3), ('bitrate_mismatch', 'l1.bitrate', 1)]
inverters = ["Deye SUN-5K-SG03LP1-EU", "Victron Cerbo GX", "SMA SI 6.0H", "Growatt SPF 5000ES",
             "Sofar ME3000SP", "GoodWe GW5048-ES", "Solis RHI-5K-48ES-5G"]
batteries = ["Pylontech US3000C", "Pylontech US5000", "BYD LVS 4.0", "Dyness B4850", "Seplos 10E", "JK-PB"]
for models, name in ((True, 'models'), (False, 'none')):
    with open(name + '.jsonl', 'w') as f:
        for i in range(int(os.environ['CASES'])):
            cause, check, layer = rnd.choice(causes)
            c = {"id": f"d-{i}", "opened": "2026-05-01T08:00:00Z", "closed": "2026-05-01T09:00:00Z",
                 "outcome": "fixed", "root_cause": cause,
                 "checks": [{"check": check, "layer": layer, "inputs": {}, "verdict": "fail", "minutes": 3}]}
            if models:
                c["inverter"] = {"model": rnd.choice(inverters), "firmware": ""}
                c["bms"] = {"model": rnd.choice(batteries), "firmware": "", "count": 1}
            f.write(json.dumps(c) + "\n")
PYEOF
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "bmslink: $(git -C "$root" rev-parse --short HEAD)"
  echo "cases: $CASES"
} > "$res/versions.txt"
cat "$res/versions.txt"
echo "| store | first request after a change, s | next requests, median of $RUNS, s |"
echo "|---|---|---|"
for name in models none; do
  "$BMS" case import $name.jsonl --db $name.db > /dev/null
  "$BMS" serve --port 0 --db $name.db > serve.out 2>&1 &
  pid=$!
  for _ in $(seq 50); do grep -q 'http://' serve.out && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*/' serve.out | head -1)
  post() {
    curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' \
      --data '{"answers":{"inverter_model":"Deye SUN-5K","bms_model":"US3000C"}}' "${url}api/diagnose"
  }
  first=$(post)
  next=$(for _ in $(seq "$RUNS"); do post; done | median)
  kill $pid; wait $pid 2>/dev/null || true
  echo "| $CASES closed cases, $([ $name = models ] && echo 'models recorded' || echo 'no models') | $first | $next |"
done | tee "$res/diagnose.md"

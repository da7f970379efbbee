"""Turns bench/run.sh's hyperfine JSON and GNU time files into a Markdown table."""
import json
import os
import statistics
import sys

res = sys.argv[1]
base = os.path.dirname(os.path.abspath(res))
frames = None
for line in open(os.path.join(res, 'versions.txt')):
    if line.startswith('frames:'):
        frames = int(line.split()[1])
rows = []
for line in open(os.path.join(res, 'inputs.txt')):
    name, inp = line.split()
    data = json.load(open(os.path.join(res, name + '.json')))['results'][0]
    times = data['times']
    med = statistics.median(times)
    size = os.path.getsize(os.path.join(base, inp))
    mem = [int(x) for x in open(os.path.join(res, name + '.mem')).read().split() if x.strip().isdigit()]
    rows.append((name, inp, len(times), med, min(times), max(times), size / med / 1e6,
                 frames / med / 1e6 if frames else 0, max(mem) / 1024 if mem else 0))
print('| command | input | runs | median s | min-max s | MB/s | Mframes/s | peak RSS MiB |')
print('|---|---|---|---|---|---|---|---|')
for r in rows:
    print('| %s | %s | %d | %.3f | %.3f-%.3f | %.1f | %.3f | %.1f |' % r)

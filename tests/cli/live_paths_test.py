"""`bmslink monitor` and `bmslink serve --live` are one live path: the same replayed capture with
the same options (a 2 s timeout, errors_rising at 5 a minute) gives the same alarm events in both,
and the options are the ones used (with the defaults, 3 s and 10 a minute, the events differ).

The capture, second by second: the BMS (0x351, 0x355) from 0 to 5 s, silent until 12 s, then on to
30 s; the inverter (0x305) from 0 to 20 s; six error frames at 14.0-14.5 s. Worked out by hand with a
2 s timeout: bms_silent raised after 7 s (5 s + 2 s) and cleared at 12 s by the next 0x351;
errors_rising raised at the 5th error frame (14.4 s); heartbeat_lost after 22.5 s (20.5 s + 2 s);
errors_rising cleared once the minute holds fewer than 2.5 errors, after 74 s -- past the end, so
not in either stream."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'oracle'))
from common import Failures, free_port  # noqa: E402

BMSLINK = sys.argv[1]
results = Failures('live paths')
check = results.check
T0 = 1780293600.0


def write_capture(path):
    lines = []
    for s in range(31):
        t = T0 + s
        if s <= 5 or s >= 12:
            lines.append((t, '351#2802E803E803E001'))
            lines.append((t + 0.01, '355#34006200'))
        if s <= 20:
            lines.append((t + 0.5, '305#0000000000000000'))
    for i in range(6):
        lines.append((T0 + 14.0 + i * 0.1, '20000088#0000000000000000'))
    lines.sort()
    with open(path, 'w') as f:
        for t, frame in lines:
            f.write('(%.6f) can0 %s\n' % (t, frame))


def monitor_events(cap, options):
    r = subprocess.run([BMSLINK, 'monitor', 'replay:%s@10' % cap, '--json'] + options,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == 0, 'monitor ran: %s' % r.stderr)
    return [json.loads(l) for l in r.stdout.splitlines() if '"event"' in l]


def serve_events(cap, options, tmp):
    port = free_port()
    db = os.path.join(tmp, 'records-%d.db' % port)
    srv = subprocess.Popen([BMSLINK, 'serve', '--port', str(port), '--db', 'sqlite://' + db,
                            '--live', 'replay:%s@10' % cap] + options,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    try:
        line = srv.stdout.readline()
        check('http://127.0.0.1:%d' % port in line, 'serve printed its URL: %r' % line)
        req = urllib.request.Request('http://127.0.0.1:%d/api/live' % port)
        with urllib.request.urlopen(req, timeout=30) as stream:
            deadline = time.time() + 30
            for raw in stream:
                if time.time() > deadline:
                    break
                text = raw.decode().strip()
                if not text.startswith('data: '):
                    continue
                m = json.loads(text[6:])
                if m.get('type') == 'event':
                    events.append(m)
                if m.get('type') == 'status' and m.get('status') == 'ended':
                    break
    finally:
        srv.terminate()
        srv.wait(10)
    return events


def shape(events):
    return [(e['event'], e['alarm'], e['state']) for e in events]


with tempfile.TemporaryDirectory() as tmp:
    cap = os.path.join(tmp, 'gap.log')
    write_capture(cap)
    mon = monitor_events(cap, ['--timeout', '2', '--errors-per-minute', '5', '--interval', '0.5'])
    web = serve_events(cap, ['--live-timeout', '2', '--live-errors-per-minute', '5',
                             '--live-interval', '0.5'], tmp)
    expected = [('bms_silent', 'bms_silent', 'raised'), ('bms_silent_cleared', 'bms_silent', 'cleared'),
                ('errors_rising', 'errors_rising', 'raised'), ('heartbeat_lost', 'heartbeat_lost', 'raised')]
    check(shape(mon) == expected, 'monitor events: %s' % shape(mon))
    check(shape(web) == shape(mon), 'serve --live events %s differ from monitor %s' % (shape(web), shape(mon)))
    for a, b in zip(mon, web):
        # Raised by the clock: within the replay clock's step (50 ms polls at 10x); cleared and
        # errors by a frame: the frame's own time in both.
        tolerance = 0.6 if a['event'] in ('bms_silent', 'heartbeat_lost') else 1e-6
        check(abs(a['t'] - b['t']) <= tolerance, '%s at %.3f (monitor) and %.3f (serve)' % (a['event'], a['t'] - T0, b['t'] - T0))
    times = {e['event']: e['t'] - T0 for e in mon}
    check(7.0 < times.get('bms_silent', 0) < 7.6, 'bms_silent after 5 s + the 2 s timeout: %s' % times)
    check(abs(times.get('bms_silent_cleared', 0) - 12.0) < 1e-6, 'cleared by the 0x351 at 12 s: %s' % times)
    check(abs(times.get('errors_rising', 0) - 14.4) < 1e-6, 'errors_rising at the 5th error frame: %s' % times)
    check(22.5 < times.get('heartbeat_lost', 0) < 23.1, 'heartbeat_lost after 20.5 s + 2 s: %s' % times)
    # The defaults (3 s, 10 a minute) give other events: the options above were the ones used.
    default = shape(serve_events(cap, [], tmp))
    check(default == [('bms_silent', 'bms_silent', 'raised'), ('bms_silent_cleared', 'bms_silent', 'cleared'),
                      ('heartbeat_lost', 'heartbeat_lost', 'raised')],
          'serve --live with the defaults: no errors_rising at 6 a minute: %s' % default)

results.finish()

"""The bmslink command line as users run it: exit codes, messages, JSON contract, stdin."""
import json
import os
import subprocess
import sys
import tempfile

BMSLINK, ROOT = sys.argv[1], sys.argv[2]
SAMPLE = os.path.join(ROOT, 'data/samples/pylontech_session.log')
CAPTURES = os.path.join(ROOT, 'tests/data/captures')
failures = []


def run(*args, stdin=None):
    return subprocess.run([BMSLINK, *args], input=stdin, capture_output=True, text=True, timeout=120)


def check(ok, message):
    if not ok:
        failures.append(message)


# Usage errors are exit 2, unusable input exit 1, success 0.
check(run().returncode == 2, 'no command should be a usage error (2)')
check(run('frames').returncode == 2, 'frames without FILE should be a usage error (2)')
check(run('convert', SAMPLE, '--to', 'pdf').returncode == 2, 'unknown --to should be a usage error (2)')
check(run('help').returncode == 0 and 'convert' in run('help').stdout, 'help lists the commands')

r = run('frames', '/nonexistent/cap.log')
check(r.returncode == 1 and '/nonexistent/cap.log' in r.stderr, 'missing file: exit 1 naming the path')

with tempfile.TemporaryDirectory() as tmp:
    junk = os.path.join(tmp, 'notes.txt')
    with open(junk, 'w') as fh:
        fh.write('the inverter says BMS communication fault\nno frames here\n')
    r = run('frames', junk)
    check(r.returncode == 1 and 'candump-log' in r.stderr and 'trc' in r.stderr,
          'unrecognised file: exit 1 naming the formats tried, got: ' + r.stderr)

    empty = os.path.join(tmp, 'empty.log')
    open(empty, 'w').close()
    r = run('frames', empty)
    check(r.returncode == 1 and 'empty' in r.stderr, 'empty file: exit 1 saying so')

    bad = os.path.join(tmp, 'bad.log')
    with open(bad, 'w') as fh:
        fh.write('(1700000000.1) can0 351#1402\n(1700000000.2) can0 351#XX\n(1700000000.3) can0 355#01\n')
    r = run('frames', bad, '--json')
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 2, 'malformed line skipped, others kept')
    check(bad + ':2:' in r.stderr, 'malformed line reported as file:line: ' + r.stderr)

    r = run('convert', SAMPLE, '-o', os.path.join(tmp, 'no/such/dir/out.log'))
    check(r.returncode == 1 and 'cannot write' in r.stderr, 'unwritable output: exit 1')

    # A failed conversion leaves an existing output untouched.
    keep = os.path.join(tmp, 'keep.asc')
    with open(keep, 'w') as fh:
        fh.write('precious\n')
    r = run('convert', junk, '--to', 'asc', '-o', keep)
    check(r.returncode == 1 and open(keep).read() == 'precious\n' and not os.path.exists(keep + '.bmslink-partial'),
          'failed convert must not touch the existing output')
    r = run('convert', SAMPLE, '--format', 'trc', '-o', keep)
    check(r.returncode == 1 and open(keep).read() == 'precious\n', 'convert with no frames leaves output alone')

    r = run('frames', SAMPLE, '--format', 'trc')
    check(r.returncode == 1, 'forcing the wrong format gives no frames and exit 1')

    asc = os.path.join(tmp, 'sample.asc')
    check(run('convert', SAMPLE, '--to', 'asc', '-o', asc).returncode == 0, 'convert to ASC')
    r = run('frames', asc, '--json')
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 6318, 'ASC written by convert reads back fully')

# JSON contract (docs/json.md). First sample line: (1764000000.117475) can0 359#0000000004504E
r = run('frames', SAMPLE, '--json')
check(r.returncode == 0, 'frames --json on the sample')
lines = r.stdout.splitlines()
check(len(lines) == 6318, 'sample has 6318 frames, got %d' % len(lines))
first = json.loads(lines[0])
check(first == {'t': 1764000000.117475, 'id': '0x359', 'ext': False, 'rtr': False, 'err': False, 'fd': False,
                'dlc': 7, 'len': 7, 'data': '0000000004504E', 'channel': 'can0', 'dir': None},
      'first frame JSON: %r' % first)
errors = [json.loads(l) for l in lines if '"err":true' in l]
check(len(errors) == 18 and all('error' in e for e in errors), 'error frames carry their decoded kinds')

# Text listing: no invented time for a pasted dump, the decoded kind on error frames.
r = run('frames', os.path.join(CAPTURES, 'byd_lvs_victron_frames.txt'))
check(r.returncode == 0 and r.stdout.splitlines()[0].split() == ['-', '305', '[8]'] + ['00'] * 8,
      'untimed text line: %r' % r.stdout.splitlines()[:1])
r = run('frames', SAMPLE)
check('ERRORFRAME no-ack,bus-error' in r.stdout, 'error frames are named in the text listing')

# stdin
with open(SAMPLE) as fh:
    r = run('frames', '-', '--json', stdin=fh.read())
check(r.returncode == 0 and len(r.stdout.splitlines()) == 6318, 'reads standard input')

# convert to candump reproduces the candump sample exactly
with open(SAMPLE) as fh:
    check(run('convert', SAMPLE).stdout == fh.read(), 'convert --to candump reproduces the sample')

# analyze --json: the sample's BMS burst and the inverter heartbeat
r = run('analyze', SAMPLE, '--json')
inv = json.loads(r.stdout)
ids = {i['id']: i for i in inv['ids']}
check(inv['frames'] == 6318 and inv['error_frames'] == 18, 'analyze counts')
check(ids['0x351']['count'] == 900 and abs(ids['0x351']['period_ms'] - 1000) < 5, '0x351 every second')
check([t['ids'] for t in inv['talkers']] == [['0x351', '0x355', '0x356', '0x359', '0x35C', '0x35E'], ['0x305']],
      'talkers: BMS burst and inverter: %r' % inv['talkers'])

# Every real capture analyses without error.
for name in sorted(os.listdir(CAPTURES)):
    if name.endswith(('.log', '.txt')):
        r = run('analyze', os.path.join(CAPTURES, name))
        check(r.returncode == 0, 'analyze %s: %s' % (name, r.stderr))

# decode and dbc export (issue 3). US2000 burst: 0x351 14 02 74 0E 74 0E CC 01 -> 53.2/370/370/46.
r = run('decode', os.path.join(CAPTURES, 'pylontech_us2000_sofar_setfirelabs.txt'), '--json')
check(r.returncode == 0, 'decode --json: ' + r.stderr)
rows = [json.loads(l) for l in r.stdout.splitlines()]
limits = rows[0]['signals'] if rows else {}
check(rows and rows[0]['id'] == '0x351' and rows[0]['t'] is None and
      limits.get('charge_voltage_limit') == {'value': 53.2, 'unit': 'V'} and
      limits.get('discharge_current_limit') == {'value': 370, 'unit': 'A'},
      'decoded 0x351: %r' % (rows[:1],))
check(any(r_['signals'].get('manufacturer', {}).get('value') == 'PYLON' for r_ in rows), 'manufacturer text')
r = run('dbc', 'list')
check(r.returncode == 0 and 'pylon_lv_1_2' in r.stdout.split(), 'dbc list')
with open(os.path.join(ROOT, 'data/protocols/pylon_lv_1_2.dbc')) as fh:
    check(run('dbc', 'export', 'pylon_lv_1_2').stdout == fh.read(), 'dbc export gives the file verbatim')
check(run('dbc', 'export', 'nope').returncode == 2, 'unknown protocol is a usage error')
with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, 'bad.dbc')
    with open(bad, 'w') as fh:
        fh.write('BO_ 849 limits: 8 BMS\n SG_ x : 0|16@1+ (0.1,0) [0|1] "V"\nBO_ oops\n')
    r = run('decode', SAMPLE, '--dbc', bad)
    check(r.returncode == 1 and bad + ':3:' in r.stderr, 'bad user DBC names file and line: ' + r.stderr)

# identify --json: the contract keys and the Victron GX capture.
r = run('identify', os.path.join(CAPTURES, 'seplos_victron_gx_candump_a.log'), '--json')
ident = json.loads(r.stdout) if r.returncode == 0 else {}
check(all(k in ident for k in ('family', 'variant', 'manufacturer', 'confidence', 'reasons')), 'identify keys')
check(ident.get('family') == 'pylon-lv' and ident.get('variant') == 'victron' and ident.get('manufacturer') == 'SHEnergy',
      'identify seplos: %r' % ident)
# decode picks the protocol from the capture: Victron 0x373 (cell extremes) decodes without --protocol.
r = run('decode', os.path.join(CAPTURES, 'seplos_victron_gx_candump_a.log'), '--json')
rows = [json.loads(l) for l in r.stdout.splitlines()]
# 373 BB 0C C5 0C 26 01 28 01: 0x0CBB = 3259 mV, 0x0CC5 = 3269 mV, 0x126 = 294 K -> 20.85 degC
check(rows and rows[0]['signals'].get('cell_min_voltage') == {'value': 3.259, 'unit': 'V'} and
      rows[0]['signals'].get('cell_min_temperature') == {'value': 20.85, 'unit': 'degC'}, 'auto protocol decode: %r' % rows[:1])

# --dbc adds a user's messages: 0x305 (no signals built in) decoded by the user DBC, 0x351 still built in.
with tempfile.TemporaryDirectory() as tmp:
    mine = os.path.join(tmp, 'mine.dbc')
    with open(mine, 'w') as fh:
        fh.write('BO_ 773 my_heartbeat: 8 Inverter\n SG_ first_byte : 0|8@1+ (1,0) [0|255] "" BMS\n')
    r = run('decode', SAMPLE, '--dbc', mine, '--json')
    names = {json.loads(l)['name'] for l in r.stdout.splitlines()}
    check(r.returncode == 0 and 'my_heartbeat' in names and 'limits' in names, 'user DBC adds messages: %r' % names)

# analyze: the diagnosis keys of docs/json.md on the sample (issue 4).
r = run('analyze', SAMPLE, '--json')
a = json.loads(r.stdout)
check(all(k in a for k in ('protocol', 'summary', 'findings', 'signals')), 'analyze keys: %r' % list(a))
causes = {'inverter_protocol_mismatch', 'bitrate_mismatch', 'bms_silent', 'can_id_conflict', 'dip_switch_wrong',
          'no_ack', 'termination_fault', 'connection_fault', 'bus_errors', 'cable_unsuitable', 'emi_power_correlated',
          'ground_loop', 'thermal_or_time_pattern', 'intermittent_dropouts', 'endianness_mismatch',
          'scaling_mismatch', 'invalid_values', 'missing_required_frames', 'unknown_protocol',
          'firmware_incompatibility', 'bms_protection_active', 'healthy'}
notes = {'no_inverter_in_excerpt', 'capture_too_short', 'timestamps_backwards'}
layer_names = {1: 'configuration', 2: 'physical connections', 3: 'cable', 4: 'electrical environment',
               5: 'protocol and firmware', None: None}
for f in a['findings']:
    check(set(f) == {'cause', 'layer', 'layer_name', 'note', 'severity', 'score', 'title', 'evidence', 'fix'} and
          f['cause'] in causes | notes and f['note'] == (f['cause'] in notes) and
          layer_names[f['layer']] == f['layer_name'] and
          f['severity'] in ('fault', 'warning', 'info'), 'finding shape: %r' % f)
check(a['summary']['talking'] == 'both' and a['summary']['ack_visible'] is True, 'talkers: %r' % a['summary'])
check(a['summary']['frames'] == 6318 and a['summary']['error_frames'] == 18 and a['summary']['uptime']['share'] == 1.0,
      'summary: %r' % a['summary'])
sig = {x['name']: x for x in a['signals']}
# Every 0x351 of the sample is 14 02 E8 03 E8 03 E0 01: 53.2 V, 100.0 A, 100.0 A, 48.0 V.
check(sig.get('charge_voltage_limit', {}).get('min') == 53.2 and sig['charge_voltage_limit']['max'] == 53.2 and
      sig.get('discharge_voltage_limit', {}).get('last') == 48.0 and sig.get('manufacturer', {}).get('text') == 'PYLON',
      'signals min/last/max: %r' % sig.get('charge_voltage_limit'))
check(r.stdout.count('"cause"') == len(a['findings']), 'one cause per finding')

# simulate -> analyze end to end: the injected fault is the top cause, healthy has no fault.
with tempfile.TemporaryDirectory() as tmp:
    for fault, variant, to in (('healthy', 'pylon', 'candump'), ('no_ack', 'victron', 'candump'),
                               ('endianness_mismatch', 'sma', 'asc'), ('intermittent_dropouts', 'pylon', 'asc')):
        cap = os.path.join(tmp, '%s.%s' % (fault, 'asc' if to == 'asc' else 'log'))
        r = run('simulate', '--fault', fault, '--variant', variant, '--duration', '900', '--seed', '4', '--to', to,
                '-o', cap)
        check(r.returncode == 0 and os.path.getsize(cap) > 0, 'simulate %s: %s' % (fault, r.stderr))
        r = run('analyze', cap, '--json')
        s_ = json.loads(r.stdout)['summary'] if r.returncode == 0 else {}
        check(s_.get('top_cause') == fault, 'simulated %s/%s via %s: %r' % (fault, variant, to, s_))
        if fault == 'healthy':
            check(s_.get('verdict') == 'healthy', 'healthy verdict: %r' % s_)
        if fault == 'no_ack':
            check(s_.get('talking') == 'bms', 'no_ack: only the BMS is heard: %r' % s_)
    r = run('simulate', '--fault', 'gremlins', '-o', os.path.join(tmp, 'x.log'))
    check(r.returncode == 2 and not os.path.exists(os.path.join(tmp, 'x.log')), 'unknown fault is a usage error')

    # Issue 8: a cold site whose errors come only below 8 degC is a thermal pattern (not bus_errors),
    # the text names the band, and --bitrate reaches the text.
    cold = os.path.join(tmp, 'cold.log')
    r = run('simulate', '--fault', 'thermal_or_time_pattern', '--cold-errors', '--ambient-offset', '-14',
            '--duration', '86400', '--seed', '5', '-o', cold)
    check(r.returncode == 0, 'simulate cold site: %s' % r.stderr)
    r = run('analyze', cold, '--json', '--bitrate', '250000')
    s_ = json.loads(r.stdout)['summary'] if r.returncode == 0 else {}
    check(s_.get('top_cause') == 'thermal_or_time_pattern', 'cold mornings: %r' % s_)
    check(s_.get('bitrate_bps') == 250000, 'bitrate_bps in the summary: %r' % s_)
    r = run('analyze', cold, '--bitrate', '250000')
    check('bus load at 250 kbit/s' in r.stdout, 'text names the given bit rate')
    check('while the pack temperature was at or below' in r.stdout, 'text names the band:\n' + r.stdout[:1500])
    for cmd in (('frames',), ('identify',), ('decode',), ('convert',), ('analyze',)):
        r = run(*cmd, cold, '--format', 'nonsense')
        check(r.returncode == 2 and 'unknown format' in r.stderr, '%s --format nonsense exits 2' % cmd[0])

    # --html: one self-contained file with charts.
    html = os.path.join(tmp, 'report.html')
    r = run('analyze', os.path.join(tmp, 'intermittent_dropouts.asc'), '--html', html)
    page = open(html).read() if os.path.exists(html) else ''
    check(r.returncode == 0 and page.startswith('<!DOCTYPE html>') and page.count('<svg') >= 4 and
          'intermittent_dropouts' in page, 'HTML report written with charts')
    check('http://' not in page and 'https://' not in page and 'src=' not in page and '<script' not in page,
          'HTML report is self-contained')
    # Every chart is well-formed SVG (XML) and the page's tags balance.
    import re
    import xml.etree.ElementTree as ET
    from html.parser import HTMLParser
    svgs = re.findall(r'<svg.*?</svg>', page, re.S)
    for svg in svgs:
        try:
            ET.fromstring(svg.replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
        except ET.ParseError as err:
            check(False, 'SVG not well-formed: %s: %s' % (err, svg[:120]))

    class Balance(HTMLParser):
        VOID = {'meta', 'br', 'wbr', 'img', 'input', 'link', 'hr', 'rect', 'path', 'line'}

        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in self.VOID:
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            pass

        def handle_endtag(self, tag):
            if tag in self.VOID:
                return
            if not self.stack or self.stack[-1] != tag:
                self.errors.append('</%s> closes <%s>' % (tag, self.stack[-1] if self.stack else None))
            else:
                self.stack.pop()

    b = Balance()
    b.feed(page)
    check(not b.errors and not b.stack, 'HTML tags balance: %r %r' % (b.errors[:3], b.stack[:3]))

    # A big candump log takes the parallel path: same answer as one thread, true line numbers.
    big = os.path.join(tmp, 'big.log')
    r = run('simulate', '--fault', 'can_id_conflict', '--variant', 'sma', '--duration', '11000', '--seed', '2',
            '-o', big)
    with open(big) as fh:
        lines_ = fh.readlines()
    bad_line = len(lines_) * 3 // 4
    lines_.insert(bad_line - 1, '(1780300000.000000) can0 351#XYZ\n')
    with open(big, 'w') as fh:
        fh.writelines(lines_)
    check(os.path.getsize(big) > 33 << 20, 'big log is over the parallel threshold: %d' % os.path.getsize(big))
    one = run('analyze', big, '--json', '--threads', '1')
    two = run('analyze', big, '--json', '--threads', '2')
    j1, j2 = json.loads(one.stdout), json.loads(two.stdout)
    check(j2['summary']['threads'] == 2 and j1['summary']['threads'] == 1, 'threads used')
    for k in ('frames', 'error_frames', 'uptime', 'verdict', 'top_cause', 'bms_frames'):
        check(j1['summary'][k] == j2['summary'][k], 'parallel %s: %r vs %r' % (k, j1['summary'][k], j2['summary'][k]))
    check([f['cause'] for f in j1['findings']] == [f['cause'] for f in j2['findings']], 'parallel findings')
    check(j1['signals'] == j2['signals'], 'parallel signals')
    check(j1['summary']['top_cause'] == 'can_id_conflict', 'big conflict capture: %r' % j1['summary'])
    for out in (one, two):
        check('%s:%d:' % (big, bad_line) in out.stderr, 'bad line %d named: %s' % (bad_line, out.stderr))

# Issue 9: readable everywhere, files as people save them, an exit status for scripts.
r = run('--version')
check(r.returncode == 0 and r.stdout.startswith('bmslink '), '--version: %r' % r.stdout)
r = run('help', 'analyze')
check(r.returncode == 0 and '--tz' in r.stdout and '--fail-on-fault' in r.stdout and 'Usage: bmslink analyze ' in r.stdout,
      'help analyze: %r' % r.stdout[:200])
check(run('help', 'no-such-command').returncode == 2, 'help for an unknown command is a usage error')
check(run('analyze', SAMPLE, '--tz', 'Mars/Olympus').returncode == 2, 'unknown --tz is a usage error')
# The sample starts 2025-11-24 16:00:00 UTC (1764000000): 10:00 in Chicago (CST, -6 h).
r = run('analyze', SAMPLE, '--tz', 'America/Chicago')
check('from 2025-11-24 10:00:00.117 CST = 16:00:00 UTC' in r.stdout, '--tz Chicago: ' + r.stdout[:400])
check('FAULT   layer 2 \u2014 physical connections  bus_errors' in r.stdout, 'layers named: ' + r.stdout[:800])
# 0x35A alarm fields by name in analyze, as decode names them (a Victron-protocol capture).
r = run('analyze', os.path.join(CAPTURES, 'seplos_victron_gx_candump_a.log'))
check(any(l.split()[:2] == ['alarm_general', '0x35A'] and l.split()[2:5] == ['ok', 'ok', 'ok']
          for l in r.stdout.splitlines()), '0x35A alarm names in analyze: ' + r.stdout)
with tempfile.TemporaryDirectory() as tmp:
    lines = open(SAMPLE, 'rb').read().decode().splitlines()[:400]
    text = '\r\n'.join(lines) + '\r\n'
    for name, data in (('bom.log', b'\xef\xbb\xbf' + text.encode()),
                       ('ps.log', b'\xff\xfe' + text.encode('utf-16-le'))):
        path = os.path.join(tmp, name)
        with open(path, 'wb') as fh:
            fh.write(data)
        a = json.loads(run('analyze', path, '--json').stdout)
        first = json.loads(run('frames', path, '--json').stdout.splitlines()[0])
        check(a['frames'] == 400 and a['malformed'] == 0 and first['id'] == '0x359',
              '%s: all 400 frames, the first one kept: %r %r' % (name, a['frames'], first))
    cap = os.path.join(tmp, 'ignored.log')
    run('simulate', '--fault', 'limits_ignored', '--duration', '600', '-o', cap)
    r = run('analyze', cap, '--fail-on-fault')
    check(r.returncode == 3 and 'ignores the BMS' in r.stdout, 'limits_ignored: exit 3 and the finding: %d' % r.returncode)
    check(run('analyze', cap).returncode == 0, 'without --fail-on-fault a fault is exit 0')
    cap2 = os.path.join(tmp, 'healthy.log')
    run('simulate', '--fault', 'healthy', '--duration', '600', '-o', cap2)
    check(run('analyze', cap2, '--fail-on-fault').returncode == 0, 'healthy with --fail-on-fault: exit 0')
    # A joined capture: the second half's clock restarts 400 s earlier.
    halves = open(cap2).read().splitlines()
    joined = os.path.join(tmp, 'joined.log')
    with open(joined, 'w') as fh:
        fh.write('\n'.join(halves + halves[:200]) + '\n')
    j = json.loads(run('analyze', joined, '--json').stdout)
    check(j['backward_steps'] == 1 and any(f['cause'] == 'timestamps_backwards' for f in j['findings']),
          'joined capture: %r' % j['backward_steps'])
    check(all(x['period_ms'] is None or x['period_ms'] > 0 for x in j['ids']), 'no negative periods: %r' % j['ids'])
    # A short untimed paste: not "healthy", no talkers.
    paste = os.path.join(tmp, 'paste.txt')
    with open(paste, 'w') as fh:
        fh.write('359 00 00 00 00 04 50 4E\n351 14 02 74 0E 74 0E CC 01\n355 1A 00 64 00\n'
                 '356 4E 13 00 00 F0 00\n35C C0 00\n')
    j = json.loads(run('analyze', paste, '--json').stdout)
    check(j['summary']['verdict'] == 'inconclusive' and j['talkers'] == [] and
          j['findings'][0]['cause'] == 'capture_too_short', 'untimed paste: %r' % j['summary'])

if failures:
    print('cli: %d failure(s)' % len(failures))
    for f in failures:
        print('  ' + f)
    sys.exit(1)
print('cli: all checks passed')

"""bmslink case / stats from the outside: imports all or nothing, idempotent, the export gives
back what was imported, and `stats --json` equals statistics computed here independently from
the same random cases."""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

BMSLINK = sys.argv[1]
failures = []


def run(*args):
    return subprocess.run([BMSLINK, *args], capture_output=True, text=True, timeout=120)


def check(ok, message):
    if not ok:
        failures.append(message)


CAUSES = {'inverter_protocol_mismatch': 1, 'bitrate_mismatch': 1, 'dip_switch_wrong': 1, 'termination_fault': 2,
          'connection_fault': 2, 'cable_unsuitable': 3, 'ground_loop': 4, 'emi_power_correlated': 4,
          'firmware_incompatibility': 5, 'invalid_values': 5}
OUTCOMES = ['fixed', 'hardcoded', 'escalated', 'open']


def random_cases(n, seed):
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        cause = rnd.choice(list(CAUSES) + [None])
        minutes = {str(l): rnd.choice([0, 0, 2, 5, 7.5, 12, 30]) for l in range(1, 6)}
        checks = []
        for k in range(rnd.randint(0, 4)):
            checks.append({'check': rnd.choice(['l1.protocol_setting', 'l2.termination', 'l3.cable_type']),
                           'layer': rnd.randint(1, 3), 'inputs': {}, 'verdict': rnd.choice(['pass', 'fail']),
                           'minutes': rnd.choice([1, 2, 3])})
        cases.append({'id': 'r%03d' % i, 'opened': '2026-%02d-%02dT10:00:00Z' % (rnd.randint(1, 12), rnd.randint(1, 28)),
                      'installer': rnd.choice(['Ana', 'Bo']), 'root_cause': cause,
                      'layer': CAUSES[cause] if cause else None, 'outcome': rnd.choice(OUTCOMES),
                      'minutes_by_layer': minutes, 'checks': checks})
    return cases


def median(v):
    return statistics.median(v) if v else None


def expected_stats(cases):
    n = len(cases)
    total = lambda c: sum(c['minutes_by_layer'].values())
    by_cause = {}
    for c in cases:
        if c['root_cause']:
            by_cause[c['root_cause']] = by_cause.get(c['root_cause'], 0) + 1
    by_layer = {str(l): sum(1 for c in cases if c['layer'] == l) for l in range(1, 6)}
    yield_ = {str(l): sum(1 for c in cases if c['layer'] == l and c['outcome'] == 'fixed') / n for l in range(1, 6)}
    cumulative, acc = {}, 0.0
    for l in range(1, 6):
        acc += yield_[str(l)]
        cumulative[str(l)] = acc
    within = {str(m): sum(1 for c in cases if c['outcome'] == 'fixed' and total(c) <= m) / n for m in (15, 30, 50)}
    outcomes = {o: sum(1 for c in cases if c['outcome'] == o) for o in OUTCOMES}
    mbl = {}
    for l in range(1, 6):
        v = [c['minutes_by_layer'][str(l)] for c in cases]
        mbl[str(l)] = (sum(v) / len(v), median(v))
    mbc = {}
    for cause in by_cause:
        v = [total(c) for c in cases if c['root_cause'] == cause]
        mbc[cause] = (sum(v) / len(v), median(v))
    return by_cause, by_layer, yield_, cumulative, within, outcomes, mbl, mbc


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1, abs(b))


with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, 'r.db')
    cases = random_cases(150, 20261201)
    f = os.path.join(tmp, 'cases.json')
    json.dump(cases, open(f, 'w'))
    r = run('case', 'import', f, '--db', db)
    check(r.returncode == 0 and 'imported 150' in r.stdout, 'import: %s %s' % (r.stdout, r.stderr))
    # Idempotent: again, still 150.
    run('case', 'import', f, '--db', db)
    listed = json.loads(run('case', 'list', '--db', db, '--json').stdout)
    check(len(listed) == 150, 'idempotent import: %d' % len(listed))

    s = json.loads(run('stats', '--db', db, '--json').stdout)
    by_cause, by_layer, yield_, cumulative, within, outcomes, mbl, mbc = expected_stats(cases)
    check(s['cases'] == 150, 'cases')
    check(s['by_cause'] == by_cause, 'by_cause %r != %r' % (s['by_cause'], by_cause))
    check(s['by_layer'] == by_layer, 'by_layer %r != %r' % (s['by_layer'], by_layer))
    check(all(close(s['layer_yield'][k], v) for k, v in yield_.items()), 'layer_yield %r' % s['layer_yield'])
    check(all(close(s['cumulative_yield'][k], v) for k, v in cumulative.items()), 'cumulative %r' % s['cumulative_yield'])
    check(all(close(s['solved_within_minutes'][k], v) for k, v in within.items()), 'within %r' % s['solved_within_minutes'])
    check(s['outcomes'] == outcomes, 'outcomes %r != %r' % (s['outcomes'], outcomes))
    for k, (mean, med) in mbl.items():
        check(close(s['minutes_by_layer'][k]['mean'], mean) and close(s['minutes_by_layer'][k]['median'], med),
              'minutes layer %s: %r vs %r %r' % (k, s['minutes_by_layer'][k], mean, med))
    for k, (mean, med) in mbc.items():
        check(close(s['minutes_by_cause'][k]['mean'], mean) and close(s['minutes_by_cause'][k]['median'], med),
              'minutes cause %s' % k)
    # Filters: one installer, a date.
    only = [c for c in cases if c['installer'] == 'Ana']
    s2 = json.loads(run('stats', '--db', db, '--json', '--installer', 'Ana').stdout)
    check(s2['cases'] == len(only), 'installer filter: %d vs %d' % (s2['cases'], len(only)))
    later = [c for c in cases if c['opened'] >= '2026-07-01']
    s3 = json.loads(run('stats', '--db', db, '--json', '--since', '2026-07-01').stdout)
    check(s3['cases'] == len(later), 'since filter: %d vs %d' % (s3['cases'], len(later)))

    # Export gives back what was imported (the fields written), in the contract's form.
    exp = os.path.join(tmp, 'exp.json')
    check(run('case', 'export', '--db', db, '-o', exp).returncode == 0, 'export')
    exported = {c['id']: c for c in json.load(open(exp))}
    for c in cases:
        e = exported[c['id']]
        check(e['root_cause'] == c['root_cause'] and
              e['minutes_by_layer'] == {k: float(v) for k, v in c['minutes_by_layer'].items()}, 'export of %s' % c['id'])
        check(e['total_minutes'] == sum(c['minutes_by_layer'].values()), 'total of %s' % c['id'])
    # Re-importing the export into a second store gives the same export.
    db2 = os.path.join(tmp, 'r2.db')
    run('case', 'import', exp, '--db', db2)
    exp2 = os.path.join(tmp, 'exp2.json')
    run('case', 'export', '--db', db2, '-o', exp2)
    check(open(exp).read() == open(exp2).read(), 'export -> import -> export is identical')

    # All or nothing: the second case is bad; nothing of the file is stored, the error names it.
    bad = [dict(cases[0], id='new-1'), dict(cases[1], id='new-2', outcome='sorted')]
    fb = os.path.join(tmp, 'bad.json')
    json.dump(bad, open(fb, 'w'))
    r = run('case', 'import', fb, '--db', db)
    check(r.returncode == 1 and 'case 2' in r.stderr and '"outcome"' in r.stderr and 'nothing imported' in r.stderr,
          'bad import: %r' % r.stderr)
    check(len(json.loads(run('case', 'list', '--db', db, '--json').stdout)) == 150, 'nothing stored from a bad file')
    # JSON lines.
    fl = os.path.join(tmp, 'lines.jsonl')
    with open(fl, 'w') as fh:
        for c in random_cases(3, 7):
            c['id'] = 'line-' + c['id']
            fh.write(json.dumps(c) + '\n')
    check(run('case', 'import', fl, '--db', db).returncode == 0, 'JSON lines import')
    # Lifecycle.
    cid = run('case', 'new', '--db', db, '--site', 'S <x>', '--symptom', 'F58').stdout.strip()
    check(run('case', 'close', cid, '--db', db).returncode == 2, 'close without outcome is a usage error')
    r = run('case', 'close', cid, '--db', db, '--outcome', 'fixed', '--root-cause', 'termination_fault',
            '--minutes', '2=10')
    check(r.returncode == 0, 'close: %s' % r.stderr)
    shown = json.loads(run('case', 'show', cid, '--db', db).stdout)
    check(shown['closed'] and shown['layer'] == 2 and shown['total_minutes'] == 10 and shown['site']['name'] == 'S <x>',
          'closed case: %r' % shown)
    check(run('case', 'update', cid, '--db', db, '--root-cause', 'gremlins').returncode == 2, 'unknown cause refused')
    check(run('case', 'delete', cid, '--db', db).returncode == 0 and run('case', 'show', cid, '--db', db).returncode == 1,
          'delete')
    check(run('case', 'list', '--db', 'mysql://x').returncode == 1, 'bad --db: exit 1')

    # compat: pairs counted by outcome, with causes; CSV quoted; Markdown escaped.
    cdb = os.path.join(tmp, 'c.db')
    pairs = []
    for i, (outcome, cause) in enumerate([('fixed', 'termination_fault'), ('fixed', 'termination_fault'),
                                          ('escalated', 'firmware_incompatibility'), ('hardcoded', None)]):
        pairs.append({'id': 'p%d' % i, 'opened': '2026-02-0%dT10:00:00Z' % (i + 1), 'outcome': outcome,
                      'root_cause': cause, 'bms': {'model': 'US3000C', 'firmware': 'V1,2'},
                      'inverter': {'model': 'Deye <b>SUN</b>', 'firmware': '1.0'},
                      'fix': 'terminator' if cause == 'termination_fault' else ''})
    pf = os.path.join(tmp, 'pairs.json')
    json.dump(pairs, open(pf, 'w'))
    run('case', 'import', pf, '--db', cdb)
    m = json.loads(run('compat', '--db', cdb, '--json').stdout)
    check(len(m) == 1 and m[0]['worked'] == 2 and m[0]['failed'] == 1 and m[0]['hardcoded'] == 1 and
          m[0]['causes'] == {'termination_fault': 2, 'firmware_incompatibility': 1} and m[0]['fixes'] == ['terminator'],
          'compat json: %r' % m)
    csv_text = run('compat', '--db', cdb, '--csv').stdout
    check('"V1,2"' in csv_text.splitlines()[1], 'csv quoting: %r' % csv_text)
    md_text = run('compat', '--db', cdb, '--md').stdout
    check('\\<b\\>SUN\\</b\\>' in md_text and '<b>' not in md_text, 'markdown escaping: %r' % md_text)
    check(run('compat', '--db', cdb, '--csv', '--md').returncode == 2, 'one format at a time')

    # diagnose --case records the session as it goes and resumes from it; a capture is kept once,
    # named by its SHA-256, beside the database.
    gdb = os.path.join(tmp, 'g.db')
    run('case', 'new', '--db', gdb, '--id', 'site-7', '--bms-model', 'Pylontech US3000C',
        '--inverter-model', 'Deye SUN-5K-SG03LP1-EU')
    part = subprocess.run([BMSLINK, 'diagnose', '--case', 'site-7', '--db', gdb, '--interactive'],
                          input='Lithium 00\n\n\nyes\n\nq\n', capture_output=True, text=True, timeout=120)
    check(part.returncode == 0, 'part one: %s' % part.stderr)
    c = json.loads(run('case', 'show', 'site-7', '--db', gdb).stdout)
    check([x['check'] for x in c['checks']] == ['l1.protocol_setting', 'l1.bitrate', 'l1.dip_switches', 'l1.can_ids'] and
          c['minutes_by_layer']['1'] == 5 and c['root_cause'] is None, 'recorded so far: %r' % c['checks'])
    cap = os.path.join(tmp, 'site.log')
    run('simulate', '--fault', 'healthy', '--duration', '300', '-o', cap)
    for _ in range(2):
        rest = subprocess.run([BMSLINK, 'diagnose', '--case', 'site-7', '--db', gdb, '--interactive', '--capture', cap],
                              input='1\n120\n', capture_output=True, text=True, timeout=120)
        check('CONFIRMED  termination_fault' in rest.stdout, 'resumed at termination:\n' + rest.stdout[-600:])
    c = json.loads(run('case', 'show', 'site-7', '--db', gdb).stdout)
    sha = subprocess.run(['sha256sum', cap], capture_output=True, text=True).stdout.split()[0]
    check(c['root_cause'] == 'termination_fault' and c['layer'] == 2 and len(c['captures']) == 1 and
          c['captures'][0]['sha256'] == sha and c['captures'][0]['file'] == 'site.log', 'case after: %r' % c['captures'])
    check(os.path.exists(os.path.join(tmp, 'captures', sha)), 'capture kept beside the database by its hash')

    # Every field can be set from the command line; close refuses to leave a case open; a date
    # not written as YYYY-MM-DD is refused rather than silently selecting the wrong cases.
    r = run('case', 'new', '--db', gdb, '--id', 'hc-1', '--bms-count', '2', '--energy-kwh', '7.1',
            '--site', 'Barn', '--bms-model', 'X')
    check(r.returncode == 0, 'new with count and energy: ' + r.stderr)
    r = run('case', 'update', 'hc-1', '--db', gdb, '--hardcoded', 'charge_voltage_v=56.0',
            '--hardcoded', 'mode=lead-acid', '--site', 'Barn 2')
    c = json.loads(run('case', 'show', 'hc-1', '--db', gdb).stdout)
    check(r.returncode == 0 and c['hardcoded'] == {'charge_voltage_v': 56.0, 'mode': 'lead-acid'} and
          c['bms']['count'] == 2 and c['bms']['energy_kwh'] == 7.1 and c['site']['name'] == 'Barn 2',
          'update sets hardcoded settings and site: %r %s' % (c, r.stderr))
    r = run('case', 'close', 'hc-1', '--db', gdb, '--outcome', 'open')
    check(r.returncode == 2 and 'needs --outcome' in r.stderr, 'close --outcome open refused')
    r = run('case', 'list', '--db', gdb, '--since', '2026-7-1')
    check(r.returncode == 2 and 'YYYY-MM-DD' in r.stderr, '--since 2026-7-1 refused: ' + r.stderr)
    r = run('case', 'update', 'hc-1', '--db', gdb, '--hardcoded', '=5')
    check(r.returncode == 2 and 'SETTING=VALUE' in r.stderr, 'a bad --hardcoded is refused')

    # report: the session recorded above, closed, in each kind and format.
    r = run('case', 'close', 'site-7', '--db', gdb, '--outcome', 'fixed', '--fix', 'Terminator fitted at the inverter',
            '--uptime-share', '0.998', '--hours', '24')
    check(r.returncode == 0, 'close site-7: ' + r.stderr)
    tech = run('report', 'site-7', '--technician', '--db', gdb)
    check(tech.returncode == 0 and tech.stdout.startswith('# Technician report: site-7') and
          'Inverter battery protocol matches the BMS exactly' in tech.stdout and
          'Resistance between CAN-H and CAN-L, everything powered off: 120 Ω' in tech.stdout and 'site.log (sha256 %s)' % sha[:16] in tech.stdout,
          'technician report of the recorded session:\n' + tech.stdout + tech.stderr)
    out = os.path.join(tmp, 'customer.html')
    r = run('report', 'site-7', '--customer', '--db', gdb, '-o', out)
    html = open(out).read() if os.path.exists(out) else ''
    check(r.returncode == 0 and r.stdout == '' and html.startswith('<!DOCTYPE html>') and
          'Terminator fitted at the inverter' in html and '99.8 %' in html,
          'customer report chosen as HTML by the .html name: ' + r.stderr)
    md = run('report', 'site-7', '--customer', '--md', '--db', gdb)
    check(md.returncode == 0 and md.stdout.startswith('# Your battery and inverter'), 'customer report in Markdown')
    ack = run('report', 'site-7', '--acknowledgment', '--db', gdb)
    check(ack.returncode == 1 and ack.stdout == '' and 'not hardcoded' in ack.stderr,
          'no acknowledgment for a fixed case: %d %s' % (ack.returncode, ack.stderr))
    both = run('report', 'site-7', '--technician', '--customer', '--db', gdb)
    check(both.returncode == 2, 'one kind of report at a time')
    none = run('report', 'site-7', '--db', gdb)
    check(none.returncode == 2, 'a kind of report is required')
    missing = run('report', 'no-such-case', '--customer', '--db', gdb)
    check(missing.returncode == 1 and 'no case no-such-case' in missing.stderr, 'unknown case named')
    cases_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'cases')
    rdb = os.path.join(tmp, 'reports.db')
    for name in ('fixed', 'hardcoded', 'escalated'):
        run('case', 'import', os.path.join(cases_dir, name + '.json'), '--db', rdb)
    ack = run('report', '2026-0520-hardcode', '--acknowledgment', '--html', '--db', rdb)
    check(ack.returncode == 0 and 'Mary O&#39;Neill' in ack.stdout and 'Orchard &lt;b&gt;cabin&lt;/b&gt;' in ack.stdout,
          'acknowledgment of the hardcoded case, escaped')
    page = os.path.join(tmp, 'stats.html')
    r = run('stats', '--html', '-o', page, '--db', rdb)
    text = open(page).read() if os.path.exists(page) else ''
    check(r.returncode == 0 and text.count('<figure>') == 6 and '3 case(s)' in text, 'stats --html: ' + r.stderr)
    both = run('stats', '--html', '--json', '--db', rdb)
    check(both.returncode == 2, 'stats takes one format')

# Team accounts from the command line (issue 21): list, disable and a new password end the
# account's sessions in the store, whichever server holds them.
with tempfile.TemporaryDirectory() as tmp:
    udb = os.path.join(tmp, 'users.db')
    for name, role in (('boss', 'admin'), ('ann', 'technician')):
        r = subprocess.run([BMSLINK, 'user', 'add', name, '--role', role, '--db', udb], input=name + '-password-1\n',
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, 'user add %s: %s' % (name, r.stderr))
    import sqlite3
    con = sqlite3.connect(udb)
    for token, user in (('a' * 64, 'ann'), ('b' * 64, 'ann'), ('c' * 64, 'boss')):
        con.execute("INSERT INTO sessions (token_hash, user_name, csrf, role, password_mark, created, last_seen) "
                    "VALUES (?, ?, 'x', 'technician', 'm', 1, 1)", (token, user))
    con.commit()
    listed = run('user', 'list', '--db', udb)
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    check(listed.returncode == 0 and rows.get('ann') == ['ann', 'technician', 'enabled', '2']
          and rows.get('boss') == ['boss', 'admin', 'enabled', '1'], 'user list: %r' % listed.stdout)
    r = run('user', 'disable', 'ann', '--db', udb)
    check(r.returncode == 0 and '2 session(s) ended' in r.stdout, 'user disable: ' + r.stdout + r.stderr)
    listed = run('user', 'list', '--db', udb)
    check('disabled' in [l for l in listed.stdout.splitlines() if l.startswith('ann')][0], 'ann shows disabled')
    r = run('user', 'disable', 'ann', '--enable', '--db', udb)
    check(r.returncode == 0 and 'ann is enabled' in r.stdout, 'user disable --enable: ' + r.stdout)
    r = subprocess.run([BMSLINK, 'user', 'passwd', 'boss', '--db', udb], input='short\n', capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 2 and 'at least 10' in r.stderr, 'a short password is refused: ' + r.stderr)
    r = subprocess.run([BMSLINK, 'user', 'passwd', 'boss', '--db', udb], input='boss-password-2\n',
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and '1 session(s) ended' in r.stdout, 'user passwd: ' + r.stdout + r.stderr)
    left = con.execute('SELECT count(*) FROM sessions').fetchone()[0]
    check(left == 0, 'no session left: %d' % left)
    r = run('user', 'disable', 'nobody', '--db', udb)
    check(r.returncode == 1 and 'no account nobody' in r.stderr, 'an unknown account is named: ' + r.stderr)
    con.close()

# bmslink gc (issue 21): the capture the fixed case keeps stays, an upload nobody refers to
# goes once it is older than the grace period; --dry-run only says so.
with tempfile.TemporaryDirectory() as tmp:
    gdb = os.path.join(tmp, 'gc.db')
    caps = os.path.join(tmp, 'caps')
    os.makedirs(caps)
    cases_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'cases')
    run('case', 'import', os.path.join(cases_dir, 'fixed.json'), '--db', gdb)
    kept = '9f2c0c5e3b6d8a41e0f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7'
    loose = 'ab' * 32
    for name, size, age_days in ((kept, 1048576, 30), (loose, 3 * 1048576, 10)):
        path = os.path.join(caps, name)
        with open(path, 'wb') as f:
            f.write(b'x' * size)
        old = __import__('time').time() - age_days * 86400
        os.utime(path, (old, old))
    dry = run('gc', '--db', gdb, '--captures', caps, '--dry-run')
    check(dry.returncode == 0 and 'would remove ' + loose in dry.stdout and os.path.exists(os.path.join(caps, loose))
          and '2 capture(s), 4.0 MB; 1 referenced by cases (1.0 MB), 1 not (3.0 MB)' in dry.stdout,
          'gc --dry-run: ' + dry.stdout + dry.stderr)
    young = run('gc', '--db', gdb, '--captures', caps, '--keep-unreferenced', '14d')
    check(young.returncode == 0 and 'removed 0 file(s)' in young.stdout and '1 unreferenced kept' in young.stdout,
          'gc within 14 days keeps it: ' + young.stdout)
    done = run('gc', '--db', gdb, '--captures', caps)
    check(done.returncode == 0 and 'removed 1 file(s), 3.0 MB' in done.stdout
          and sorted(os.listdir(caps)) == [kept], 'gc: %s %r' % (done.stdout, os.listdir(caps)))
    never = run('serve', '--keep-unreferenced', '0', '--port', '0', '--db', gdb)
    check(never.returncode == 2 and 'never' in never.stderr, 'serve takes "never", not 0: ' + never.stderr)
    bad = run('gc', '--db', gdb, '--captures', caps, '--keep-unreferenced', 'soon')
    check(bad.returncode == 2 and '--keep-unreferenced soon' in bad.stderr, 'gc with a bad duration: ' + bad.stderr)

# bmslink backup / restore from the command line (issue 21; the library's round trip through
# PostgreSQL is in records_test): the archive holds the cases, the accounts and the capture;
# an occupied store is refused with exit 2 unless --merge.
with tempfile.TemporaryDirectory() as tmp:
    src, dst = os.path.join(tmp, 'src.db'), os.path.join(tmp, 'dst.db')
    caps_src, caps_dst = os.path.join(tmp, 'caps'), os.path.join(tmp, 'caps2')
    os.makedirs(caps_src)
    cases_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'cases')
    for name in ('fixed', 'hardcoded', 'escalated'):
        run('case', 'import', os.path.join(cases_dir, name + '.json'), '--db', src)
    subprocess.run([BMSLINK, 'user', 'add', 'boss', '--role', 'admin', '--db', src], input='boss-password-1\n',
                   capture_output=True, text=True, timeout=60)
    body = b'(1780000000.000000) can0 351#2802E803E803E001\n' * 1000
    sha = __import__('hashlib').sha256(body).hexdigest()
    with open(os.path.join(caps_src, sha), 'wb') as f:
        f.write(body)
    archive = os.path.join(tmp, 'company.tar.zst')
    r = run('backup', '--db', src, '--captures', caps_src, '-o', archive)
    check(r.returncode == 0 and '3 case(s)' in r.stdout and '1 account(s)' in r.stdout and '1 capture(s)' in r.stdout,
          'backup: ' + r.stdout + r.stderr)
    check('not there' in r.stderr, 'backup names the capture a case refers to that is missing: ' + r.stderr)
    check(os.stat(archive).st_mode & 0o777 == 0o600, 'the archive is the owner\'s alone: %o' % os.stat(archive).st_mode)
    r = run('restore', archive, '--db', dst, '--captures', caps_dst)
    check(r.returncode == 0 and 'restored 3 case(s)' in r.stdout, 'restore: ' + r.stdout + r.stderr)
    with open(os.path.join(caps_dst, sha), 'rb') as f:
        check(__import__('hashlib').sha256(f.read()).hexdigest() == sha, 'the capture comes back byte for byte')
    a = json.loads(run('stats', '--json', '--db', src).stdout)
    b = json.loads(run('stats', '--json', '--db', dst).stdout)
    check(a == b, 'the same statistics after the round trip')
    again = run('restore', archive, '--db', dst, '--captures', caps_dst)
    check(again.returncode == 2 and '--merge' in again.stderr, 'an occupied store is refused: ' + again.stderr)
    merged = run('restore', archive, '--db', dst, '--captures', caps_dst, '--merge')
    check(merged.returncode == 0 and json.loads(run('stats', '--json', '--db', dst).stdout) == a,
          'a merge changes nothing that was there: ' + merged.stderr)
    bad = os.path.join(tmp, 'cut.tar.zst')
    with open(archive, 'rb') as f, open(bad, 'wb') as g:
        data = f.read()
        g.write(data[:len(data) // 2])
    cut = run('restore', bad, '--db', os.path.join(tmp, 'empty.db'), '--captures', os.path.join(tmp, 'c3'))
    check(cut.returncode == 1 and 'cut.tar.zst' in cut.stderr, 'a cut archive is named: ' + cut.stderr)
    check(json.loads(run('stats', '--json', '--db', os.path.join(tmp, 'empty.db')).stdout)['cases'] == 0,
          'and stores nothing')

if failures:
    print('records cli: %d failure(s)' % len(failures))
    for f in failures:
        print('  ' + f)
    sys.exit(1)
print('records cli: all checks passed')

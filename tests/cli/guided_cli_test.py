"""bmslink diagnose / devices / hardcode as users run them: the answers file contract, the JSON
keys, the interactive session (answers, go back, save and resume), errors and exit codes."""
import json
import os
import subprocess
import sys
import tempfile

BMSLINK, ROOT = sys.argv[1], sys.argv[2]
ANSWERS = os.path.join(ROOT, 'tests/data/answers')
failures = []


def run(*args, stdin=None):
    return subprocess.run([BMSLINK, *args], input=stdin, capture_output=True, text=True, timeout=300)


def check(ok, message):
    if not ok:
        failures.append(message)


# --json: the contract keys (docs/diagnose.md).
r = run('diagnose', '--answers', os.path.join(ANSWERS, 'termination_fault.json'), '--json')
check(r.returncode == 0, 'diagnose --json: %s' % r.stderr)
j = json.loads(r.stdout)
for key in ('confirmed', 'layer', 'fix', 'verdicts', 'next', 'minutes', 'escalate'):
    check(key in j, 'diagnose --json lacks %s' % key)
check(j['confirmed'] == 'termination_fault' and j['layer'] == 2 and j['next'] is None and j['escalate'] is False,
      'termination case: %r' % {k: j[k] for k in ('confirmed', 'layer', 'escalate')})
check(all(set(v) >= {'check', 'layer', 'verdict', 'reason', 'source_class'} and
          v['verdict'] in ('pass', 'fail', 'skipped', 'unknown', 'marginal', 'suspect')
          for v in j['verdicts']), 'verdict shape')
check(set(j['minutes']) >= {'1', '2', '3', '4', '5'}, 'minutes per layer: %r' % j['minutes'])

# Nothing answered: the next check and what it asks.
r = run('diagnose', '--json', stdin='')
j = json.loads(r.stdout)
check(j['confirmed'] is None and j['next']['check'] == 'l1.protocol_setting' and
      [a['key'] for a in j['next']['asks']] == ['inverter_battery_setting', 'bms_protocol'], 'next: %r' % j['next'])

check(set(j['next']) >= {'why', 'how', 'probability', 'minutes'} and j['next']['minutes'] == 2 and
      "field guide's order" in j['next']['why'] and {k: j['order'][k] for k in ('mode', 'requested', 'closed_cases')} == {'mode': 'guide', 'requested': 'learned', 'closed_cases': 0} and
      j['order']['group'] == {'kind': 'company', 'name': None, 'closed_cases': 0} and j['order']['known_bad'] is None,
      'next explains its place: %r' % {k: j['next'].get(k) for k in ('why', 'minutes')})

# Issue 23: 200 closed calls, 90 of them termination: the company's own order asks termination
# first, across layers, and says why; --order guide keeps the guide's.
with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, 'company.db')
    lines = []
    for n, (check_id, cause, layer, count) in enumerate([
            ('l2.termination', 'termination_fault', 2, 90), ('l2.cable_damage', 'connection_fault', 2, 30),
            ('l3.cable_type', 'cable_unsuitable', 3, 30), ('l1.protocol_setting', 'inverter_protocol_mismatch', 1, 30),
            ('l1.dip_switches', 'dip_switch_wrong', 1, 10), ('l1.bitrate', 'bitrate_mismatch', 1, 10)]):
        for i in range(count):
            lines.append(json.dumps({'id': 'c-%d-%d' % (n, i), 'opened': '2026-05-01T08:00:00Z',
                                     'closed': '2026-05-01T09:00:00Z', 'outcome': 'fixed', 'root_cause': cause,
                                     'layer': layer, 'checks': [{'check': check_id, 'layer': layer, 'inputs': {},
                                                                 'verdict': 'fail', 'minutes': 3}]}))
    with open(os.path.join(tmp, 'cases.jsonl'), 'w') as fh:
        fh.write('\n'.join(lines) + '\n')
    r = run('case', 'import', os.path.join(tmp, 'cases.jsonl'), '--db', db)
    check(r.returncode == 0, 'import: %s' % r.stderr)
    j = json.loads(run('diagnose', '--db', db, '--json', stdin='').stdout)
    check(j['next']['check'] == 'l2.termination' and {k: j['order'][k] for k in ('mode', 'requested', 'closed_cases')} == {'mode': 'learned', 'requested': 'learned', 'closed_cases': 200} and
          "44 % of your company's calls" in j['next']['why'] and j['next']['minutes'] == 3 and
          abs(j['next']['probability'] - 0.437) < 0.002, 'learned: %r' % {k: j['next'].get(k) for k in ('check', 'why', 'probability')})
    text = run('diagnose', '--db', db, stdin='').stdout
    check("next: termination" in text.lower() and "of your company's calls, 3 min" in text, 'text: %s' % text)
    j = json.loads(run('diagnose', '--db', db, '--order', 'guide', '--json', stdin='').stdout)
    check(j['next']['check'] == 'l1.protocol_setting' and j['order']['mode'] == 'guide' and
          'as asked' in j['next']['why'], 'guide on request: %r' % j['next']['why'])
    r = run('diagnose', '--db', db, '--order', 'fastest', '--json', stdin='')
    check(r.returncode != 0 and '--order' in r.stderr, '--order fastest: %r' % r.stderr)
    stats = json.loads(run('stats', '--db', db, '--json').stdout)
    check(abs(stats['order']['guide_minutes'] - 8.325) < 1e-9 and abs(stats['order']['learned_minutes'] - 5.275) < 1e-9,
          'stats order: %r' % stats['order'])
    # 20 more on Growatt SPF inverters, all the wrong cable, and a Sofar ME3000SP with a Dyness
    # B4850 twice on the bit rate: a Growatt call takes its family's order, the pair its check.
    more = []
    for i in range(22):
        sofar = i >= 20
        check_id, cause, layer = ('l1.bitrate', 'bitrate_mismatch', 1) if sofar else ('l3.cable_type', 'cable_unsuitable', 3)
        more.append(json.dumps({'id': 'g-%d' % i, 'opened': '2026-06-01T08:00:00Z', 'closed': '2026-06-01T09:00:00Z',
                                'outcome': 'fixed', 'root_cause': cause, 'layer': layer,
                                'inverter': {'model': 'Sofar ME3000SP' if sofar else 'Growatt SPF 5000ES', 'firmware': ''},
                                'bms': {'model': 'Dyness B4850' if sofar else '', 'firmware': '', 'count': 1},
                                'checks': [{'check': check_id, 'layer': layer, 'inputs': {}, 'verdict': 'fail', 'minutes': 3}]}))
    with open(os.path.join(tmp, 'more.jsonl'), 'w') as fh:
        fh.write('\n'.join(more) + '\n')
    r = run('case', 'import', os.path.join(tmp, 'more.jsonl'), '--db', db)
    check(r.returncode == 0, 'import more: %s' % r.stderr)
    answers = os.path.join(tmp, 'growatt.json')
    with open(answers, 'w') as fh:
        json.dump({'answers': {'inverter_model': 'Growatt SPF 6000ES Plus'}}, fh)
    text = run('diagnose', '--db', db, '--answers', answers, stdin='').stdout
    check('of your calls on Growatt SPF off-grid (20 closed cases)' in text, 'a family\'s order: %s' % text)
    with open(answers, 'w') as fh:
        json.dump({'answers': {'inverter_model': 'sofar me3000sp', 'bms_model': 'Dyness B4850'}}, fh)
    j = json.loads(run('diagnose', '--db', db, '--answers', answers, '--json', stdin='').stdout)
    check(j['next']['check'] == 'l1.bitrate' and j['order']['known_bad']['cause'] == 'bitrate_mismatch' and
          'compatibility matrix' in j['next']['why'], 'a known-bad pair: %r' % j['next']['why'])
    text = run('stats', '--db', db).stdout
    check('own order for Growatt SPF off-grid (20 closed cases)' in text and
          'known-bad pair Sofar ME3000SP with Dyness B4850: bit rate mismatch in 2 of 2 solved cases' in text,
          'stats text: %s' % text)

with tempfile.TemporaryDirectory() as tmp:
    # Bad answers files: exit 1, the file and the key named.
    bad = os.path.join(tmp, 'bad.json')
    with open(bad, 'w') as fh:
        json.dump({'answers': {'termination_ohms': 'sixty'}}, fh)
    r = run('diagnose', '--answers', bad, '--json')
    check(r.returncode == 1 and 'bad.json' in r.stderr and 'termination_ohms' in r.stderr, 'bad value: %r' % r.stderr)
    with open(bad, 'w') as fh:
        fh.write('{"answers": {"ohms": 60}}')
    r = run('diagnose', '--answers', bad)
    check(r.returncode == 1 and '"ohms"' in r.stderr, 'unknown key: %r' % r.stderr)
    r = run('diagnose', '--answers', os.path.join(tmp, 'missing.json'), '--json')
    check(r.returncode == 1 and 'missing.json' in r.stderr, 'missing file: %r' % r.stderr)

    # A capture pre-decides: the simulated bit-rate mismatch confirms layer 1 without a question.
    cap = os.path.join(tmp, 'rate.log')
    run('simulate', '--fault', 'bitrate_mismatch', '--duration', '120', '-o', cap)
    j = json.loads(run('diagnose', '--capture', cap, '--json', stdin='').stdout)
    check(j['confirmed'] == 'bitrate_mismatch' and j['confirmed_by'] == 'l1.bitrate', 'capture decides: %r' % j['confirmed'])

    # Interactive: Deye with Lithium 00 and a Pylontech: the protocol passes. Bit rate: "3" picks
    # the third choice (500) for the inverter; "five hundred" for the BMS is refused; "b" goes back
    # to the inverter's rate, then 500, and Enter takes the BMS's default (500, Pylontech LV CAN's
    # rate in the knowledge base). DIP switches yes, Enter for one battery, save; the meter's setup
    # is asked before its reading: 1 (both devices connected), then 120 ohm.
    saved = os.path.join(tmp, 'session.json')
    # The BMS's protocol is not asked: the knowledge base knows what a US3000C sends.
    script = '\n'.join(['Deye SUN-5K-SG03LP1-EU', 'Pylontech US3000C', 'Lithium 00',
                        '3', 'five hundred', 'b', '500', '', 'yes', '', 's', '1', '120']) + '\n'
    r = run('diagnose', '--interactive', '--save', saved, stdin=script)
    check(r.returncode == 0, 'interactive exit: %d %s' % (r.returncode, r.stderr))
    check('CONFIRMED  termination_fault' in r.stdout, 'interactive reaches termination:\n' + r.stdout[-1500:])
    check('Protocol the BMS sends' not in r.stdout, 'the BMS protocol is taken from the knowledge base')
    check('expected one of 125, 250, 500, 1000' in r.stdout, 'a wrong choice is explained')
    check(r.stdout.count('CAN bit rate set in the inverter') == 2, 'back asks the inverter rate again')
    check('(Enter: 500)' in r.stdout and '(Enter: 1)' in r.stdout, 'defaults offered')
    check('saved to ' + saved in r.stdout, 'save on request')
    check(r.stdout.find('How is the meter connected') < r.stdout.find('Resistance between CAN-H and CAN-L') and
          r.stdout.find('How is the meter connected') >= 0, 'the setup is asked before the reading')
    s = json.load(open(saved))
    check(s['answers'].get('termination_ohms') == 120 and s['answers'].get('termination_setup') == 'all_connected' and s['inverter_model'] == 'Deye SUN-5K-SG03LP1-EU' and
          s['answers'].get('inverter_bitrate_kbps') == 500 and s['answers'].get('bms_bitrate_kbps') == 500 and
          s['answers'].get('battery_count') == 1, 'saved answers: %r' % s)
    # Resume: the saved file answers everything up to termination; the result is the same.
    j = json.loads(run('diagnose', '--answers', saved, '--json').stdout)
    check(j['confirmed'] == 'termination_fault', 'resumed: %r' % j['confirmed'])

    # Quitting part way leaves no verdict and exit 0.
    script = '\n'.join(['', '', 'Pylontech CAN', 'Pylontech CAN', '500', '500', 'yes', '1', '60', 'q']) + '\n'
    r = run('diagnose', '--interactive', stdin=script)
    check('CONFIRMED' not in r.stdout and r.returncode == 0, 'quit part way:\n' + r.stdout[-800:])

# devices: a lookup names the menu value.
r = run('devices', 'Deye SUN-5K-SG03LP1-EU')
check(r.returncode == 0 and 'Lithium 00' in r.stdout and 'Pylontech LV CAN' in r.stdout, 'devices Deye: ' + r.stdout)
j = json.loads(run('devices', '--json').stdout)
check(len(j['inverters']) >= 20 and len(j['batteries']) >= 20 and len(j['protocols']) >= 20, 'devices --json sizes')
check(run('devices', 'Nonexistent Brand 9000').returncode == 1, 'unknown device: exit 1')

# hardcode: the field guide's numbers, JSON, refusal.
r = run('hardcode', '--cells', '16', '--capacity-ah', '200', '--json')
j = json.loads(r.stdout)
check(j['settings']['charge_voltage_v'] == 54.4 and j['settings']['cutoff_voltage_v'] == 48.0 and
      j['settings']['charge_current_a'] == [60, 100], 'hardcode numbers: %r' % j['settings'])
r = run('hardcode', '--cells', '16', '--capacity-ah', '100', '--kwh', '25')
check('NOT ACCEPTABLE' in r.stdout and '20 kWh' in r.stdout, 'large system refused: ' + r.stdout)
r = run('hardcode', '--chemistry', 'nmc', '--capacity-ah', '100')
check(r.returncode == 1 and 'LFP only' in r.stderr, 'other chemistry refused: %r' % r.stderr)
check(run('hardcode', '--cells', '16', '--capacity-ah', '100', '--soc-window', 'most').returncode == 2,
      'bad --soc-window: usage')

# Issue 17: the cells in series come from the battery or the technician, never a default. A
# Pylontech US3000C is 15 cells (maker's range 44.5-53.5 V): 3.40 V x 15 = 51.0 V, 3.00 V x 15 =
# 45.0 V. Without either option: exit 2 naming both.
r = run('hardcode', '--capacity-ah', '74')
check(r.returncode == 2 and '--battery' in r.stderr and '--cells' in r.stderr, 'no cells: %d %r' % (r.returncode, r.stderr))
r = run('hardcode', '--battery', 'Pylontech US3000C', '--capacity-ah', '74', '--json')
check(r.returncode == 0, 'hardcode --battery: %r' % r.stderr)
j = json.loads(r.stdout or '{}')
check(j.get('pack', {}).get('cells_series') == 15 and j['settings']['charge_voltage_v'] <= 53.5 and
      j['settings']['cutoff_voltage_v'] >= 44.5 and j['settings']['charge_voltage_v'] == 51.0 and
      j['settings']['cutoff_voltage_v'] == 45.0, 'US3000C: %r' % j)
r = run('hardcode', '--battery', 'Pylontech US3000C', '--cells', '16', '--capacity-ah', '74')
check(r.returncode == 2 and '15' in r.stderr, 'cells disagreeing with the battery: %r' % r.stderr)
r = run('hardcode', '--battery', 'Acme Nonesuch 9', '--capacity-ah', '74')
check(r.returncode == 2 and '--cells' in r.stderr, 'unknown battery: %r' % r.stderr)

# A Voltronic/MPP inverter reads a Pylontech over RS485: said before any check, the CAN-only
# checks skipped.
with tempfile.TemporaryDirectory() as tmp:
    f = os.path.join(tmp, 'axpert.json')
    with open(f, 'w') as fh:
        json.dump({'answers': {}, 'inverter_model': 'MPP Solar Axpert King', 'bms_model': 'Pylontech US3000C'}, fh)
    r = run('diagnose', '--answers', f)
    first = r.stdout.lstrip().splitlines()[0] if r.stdout.strip() else ''
    check(first.startswith('LINK  RS485') and r.stdout.find('RS485') < r.stdout.find('layer 1'),
          'RS485 said first:\n' + r.stdout[:600])
    j = json.loads(run('diagnose', '--answers', f, '--json').stdout)
    check(j['link'] and j['link']['bus'] == 'rs485', 'link in JSON: %r' % j.get('link'))
    skipped = {v['check'] for v in j['verdicts'] if v['verdict'] == 'skipped' and v['reason'] == 'not for an RS485 link'}
    check({'l1.bitrate', 'l5.ack', 'l5.capture_analysis'} <= skipped, 'CAN checks skipped: %r' % skipped)

# The ten pairings of issue 17: each inverter answers with a menu value, its port and bus.
for model, words in [('Fronius Symo GEN24 Plus', ['BYD Premium HVS/M', 'RS485']),
                     ('SMA Sunny Tripower Smart Energy', ['BYD Battery-Box Premium HVS', 'CAN', 'terminates by itself']),
                     ('SMA Sunny Boy Storage', ['CAN port', '500 kbit/s']),
                     ('SolarEdge StorEdge', ['LG Chem RESU', 'RS485']),
                     ('Kostal Plenticore plus', ['BYD', 'RS485 port: X601 pins A 5 B 4']),
                     ('GoodWe ET', ['Lynx Home F', 'Pylontech Force H2', '500 kbit/s']),
                     ('Solax X3 Hybrid G4', ['Solax Triple Power', 'pins H 4 L 5', 'terminates by itself']),
                     ('Sungrow SH-RT', ['Sungrow SBRxxx', '250']),
                     ('EG4 18kPV', ['Lithium 6', 'CAN']),
                     ('EG4 FlexBOSS21', ['Lithium 6']),
                     ('Sol-Ark 15K', ['04', 'Fortress Power Modbus (RS485)', 'RS485 port']),
                     ('Victron Cerbo GX', ['CAN-bus BMS LV (500 kbit/s)', 'pins H 7 L 8 GND 3', 'does not terminate'])]:
    r = run('devices', model)
    check(r.returncode == 0 and all(w in r.stdout for w in words), 'devices %s:\n%s' % (model, r.stdout[:1500]))
for model, words in [('BYD Battery-Box Premium HVS', ['BYD', 'also sends']), ('LG RESU 10H', ['RESU']),
                     ('Pylontech Force H2', ['Pylontech HV']), ('GoodWe Lynx Home F', ['Lynx']),
                     ('Solax T-BAT H 5.8', ['Solax']), ('Sungrow SBR096', ['250 kbit/s']),
                     ('Fortress eFlex 5.4', ['Fortress']), ('Pytes E-Box 48100R', ['pins H 3 L 4 GND 2']),
                     ('Pylontech US3000C', ['pack: 15 cells in series'])]:
    r = run('devices', model)
    check(r.returncode == 0 and all(w in r.stdout for w in words), 'devices %s:\n%s' % (model, r.stdout[:1500]))

if failures:
    print('guided cli: %d failure(s)' % len(failures))
    for f in failures:
        print('  ' + f)
    sys.exit(1)
print('guided cli: all checks passed')

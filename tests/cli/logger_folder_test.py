"""A logger's folder as one capture: `analyze DIR` on a CANedge-style SD card of split MF4 files
gives the findings the same frames give as one candump log, and time no file covers is named,
not blamed on the battery.

The site is simulated (`bmslink simulate`), cut into pieces at line boundaries, and each piece
written as MF4 by `bmslink convert --to mf4` into LOG/<device>/<session>/<split>.MF4.
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'oracle'))
import common  # noqa: E402


def analyze(bmslink, *paths):
    res = subprocess.run([bmslink, 'analyze', '--json', '--tz', 'UTC', *paths], capture_output=True, text=True)
    if res.returncode not in (0, 3):
        raise SystemExit('analyze %s failed (%d): %s' % (paths, res.returncode, res.stderr))
    return json.loads(res.stdout)


def text(bmslink, *paths):
    return subprocess.run([bmslink, 'analyze', '--tz', 'UTC', *paths], capture_output=True, text=True).stdout


def causes(report):
    return sorted((f['cause'], f['severity'], f['layer']) for f in report['findings'])


def write_pieces(bmslink, lines, work, name, pieces):
    """pieces: [(session, split, first_line, end_line)]; returns the LOG folder."""
    root = os.path.join(work, name)
    shutil.rmtree(root, ignore_errors=True)
    for session, split, a, b in pieces:
        folder = os.path.join(root, 'LOG', 'B1A7F00D', '%08d' % session)
        os.makedirs(folder, exist_ok=True)
        part = os.path.join(work, 'part.log')
        with open(part, 'w') as f:
            f.writelines(lines[a:b])
        common.run([bmslink, 'convert', part, '--to', 'mf4', '-o', os.path.join(folder, '%08d.MF4' % split)])
    # A logger's card also holds its configuration: not a capture, left out.
    with open(os.path.join(root, 'config-01.07.json'), 'w') as f:
        f.write('{"general": {"device": {"meta": "site"}}}\n')
    return root


def main():
    bmslink, work = sys.argv[1], common.workdir(sys.argv[2])
    f = common.Failures('cli.logger_folder')
    # A private temporary folder, so the check that unpacked zips are removed sees only ours.
    os.environ['TMPDIR'] = common.workdir(os.path.join(work, 'tmp'))

    # 1. Split without losing time: the same findings, the same uptime.
    site = os.path.join(work, 'dropouts.log')
    common.run([bmslink, 'simulate', '--fault', 'intermittent_dropouts', '--duration', '1800', '-o', site])
    lines = open(site).read().splitlines(keepends=True)
    n = len(lines)
    card = write_pieces(bmslink, lines, work, 'card', [(1, 1, 0, n // 3), (1, 2, n // 3, 2 * n // 3),
                                                        (1, 3, 2 * n // 3, n)])
    one = analyze(bmslink, site)
    folder = analyze(bmslink, card)
    ev_one, ev_folder = one['summary'], folder['summary']
    f.check(causes(one) == causes(folder), 'findings differ: %s vs %s' % (causes(one), causes(folder)))
    for key in ('frames', 'bms_frames', 'inverter_frames'):
        f.check(ev_one.get(key) == ev_folder.get(key), '%s: %s vs %s' % (key, ev_one.get(key), ev_folder.get(key)))
    f.check(ev_one['uptime'] == ev_folder['uptime'], 'uptime: %s vs %s' % (ev_one['uptime'], ev_folder['uptime']))
    f.check(ev_one['uptime']['dropouts'] > 0, 'the simulated site has dropouts: %s' % ev_one['uptime'])
    f.check(ev_folder['file_gaps'] == [], 'splits back to back leave no time between files: %s'
            % ev_folder['file_gaps'])

    # 2. The logger off for 10 minutes (a new session folder after): a healthy battery.
    healthy = os.path.join(work, 'healthy.log')
    common.run([bmslink, 'simulate', '--duration', '1800', '-o', healthy])
    lines = open(healthy).read().splitlines(keepends=True)
    t = [float(x[1:x.index(')')]) for x in lines]
    off_from = next(i for i, x in enumerate(t) if x - t[0] >= 600)
    off_to = next(i for i, x in enumerate(t) if x - t[0] >= 1200)
    holed = os.path.join(work, 'holed.log')
    with open(holed, 'w') as out:
        out.writelines(lines[:off_from] + lines[off_to:])
    card2 = write_pieces(bmslink, lines, work, 'card2', [(7, 1, 0, off_from), (8, 1, off_to, len(lines))])
    as_log = analyze(bmslink, holed)
    as_card = analyze(bmslink, card2)
    ev_log = as_log['summary']
    ev_card = as_card['summary']
    f.check(ev_log['uptime']['dropouts'] == 1,
            'one log with a 10-minute hole: the hole is a dropout (%s)' % ev_log['uptime'])
    f.check(ev_card['uptime']['dropouts'] == 0,
            'the card: the logger was off, no dropout (%s)' % ev_card['uptime'])
    # The BMS repeats its set every second: the longest silence the logger saw is about that.
    f.check(0.5 < ev_card['uptime']['longest_outage_s'] < 3,
            'longest silence on the card: %s' % ev_card['uptime']['longest_outage_s'])
    gaps = ev_card['file_gaps']
    f.check(len(gaps) == 1 and not gaps[0]['recorded'] and 590 < gaps[0]['length_s'] < 610,
            'one gap of about 600 s, not recorded: %s' % gaps)
    f.check('intermittent_dropouts' not in [c for c, _, _ in causes(as_card)],
            'no dropout finding on the card: %s' % causes(as_card))
    f.check(ev_card['uptime']['seconds'] < ev_log['uptime']['seconds'] - 590,
            'the unrecorded seconds are not counted: %s vs %s' % (ev_card['uptime']['seconds'], ev_log['uptime']['seconds']))
    out = text(bmslink, card2)
    f.check('not recorded, not counted as a BMS dropout' in out and '00000007' in out and '00000008' in out,
            'the text names the gap and the files: %s' % out[:2000])
    # --as-one over the two files gives the same as the folder; without it, two captures.
    files = [os.path.join(card2, 'LOG', 'B1A7F00D', '%08d' % s, '00000001.MF4') for s in (8, 7)]
    res = subprocess.run([bmslink, 'analyze', '--json', '--as-one', *files], capture_output=True, text=True)
    joined = json.loads(res.stdout)
    ev_joined = joined['summary']
    f.check(ev_joined['uptime'] == ev_card['uptime'], '--as-one in any order: %s' % ev_joined['uptime'])
    # 3. The bus silent for 20 s at a split of one session: the logger ran, so the silence is the
    # bus's own and stays a dropout, exactly as in one log with the same hole.
    q_from = next(i for i, x in enumerate(t) if x - t[0] >= 300)
    q_to = next(i for i, x in enumerate(t) if x - t[0] >= 320)
    quiet_log = os.path.join(work, 'quiet.log')
    with open(quiet_log, 'w') as out:
        out.writelines(lines[:q_from] + lines[q_to:])
    card3 = write_pieces(bmslink, lines, work, 'card3', [(3, 1, 0, q_from), (3, 2, q_to, len(lines))])
    one3 = analyze(bmslink, quiet_log)['summary']
    folder3 = analyze(bmslink, card3)['summary']
    f.check(one3['uptime']['dropouts'] == 1 and folder3['uptime'] == one3['uptime'],
            'a silence between splits of one session is a dropout as in one log: %s vs %s'
            % (folder3['uptime'], one3['uptime']))
    g3 = folder3['file_gaps']
    f.check(len(g3) == 1 and g3[0]['recorded'] and 19 < g3[0]['length_s'] < 21,
            'named, and marked as recorded: %s' % g3)
    # The card as a zip (what the web console takes): the same, gaps named inside the zip.
    zipped = os.path.join(work, 'card2.zip')
    if os.path.exists(zipped):
        os.remove(zipped)
    shutil.make_archive(zipped[:-4], 'zip', card2)
    as_zip = analyze(bmslink, zipped)['summary']
    f.check(as_zip['uptime'] == ev_card['uptime'], 'zip uptime: %s' % as_zip['uptime'])
    f.check([g['before'] for g in as_zip['file_gaps']] == ['LOG/B1A7F00D/00000007/00000001.MF4'],
            'zip gaps name the files inside it: %s' % as_zip['file_gaps'])
    left = [d for d in os.listdir(os.environ['TMPDIR']) if d.startswith('bmslink-zip-')]
    f.check(not left, 'the unpacked folder is removed: %s' % left)
    # The web console takes the zip as an upload: the same analysis, no server path in it.
    home = common.workdir(os.path.join(work, 'home'))
    port = common.free_port()
    server = subprocess.Popen([bmslink, 'serve', '--port', str(port)], env=dict(os.environ, HOME=home),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        common.wait_port(port)
        with open(zipped, 'rb') as body:
            req = urllib.request.Request('http://127.0.0.1:%d/api/analyze?name=card2.zip' % port, data=body.read(),
                                         method='POST')
        with urllib.request.urlopen(req, timeout=120) as res:
            uploaded = json.loads(res.read())
        f.check(uploaded['summary']['uptime'] == ev_card['uptime'], 'upload uptime: %s' % uploaded['summary']['uptime'])
        f.check(uploaded['summary']['file_gaps'] == as_zip['file_gaps'], 'upload gaps: %s' % uploaded['summary']['file_gaps'])
        f.check(home not in json.dumps(uploaded), 'no server path in the answer')
    finally:
        server.terminate()
        server.wait(timeout=30)
    # frames and convert read the folder in time order too.
    frames = common.bmslink_frames(bmslink, card2)
    f.check(len(frames) == len(lines) - (off_to - off_from), 'frames of the card: %d' % len(frames))
    f.check(all(a['t'] <= b['t'] for a, b in zip(frames, frames[1:])), 'frames in time order')
    f.finish()


if __name__ == '__main__':
    main()

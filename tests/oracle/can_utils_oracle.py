"""can-utils (Debian can-utils) as an independent oracle.

  1. log2asc turns our fixture candump log into ASC; bmslink must read that ASC as the same frames.
  2. bmslink writes ASC; asc2log must turn it back into the same frames.
  3. bmslink's candump writer reproduces a candump log byte for byte.
Known can-utils 2020.11 losses, accounted for rather than hidden: log2asc writes every error
frame as a bare "ErrorFrame" and its date line only to the second (offsets count from the first
frame), asc2log restarts absolute time from the wall clock. So times compare relative to the first
frame and error frames compare as "an error frame happened".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import fixtures  # noqa: E402


def compare(f, name, ours, ref):
    f.check(len(ours) == len(ref), '%s: %d frames vs %d' % (name, len(ours), len(ref)))
    t0a = ours[0]['t'] if ours else 0
    t0b = ref[0]['t'] if ref else 0
    for i, (a, b) in enumerate(zip(ours, ref)):
        where = '%s frame %d' % (name, i)
        f.check(abs((a['t'] - t0a) - (b['t'] - t0b)) < 2e-6, '%s: relative time' % where)
        f.check(a['err'] == b['err'], '%s: err %s vs %s' % (where, a['err'], b['err']))
        if a['err']:
            continue
        for key in ('id', 'ext', 'rtr', 'fd', 'len', 'data'):
            f.check(a[key] == b[key], '%s: %s %r vs %r' % (where, key, a[key], b[key]))
        if a['fd']:
            f.check(a['brs'] == b['brs'], '%s: brs' % where)


def main():
    bmslink, work = sys.argv[1], common.workdir(sys.argv[2])
    f = common.Failures('oracle.can_utils')
    frs = fixtures.frames(120)
    log = os.path.join(work, 'fixture.log')
    fixtures.write_candump(log, frs)
    original = common.bmslink_frames(bmslink, log)
    f.check(len(original) == len(frs), 'fixture: read %d of %d frames' % (len(original), len(frs)))

    ref_asc = os.path.join(work, 'log2asc.asc')
    common.run(['log2asc', '-I', log, '-O', ref_asc, 'can0'])
    compare(f, 'log2asc output read by bmslink', common.bmslink_frames(bmslink, ref_asc), original)

    ours_asc = os.path.join(work, 'bmslink.asc')
    common.run([bmslink, 'convert', log, '--to', 'asc', '-o', ours_asc])
    back = os.path.join(work, 'asc2log.log')
    common.run(['asc2log', '-I', ours_asc, '-O', back], env=dict(os.environ, LC_ALL='C'))
    compare(f, 'bmslink ASC through asc2log', common.bmslink_frames(bmslink, back), original)

    again = os.path.join(work, 'again.log')
    common.run([bmslink, 'convert', log, '--to', 'candump', '-o', again])
    with open(log) as a, open(again) as b:
        f.check(a.read() == b.read(), 'candump writer does not reproduce the candump log byte for byte')
    f.finish()


if __name__ == '__main__':
    main()

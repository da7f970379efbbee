"""tshark (Debian tshark, Wireshark's SocketCAN dissector) as an independent pcap/pcapng reader.

The fixture is written as pcap (LINKTYPE_CAN_SOCKETCAN) and converted to pcapng by editcap;
bmslink and tshark must agree on every frame of both: time, id, 29-bit flag, RTR, error class,
length and payload.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import fixtures  # noqa: E402

FIELDS = ['frame.time_epoch', 'can.id', 'can.flags.xtd', 'can.flags.rtr', 'can.flags.err', 'can.len',
          'data.data', 'can.err.ack', 'can.err.busoff', 'can.err.ctrl', 'can.err.prot', 'canfd.flags.brs']


def tshark_rows(path):
    cmd = ['tshark', '-r', path, '-T', 'fields', '-E', 'occurrence=f']
    for field in FIELDS:
        cmd += ['-e', field]
    out = common.run(cmd).stdout
    return [dict(zip(FIELDS, line.split('\t'))) for line in out.splitlines()]


def flag(v):
    return v in ('1', 'True', 'true')


def compare(f, name, ours, rows):
    f.check(len(ours) == len(rows), '%s: bmslink %d frames, tshark %d' % (name, len(ours), len(rows)))
    for i, (a, b) in enumerate(zip(ours, rows)):
        where = '%s frame %d' % (name, i)
        f.check(abs(a['t'] - float(b['frame.time_epoch'])) < 1e-6, '%s: time' % where)
        f.check(a['err'] == flag(b['can.flags.err']), '%s: err' % where)
        if a['err']:
            kinds = set(a.get('error', []))
            f.check(('no-ack' in kinds) == flag(b['can.err.ack']), '%s: no-ack' % where)
            f.check(('bus-off' in kinds) == flag(b['can.err.busoff']), '%s: bus-off' % where)
            f.check(any(k.startswith('protocol-violation') for k in kinds) == flag(b['can.err.prot']),
                    '%s: protocol violation' % where)
            # The error class bits ride in the id: controller problems are class 0x004.
            f.check(bool(int(a['id'], 16) & 0x004) == flag(b['can.err.ctrl']),
                    '%s: controller-problem class %s vs %s' % (where, a['id'], b['can.err.ctrl']))
            ctrl_words = {'rx-passive', 'tx-passive', 'rx-warning', 'tx-warning', 'back-to-active',
                          'rx-overflow', 'tx-overflow'}
            if kinds & ctrl_words:
                f.check(flag(b['can.err.ctrl']), '%s: controller state without the class' % where)
            continue
        f.check(common.id_int(a) == int(b['can.id']), '%s: id %s vs %s' % (where, a['id'], b['can.id']))
        f.check(a['ext'] == flag(b['can.flags.xtd']), '%s: ext' % where)
        if not a['fd']:
            f.check(a['rtr'] == flag(b['can.flags.rtr']), '%s: rtr' % where)
        else:
            f.check(a['brs'] == flag(b['canfd.flags.brs']), '%s: brs' % where)
        f.check(a['len'] == int(b['can.len']), '%s: len %d vs %s' % (where, a['len'], b['can.len']))
        if not a['rtr']:
            f.check(common.data_hex(a) == b['data.data'].upper(), '%s: data %s vs %s' % (where, a['data'], b['data.data']))


def main():
    bmslink, work = sys.argv[1], common.workdir(sys.argv[2])
    f = common.Failures('oracle.tshark')
    frs = fixtures.frames(120)
    pcap = os.path.join(work, 'fixture.pcap')
    fixtures.write_pcap(pcap, frs)
    pcapng = os.path.join(work, 'fixture.pcapng')
    common.run(['editcap', '-F', 'pcapng', pcap, pcapng])
    for path in (pcap, pcapng):
        ours = common.bmslink_frames(bmslink, path)
        f.check(len(ours) == len(frs), '%s: %d of %d frames' % (path, len(ours), len(frs)))
        compare(f, os.path.basename(path), ours, tshark_rows(path))
    f.finish()


if __name__ == '__main__':
    main()

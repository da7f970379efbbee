"""Deterministic fixture captures for the oracle tests (standard library only).

A battery session as a BMS and an inverter would produce it, plus every frame kind the readers
must keep apart: 29-bit ids, remote frames, SocketCAN error frames of several classes (including
controller-only ones, which python-can 4.1 misreads), CAN FD with and without BRS.
"""
import random
import struct

CAN_EFF_FLAG = 0x80000000
CAN_RTR_FLAG = 0x40000000
CAN_ERR_FLAG = 0x20000000

ERROR_FRAMES = [
    (CAN_ERR_FLAG | 0x0A0, bytes(8)),                              # no ACK + bus error
    (CAN_ERR_FLAG | 0x088, bytes([0, 0, 0x04, 0x0A, 0, 0, 0, 0])), # stuff error in data field
    (CAN_ERR_FLAG | 0x004, bytes([0, 0x04, 0, 0, 0, 0, 0, 0x60])), # controller: rx warning
    (CAN_ERR_FLAG | 0x040, bytes(8)),                              # bus off
]


def frames(seconds=60, fd=True, errors=True, seed=2026, start=1764000000.0):
    """[(t_us, can_id_with_flags, data, fd_flags or None)] in time order."""
    rng = random.Random(seed)
    out = []
    t0 = int(start * 1_000_000)
    soc = 70
    for sec in range(seconds):
        base = t0 + sec * 1_000_000 + 120_000
        soc -= 1 if rng.random() < 0.1 else 0
        volt = 5200 + rng.randint(-30, 30)
        cur = rng.randint(-400, 100) & 0xFFFF
        burst = [
            (0x359, bytes([0, 0, 0, 0, 4, 0x50, 0x4E])),
            (0x351, struct.pack('<HhhH', 532, 1000, 1000, 480)),
            (0x355, struct.pack('<HH', soc, 99)),
            (0x356, struct.pack('<HHh', volt, cur, 250)),
            (0x35C, bytes([0xC0, 0x00])),
            (0x35E, b'PYLON   '),
        ]
        for i, (cid, data) in enumerate(burst):
            out.append((base + i * 300 + rng.randint(0, 40), cid, data, None))
        out.append((t0 + sec * 1_000_000 + 620_000 + rng.randint(-5000, 5000), 0x305, bytes(8), None))
        # 29-bit J1939-style traffic and a remote request now and then.
        out.append((t0 + sec * 1_000_000 + 300_000, CAN_EFF_FLAG | 0x18FF50E5,
                    bytes(rng.randrange(256) for _ in range(rng.randint(0, 8))), None))
        if sec % 7 == 3:
            out.append((t0 + sec * 1_000_000 + 400_000, CAN_RTR_FLAG | 0x35F, b'', None))
        if fd and sec % 5 == 1:
            n = rng.choice([12, 16, 24, 32, 48, 64])
            out.append((t0 + sec * 1_000_000 + 450_000, 0x3A0,
                        bytes(rng.randrange(256) for _ in range(n)), rng.choice([0, 1])))
        if errors and sec % 4 == 2:
            cid, data = ERROR_FRAMES[(sec // 4) % len(ERROR_FRAMES)]
            out.append((t0 + sec * 1_000_000 + 500_000, cid, data, None))
    out.sort(key=lambda f: f[0])
    return out


def candump_line(t_us, cid, data, fd_flags, iface='can0'):
    if cid & CAN_ERR_FLAG or cid & CAN_EFF_FLAG:
        ident = '%08X' % (cid & ~(CAN_EFF_FLAG | CAN_RTR_FLAG))
    else:
        ident = '%03X' % (cid & 0x7FF)
    if cid & CAN_RTR_FLAG:
        body = 'R'
    elif fd_flags is not None:
        body = '#%X%s' % (fd_flags, data.hex().upper())
    else:
        body = data.hex().upper()
    return '(%d.%06d) %s %s#%s' % (t_us // 1_000_000, t_us % 1_000_000, iface, ident, body)


def write_candump(path, frs):
    with open(path, 'w') as f:
        for fr in frs:
            f.write(candump_line(*fr) + '\n')


def write_pcap(path, frs):
    """LINKTYPE_CAN_SOCKETCAN (227), microsecond pcap, CAN id in network byte order."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535, 227))
        for t_us, cid, data, fd_flags in frs:
            if fd_flags is not None:
                body = struct.pack('>IBBBB', cid, len(data), 0x04 | fd_flags, 0, 0) + data.ljust(64, b'\0')
            else:
                dlen = len(data)
                body = struct.pack('>IBBBB', cid, dlen, 0, 0, 0) + data.ljust(8, b'\0')
            f.write(struct.pack('<IIII', t_us // 1_000_000, t_us % 1_000_000, len(body), len(body)))
            f.write(body)


def write_trc_v1(path, frs, version):
    """PEAK TRC 1.0 or 1.1 data rows (classic frames only), times in ms from the first frame."""
    t0 = frs[0][0]
    with open(path, 'w') as f:
        if version == '1.1':
            f.write(';$FILEVERSION=1.1\n;$STARTTIME=45244.9259259259\n')
        f.write(';   written by bmslink tests/oracle/fixtures.py\n;---+--   ----+----  --+--  ----+---  +  -+ --\n')
        n = 0
        for t_us, cid, data, fd_flags in frs:
            if fd_flags is not None or cid & (CAN_ERR_FLAG | CAN_RTR_FLAG):
                continue
            n += 1
            ident = '%08X' % (cid & 0x1FFFFFFF) if cid & CAN_EFF_FLAG else '%04X' % cid
            ms = '%.1f' % ((t_us - t0) / 1000.0)
            kind = '  Rx      ' if version == '1.1' else ''
            f.write('%6d) %11s%s  %s  %d  %s\n' % (n, ms, kind, ident, len(data),
                                                  ' '.join('%02X' % b for b in data)))

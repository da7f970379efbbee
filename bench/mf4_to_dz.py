"""Re-packs an MF4 written by `bmslink convert --to mf4` (one DT block, last in the file) as a DL
list of 4 MiB DZ (deflate) blocks, the way asammdf stores compressed data. For the benchmark only.
usage: mf4_to_dz.py IN.mf4 OUT.mf4
"""
import struct
import sys
import zlib

CHUNK = 4 << 20


def block(ident, links, data):
    b = ident + b'\0' * 4 + struct.pack('<QQ', 24 + 8 * len(links) + len(data), len(links))
    b += b''.join(struct.pack('<Q', x) for x in links) + data
    return b + b'\0' * (-len(b) % 8)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, 'rb') as f:
        head = f.read(1 << 20)
        dg = struct.unpack_from('<Q', head, 64 + 24)[0]
        dt = struct.unpack_from('<Q', head, dg + 24 + 16)[0]
        f.seek(0)
        prefix = bytearray(f.read(dt))
        assert f.read(4) == b'##DT', 'expected the DT last, as bmslink writes it'
        length = struct.unpack('<4xQ8x', f.read(20))[0]
        data_left = length - 24
        out = open(dst, 'wb')
        out.write(prefix)
        pos = len(prefix)
        chunks = []
        offsets = []
        done = 0
        while data_left > 0:
            raw = f.read(min(CHUNK, data_left))
            data_left -= len(raw)
            offsets.append(done)
            done += len(raw)
            packed = zlib.compress(raw, 6)
            dz = block(b'##DZ', [], b'DT' + struct.pack('<BxIQQ', 0, 0, len(raw), len(packed)) + packed)
            chunks.append(pos)
            out.write(dz)
            pos += len(dz)
        dl_data = struct.pack('<B3xI', 0, len(chunks)) + b''.join(struct.pack('<Q', o) for o in offsets)
        dl = block(b'##DL', [0] + chunks, dl_data)
        out.write(dl)
        out.seek(dg + 24 + 16)
        out.write(struct.pack('<Q', pos))
        out.close()


if __name__ == '__main__':
    main()

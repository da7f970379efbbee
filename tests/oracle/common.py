"""Shared helpers for the oracle tests: run bmslink, compare frame lists, report clearly."""
import json
import os
import socket
import subprocess
import sys
import time


class Failures:
    def __init__(self, name):
        self.name = name
        self.items = []
        self.checks = 0

    def check(self, ok, message):
        self.checks += 1
        if not ok:
            self.items.append(message)

    def finish(self):
        if self.items:
            print('%s: %d of %d checks failed' % (self.name, len(self.items), self.checks))
            for m in self.items[:40]:
                print('  ' + m)
            sys.exit(1)
        print('%s: %d checks passed' % (self.name, self.checks))


def bmslink_frames(bmslink, path, *extra):
    out = subprocess.run([bmslink, 'frames', path, '--json', *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit('bmslink frames %s failed (%d): %s' % (path, out.returncode, out.stderr))
    return [json.loads(line) for line in out.stdout.splitlines()]


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit('%s failed (%d): %s' % (' '.join(cmd), res.returncode, res.stderr))
    return res


def workdir(path):
    os.makedirs(path, exist_ok=True)
    return path


def data_hex(frame):
    return frame['data'].upper()


def id_int(frame):
    return int(frame['id'], 16)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, what='the server'):
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('%s did not listen on %d' % (what, port))

"""`make run` as a newcomer meets it, minus the build: the serve command line is taken from the
Makefile itself (make -n), so the test follows the recipe. With an empty data directory
(XDG_DATA_HOME pointed at a fresh one) the first start must create the embedded SQLite file,
load the demo case with the bundled sample, print the console's URL and serve the app and the
API from it; a second start on the same data must not load the demo again; SIGINT stops it
with exit code 0.

Expected values come from the files, not from bmslink: the sample's SHA-256 is computed here.
"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BMSLINK, SRC = sys.argv[1], sys.argv[2]
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def recipe(port):
    # Run under `make test`, the parent make's flags (its jobserver) must not reach this one.
    env = {k: v for k, v in os.environ.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}
    out = subprocess.run(['make', '-s', '-n', '-C', SRC, 'run', 'PORT=%d' % port], env=env,
                         capture_output=True, text=True, check=True).stdout
    lines = [l for l in out.splitlines() if ' serve ' in l]
    if len(lines) != 1:
        raise RuntimeError('make -n run: no single serve line in\n' + out)
    words = lines[0].split()
    if not words[0].endswith('bmslink'):
        raise RuntimeError('make run does not start bmslink: ' + lines[0])
    return [BMSLINK] + words[1:]


def start(port, env):
    p = subprocess.Popen(recipe(port), cwd=SRC, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip('\n'))
        if 'web console:' in line:
            return p, lines
    p.kill()
    raise RuntimeError('no URL printed: %s %s' % (lines, p.stderr.read()))


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get('Content-Type', ''), r.read()


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        return p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        return None


with tempfile.TemporaryDirectory() as data:
    env = dict(os.environ, XDG_DATA_HOME=data)
    sample = os.path.join(SRC, 'data', 'samples', 'pylontech_session.log')
    sample_sha = hashlib.sha256(open(sample, 'rb').read()).hexdigest()

    port = free_port()
    p, lines = start(port, env)
    try:
        url = 'http://127.0.0.1:%d/' % port
        check(any('loaded a demo case with 1 bundled sample' in l for l in lines),
              'first start loads the demo case: %s' % lines)
        check(any(url in l for l in lines), 'the URL %s is printed: %s' % (url, lines))
        status, kind, body = get(url)
        check(status == 200 and 'text/html' in kind and b'<script' in body,
              'the app is served at %s (%d %s)' % (url, status, kind))
        # Every asset the page names is served from the binary (no CDN).
        html = body.decode('utf8', 'replace')
        for ref in [x.split('"')[0] for x in html.split('src="')[1:] + html.split('href="')[1:]]:
            if ref.startswith('http'):
                check(False, 'the page loads %s from the network' % ref)
            elif ref.startswith('/'):
                check(get(url.rstrip('/') + ref)[0] == 200, 'asset %s is served' % ref)
        _, _, cases = get(url + 'api/cases')
        cases = json.loads(cases)
        cases = cases.get('cases', cases) if isinstance(cases, dict) else cases
        check(len(cases) == 1, 'one demo case: %s' % cases)
        _, _, case = get(url + 'api/cases/demo-termination')
        case = json.loads(case)
        caps = case.get('captures', [])
        check(len(caps) == 1 and caps[0].get('file') == 'pylontech_session.log' and
              caps[0].get('sha256') == sample_sha,
              'the demo case holds the bundled sample by its hash: %s' % caps)
        check(case.get('root_cause') == 'termination_fault' and case.get('layer') == 2,
              'the demo case is a layer-2 termination fault: %s' % case.get('root_cause'))
        status, kind, _ = get(url + 'api/cases/demo-termination/report?kind=customer')
        check(status == 200 and 'text/html' in kind, 'the demo case has a customer report')
        check(os.path.exists(os.path.join(data, 'bmslink', 'bmslink.db')),
              'the embedded SQLite file is in the user data directory: %s' % os.listdir(data))
    finally:
        rc = stop(p)
    check(rc == 0, 'SIGINT stops the console with exit code 0 (got %s)' % rc)

    port = free_port()
    p, lines = start(port, env)
    try:
        check(not any('loaded a demo case' in l for l in lines),
              'a second start does not load the demo again: %s' % lines)
        _, _, cases = get('http://127.0.0.1:%d/api/cases' % port)
        cases = json.loads(cases)
        cases = cases.get('cases', cases) if isinstance(cases, dict) else cases
        check(len(cases) == 1, 'still one case after a restart: %d' % len(cases))
    finally:
        stop(p)

for f in failures:
    print('FAIL:', f)
print('make run: %d failure(s)' % len(failures))
sys.exit(1 if failures else 0)

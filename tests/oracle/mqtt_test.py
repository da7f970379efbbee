"""`bmslink monitor --mqtt` against a real mosquitto broker on a free local port: Home Assistant
discovery, availability with a last will, states and alarms; the broker is stopped and started
again mid-run and the monitor comes back by itself with its link-health state intact (frame
counts go on, nothing old is replayed); a monitor killed with SIGKILL leaves "offline"."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BMSLINK = sys.argv[1]
MOSQUITTO = shutil.which('mosquitto') or '/usr/sbin/mosquitto'
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def broker(conf):
    p = subprocess.Popen([MOSQUITTO, '-c', conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return p
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('mosquitto did not start')


def subscriber(path):
    out = open(path, 'w')
    return subprocess.Popen(['mosquitto_sub', '-h', '127.0.0.1', '-p', str(port), '-v',
                             '-t', 'bmslink/#', '-t', 'homeassistant/#'], stdout=out,
                            stderr=subprocess.DEVNULL)


def messages(path):
    out = []
    for line in open(path):
        topic, _, payload = line.rstrip('\n').partition(' ')
        out.append((topic, payload))
    return out


with tempfile.TemporaryDirectory() as tmp:
    port = free_port()
    conf = os.path.join(tmp, 'mosquitto.conf')
    with open(conf, 'w') as f:
        f.write('listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n' % port)
    cap = os.path.join(tmp, 'site.log')
    t0 = 1780293600.0
    with open(cap, 'w') as f:
        for s in range(1500):  # 150 s at 10x: more than the longest wait below
            f.write('(%.6f) can0 351#2802E803E803E001\n' % (t0 + s))
            f.write('(%.6f) can0 355#34006200\n' % (t0 + s + 0.01))
            f.write('(%.6f) can0 356#4C14F6FFF000\n' % (t0 + s + 0.02))
            f.write('(%.6f) can0 305#0000000000000000\n' % (t0 + s + 0.5))
    b = broker(conf)
    sub1 = subscriber(os.path.join(tmp, 'sub1.txt'))
    time.sleep(0.5)
    mon = subprocess.Popen([BMSLINK, 'monitor', 'replay:%s@10' % cap, '--json', '--mqtt',
                            'mqtt://127.0.0.1:%d' % port, '--mqtt-id', 'test', '--interval', '2'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(6)
        # The broker goes away for four seconds, then comes back empty (no persistence).
        b.send_signal(signal.SIGTERM)
        b.wait(10)
        sub1.send_signal(signal.SIGTERM)  # it would reconnect by itself: the next one listens
        sub1.wait(10)
        time.sleep(4)
        b = broker(conf)
        sub2 = subscriber(os.path.join(tmp, 'sub2.txt'))
        # libmosquitto retries after 1, 5, 14... s: wait for the monitor to be back (online and
        # two states published), however long its back-off takes, up to a minute.
        deadline = time.time() + 60
        while time.time() < deadline:
            got = messages(os.path.join(tmp, 'sub2.txt'))
            if (('bmslink/test/availability', 'online') in got and
                    sum(t == 'bmslink/test/state' for t, _ in got) >= 2):
                break
            time.sleep(0.5)
        print('the monitor was back %.1f s after the broker' % (60 - (deadline - time.time())))
        check(mon.poll() is None, 'the monitor survives the broker restart: %s' % (mon.stderr.read() if mon.poll() is not None else ''))
        mon.kill()  # SIGKILL: the broker must publish the last will
        mon.wait(10)
        time.sleep(1.5)
        sub2.send_signal(signal.SIGTERM)
        sub2.wait(10)
    finally:
        for p in (mon, b):
            if p.poll() is None:
                p.kill()
    one = messages(os.path.join(tmp, 'sub1.txt'))
    two = messages(os.path.join(tmp, 'sub2.txt'))
    topics1 = {t for t, _ in one}
    check(('bmslink/test/availability', 'online') in one, 'online announced: %s' % sorted(topics1)[:8])
    check('homeassistant/binary_sensor/test_bms_set_complete/config' in topics1, 'binary sensor discovery')
    voltage = [p for t, p in one if t == 'homeassistant/sensor/test_pack_voltage/config']
    check(voltage and json.loads(voltage[0])['unit_of_measurement'] == 'V' and
          json.loads(voltage[0])['state_topic'] == 'bmslink/test/state' and
          json.loads(voltage[0])['device_class'] == 'voltage' and
          json.loads(voltage[0])['value_template'] == "{{ value_json['values'].get('pack_voltage') }}",
          'voltage sensor discovery: %s' % voltage[:1])
    states1 = [json.loads(p) for t, p in one if t == 'bmslink/test/state']
    states2 = [json.loads(p) for t, p in two if t == 'bmslink/test/state']
    check(len(states1) >= 2 and states1[-1]['health']['bms_set_complete'], 'states before the restart: %d' % len(states1))
    check(('bmslink/test/availability', 'online') in two, 'online again after the broker restart')
    check('homeassistant/sensor/test_pack_voltage/config' in {t for t, _ in two}, 'discovery sent again after the restart')
    check(len(states2) >= 2, 'states after the restart: %d' % len(states2))
    if states1 and states2:
        # Health kept counting through the outage; nothing from before it was replayed.
        check(states2[0]['health']['frames'] > states1[-1]['health']['frames'],
              'frame count goes on: %d then %d' % (states1[-1]['health']['frames'], states2[0]['health']['frames']))
        check(states2[0]['t'] > states1[-1]['t'] + 30, 'no stale state replayed after the reconnect')
    check(two and two[-1] == ('bmslink/test/availability', 'offline'), 'last will "offline" after SIGKILL: %s' % two[-1:])

if failures:
    print('mqtt: %d failure(s)' % len(failures))
    for f in failures:
        print('  ' + f)
    sys.exit(1)
print('mqtt: all checks passed')

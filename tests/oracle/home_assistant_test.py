"""Home Assistant reads bmslink's MQTT the way it would: a real mosquitto (plain, and with TLS and a
client certificate), `bmslink monitor --mqtt` on a replayed simulated site, then every retained
discovery config's value_template rendered with Jinja2 (a sandboxed environment, as HA renders
them) on the retained state. What HA would parse must come out: numbers for sensors with a
state_class, ON/OFF for binary sensors, an option of the enum for the bus state. No flag has a unit;
every quantity has its device_class; the link's health is a diagnostic entity."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from jinja2.sandbox import ImmutableSandboxedEnvironment

from common import Failures, free_port, wait_port

BMSLINK = sys.argv[1]
MOSQUITTO = shutil.which('mosquitto') or '/usr/sbin/mosquitto'
results = Failures('home assistant')
check = results.check


def openssl(*args):
    subprocess.run(['openssl'] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certificates(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    ca_key, ca = os.path.join(d, 'ca.key'), os.path.join(d, 'ca.pem')
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca_key, '-out', ca,
            '-days', '2', '-subj', '/CN=bmslink test CA')
    out = {'ca': ca}
    for name, ext in (('server', 'subjectAltName=IP:127.0.0.1'), ('client', 'extendedKeyUsage=clientAuth')):
        key, csr, pem = (os.path.join(d, name + x) for x in ('.key', '.csr', '.pem'))
        extfile = os.path.join(d, name + '.ext')
        with open(extfile, 'w') as f:
            f.write(ext + '\n')
        openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj',
                '/CN=' + ('127.0.0.1' if name == 'server' else 'bmslink'))
        openssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', ca_key, '-CAcreateserial',
                '-out', pem, '-days', '2', '-extfile', extfile)
        out[name] = (pem, key)
    # mosquitto started as root reads its files as the user "mosquitto".
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return out


def retained(port, tls=None):
    """Every retained message under the two prefixes: topic -> payload."""
    cmd = ['mosquitto_sub', '-h', '127.0.0.1', '-p', str(port), '-v', '-W', '3',
           '-t', 'homeassistant/#', '-t', 'bmslink/#', '--retained-only']
    if tls:
        cmd += ['--cafile', tls['ca'], '--cert', tls['client'][0], '--key', tls['client'][1]]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for line in r.stdout.splitlines():
        topic, _, payload = line.partition(' ')
        out[topic] = payload
    return out


ENV = ImmutableSandboxedEnvironment()


def render(template, state):
    return ENV.from_string(template).render(value_json=state).strip()


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def judge(label, messages, device):
    state_topic = 'bmslink/%s/state' % device
    check(state_topic in messages, '%s: a retained state on %s (%s)' % (label, state_topic, sorted(messages)[:5]))
    if state_topic not in messages:
        return
    state = json.loads(messages[state_topic])
    configs = {t: json.loads(p) for t, p in messages.items()
               if t.startswith('homeassistant/') and t.endswith('/config')}
    check(len(configs) >= 25, '%s: entities announced: %d' % (label, len(configs)))
    kinds = {'sensor': 0, 'binary_sensor': 0}
    for topic, c in configs.items():
        component = topic.split('/')[1]
        kinds[component] = kinds.get(component, 0) + 1
        name = c.get('name', '')
        check(name and '_' not in name and name[0].isupper(), '%s: a human name: %r' % (topic, name))
        check(c.get('unique_id') and c.get('object_id') == c['unique_id'] and
              c.get('default_entity_id') == component + '.' + c['unique_id'],
              '%s: stable ids' % topic)
        check(c.get('state_topic') == state_topic, '%s: state topic' % topic)
        value = render(c['value_template'], state)
        if component == 'binary_sensor':
            check(value in (c.get('payload_on', 'ON'), c.get('payload_off', 'OFF')),
                  '%s renders %r, not ON/OFF' % (topic, value))
            check('unit_of_measurement' not in c and 'state_class' not in c,
                  '%s: a flag with a unit or a state class' % topic)
            if name.startswith(('Alarm', 'Warning', 'Protection')):
                check(c.get('device_class') == 'problem', '%s: alarms are problems' % topic)
        elif c.get('device_class') == 'enum':
            check(value in c.get('options', []), '%s renders %r, not one of %s' % (topic, value, c.get('options')))
            check(c.get('entity_category') == 'diagnostic', '%s: link health is diagnostic' % topic)
        else:
            check(c.get('state_class') == 'measurement', '%s: no state_class' % topic)
            check(is_number(value), '%s renders %r, not a number' % (topic, value))
            unit = c.get('unit_of_measurement')
            expected = {'V': 'voltage', 'A': 'current', '°C': 'temperature'}.get(unit)
            if expected:
                check(c.get('device_class') == expected, '%s: %s without device_class %s' % (topic, unit, expected))
    check(kinds['sensor'] >= 8 and kinds['binary_sensor'] >= 10, '%s: sensors and binary sensors: %s' % (label, kinds))
    # The values themselves: what HA shows is what the state holds.
    by_id = {c['unique_id']: c for c in configs.values()}
    volts = by_id.get(device + '_pack_voltage')
    check(volts is not None and volts.get('device_class') == 'voltage' and volts.get('unit_of_measurement') == 'V',
          '%s: pack voltage sensor' % label)
    if volts:
        check(abs(float(render(volts['value_template'], state)) - state['values']['pack_voltage']) < 1e-9,
              '%s: pack voltage renders the state\'s value' % label)
    soc = by_id.get(device + '_soc')
    check(soc is not None and soc.get('device_class') == 'battery' and soc.get('name') == 'State of charge',
          '%s: SOC is a battery sensor named in words: %s' % (label, soc))
    temp = by_id.get(device + '_alarm_cell_high_temperature')
    check(temp is not None and temp['device_class'] == 'problem' and 'unit_of_measurement' not in temp,
          '%s: alarm_cell_high_temperature is a problem without a unit: %s' % (label, temp))
    link = by_id.get(device + '_bms_set_complete')
    check(link is not None and link.get('entity_category') == 'diagnostic' and
          render(link['value_template'], state) == ('ON' if state['health']['bms_set_complete'] else 'OFF'),
          '%s: BMS set complete is a diagnostic ON/OFF: %s' % (label, link))
    silent = by_id.get(device + '_bms_silent')
    check(silent is not None and silent['device_class'] == 'problem' and
          render(silent['value_template'], state) == ('ON' if 'bms_silent' in state['health']['alarms'] else 'OFF'),
          '%s: the bms_silent alarm as a problem' % label)
    check(all(render(c['value_template'], {'values': {}, 'health': state['health']}) in ('None', 'ON', 'OFF') or
              c.get('unique_id', '').endswith(('errors_per_minute', 'bus_state'))
              for c in configs.values() if 'values' in c['value_template']),
          '%s: a value missing from the state renders None (unknown in HA), not an error' % label)


def run_monitor(port, device, cap, extra):
    mon = subprocess.Popen([BMSLINK, 'monitor', 'replay:%s@20' % cap, '--json', '--mqtt',
                            extra[0] % port, '--mqtt-id', device] + extra[1:],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    alive = mon.poll() is None
    err = '' if alive else mon.stderr.read()
    if alive:
        mon.terminate()
        mon.wait(10)
    return alive, err


with tempfile.TemporaryDirectory() as tmp:
    certs = make_certificates(tmp)
    plain, secure = free_port(), free_port()
    conf = os.path.join(tmp, 'mosquitto.conf')
    with open(conf, 'w') as f:
        f.write('per_listener_settings false\nallow_anonymous true\npersistence false\n')
        f.write('listener %d 127.0.0.1\n' % plain)
        f.write('listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n'
                % (secure, certs['ca'], certs['server'][0], certs['server'][1]))
    cap = os.path.join(tmp, 'site.log')
    subprocess.run([BMSLINK, 'simulate', '--duration', '600', '--seed', '3', '-o', cap], check=True,
                   stderr=subprocess.DEVNULL)
    os.chmod(conf, 0o644)
    broker = subprocess.Popen([MOSQUITTO, '-c', conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_port(plain)
            wait_port(secure)
        except RuntimeError:
            broker.kill()
            raise RuntimeError('mosquitto did not start: ' + broker.stderr.read().decode(errors='replace'))
        alive, err = run_monitor(plain, 'plain', cap, ['mqtt://127.0.0.1:%d'])
        check(alive, 'monitor on mqtt:// ran: %s' % err)
        alive, err = run_monitor(secure, 'tls', cap, ['mqtts://127.0.0.1:%d', '--mqtt-ca', certs['ca'],
                                                      '--mqtt-cert', certs['client'][0],
                                                      '--mqtt-key', certs['client'][1]])
        check(alive, 'monitor on mqtts:// ran: %s' % err)
        judge('mqtt://', {t: p for t, p in retained(plain).items() if '/plain' in t or 'plain_' in t}, 'plain')
        judge('mqtts://', {t: p for t, p in retained(secure, certs).items() if '/tls' in t or 'tls_' in t}, 'tls')
        # Without the client certificate the TLS listener refuses; the monitor says why it cannot
        # publish rather than pretending (it keeps monitoring and retrying).
        r = subprocess.run([BMSLINK, 'monitor', 'replay:%s@50' % cap, '--duration', '20', '--mqtt',
                            'mqtts://127.0.0.1:%d' % secure, '--mqtt-ca', os.path.join(tmp, 'missing.pem')],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        check(r.returncode == 2 and 'missing.pem' in r.stderr, 'a CA file that is not there is named: %s' % r.stderr)
    finally:
        broker.kill()
        broker.wait(10)

results.finish()

// The npm package candied, an independent DBC reader and decoder, loads every DBC that
// `bmslink dbc export` writes and decodes the same random frames; bmslink's values must match.
import {Dbc, Can} from 'candied';
import {execFileSync} from 'child_process';
import {mkdirSync, writeFileSync} from 'fs';
import {join} from 'path';

const [bmslink, work] = process.argv.slice(2);
mkdirSync(work, {recursive: true});
const failures = [];
let checks = 0;
const check = (ok, what) => { checks++; if (!ok) failures.push(what); };

let seed = 20261124;  // fixed: the same frames every run
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed >> 8; };

const names = execFileSync(bmslink, ['dbc', 'list']).toString().split('\n').filter(Boolean);
check(names.length >= 5, `expected at least 5 built-in protocols, got ${names.join(',')}`);
for (const name of names) {
  const text = execFileSync(bmslink, ['dbc', 'export', name]).toString();
  let db;
  try {
    db = new Dbc().load(text);
  } catch (e) {
    check(false, `${name}: candied cannot load the export: ${e}`);
    continue;
  }
  const can = new Can();
  can.database = db;
  // Random frames of each message's full length, as a candump log.
  const frames = [];
  for (const [, msg] of db.messages) {
    if (msg.signals.size === 0) continue;
    for (let k = 0; k < 40; k++) {
      const bytes = Array.from({length: msg.dlc}, () => rand() & 0xff);
      frames.push({id: msg.id, bytes, msg});
    }
  }
  const log = join(work, `${name}.log`);
  writeFileSync(log, frames.map((f, i) =>
      `(${(1000 + i).toFixed(6)}) can0 ${f.id.toString(16).toUpperCase().padStart(3, '0')}#` +
      f.bytes.map(b => b.toString(16).toUpperCase().padStart(2, '0')).join('')).join('\n') + '\n');
  const out = execFileSync(bmslink, ['decode', log, '--protocol', name, '--json']).toString();
  const rows = out.split('\n').filter(Boolean).map(l => JSON.parse(l));
  check(rows.length === frames.length, `${name}: bmslink decoded ${rows.length} of ${frames.length} frames`);
  rows.forEach((row, i) => {
    const f = frames[i];
    const bound = can.decode(can.createFrame(f.id, f.bytes));
    check(bound && bound.name === row.name, `${name} frame ${i}: message ${row.name} vs ${bound && bound.name}`);
    if (!bound) return;
    for (const [sigName, sig] of f.msg.signals) {
      const ours = row.signals[sigName];
      check(ours !== undefined, `${name} ${row.name}.${sigName}: absent in bmslink`);
      if (ours === undefined) continue;
      if (sig.unit === 'ascii') {
        const start = sig.startBit / 8, end = start + sig.length / 8;
        const text = String.fromCharCode(...f.bytes.slice(start, end).map(b => (b >= 0x20 && b < 0x7f) ? b : 0))
            .replace(/[\0 ]+$/, '').replace(/\0/g, '.');
        check(ours.value === text, `${name} ${row.name}.${sigName}: text ${JSON.stringify(ours.value)} vs ${JSON.stringify(text)}`);
        continue;
      }
      const theirs = bound.boundSignals.get(sigName);
      const expected = theirs.rawValue * sig.factor + sig.offset;
      check(Math.abs(ours.value - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
            `${name} ${row.name}.${sigName} (${f.bytes}): bmslink ${ours.value}, candied raw ${theirs.rawValue} -> ${expected}`);
    }
  });
}
if (failures.length) {
  console.log(`oracle.candied: ${failures.length} of ${checks} checks failed`);
  failures.slice(0, 40).forEach(f => console.log('  ' + f));
  process.exit(1);
}
console.log(`oracle.candied: ${checks} checks passed`);

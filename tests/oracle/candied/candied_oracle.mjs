// The npm package candied, an independent DBC reader and decoder, loads every DBC that
// `bmslink dbc export` writes and decodes the same random frames; bmslink's values must match.
import {Dbc, Can} from 'candied';
import {execFileSync} from 'child_process';
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'fs';
import {dirname, join} from 'path';
import {fileURLToPath} from 'url';

const [bmslink, work] = process.argv.slice(2);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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
// Vendor DBCs with multiplexing and IEEE floats (public files from cantools' test suite): candied
// parses them on its own (signals, multiplex markers, SG_MUL_VAL_ tree, SIG_VALTYPE_). Its decode
// ignores both, so presence comes from its parsed tree here and float values from its raw bits
// read as IEEE; bmslink's `decode --dbc` must match on every frame.
const dbcDir = join(repo, 'tests', 'data', 'dbc');
for (const file of readdirSync(dbcDir).filter((f) => f.endsWith('.dbc'))) {
  const db = new Dbc().load(readFileSync(join(dbcDir, file), 'utf8'));
  const can = new Can();
  can.database = db;
  const frames = [];
  for (const [, msg] of db.messages) {
    if (msg.signals.size === 0 || msg.dlc > 8) continue;
    // Selector values per multiplexer: from the SG_MUL_VAL_ tree, and m<n> for the rest.
    const selects = new Map();  // signal name -> {mux, values:Set}
    const walk = (node) => {
      for (const [value, children] of node.children) {
        for (const child of children) {
          const name = child.signal.name;
          if (!selects.has(name)) selects.set(name, {mux: node.signal.name, values: new Set()});
          selects.get(name).values.add(Number(value));
          if (child.children) walk(child);
        }
      }
    };
    for (const [, node] of msg.multiplexSignals ?? new Map()) walk(node);
    const roots = [...msg.signals.values()].filter((s) => s.multiplex === 'M');
    for (const [name, sig] of msg.signals) {
      const m = /^m(\d+)M?$/.exec(sig.multiplex ?? '');
      if (m && !selects.has(name) && roots.length === 1)
        selects.set(name, {mux: roots[0].name, values: new Set([Number(m[1])])});
    }
    // Random payloads, and for each selector value one with the multiplexer set to it (all the
    // multiplexers here are Intel order).
    const muxValues = new Map();
    for (const [, sel] of selects) {
      if (!muxValues.has(sel.mux)) muxValues.set(sel.mux, new Set());
      for (const v of sel.values) muxValues.get(sel.mux).add(v);
    }
    for (let k = 0; k < 24; k++) {
      const bytes = Array.from({length: msg.dlc}, () => rand() & 0xff);
      const muxes = [...muxValues.entries()];
      if (muxes.length && k % 2 === 0) {
        for (const [muxName, values] of muxes) {
          const sig = msg.signals.get(muxName);
          const list = [...values];
          let v = list[(k / 2) % list.length];
          if (v < 0) v += 2 ** sig.length;
          for (let b = 0; b < sig.length; b++) {
            const bit = sig.startBit + b;
            if ((v >> b) & 1) bytes[bit >> 3] |= 1 << (bit & 7);
            else bytes[bit >> 3] &= ~(1 << (bit & 7));
          }
        }
      }
      frames.push({msg, bytes, selects});
    }
  }
  const log = join(work, file.replace('.dbc', '.log'));
  writeFileSync(log, frames.map((f, i) => {
    const ext = f.msg.id > 0x7ff;
    const id = f.msg.id.toString(16).toUpperCase().padStart(ext ? 8 : 3, '0');
    return `(${(1000 + i).toFixed(6)}) can0 ${id}#` +
        f.bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
  }).join('\n') + '\n');
  const out = execFileSync(bmslink, ['decode', log, '--dbc', join(dbcDir, file), '--json']).toString();
  const rows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  check(rows.length === frames.length, `${file}: bmslink decoded ${rows.length} of ${frames.length} frames`);
  rows.forEach((row, i) => {
    const f = frames[i];
    if (!f) return;
    const raw = new Map();
    for (const [name, sig] of f.msg.signals) raw.set(name, can.decodeSignal(f.bytes, sig).rawValue);
    // A signal whose bits lie beyond the frame is absent (Vector's bit numbering).
    const fits = (sig) => {
      const bits = f.bytes.length * 8;
      if (sig.endian !== 'Motorola') return sig.startBit + sig.length <= bits;
      return Math.floor(sig.startBit / 8) * 8 + (7 - sig.startBit % 8) + sig.length <= bits;
    };
    const present = (name, depth = 0) => {
      if (!fits(f.msg.signals.get(name))) return false;
      const sel = f.selects.get(name);
      if (!sel) return true;
      if (depth > 8 || !present(sel.mux, depth + 1)) return false;
      return sel.values.has(Number(raw.get(sel.mux)));
    };
    for (const [name, sig] of f.msg.signals) {
      const ours = row.signals[name];
      const want = present(name);
      check((ours !== undefined) === want,
            `${file} ${f.msg.name}.${name} (${f.bytes}): bmslink ${ours === undefined ? 'absent' : 'present'}, expected ${want ? 'present' : 'absent'}`);
      if (ours === undefined || !want) continue;
      // candied numbers a Motorola signal's start bit its own way (not Vector's MSB sawtooth):
      // its values are no oracle there. The hand-derived vectors of dbc_mux_float_test cover them.
      if (sig.endian === 'Motorola') continue;
      let expected = Number(raw.get(name));
      if (/float|double/.test(sig.dataType)) {
        const view = new DataView(new ArrayBuffer(8));
        if (sig.length === 32) {
          view.setUint32(0, Number(BigInt.asUintN(32, BigInt(raw.get(name)))));
          expected = view.getFloat32(0);
        } else {
          view.setBigUint64(0, BigInt.asUintN(64, BigInt(raw.get(name))));
          expected = view.getFloat64(0);
        }
      }
      expected = expected * sig.factor + sig.offset;
      if (!Number.isFinite(expected)) {
        check(ours.value === null && ours.ieee !== undefined, `${file} ${f.msg.name}.${name}: non-finite not flagged`);
        continue;
      }
      check(Math.abs(ours.value - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
            `${file} ${f.msg.name}.${name} (${f.bytes}): bmslink ${ours.value}, candied raw ${raw.get(name)} -> ${expected}`);
    }
  });
}

if (failures.length) {
  console.log(`oracle.candied: ${failures.length} of ${checks} checks failed`);
  failures.slice(0, 40).forEach(f => console.log('  ' + f));
  process.exit(1);
}
console.log(`oracle.candied: ${checks} checks passed`);

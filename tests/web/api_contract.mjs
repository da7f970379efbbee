// The web client's types against what the server really sends: a single-user and a team server
// answer every route the console reads (a case walked with a capture, statistics, the matrix,
// the vocabulary, a kept capture, the hardcode advice, accounts, settings, versions); each answer
// is saved and type-checked by TypeScript against web/src/api.ts. A field renamed or dropped on
// either side fails here, not on a technician's phone. Literal unions ("pass" | "fail") are
// checked as strings: the point is that every field the page reads is there with its kind.
import {execFileSync} from 'child_process';
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'fs';
import {dirname, join, resolve} from 'path';
import {fileURLToPath} from 'url';
import {serve, stop} from '../browser/common.mjs';

const [bmslink, work] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..', '..', 'web');
rmSync(work, {recursive: true, force: true});
mkdirSync(join(work, 'samples'), {recursive: true});

const samples = {};  // name -> [type, json]
async function call(base, method, path, body, headers = {}) {
  const r = await fetch(base + path, {method, headers: {...(body !== undefined ? {'Content-Type': 'application/json'} : {}), ...headers},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)});
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 200)}`);
  return {json: text ? JSON.parse(text) : null, headers: r.headers};
}
const keep = (name, type, value) => { samples[name] = [type, value]; };

const pass = JSON.parse(readFileSync(join(here, '..', 'data', 'answers', 'all_pass.json'), 'utf8')).answers;
const capture = join(work, 'site.log');
execFileSync(bmslink, ['simulate', '--fault', 'intermittent_dropouts', '--duration', '600', '-o', capture]);

let s = await serve(bmslink, join(work, 'one.db'));
try {
  const base = s.url.replace(/\/$/, '');
  keep('session', 'Session', (await call(base, 'GET', '/api/session')).json);
  const made = (await call(base, 'POST', '/api/cases', {site: {name: 'Contract', customer: 'K', address: ''},
    bms: {model: 'Pylontech US3000C', firmware: 'V1.2', count: 1, energy_kwh: null}, inverter: {model: 'Deye SUN-5K-SG03LP1-EU', firmware: 'MCU 1.0'}})).json;
  keep('case_created', 'CaseJson', made);
  const first = (await call(base, 'POST', '/api/diagnose', {case: made.id, answers: {}})).json;
  keep('guided_first', 'Guided', first);
  const up = await fetch(`${base}/api/analyze?name=site.log`, {method: 'POST', headers: {'Content-Type': 'application/octet-stream'},
    body: readFileSync(capture)});
  const analysis = await up.json();
  if (!up.ok) throw new Error('analyze: ' + JSON.stringify(analysis));
  keep('analysis', 'Analysis', analysis);
  const walked = (await call(base, 'POST', '/api/diagnose', {case: made.id, answers: pass, capture_id: analysis.capture_id, capture_name: 'site.log'})).json;
  keep('guided_walked', 'Guided', walked);
  const corrected = (await call(base, 'POST', '/api/diagnose', {case: made.id, answers: {inverter_battery_setting: 'Lithium 01'}})).json;
  keep('guided_tentative', 'Guided', corrected);
  keep('case', 'CaseJson', (await call(base, 'GET', `/api/cases/${made.id}`)).json);
  keep('cases', 'CaseJson[]', (await call(base, 'GET', '/api/cases')).json);
  keep('capture', 'Analysis', (await call(base, 'GET', `/api/captures/${analysis.capture_id}?name=site.log`)).json);
  keep('stats', 'Stats', (await call(base, 'GET', '/api/stats')).json);
  keep('compat', 'CompatRow[]', (await call(base, 'GET', '/api/compat')).json);
  keep('vocabulary', 'Vocabulary', (await call(base, 'GET', '/api/vocabulary')).json);
  keep('hardcode', 'HardcodeAdvice', (await call(base, 'POST', '/api/hardcode', {battery: 'Pylontech US5000', capacity_ah: 100, soc_low: 30, soc_high: 80})).json);
  keep('settings', '{company: Company}', (await call(base, 'PUT', '/api/settings', {company: {name: 'Sun & Co', phone: '1'}})).json);
  keep('versions', 'CaseVersion[]', (await call(base, 'GET', `/api/cases/${made.id}/versions`)).json);
} finally {
  await stop(s);
}
// Accounts exist in team mode only.
const teamDb = join(work, 'team.db');
execFileSync(bmslink, ['user', 'add', 'boss', '--role', 'admin', '--db', teamDb], {input: 'boss-password-1\n'});
s = await serve(bmslink, teamDb, ['--team']);
try {
  const base = s.url.replace(/\/$/, '');
  const login = await call(base, 'POST', '/api/login', {name: 'boss', password: 'boss-password-1'});
  keep('login', 'Session', login.json);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  keep('users', 'Account[]', (await call(base, 'GET', '/api/users', undefined, {Cookie: cookie})).json);
} finally {
  await stop(s);
}

// Every sample as a module, checked against its type with string literal unions loosened.
const names = Object.keys(samples);
for (const n of names) writeFileSync(join(work, 'samples', `${n}.json`), JSON.stringify(samples[n][1]));
const types = [...new Set(names.map((n) => samples[n][0].replace(/\[\]$/, '').replace(/^\{company: (\w+)\}$/, '$1')))];
writeFileSync(join(work, 'check.ts'), [
  `import type {${types.join(', ')}} from '${join(web, 'src', 'api')}';`,
  '// A string union ("pass" | "fail") read as any string; everything else as declared.',
  'type Loose<T> = T extends string ? string : T extends (infer E)[] ? Loose<E>[] : T extends object ? {[K in keyof T]: Loose<T[K]>} : T;',
  ...names.map((n) => `import s_${n} from './samples/${n}.json';`),
  ...names.map((n) => `export const checked_${n}: Loose<${samples[n][0]}> = s_${n};`),
].join('\n') + '\n');
writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({compilerOptions: {
  target: 'ES2020', module: 'ESNext', moduleResolution: 'Bundler', strict: true, resolveJsonModule: true,
  noEmit: true, skipLibCheck: true, types: []}, files: ['check.ts']}));
try {
  execFileSync(process.execPath, [join(web, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(work, 'tsconfig.json')],
    {stdio: ['ignore', 'pipe', 'pipe']});
} catch (e) {
  console.log('api contract: the server\'s answers do not match web/src/api.ts:');
  console.log(String(e.stdout) + String(e.stderr));
  process.exit(1);
}
console.log(`api contract: ${names.length} answers match web/src/api.ts (${types.join(', ')})`);

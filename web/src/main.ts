// bmslink's field console: cases, the guided five layers with a timer, capture upload with plots,
// reports, statistics, the compatibility matrix and the hardcode advisor. Phone first. Every
// string from the server is put into the page as text (never as HTML).
import './style.css';
import {
  ApiError, caseTag, changePassword, currentSession, get, login, logout, logoutEverywhere,
  refreshSession, send, upload,
  type Analysis, type Ask, type CaseJson, type Finding, type Guided, type HardcodeAdvice, type SourceClass,
  type StoredFinding, type Vocabulary, type Stats, type CompatRow, type Account, type Company, type CaseVersion,
} from './api';
import {drawPlots} from './plots';

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string | boolean | ((e: Event) => void)> = {}, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const app = document.getElementById('app') as HTMLElement;
const LAYERS = ['configuration', 'physical connections', 'cable', 'electrical environment', 'protocol and firmware'];

// Replaces an element's children, leaving out the empty ones.
function fill(el: HTMLElement, ...children: Child[]): void {
  el.replaceChildren(...(children.filter((c) => c !== null && c !== undefined && c !== false) as (Node | string)[]));
}

// Each navigation gets a number. A page that was still loading when the user (or a test) went
// elsewhere must not draw over the newer page when its data finally arrives: a slow list of
// cases once replaced a case page opened after it.
let routeGeneration = 0;
function stillHere(): () => boolean {
  const mine = routeGeneration;
  return () => mine === routeGeneration;
}

function show(...children: Child[]): void {
  app.replaceChildren(...(children.filter(Boolean) as (Node | string)[]));
  window.scrollTo(0, 0);
}

function errorBox(e: unknown): HTMLElement {
  const message = e instanceof Error ? e.message : String(e);
  return h('p', {class: 'error', role: 'alert'}, message);
}

function fmtMinutes(m: number): string {
  return m < 10 ? `${m.toFixed(1)} min` : `${Math.round(m)} min`;
}

// ---- words for ids (GET /api/vocabulary) -----------------------------------------------------

let vocab: Vocabulary = {causes: {}, checks: {}, layers: {}, inputs: {}};

async function loadVocabulary(): Promise<void> {
  try {
    vocab = await get<Vocabulary>('/api/vocabulary');
  } catch {
    // Before a login in team mode: loaded again after it.
  }
}

function capitalised(t: string): string {
  return t ? t[0].toUpperCase() + t.slice(1) : t;
}

function causeName(id: string | null | undefined): string {
  if (!id) return '';
  return capitalised(vocab.causes[id] ?? id.replace(/_/g, ' '));
}

function checkName(id: string): string {
  return vocab.checks[id] ?? id.replace(/^l\d\./, '').replace(/_/g, ' ');
}

// An input's question, short: the prompt up to its first "(" or "?".
function inputName(key: string): string {
  const p = vocab.inputs[key]?.prompt;
  if (!p) return capitalised(key.replace(/_/g, ' '));
  const cut = p.search(/[(?:]/);
  return (cut > 12 ? p.slice(0, cut) : p).trim();
}

function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined) return "can't tell";
  if (v === true) return 'yes';
  if (v === false) return 'no';
  const spec = vocab.inputs[key];
  if (typeof v === 'string') return spec?.labels?.[v] ?? v;
  if (typeof v === 'number') return `${Math.round(v * 100) / 100}${spec?.unit ? ' ' + spec.unit : ''}`;
  return JSON.stringify(v);
}

// A reason from the server in words: an input key, a check id or a cause id inside it is named
// as people say it ("needs termination_ohms" -> "needs an answer to: Resistance between ...").
function humanReason(text: string | null | undefined): string {
  if (!text) return '';
  let out = text.replace(/^needs (?!a capture)/, 'needs an answer to: ');
  out = out.replace(/\bl[1-5]\.[a-z_]+\b/g, (id) => (vocab.checks[id] ? `"${vocab.checks[id]}"` : id));
  out = out.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (id) =>
    vocab.inputs[id] ? `"${inputName(id)}"` : vocab.causes[id] ? causeName(id).toLowerCase() : id);
  return capitalised(out);
}

const VERDICT_WORDS: Record<string, string> = {
  pass: 'passed', fail: 'fault found', unknown: 'not decided', marginal: 'marginal', suspect: 'suspect',
  skipped: 'skipped',
};

const OUTCOME_WORDS: Record<string, string> = {
  fixed: 'fixed', hardcoded: 'hardcoded', escalated: 'escalated', open: 'open',
};

// "7 Dec 2026, 14:05" in the browser's own time zone.
function localTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit'});
}

function severityBadge(s: string): HTMLElement {
  return h('span', {class: `badge ${s}`}, s);
}

function findingsByLayer(findings: (Finding | StoredFinding)[]): HTMLElement {
  const box = h('div', {class: 'findings'});
  if (findings.length === 0) box.append(h('p', {class: 'muted'}, 'No findings.'));
  const groups = new Map<string, (Finding | StoredFinding)[]>();
  for (const f of findings) {
    const layerName = 'layer_name' in f && f.layer_name ? f.layer_name : vocab.layers[String(f.layer)] ?? LAYERS[(f.layer ?? 1) - 1];
    const note = 'note' in f && f.note;
    const key = f.layer ? `Layer ${f.layer} — ${layerName}` : note ? 'Notes on the capture' : 'BMS state';
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  for (const [title, list] of groups) {
    box.append(h('h3', {}, title));
    for (const f of list)
      box.append(h('div', {class: `finding ${f.severity}`, 'data-cause': f.cause},
        h('p', {}, severityBadge(f.severity), ' ', h('strong', {}, f.title), ' ',
          h('span', {class: 'muted small'}, `(${causeName(f.cause)})`)),
        h('ul', {}, ...f.evidence.slice(0, 6).map((e) => h('li', {}, e.text))),
        f.fix ? h('p', {class: 'fix'}, 'Fix: ', f.fix) : null));
  }
  return box;
}

// ---- cases ----------------------------------------------------------------------------------

async function casesPage(): Promise<void> {
  const here = stillHere();
  show(h('h1', {}, 'Cases'), h('p', {class: 'muted'}, 'Loading…'));
  const cases = await get<CaseJson[]>('/api/cases');
  if (!here()) return;
  const list = h('ul', {class: 'cards'});
  for (const c of [...cases].reverse())
    list.append(h('li', {},
      h('a', {href: `#/case/${encodeURIComponent(c.id)}`, class: 'card'},
        h('strong', {}, c.site.name || c.id),
        h('span', {class: `badge ${c.outcome}`}, OUTCOME_WORDS[c.outcome] ?? c.outcome),
        h('span', {class: 'muted'}, ` ${c.bms.model || '?'} ↔ ${c.inverter.model || '?'}`),
        h('span', {class: 'muted small'}, ` ${localTime(c.opened)} · ${c.root_cause ? causeName(c.root_cause) : 'cause not found yet'} · ${fmtMinutes(c.total_minutes ?? 0)}`))));
  show(
    h('div', {class: 'row'}, h('h1', {}, 'Cases'), h('a', {href: '#/new', class: 'button primary', id: 'new-case'}, 'New case')),
    cases.length ? list : h('p', {class: 'muted'}, 'No cases yet: start one when you arrive on site.'));
}

interface Devices {
  inverters: {id: string; brand?: string; family?: string; models?: string[]}[];
  batteries: {id: string; brand?: string; family?: string; models?: string[]}[];
}

function datalist(id: string, entries: Devices['inverters']): HTMLDataListElement {
  const dl = h('datalist', {id});
  const names = new Set<string>();
  for (const e of entries) {
    for (const m of e.models ?? []) names.add(`${e.brand ?? ''} ${m}`.trim());
    if (e.family) names.add(`${e.brand ?? ''} ${e.family}`.trim());
  }
  for (const n of [...names].sort()) dl.append(h('option', {value: n}));
  return dl;
}

function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', {class: 'field'}, h('span', {}, label), input, hint ? h('small', {class: 'muted'}, hint) : null);
}

async function newCasePage(): Promise<void> {
  const here = stillHere();
  const devices = await get<Devices>('/api/devices').catch(() => ({inverters: [], batteries: []}) as Devices);
  if (!here()) return;
  const input = (name: string, attrs: Record<string, string> = {}) => h('input', {name, ...attrs});
  const form = h('form', {class: 'stack', id: 'new-case-form'},
    field('Site', input('site', {required: 'required', autocomplete: 'off'})),
    field('Customer', input('customer')),
    field('Address', input('address')),
    field('Battery / BMS model', input('bms_model', {list: 'batteries', autocomplete: 'off'}), 'Pick from the list or type it as on the label'),
    field('BMS firmware', input('bms_firmware')),
    field('Batteries on the bus', input('bms_count', {type: 'number', min: '1', max: '64', inputmode: 'numeric'})),
    field('Energy (kWh)', input('energy_kwh', {type: 'number', step: '0.1', min: '0', inputmode: 'decimal'})),
    field('Inverter model', input('inverter_model', {list: 'inverters', autocomplete: 'off'})),
    field('Inverter firmware', input('inverter_firmware')),
    field('Symptom as reported', h('textarea', {name: 'symptom', rows: '2'})),
    datalist('batteries', devices.batteries), datalist('inverters', devices.inverters),
    h('button', {class: 'primary', type: 'submit'}, 'Start the checks'));
  const status = h('div');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const s = (k: string) => String(d.get(k) ?? '').trim();
    const n = (k: string) => (s(k) === '' ? null : Number(s(k)));
    try {
      const c = await send<CaseJson>('POST', '/api/cases', {
        site: {name: s('site'), customer: s('customer'), address: s('address')},
        bms: {model: s('bms_model'), firmware: s('bms_firmware'), count: n('bms_count'), energy_kwh: n('energy_kwh')},
        inverter: {model: s('inverter_model'), firmware: s('inverter_firmware')},
        symptom: s('symptom'),
      });
      location.hash = `#/case/${encodeURIComponent(c.id)}`;
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  });
  show(h('h1', {}, 'New case'), form, status);
}

// How strong the knowledge behind a verdict is, in the technician's words (docs/diagnose.md).
const SOURCE_WORDS: Record<SourceClass, string> = {
  vendor_manual: "maker's manual",
  vendor_compatibility_list: "maker's compatibility list",
  installer_report: 'installer reports: check the manual',
  emulator_report: 'emulator users only: check the manual',
};

function sourceTag(c: SourceClass | null | undefined): HTMLElement | null {
  if (!c) return null;
  return h('span', {class: `source ${c}`, title: 'How strong the source of this verdict is'}, SOURCE_WORDS[c] ?? c);
}

// Where the meter's probes go for each termination setup, drawn: the BMS and the inverter, the
// cable, a 120 Ω terminator inside each, and the meter. Everything powered off.
const TERMINATION_SETUPS: Record<string, {label: string; healthy: string}> = {
  all_connected: {label: 'Both devices connected', healthy: 'A healthy bus reads 60 Ω (two 120 Ω in parallel).'},
  one_end_unplugged: {label: 'One device unplugged, meter on the free cable end',
    healthy: 'A healthy bus reads 120 Ω here: only the far side\'s terminator. Then measure the unplugged device\'s own port.'},
  device_port: {label: "Meter on one device's own port, nothing plugged in",
    healthy: '120 Ω if that device terminates by itself, open if it does not.'},
};

function termDrawing(setup: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const el = (name: string, attrs: Record<string, string | number>, text?: string) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text) e.textContent = text;
    return e;
  };
  const svg = el('svg', {viewBox: '0 0 360 150', class: 'term-drawing', role: 'img',
    'aria-label': `Meter placement: ${TERMINATION_SETUPS[setup]?.label ?? setup}`}) as SVGSVGElement;
  const box = (x: number, name: string) => {
    svg.append(el('rect', {x, y: 20, width: 80, height: 70, rx: 8, class: 'dev'}));
    svg.append(el('text', {x: x + 40, y: 40, 'text-anchor': 'middle', class: 'lbl'}, name));
    // The terminator inside the device, across H and L.
    svg.append(el('rect', {x: x + 24, y: 48, width: 32, height: 34, class: 'res'}));
    svg.append(el('text', {x: x + 40, y: 70, 'text-anchor': 'middle', class: 'small'}, '120'));
  };
  box(10, 'BMS');
  box(270, 'Inverter');
  const unplugged = setup === 'one_end_unplugged';
  const port = setup === 'device_port';
  // CAN-H and CAN-L: the cable from the BMS to the inverter (cut short where unplugged).
  const cableEnd = unplugged ? 230 : 270;
  if (!port) {
    for (const [y, name] of [[55, 'H'], [75, 'L']] as [number, string][]) {
      svg.append(el('line', {x1: 90, y1: y, x2: cableEnd, y2: y, class: 'wire'}));
      svg.append(el('text', {x: 96, y: y - 3, class: 'small'}, name));
    }
  }
  // The meter and its probes.
  const meterX = port ? 120 : unplugged ? 200 : 150;
  svg.append(el('rect', {x: meterX - 25, y: 100, width: 50, height: 34, rx: 6, class: 'meter'}));
  svg.append(el('text', {x: meterX, y: 122, 'text-anchor': 'middle', class: 'lbl'}, 'Ω'));
  const probeX = port ? 90 : unplugged ? cableEnd : 180;
  for (const y of [55, 75]) svg.append(el('line', {x1: meterX - 8 + (y === 75 ? 16 : 0), y1: 100, x2: probeX, y2: y, class: 'probe'}));
  if (unplugged) svg.append(el('text', {x: 250, y: 40, 'text-anchor': 'middle', class: 'small'}, 'unplugged'));
  if (port) svg.append(el('text', {x: 180, y: 60, 'text-anchor': 'middle', class: 'small'}, 'cable out'));
  return svg;
}

// The meter's setup as three big buttons with the drawing of where the probes go.
function setupInput(a: Ask): {el: HTMLElement; value: () => unknown} {
  let v: string | undefined;
  const drawing = h('div', {class: 'term-figure', id: 'termination-drawing'});
  const healthy = h('p', {class: 'muted', id: 'termination-healthy'});
  const buttons = (a.choices ?? []).map((c) => {
    const key = String(c);
    const label = a.options?.find((o) => String(o.value) === key)?.label;
    const b = h('button', {type: 'button', class: 'choice', 'data-value': key}, label ?? TERMINATION_SETUPS[key]?.label ?? key);
    b.addEventListener('click', () => pick(key));
    return b;
  });
  const pick = (key: string) => {
    v = key;
    for (const b of buttons) b.classList.toggle('picked', b.dataset.value === key);
    drawing.replaceChildren(termDrawing(key));
    healthy.textContent = TERMINATION_SETUPS[key]?.healthy ?? '';
  };
  pick('all_connected');
  v = undefined;  // drawn as the usual setup, but the technician picks
  for (const b of buttons) b.classList.remove('picked');
  return {el: h('div', {class: 'stack', 'data-key': a.key},
    h('div', {class: 'choices column'}, ...buttons), drawing, healthy), value: () => v};
}

// Values the knowledge base offers as big buttons (thumbs, gloves), the one the battery needs
// marked; "Other" opens a text box where the knowledge base may not know every value.
function pickerInput(a: Ask, current?: unknown): {el: HTMLElement; value: () => unknown} {
  let v: unknown = undefined;
  let typing = false;
  const options = a.options ?? [];
  const other = h('input', {'data-other': a.key, autocomplete: 'off', placeholder: 'as the menu shows it',
    'aria-label': `${a.prompt}: other value`});
  const otherRow = h('div', {class: 'with-unit', hidden: true}, other, a.unit ? h('span', {class: 'unit'}, a.unit) : null);
  const buttons: HTMLButtonElement[] = [];
  const pick = (value: unknown) => {
    v = value;
    typing = false;
    otherRow.hidden = true;
    for (const b of buttons) b.classList.toggle('picked', b.dataset.value === String(value));
  };
  for (const o of options) {
    const b = h('button', {type: 'button', class: `choice option${o.recommended ? ' recommended' : ''}`, 'data-value': String(o.value)},
      h('span', {class: 'label'}, o.label),
      o.recommended ? h('span', {class: 'badge pass'}, 'needed') : null,
      o.note ? h('small', {class: 'note'}, o.note) : null);
    b.addEventListener('click', () => pick(o.value));
    buttons.push(b);
  }
  if (a.other) {
    const b = h('button', {type: 'button', class: 'choice option', 'data-value': '__other'}, 'Other…');
    b.addEventListener('click', () => {
      typing = true;
      v = undefined;
      for (const x of buttons) x.classList.toggle('picked', x === b);
      otherRow.hidden = false;
      other.focus();
    });
    buttons.push(b);
  }
  if (current !== undefined && current !== null) {
    if (options.some((o) => String(o.value) === String(current))) pick(current);
    else if (a.other) {
      typing = true;
      other.value = String(current);
      otherRow.hidden = false;
      for (const x of buttons) x.classList.toggle('picked', x.dataset.value === '__other');
    }
  }
  return {el: h('div', {class: 'stack tight'}, h('div', {class: 'choices column', 'data-key': a.key}, ...buttons), otherRow),
    value: () => {
      if (!typing) return v;
      const t = other.value.trim();
      if (t === '') return undefined;
      if (a.type === 'number') {
        const n = Number(t.replace(',', '.'));
        return Number.isFinite(n) ? n : t;
      }
      return t;
    }};
}

// The input for one thing a check asks, typed: numbers with their unit, choices and the knowledge
// base's values as buttons, yes/no as two big buttons. `current` is the recorded answer when it
// is being corrected.
function askInput(a: Ask, current?: unknown): {el: HTMLElement; value: () => unknown} {
  if (a.key === 'termination_setup') {
    const x = setupInput(a);
    if (typeof current === 'string') x.el.querySelector<HTMLElement>(`button[data-value="${current}"]`)?.click();
    return x;
  }
  if (a.type === 'yes_no') {
    let v: unknown = undefined;
    const yes = h('button', {type: 'button', class: 'choice', 'data-value': 'yes'}, 'Yes');
    const no = h('button', {type: 'button', class: 'choice', 'data-value': 'no'}, 'No');
    const pick = (b: HTMLElement, value: boolean) => {
      v = value;
      yes.classList.toggle('picked', value);
      no.classList.toggle('picked', !value);
      b.blur();
    };
    yes.addEventListener('click', () => pick(yes, true));
    no.addEventListener('click', () => pick(no, false));
    if (current === true) pick(yes, true);
    if (current === false) pick(no, false);
    return {el: h('div', {class: 'choices', 'data-key': a.key}, yes, no), value: () => v};
  }
  if (a.options?.length || (a.type === 'choice' && a.choices)) {
    const withOptions: Ask = a.options?.length ? a : {...a, options: (a.choices ?? []).map((c) => ({
      value: c, label: vocab.inputs[a.key]?.labels?.[String(c)] ?? `${c}${a.unit ? ' ' + a.unit : ''}`, note: '',
      recommended: false}))};
    return pickerInput(withOptions, current);
  }
  const inp = h('input', {name: a.key, autocomplete: 'off'});
  if (a.type === 'number') {
    inp.setAttribute('inputmode', 'decimal');
    if (a.allow?.length) inp.setAttribute('placeholder', `number or ${a.allow.join(', ')}`);
  }
  if (current !== undefined && current !== null) inp.value = String(current);
  const wrap = h('div', {class: 'with-unit'}, inp, a.unit ? h('span', {class: 'unit'}, a.unit) : null);
  return {el: wrap, value: () => {
    const t = inp.value.trim();
    if (t === '') return undefined;
    if (a.type === 'number') {
      const num = Number(t.replace(',', '.'));
      return Number.isFinite(num) ? num : t;  // the server reads "OL", "open", "60 ohm"
    }
    return t;
  }};
}

let timerHandle: number | undefined;

// The asks seen in this page, by input key: a correction offers the same pickers.
const askSeen = new Map<string, Ask>();

function askFor(key: string): Ask {
  const seen = askSeen.get(key);
  if (seen) return seen;
  const spec = vocab.inputs[key];
  return {key, type: spec?.type ?? 'text', prompt: spec?.prompt ?? key, unit: spec?.unit || undefined,
    choices: spec?.choices?.length ? spec.choices : undefined};
}

async function casePage(id: string): Promise<void> {
  const here = stillHere();
  show(h('p', {class: 'muted'}, 'Loading…'));
  let c = await get<CaseJson>(`/api/cases/${encodeURIComponent(id)}`);
  if (!here()) return;
  const header = h('div');
  const guidedBox = h('section', {class: 'panel', id: 'guided'});
  const recordBox = h('section', {class: 'panel', id: 'record'});
  const captureBox = h('section', {class: 'panel', id: 'case-capture'});
  const closeBox = h('section', {class: 'panel', id: 'close'});
  const reportsBox = h('section', {class: 'panel', id: 'reports'});
  const adminBox = h('section', {class: 'panel', id: 'case-admin'});
  // The case's latest capture keeps feeding the checks after a reload.
  let captureId: string | undefined = c.captures.length ? c.captures[c.captures.length - 1].sha256 : undefined;
  let captureName: string | undefined = c.captures.length ? c.captures[c.captures.length - 1].file : undefined;
  let noCapture = false;
  // The switch back to the field guide's fixed order, remembered on this device.
  let guideOrder = localStorage.getItem('bmslink.order') === 'guide';
  // One time source for the clock and the bars: the minutes recorded, plus the time since the
  // question on screen was asked (what the next answer will record).
  let asked = Date.now();
  let lastAsked: string | null = null;
  let last: Guided | null = null;

  const renderHeader = () => fill(header,
    h('h1', {}, c.site.name || c.id),
    h('p', {class: 'muted'}, `${c.bms.model || '?'}${c.bms.count ? ` ×${c.bms.count}` : ''} ${c.bms.firmware} ↔ ${c.inverter.model || '?'} ${c.inverter.firmware}`),
    c.symptom ? h('p', {}, `Reported: ${c.symptom}`) : null,
    h('p', {id: 'case-status'}, h('span', {class: `badge ${c.outcome}`}, OUTCOME_WORDS[c.outcome] ?? c.outcome), ' ',
      c.root_cause ? h('span', {}, 'Root cause: ', h('strong', {'data-cause': c.root_cause}, causeName(c.root_cause)),
        c.root_cause_reason ? h('span', {class: 'muted'}, ` (set by hand: ${c.root_cause_reason})`) : null) : null));

  const budgetBars = (g: Guided, layer: number) => {
    const bars = h('div', {class: 'budgets'});
    for (let l = 1; l <= 5; l++) {
      const spent = g.minutes[String(l)] ?? 0;
      const budget = g.budget[String(l)] ?? 0;
      const top = Math.max(budget, g.budget_max?.[String(l)] ?? budget);
      const bar = h('div', {class: `budget${l === layer && !g.confirmed ? ' current' : ''}`, 'data-layer': String(l),
        'data-minutes': String(spent)},
        h('span', {class: 'name'}, `${l} ${LAYERS[l - 1]}`),
        h('span', {class: 'time'}, `${fmtMinutes(spent)} of ${top > budget ? `${budget}–${top}` : budget} min`),
        h('span', {class: 'meter'}, h('span', {style: `width:${Math.min(100, (spent / Math.max(budget, 1)) * 100)}%`})));
      if (g.over_budget.includes(l)) bar.classList.add('over');
      bars.append(bar);
    }
    return bars;
  };

  // The record: every check done, with its answers, verdict, reason and minutes; "can't tell"
  // ones too. Each can be corrected; the walk re-decides from there and the history keeps it.
  const renderRecord = (g: Guided | null) => {
    const reasons = new Map((g?.verdicts ?? []).map((v) => [v.check, v]));
    const items = c.checks.map((ch) => {
      const v = reasons.get(ch.check);
      const keys = Object.keys(ch.inputs ?? {});
      const li = h('li', {class: ch.verdict, 'data-check': ch.check},
        h('span', {class: `badge ${ch.verdict}`}, VERDICT_WORDS[ch.verdict] ?? ch.verdict), ' ',
        h('strong', {}, checkName(ch.check)),
        h('span', {class: 'muted small'}, ` · layer ${ch.layer} · ${fmtMinutes(ch.minutes)}`),
        keys.length ? h('div', {class: 'small answers'}, keys.map((k) => `${inputName(k)}: ${valueText(k, ch.inputs[k])}`).join(' · ')) : null,
        v?.reason ? h('div', {class: 'small'}, humanReason(v.reason)) : null,
        v?.source_class ? sourceTag(v.source_class) : null);
      if (keys.length && !(v?.from_capture)) {
        const edit = h('button', {type: 'button', class: 'small ghost change', 'data-check': ch.check}, 'Change answer');
        edit.addEventListener('click', () => {
          const inputs = keys.map((k) => ({k, ...askInput(askFor(k), ch.inputs[k])}));
          const form = h('form', {class: 'stack correction', 'data-check': ch.check},
            ...inputs.map(({k, el}) => field(inputName(k), el)),
            h('div', {class: 'row wrap'},
              h('button', {type: 'submit', class: 'primary'}, 'Save the correction'),
              h('button', {type: 'button', class: 'ghost', onclick: () => renderRecord(last)}, 'Cancel')));
          form.addEventListener('submit', (e) => {
            e.preventDefault();
            const answers: Record<string, unknown> = {};
            for (const {k, value} of inputs) {
              const x = value();
              answers[k] = x === undefined ? null : x;
            }
            lastAsked = ch.check;
            void run(answers);
          });
          li.replaceChildren(h('strong', {}, `Correct: ${checkName(ch.check)}`), form);
        });
        li.append(' ', edit);
      }
      return li;
    });
    // Checks asked and not decided ("can't tell"): what would decide them stays on the page.
    const open = (g?.verdicts ?? []).filter((v) => v.verdict === 'unknown' && !v.from_capture &&
      c.checks.some((ch) => ch.check === v.check && ch.verdict === 'unknown'));
    const history = (c.history ?? []).map((x) => h('li', {},
      h('span', {class: 'muted'}, `${localTime(x.at)}${x.by ? ' · ' + x.by : ''}: `),
      x.field === 'answer' ? `${inputName(x.key)} changed from ${valueText(x.key, x.from)} to ${valueText(x.key, x.to)}`
        : x.field === 'root_cause' ? `root cause ${x.to ? `set to ${causeName(String(x.to))}` : 'left to the checks'}${x.reason ? ` (${x.reason})` : ''}`
        : x.field === 'outcome' ? `outcome ${OUTCOME_WORDS[String(x.from)] ?? x.from} → ${OUTCOME_WORDS[String(x.to)] ?? x.to}`
        : x.field === 'restored' ? `the version saved ${localTime(String(x.to))} restored`
        : 'the record changed'));
    fill(recordBox,
      h('h2', {}, `Checks done (${c.checks.length})`),
      c.checks.length ? h('ul', {class: 'verdicts', id: 'checks-done'}, ...items)
        : h('p', {class: 'muted'}, 'No checks recorded yet.'),
      open.length ? h('div', {id: 'still-open'}, h('h3', {}, 'Still open'),
        h('ul', {class: 'verdicts'}, ...open.map((v) => h('li', {class: 'unknown', 'data-check': v.check},
          h('strong', {}, checkName(v.check)), ': ', humanReason(v.reason),
          v.cause ? h('span', {class: 'muted'}, ` — it would show: ${causeName(v.cause)}`) : null)))) : null,
      history.length ? h('details', {id: 'history'}, h('summary', {}, `Changes (${history.length})`), h('ul', {}, ...history)) : null);
  };

  const renderGuided = (g: Guided, error?: unknown) => {
    last = g;
    for (const a of g.next?.asks ?? []) askSeen.set(a.key, a);
    const parts: Child[] = [h('h2', {}, 'Five-layer checks')];
    const layer = g.next?.layer ?? g.layer ?? 5;
    parts.push(budgetBars(g, layer));
    // What the last answer decided, the moment it is decided.
    const decided = lastAsked && lastAsked !== g.confirmed_by ? g.verdicts.find((v) => v.check === lastAsked) : undefined;
    if (decided)
      parts.push(h('div', {class: `decided ${decided.verdict}`, id: 'decided', 'data-verdict': decided.verdict, role: 'status'},
        h('p', {}, h('span', {class: `badge ${decided.verdict}`}, VERDICT_WORDS[decided.verdict] ?? decided.verdict), ' ',
          h('strong', {}, checkName(decided.check))),
        h('p', {}, humanReason(decided.reason)),
        decided.fix && !g.confirmed ? h('p', {}, h('strong', {}, 'Try: '), decided.fix) : null,
        sourceTag(decided.source_class)));
    // An RS485 pair first: the CAN checks do not apply to it.
    if (g.link?.bus === 'rs485')
      parts.push(h('div', {class: 'link-banner', id: 'link'},
        h('h3', {}, 'This pair talks RS485, not CAN'),
        h('p', {}, g.link.reason), g.link.port ? h('p', {class: 'muted'}, g.link.port) : null,
        h('p', {}, 'CAN-only checks are skipped. ', sourceTag(g.link.source_class))));
    for (const v of g.suspects ?? [])
      if (v.check !== g.confirmed_by)
        parts.push(h('div', {class: 'suspect', 'data-check': v.check},
          h('h3', {}, 'Suspect: the inverter setting'), h('p', {}, v.reason),
          v.fix ? h('p', {}, h('strong', {}, 'Try: '), v.fix) : null, sourceTag(v.source_class)));
    window.clearInterval(timerHandle);
    if (!g.confirmed && g.next) {
      const clock = h('p', {class: 'clock', id: 'clock', 'data-recorded': String(g.minutes[String(layer)] ?? 0)});
      const tick = () => {
        const spent = (g.minutes[String(layer)] ?? 0) + (Date.now() - asked) / 60000;
        const budget = g.budget[String(layer)] ?? 0;
        clock.textContent = `Layer ${layer}: ${fmtMinutes(spent)} of ${budget} min`;
        clock.classList.toggle('over', spent > budget);
      };
      timerHandle = window.setInterval(tick, 1000);
      parts.push(clock);
      setTimeout(tick, 0);
    }
    if (g.confirmed) {
      parts.push(h('div', {class: `confirmed${g.tentative ? ' tentative' : ''}`, id: 'confirmed', 'data-cause': g.confirmed},
        h('h3', {}, `${g.tentative ? 'Most likely cause' : 'Confirmed'}: ${causeName(g.confirmed)} (layer ${g.layer} — ${g.layer_name})`),
        h('p', {}, humanReason(g.reason)),
        sourceTag(g.verdicts.find((v) => v.check === g.confirmed_by)?.source_class),
        h('p', {id: 'confirmed-fix'}, h('strong', {}, 'Fix: '), g.fix ?? ''),
        h('p', {}, h('strong', {}, 'Verify: '), g.reverify ?? ''),
        g.explain.customer ? h('p', {class: 'muted'}, 'For the customer: ', g.explain.customer) : null,
        g.tentative ? h('p', {class: 'muted'}, 'Still no link after the change? Use "Change answer" under Checks done to record the value now set: the checks go on from there.') : null));
    } else if (g.next) {
      const next = g.next;
      const needsCapture = next.asks.some((a) => a.type === 'capture' || a.key === 'capture') || next.asks.length === 0;
      const inputs = next.asks.filter((a) => a.type !== 'capture' && a.key !== 'capture').map((a) => ({a, ...askInput(a)}));
      const submit = async (dontKnow: boolean) => {
        const answers: Record<string, unknown> = {};
        for (const {a, value} of inputs) {
          const v = dontKnow ? null : value();
          if (v !== undefined) answers[a.key] = v;
        }
        if (!dontKnow && Object.keys(answers).length === 0) {
          renderGuided(g, new Error('Answer at least one question, or press "Can\'t tell".'));
          return;
        }
        answers.minutes = {[next.check]: Math.max(0.1, Math.round(((Date.now() - asked) / 60000) * 10) / 10)};
        lastAsked = next.check;
        await run(answers);
      };
      const form = h('form', {class: 'stack', id: 'ask-form', 'data-check': next.check},
        h('h3', {}, `Layer ${next.layer}: ${next.title}`),
        h('p', {class: 'next-why', id: 'next-why', 'data-probability': String(next.probability),
          'data-minutes': String(next.minutes), 'data-order': g.order.mode}, next.why),
        h('label', {class: 'order-switch'},
          h('input', {type: 'checkbox', id: 'order-guide', checked: guideOrder, onchange: (e: Event) => {
            guideOrder = (e.target as HTMLInputElement).checked;
            localStorage.setItem('bmslink.order', guideOrder ? 'guide' : 'learned');
            void run({});
          }}), " The field guide's order"),
        // A capture check's own text is written for the command line; the page says it its way.
        needsCapture ? null : h('p', {class: 'muted'}, next.how),
        ...inputs.map(({a, el}) => field(a.key === 'termination_setup' ? 'How is the meter connected? Everything powered off.' : a.prompt + (a.unit ? ` (${a.unit})` : ''), el)),
        needsCapture ? h('div', {class: 'capture-ask', id: 'capture-ask'},
          h('p', {}, 'Only a capture of the bus can decide this: record a minute or more with a USB-CAN adapter and upload it here.'),
          h('div', {class: 'row wrap'},
            h('button', {type: 'button', class: 'primary', id: 'go-upload', onclick: () => {
              captureBox.scrollIntoView({behavior: 'smooth'});
              captureBox.querySelector<HTMLInputElement>('input[type=file]')?.click();
            }}, 'Upload a capture'),
            h('button', {type: 'button', class: 'ghost', id: 'no-capture', onclick: () => {
              noCapture = true;
              lastAsked = next.check;
              void run({});
            }}, 'No capture possible'))) : null,
        inputs.length ? h('div', {class: 'row'},
          h('button', {class: 'primary', type: 'submit'}, 'Record'),
          h('button', {type: 'button', class: 'ghost', id: 'dont-know', onclick: () => submit(true)}, "Can't tell")) : null);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void submit(false);
      });
      parts.push(form);
    } else if (g.escalate) {
      const hc = g.hardcode;
      parts.push(h('div', {class: 'confirmed', id: 'escalate'}, h('h3', {}, 'All five layers are exhausted'),
        h('p', {}, noCapture ? 'Without a capture nothing more can be decided on site. ' : '',
          'Consider the hardcode advisor or the manufacturer.'),
        hc ? h('p', {}, `The battery has ${hc.cells_series} cells in series. `, sourceTag(hc.source_class)) : null,
        h('a', {class: 'button', href: hc ? `#/hardcode?battery=${encodeURIComponent(c.bms.model)}` : '#/hardcode'}, 'Hardcode advisor')));
    }
    if (error) parts.push(errorBox(error));
    guidedBox.replaceChildren(...(parts.filter(Boolean) as Node[]));
    asked = Date.now();
    renderRecord(g);
    guidedBox.querySelector<HTMLElement>('#ask-form input, #ask-form select')?.focus({preventScroll: true});
  };

  const run = async (answers: Record<string, unknown>): Promise<void> => {
    try {
      const g = await send<Guided>('POST', '/api/diagnose', {
        answers, case: c.id, ...(captureId ? {capture_id: captureId} : {}),
        ...(captureName ? {capture_name: captureName} : {}), ...(noCapture ? {capture: null} : {}),
        ...(guideOrder ? {order: 'guide'} : {}),
      });
      if (g.case) c = g.case;
      renderHeader();
      renderGuided(g);
      void caseAdmin(adminBox, c);  // its versions move with every answer
      // Never throw away what is being typed there; an untouched fix follows the cause.
      if (!closeDirty) renderClose();
      else if (fixBox && !fixEdited) fixBox.value = c.fix;
    } catch (e) {
      // The case's capture file is not kept here any more (imported, another server): the
      // checks go on without it; the capture box says so.
      if (e instanceof ApiError && e.status === 404 && captureId) {
        captureId = undefined;
        captureName = undefined;
        return run(answers);
      }
      guidedBox.append(errorBox(e));
    }
  };

  // The capture: the ones the case holds come back with their findings and plots.
  const kept = h('div', {id: 'kept-captures'});
  captureBox.replaceChildren(h('h2', {}, 'Capture'), kept,
    uploader(async (a) => {
      captureId = a.capture_id;
      captureName = a.file;
      noCapture = false;
      lastAsked = null;
      await run({});
    }, true));
  c.captures.forEach((cap, i) => {
    const newest = i === c.captures.length - 1;
    const box = h('div', {class: 'analysis'}, h('p', {class: 'muted'}, `Loading ${cap.file}…`));
    kept.append(h('details', {class: 'kept', open: newest, 'data-sha': cap.sha256},
      h('summary', {}, `${cap.file} (${cap.findings.length} finding${cap.findings.length === 1 ? '' : 's'})`), box));
    get<Analysis>(`/api/captures/${cap.sha256}?name=${encodeURIComponent(cap.file)}`)
      .then((a) => renderAnalysis(box, a))
      .catch((e) => box.replaceChildren(h('p', {class: 'muted'},
        `The capture file is not kept on this server any more; its findings as recorded:`), findingsByLayer(cap.findings),
        h('p', {class: 'muted small'}, e instanceof Error ? e.message : String(e))));
  });

  let closeDirty = false;
  let fixBox: HTMLTextAreaElement | null = null;
  let fixEdited = false;
  closeBox.addEventListener('input', () => { closeDirty = true; });
  closeBox.addEventListener('change', () => { closeDirty = true; });
  const renderClose = (message?: string) => {
    closeDirty = false;
    const outcome = h('select', {name: 'outcome'},
      ...['open', 'fixed', 'hardcoded', 'escalated'].map((o) => h('option', {value: o, selected: c.outcome === o},
        o === 'open' ? 'still open' : OUTCOME_WORDS[o])));
    const fix = h('textarea', {name: 'fix', rows: '3'});
    fix.value = c.fix;
    fixBox = fix;
    fixEdited = false;
    fix.addEventListener('input', () => { fixEdited = true; });
    // The root cause: the checks' own, or set by hand with a reason.
    const cause = h('select', {name: 'root_cause'},
      h('option', {value: ''}, c.root_cause && !c.root_cause_reason ? `as the checks found: ${causeName(c.root_cause)}` : 'as the checks find it'),
      ...Object.keys(vocab.causes).filter((k) => !['healthy', 'no_inverter_in_excerpt', 'capture_too_short', 'timestamps_backwards'].includes(k))
        .map((k) => h('option', {value: k, selected: !!c.root_cause_reason && c.root_cause === k}, causeName(k))));
    const reason = h('input', {name: 'root_cause_reason', autocomplete: 'off', placeholder: 'what you found'});
    reason.value = c.root_cause_reason ?? '';
    const reasonField = field('Why (required when set by hand)', reason);
    const syncReason = () => { reasonField.hidden = cause.value === ''; };
    cause.addEventListener('change', syncReason);
    syncReason();
    const uptime = h('input', {name: 'uptime', type: 'number', min: '0', max: '100', step: 'any', inputmode: 'decimal'});
    if (c.verification.uptime_share !== null) uptime.value = String(Math.round(c.verification.uptime_share * 1000) / 10);
    const hours = h('input', {name: 'hours', type: 'number', min: '0', step: 'any', inputmode: 'decimal'});
    if (c.verification.hours !== null) hours.value = String(c.verification.hours);
    const status = h('div', {}, message ? h('p', {class: 'ok'}, message) : null);
    // A hardcoded system records the inverter's fixed settings and who acknowledged them.
    const hc = c.hardcoded ?? {};
    const setting = (name: string, label: string, unit: string) => {
      const el = h('input', {name, type: 'number', step: 'any', inputmode: 'decimal'});
      if (typeof hc[name] === 'number') el.value = String(hc[name]);
      return {name, label, el, unit};
    };
    const settings = [setting('charge_voltage_v', 'Charge voltage', 'V'), setting('cutoff_voltage_v', 'Low-voltage cut-off', 'V'),
      setting('max_current_a', 'Largest current', 'A')];
    const ackBy = h('input', {name: 'acknowledged_by', autocomplete: 'off'});
    ackBy.value = c.acknowledged_by;
    const hardcodedBox = h('fieldset', {class: 'stack', id: 'hardcoded-settings'},
      h('legend', {}, 'Fixed inverter settings'),
      ...settings.map((x) => field(`${x.label} (${x.unit})`, h('div', {class: 'with-unit'}, x.el, h('span', {class: 'unit'}, x.unit)))),
      field('Acknowledged by (customer)', ackBy, 'The customer signs the printed acknowledgment form'));
    const toggle = () => { hardcodedBox.hidden = outcome.value !== 'hardcoded'; };
    outcome.addEventListener('change', toggle);
    toggle();
    const form = h('form', {class: 'stack', id: 'close-form'},
      h('h2', {}, c.closed ? 'Closed' : 'Close the case'),
      field('Root cause', cause), reasonField,
      field('Fix applied', fix, c.fix_by_hand ? 'Written by hand' : 'Follows the root cause until you edit it'),
      field('Outcome', outcome), hardcodedBox,
      field('Messages seen after the fix (% of the time)', uptime), field('Watched for (hours, e.g. 0.5)', hours),
      h('button', {class: 'primary', type: 'submit'}, c.closed ? 'Update' : 'Save'), status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (cause.value !== '' && reason.value.trim() === '') {
        status.replaceChildren(errorBox(new Error('Say why the root cause is set by hand (what you found).')));
        reason.focus();
        return;
      }
      const num = (t: string) => Number(t.replace(',', '.'));
      const closing = outcome.value !== 'open';
      const body: CaseJson = {...c, outcome: outcome.value as CaseJson['outcome'], fix: fix.value.trim(),
        fix_by_hand: c.fix_by_hand || (fixEdited && fix.value.trim() !== c.fix.trim()),
        closed: closing ? c.closed ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z') : null,
        verification: {uptime_share: uptime.value === '' ? null : num(uptime.value) / 100,
                       hours: hours.value === '' ? null : num(hours.value)}};
      if (cause.value !== '') {
        body.root_cause = cause.value;
        body.root_cause_reason = reason.value.trim();
        body.layer = null;  // the cause's own layer
      } else if (c.root_cause_reason) {
        // Back to the checks: they decide it on the next answer.
        body.root_cause = null;
        body.root_cause_reason = '';
        body.layer = null;
      }
      delete body.total_minutes;
      if (body.outcome === 'hardcoded') {
        const values: Record<string, unknown> = {...(c.hardcoded ?? {})};
        for (const x of settings) if (x.el.value !== '') values[x.name] = num(x.el.value);
        body.hardcoded = values;
        const who = ackBy.value.trim();
        if (who && who !== c.acknowledged_by) {
          body.acknowledged_by = who;
          body.acknowledged_at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        }
      }
      try {
        const tag = caseTag(c.id);
        c = await send<CaseJson>('PUT', `/api/cases/${encodeURIComponent(c.id)}`, body,
                                 tag ? {'If-Match': tag} : {});
        renderHeader();
        renderRecord(last);
        void caseAdmin(adminBox, c);
        // The walk decides again (the checks' cause, or the hand-set cause's own fix), then the
        // form shows what was saved.
        if (cause.value !== '' || !c.root_cause) await run({});
        renderClose('Saved.');
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          // Someone else saved this case since it was opened here: show theirs, keep nothing
          // silently overwritten.
          const reload = h('button', {type: 'button', id: 'reload-case'}, 'Reload the case');
          reload.addEventListener('click', () => location.reload());
          status.replaceChildren(h('div', {class: 'error', id: 'case-conflict', role: 'alert'},
            h('p', {}, 'This case was changed on another device since you opened it. Nothing was saved: reload it, then make your change again.'),
            reload));
        } else {
          status.replaceChildren(errorBox(err));
        }
      }
    });
    closeBox.replaceChildren(form);
    const tz = -new Date().getTimezoneOffset();
    const link = (kind: string, label: string) =>
      h('a', {class: 'button', href: `/api/cases/${encodeURIComponent(c.id)}/report?kind=${kind}&tz=${tz}`, target: '_blank', id: `report-${kind}`}, label);
    reportsBox.replaceChildren(h('h2', {}, 'Reports'), h('div', {class: 'row wrap'},
      link('technician', 'Technician report'), link('customer', 'Customer report'),
      c.outcome === 'hardcoded' ? link('acknowledgment', 'Acknowledgment form') : null));
  };

  renderHeader();
  renderClose();
  renderRecord(null);
  show(header, guidedBox, recordBox, captureBox, closeBox, reportsBox, adminBox);
  await run({});
}

// ---- captures -------------------------------------------------------------------------------

function uploader(done: (a: Analysis) => Promise<void> | void, compact = false): HTMLElement {
  const input = h('input', {type: 'file', id: compact ? 'case-file' : 'file', 'aria-label': 'Capture file'});
  const bar = h('progress', {max: '1', value: '0', hidden: true});
  const status = h('p', {class: 'muted'});
  const result = h('div', {class: 'analysis'});
  const drop = h('div', {class: 'drop'},
    h('p', {}, 'Drop a capture here or ', h('label', {class: 'button'}, 'choose a file', input)),
    h('p', {class: 'muted small'}, 'candump, ASC, TRC, CSV, pcap/pcapng, PCAN, MF4 (CANedge), BLF, pasted dumps, or a zip of a logger\'s SD card'), bar, status);
  const go = async (file: File) => {
    const most = currentSession().max_upload_bytes;
    if (most !== undefined && file.size > most) {
      status.replaceChildren(errorBox(new Error(
        `${file.name} is ${(file.size / 1048576).toFixed(0)} MB; this server takes captures up to ${(most / 1048576).toFixed(0)} MB (bmslink serve --max-upload-mb).`)));
      return;
    }
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Uploading ${file.name}…`;
    result.replaceChildren();
    try {
      const a = await upload<Analysis>(file, '', (share) => {
        bar.value = share;
        if (share >= 1) status.textContent = 'Analysing…';
      });
      bar.value = 1;
      status.textContent = `${a.file}: ${a.frames.toLocaleString()} frames, ${a.duration_s ? Math.round(a.duration_s) + ' s' : 'no timestamps'}`;
      renderAnalysis(result, a);
      await done(a);
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  };
  input.addEventListener('change', () => {
    if (input.files?.[0]) void go(input.files[0]);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = (e as DragEvent).dataTransfer?.files?.[0];
    if (f) void go(f);
  });
  return h('div', {}, drop, result);
}

// A logger's folder read as one capture: the time between its files, and whether the logger ran.
function gapsBox(gaps: NonNullable<Analysis['summary']['file_gaps']>): HTMLElement | null {
  if (!gaps.length) return null;
  const length = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
  return h('div', {id: 'file-gaps'},
    h('p', {}, `Time between the files (${gaps.length}):`),
    h('ul', {class: 'verdicts'}, ...gaps.slice(0, 20).map((g) => h('li', {'data-recorded': String(g.recorded)},
      `${localTime(g.start_utc.replace(' UTC', 'Z').replace(' ', 'T'))}, ${length(g.length_s)}: `,
      g.recorded ? 'the logger ran, the bus was silent' : 'not recorded — not counted as a BMS dropout',
      h('span', {class: 'muted small'}, ` (${g.before} → ${g.after})`)))));
}

function renderAnalysis(box: HTMLElement, a: Analysis): void {
  const p = a.protocol;
  const talkers = a.talkers.map((t) => `${t.ids.join(' ')}${t.period_ms ? ` every ${Math.round(t.period_ms)} ms` : ''}`);
  const plots = h('div', {class: 'plots'});
  box.replaceChildren(
    h('div', {class: 'summary'},
      h('p', {}, h('span', {class: `badge ${a.summary.verdict === 'healthy' ? 'pass' : a.summary.verdict}`}, a.summary.verdict), ' ',
        h('strong', {}, `${p.family}${p.variant ? ' / ' + p.variant : ''}`), p.manufacturer ? ` (${p.manufacturer})` : '',
        ` · talking: ${a.summary.talking}`),
      a.summary.uptime.share !== null ? h('p', {}, `Complete BMS set ${(a.summary.uptime.share * 100).toFixed(1)} % of the time, ${a.summary.uptime.dropouts} dropout(s)`)
        : a.summary.uptime.not_judged ? h('p', {class: 'muted'}, `Complete BMS set: not judged — ${a.summary.uptime.not_judged}.`) : null,
      talkers.length ? h('p', {class: 'muted small'}, 'Talkers: ', talkers.join(' · ')) : null,
      gapsBox(a.summary.file_gaps ?? [])),
    h('h3', {}, 'Findings'), findingsByLayer(a.findings), h('h3', {}, 'Plots'), plots);
  drawPlots(plots, a);
}

function analyzePage(): void {
  show(h('h1', {}, 'Analyse a capture'), uploader(() => {}));
}

// ---- statistics, matrix, hardcode -------------------------------------------------------------


// Bars on a fixed scale: `full` is what a full bar means (1 for shares, the case count for
// counts); without it, the largest value (minutes).
function bars(title: string, rows: [string, number, string][], full?: number): HTMLElement {
  const top = full !== undefined ? Math.max(1e-9, full) : Math.max(1e-9, ...rows.map((r) => r[1]));
  return h('figure', {class: 'bars'}, h('figcaption', {}, title),
    ...rows.map(([label, v, text]) => h('div', {class: 'bar'},
      h('span', {class: 'label'}, label),
      h('span', {class: 'track'}, h('span', {class: 'fill', style: `width:${(v / top) * 100}%`})),
      h('span', {class: 'value'}, text))));
}

interface Storage {
  captures_files: number;
  captures_bytes: number;
  referenced_files: number;
  referenced_bytes: number;
  unreferenced_files: number;
  unreferenced_bytes: number;
  quota_bytes: number;
  keep_unreferenced_s: number;
}

function megabytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

// Where the disk goes: captures the cases keep, and uploads no case refers to (removed after
// the grace period).
function storageBox(st: Storage): HTMLElement {
  const days = st.keep_unreferenced_s / 86400;
  const grace = st.keep_unreferenced_s === 0 ? 'kept until an admin removes them (bmslink gc)'
    : `removed ${days >= 1 ? `${Number(days.toFixed(1))} day(s)` : `${Math.round(st.keep_unreferenced_s / 3600)} hour(s)`} after they came`;
  return h('section', {class: 'panel', id: 'storage'}, h('h2', {}, 'Space used by captures'),
    h('p', {'data-bytes': String(st.captures_bytes)},
      `${megabytes(st.captures_bytes)} in ${st.captures_files} capture(s)`,
      st.quota_bytes ? ` of ${megabytes(st.quota_bytes)} allowed (${(100 * st.captures_bytes / st.quota_bytes).toFixed(1)} %)` : '', '.'),
    h('ul', {},
      h('li', {id: 'storage-referenced'}, `${megabytes(st.referenced_bytes)} in ${st.referenced_files} capture(s) kept by cases`),
      h('li', {id: 'storage-unreferenced'}, `${megabytes(st.unreferenced_bytes)} in ${st.unreferenced_files} upload(s) no case refers to, ${grace}`)));
}

// The check order's saving on the company's own calls: minutes to the cause per call in its
// learned order against the field guide's.
function orderBox(o: Stats['order']): HTMLElement {
  const box = h('section', {class: 'panel', id: 'order-saving', 'data-learned': String(o.learned_minutes ?? ''),
    'data-guide': String(o.guide_minutes ?? '')}, h('h2', {}, 'Your check order'));
  if (o.learned_minutes === null || o.guide_minutes === null) {
    box.append(h('p', {class: 'muted'}, 'No closed case with a root cause yet: nothing to compare.'));
    return box;
  }
  const saved = o.guide_minutes - o.learned_minutes;
  box.append(bars('Expected minutes to the cause per call', [
    ["Your company's order", o.learned_minutes, fmtMinutes(o.learned_minutes)],
    ["The field guide's order", o.guide_minutes, fmtMinutes(o.guide_minutes)],
  ]));
  box.append(h('p', {id: 'order-saves'}, !o.learns
    ? `${o.closed_cases} closed case(s): from 20 on, the checks follow your own calls. Until then the field guide's order.`
    : saved > 0.05 ? `Your order saves ${saved.toFixed(1)} min a call.` : 'Your calls follow the field guide: its order is as quick.'));
  // Groups of calls with an order of their own, and pairs whose record sends the walk straight
  // to one check.
  const kinds = {inverter_family: 'inverters', battery_family: 'batteries', pair: 'pair'};
  if (o.groups?.length)
    box.append(h('p', {class: 'small'}, 'Own order (20 closed cases or more): '),
      h('ul', {id: 'order-groups'}, ...o.groups.map((g) =>
        h('li', {'data-kind': g.kind, 'data-closed': String(g.closed_cases)},
          `${g.name} (${kinds[g.kind]}): ${g.closed_cases} closed case(s)`))));
  if (o.known_bad_pairs?.length)
    box.append(h('p', {class: 'small'}, 'Known-bad pairs, checked first: '),
      h('ul', {id: 'order-known-bad'}, ...o.known_bad_pairs.map((k) =>
        h('li', {'data-cause': k.cause},
          `${k.pair}: ${causeName(k.cause).toLowerCase()} in ${k.cases} of ${k.closed_cases} solved case(s)`))));
  return box;
}

async function statsPage(): Promise<void> {
  const here = stillHere();
  const [s, st] = await Promise.all([get<Stats>('/api/stats'), get<Storage>('/api/storage')]);
  if (!here()) return;
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const causes = Object.entries(s.by_cause_closed).sort((a, b) => b[1] - a[1]);
  const open = Object.entries(s.by_cause_open).sort((a, b) => b[1] - a[1]);
  show(
    h('div', {class: 'row'}, h('h1', {}, 'Statistics'), h('a', {class: 'button', href: '/api/stats?format=html', target: '_blank'}, 'Printable page')),
    h('p', {id: 'stats-count'}, `${s.cases} case(s): fixed ${s.outcomes.fixed ?? 0}, hardcoded ${s.outcomes.hardcoded ?? 0}, escalated ${s.outcomes.escalated ?? 0}, open ${s.outcomes.open ?? 0}`),
    bars(`Root causes of the ${s.closed_cases} closed case(s)`, causes.map(([k, n]) => [causeName(k), n, `${n}`]), s.closed_cases),
    open.length ? h('p', {class: 'muted', id: 'stats-open'}, 'Open cases, cause not settled yet: ', open.map(([k, n]) => `${causeName(k)} (${n})`).join(', ')) : null,
    bars('Solved in each layer', [1, 2, 3, 4, 5].map((l) => [`${l} ${LAYERS[l - 1]}`, s.layer_yield[String(l)], pct(s.layer_yield[String(l)])]), 1),
    bars('Solved by this layer or earlier', [1, 2, 3, 4, 5].map((l) => [`${l} ${LAYERS[l - 1]}`, s.cumulative_yield[String(l)], pct(s.cumulative_yield[String(l)])]), 1),
    bars('Mean minutes per layer', [1, 2, 3, 4, 5].map((l) => {
      const m = s.minutes_by_layer[String(l)]?.mean ?? 0;
      return [`${l} ${LAYERS[l - 1]}`, m, fmtMinutes(m)];
    })),
    bars('Fixed within', ['15', '30', '50'].map((k) => [`${k} min`, s.solved_within_minutes[k], pct(s.solved_within_minutes[k])]), 1),
    orderBox(s.order),
    storageBox(st));
}


async function compatPage(): Promise<void> {
  const here = stillHere();
  const rows = await get<CompatRow[]>('/api/compat');
  if (!here()) return;
  const cell = (label: string, ...children: Child[]) => h('td', {'data-label': label}, ...children);
  const firmware = (r: CompatRow) => r.by_firmware.length > 1 || r.bms.firmware || r.inverter.firmware
    ? h('details', {class: 'small'}, h('summary', {}, 'by firmware'),
      h('ul', {}, ...r.by_firmware.map((f) => h('li', {},
        `BMS ${f.bms_firmware || '?'}, inverter ${f.inverter_firmware || '?'}: worked ${f.worked}, failed ${f.failed}, hardcoded ${f.hardcoded}${f.open ? `, open ${f.open}` : ''}`))))
    : null;
  const table = h('table', {class: 'fit'},
    h('thead', {}, h('tr', {}, ...['Battery', 'Inverter', 'Worked', 'Failed', 'Hardcoded', 'Causes found'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {},
      cell('Battery', r.bms.model || '?', firmware(r)), cell('Inverter', r.inverter.model || '?'),
      cell('Worked', String(r.worked)), cell('Failed', String(r.failed)), cell('Hardcoded', String(r.hardcoded)),
      cell('Causes found', Object.entries(r.causes).map(([k, n]) => `${causeName(k)} (${n})`).join(', ') || '–',
        r.known_bad ? h('div', {class: 'small known-bad', 'data-cause': r.known_bad.cause},
          `Usually ${causeName(r.known_bad.cause).toLowerCase()} (${r.known_bad.cases} of ${r.known_bad.closed_cases} solved)`) : null)))));
  const post = h('textarea', {rows: '10', readonly: true, id: 'forum-post', 'aria-label': 'Forum post'});
  const copy = h('button', {type: 'button'}, 'Forum post (Markdown)');
  copy.addEventListener('click', async () => {
    post.value = await get<string>('/api/compat?format=md');
    post.hidden = false;
    post.select();
    void navigator.clipboard?.writeText(post.value).catch(() => undefined);
  });
  post.hidden = true;
  show(h('h1', {}, 'Compatibility matrix'), rows.length ? h('div', {class: 'scroll'}, table) : h('p', {class: 'muted'}, 'No cases yet.'), copy, post);
}

async function hardcodePage(): Promise<void> {
  const here = stillHere();
  const devices = await get<Devices>('/api/devices').catch(() => ({inverters: [], batteries: []}) as Devices);
  if (!here()) return;
  const num = (name: string, attrs: Record<string, string> = {}) => h('input', {name, type: 'number', step: 'any', inputmode: 'decimal', ...attrs});
  const where = h('select', {name: 'where'}, h('option', {value: ''}, 'not known'), h('option', {value: 'indoor'}, 'indoors, temperature controlled'), h('option', {value: 'outdoor'}, 'outdoors'));
  const commercial = h('input', {type: 'checkbox', name: 'commercial'});
  const fromHash = new URLSearchParams(location.hash.split('?')[1] ?? '').get('battery') ?? '';
  const out = h('div');
  const form = h('form', {class: 'stack', id: 'hardcode-form'},
    field('Battery model', h('input', {name: 'battery', list: 'hc-batteries', autocomplete: 'off', value: fromHash}),
      'Its cells in series and the maker\'s limits come from the knowledge base'),
    field('Cells in series (LFP), if the battery is not listed', num('cells', {min: '1', max: '64', step: '1'}),
      'Count them: 15 on Pylontech US-series packs, 16 on most 51.2 V packs. Never guessed.'),
    field('Capacity (Ah)', num('capacity_ah', {required: 'required'})),
    field('Energy (kWh, optional)', num('kwh')),
    field('Usual current as C-rate (e.g. 0.25)', num('c_rate')),
    field('Cell voltage spread (mV)', num('spread_mv')),
    field('SOC window used: lowest %', num('soc_low', {min: '0', max: '100'})),
    field('SOC window used: highest %', num('soc_high', {min: '0', max: '100'})),
    field('Where it stands', where),
    h('label', {class: 'check'}, commercial, ' Commercial / critical use, warranty or insurance constraints'),
    datalist('hc-batteries', devices.batteries),
    h('button', {class: 'primary', type: 'submit'}, 'Advise'));
  const verdictWords: Record<string, string> = {acceptable: 'acceptable', not_acceptable: 'not acceptable', depends: 'undecided: see what decides'};
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const body: Record<string, unknown> = {chemistry: 'lfp', commercial: commercial.checked};
    const battery = String(d.get('battery') ?? '').trim();
    if (battery) body.battery = battery;
    for (const k of ['cells', 'capacity_ah', 'kwh', 'c_rate', 'spread_mv', 'soc_low', 'soc_high']) {
      const v = String(d.get(k) ?? '').trim();
      if (v !== '') body[k] = Number(v.replace(',', '.'));
    }
    if (where.value) body.indoor = where.value === 'indoor';
    try {
      const a = await send<HardcodeAdvice>('POST', '/api/hardcode', body);
      const list = (items: string[]) => items.map((x) => h('li', {}, x));
      const st = a.settings;
      const section = (title: string, items: string[]) => items.length ? [h('h3', {}, title), h('ul', {}, ...list(items))] : [];
      out.replaceChildren(h('div', {class: 'panel', id: 'hardcode-result'},
        h('h2', {}, `Hardcoding: ${verdictWords[a.verdict] ?? a.verdict}`),
        h('p', {id: 'hardcode-pack'}, a.pack.from === 'battery'
          ? `${a.pack.battery_name}: ${a.pack.cells_series} cells in series` +
            (a.pack.cutoff_min_v !== null && a.pack.charge_max_v !== null ? `, maker's range ${a.pack.cutoff_min_v}–${a.pack.charge_max_v} V ` : ' ')
          : `${a.pack.cells_series} cells in series, as counted `, sourceTag(a.pack.source_class)),
        h('table', {class: 'settings', id: 'hardcode-settings'},
          h('tr', {}, h('th', {}, 'Charge voltage'), h('td', {}, `${st.charge_voltage_v.toFixed(1)} V (${st.charge_v_per_cell.toFixed(2)} V per cell)`)),
          h('tr', {}, h('th', {}, 'Low-voltage cut-off'), h('td', {}, `${st.cutoff_voltage_v.toFixed(1)} V (${st.cutoff_v_per_cell.toFixed(2)} V per cell)`)),
          h('tr', {}, h('th', {}, 'Charge current'), h('td', {}, `${st.charge_current_a[0]}–${st.charge_current_a[1]} A (0.3–0.5 C)`)),
          h('tr', {}, h('th', {}, 'Discharge current'), h('td', {}, `${st.discharge_current_a[0]}–${st.discharge_current_a[1]} A`)),
          h('tr', {}, h('th', {}, 'System'), h('td', {}, `${a.kwh.toFixed(1)} kWh${a.kwh_estimated ? ' (estimated)' : ''}`))),
        ...a.limited.map((l) => h('p', {class: 'muted'}, l)),
        ...section('Against it', a.against),
        ...section('For it', a.for),
        ...section('What decides', a.deciding),
        ...section('Protection lost', a.lost_protection),
        h('p', {}, 'Maintenance: ', a.maintenance),
        h('p', {}, 'Expected life: ', a.expected_life),
        a.acknowledgment ? h('details', {}, h('summary', {}, 'For the customer to sign'), h('p', {}, a.acknowledgment)) : null));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  });
  show(h('h1', {}, 'Hardcode advisor'), h('p', {class: 'muted'}, 'When all five layers are exhausted and the customer needs power now.'), form, out);
}

// ---- live bus ---------------------------------------------------------------------------------

let liveSource: EventSource | null = null;
let liveWatch: number | undefined;

// A signal key in words: "pack_voltage" -> "Pack voltage".
function signalName(k: string): string {
  return capitalised(k.replace(/_/g, ' '));
}

function clockTime(d: Date): string {
  return d.toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

function livePage(): void {
  const status = h('p', {class: 'muted', id: 'live-status'}, 'Connecting…');
  const alarms = h('div', {id: 'live-alarms'});
  const stale = h('div', {id: 'live-stale'});
  const health = h('div', {class: 'health', id: 'live-health'});
  const values = h('table', {id: 'live-values'});
  const log = h('ul', {class: 'verdicts', id: 'live-events'});
  show(h('h1', {}, 'Live bus'), status, stale, alarms, health, h('h2', {}, 'Values'), h('div', {class: 'scroll'}, values),
    h('h2', {}, 'Alarms and recoveries'), log);
  const tile = (label: string, v: unknown, ok?: boolean) =>
    h('div', {class: `tile${ok === undefined ? '' : ok ? ' good' : ' bad'}`}, h('span', {class: 'name'}, label),
      h('strong', {}, v === null || v === undefined ? '–' : String(v)));
  // The last time frames arrived: when the adapter goes or the bus falls silent, the tiles turn
  // grey, the time of the last frame shows and an alarm is raised on the page.
  let lastFrames = -1;
  let lastFrameAt: Date | null = null;
  const openedAt = Date.now();
  let source = 'running';
  let wasDown = false;
  const note = (cls: string, badge: string, text: string, key: string) => {
    while (log.children.length >= 200) log.lastElementChild?.remove();
    log.prepend(h('li', {class: cls, 'data-event': key}, h('span', {class: `badge ${cls}`}, badge), ` ${clockTime(new Date())} `, text));
  };
  const judge = () => {
    const silentFor = (Date.now() - (lastFrameAt?.getTime() ?? openedAt)) / 1000;
    const down = streamDown || source !== 'running' || silentFor > 10;
    for (const t of health.querySelectorAll('.tile')) t.classList.toggle('stale', down);
    values.classList.toggle('stale', down);
    if (down) {
      const why = streamDown ? 'The connection to the server broke'
        : source === 'ended' ? 'The replay ended' : source === 'lost' ? 'The adapter went away'
        : source === 'failed' ? 'The adapter cannot be opened' : 'No frame has arrived for ' + Math.round(silentFor) + ' s';
      fill(stale, h('p', {class: 'error', role: 'alert', id: 'live-no-data', 'data-alarm': 'no_data'},
        `ALARM: no data. ${why}${lastFrameAt ? `; last frame at ${clockTime(lastFrameAt)}` : ''}. The values below are from then.`));
      if (!wasDown) note('fail', 'alarm', `no data: ${why.toLowerCase()}`, 'no_data');
    } else {
      stale.replaceChildren();
      if (wasDown) note('pass', 'cleared', 'frames arriving again', 'no_data_cleared');
    }
    wasDown = down;
  };
  window.clearInterval(liveWatch);
  liveWatch = window.setInterval(judge, 1000);
  liveSource?.close();
  liveSource = new EventSource('/api/live');
  // The stream itself (not the adapter) breaking: shown, and forgotten when it opens again.
  let streamDown = false;
  liveSource.onerror = () => {
    status.textContent = 'The connection to the server broke (or the server has no live bus). Retrying…';
    streamDown = true;
    judge();
  };
  liveSource.onopen = () => {
    if (streamDown) note('pass', 'reconnected', 'connection to the server open again', 'stream_reconnected');
    streamDown = false;
  };
  liveSource.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'status') {
      const before = source;
      source = m.status;
      status.textContent = m.status === 'running' ? `Listening: ${m.source}`
        : m.status === 'failed' ? `Cannot open the interface: ${m.error} (trying again)`
        : m.status === 'lost' ? `The adapter went away: ${m.error} (trying again)`
        : m.status === 'ended' ? 'The source ended: nothing more will arrive.' : `The source: ${m.status}.`;
      if (m.status === 'running' && (before === 'lost' || before === 'failed'))
        note('pass', 'reconnected', `adapter open again: ${m.source}`, 'reconnected');
      judge();
    } else if (m.type === 'event') {
      const cleared = m.state ? m.state === 'cleared' : String(m.event).endsWith('_cleared');
      const when = new Date(m.t * 1000).toISOString().slice(11, 19);
      while (log.children.length >= 200) log.lastElementChild?.remove();
      log.prepend(h('li', {class: cleared ? 'pass' : 'fail', 'data-event': m.event},
        h('span', {class: `badge ${cleared ? 'pass' : 'fail'}`}, cleared ? 'cleared' : 'alarm'), ` ${when} `,
        h('strong', {}, signalName(String(m.alarm ?? m.event).replace(/_cleared$/, ''))), ` ${m.detail}`));
    } else if (m.type === 'values') {
      const hl = m.health;
      if (hl.frames !== lastFrames) {
        lastFrames = hl.frames;
        lastFrameAt = new Date();
      }
      alarms.replaceChildren(...(hl.alarms as string[]).map((a) =>
        h('p', {class: 'error', role: 'alert', 'data-alarm': a}, `ALARM: ${signalName(a)}`)));
      const v = m.values as Record<string, number | string>;
      const units = (m.units ?? {}) as Record<string, string>;
      const fmt = (k: string) => (typeof v[k] === 'number' ? `${(v[k] as number).toFixed(1)} ${units[k] ?? ''}`.trim() : null);
      health.replaceChildren(
        tile('BMS set', hl.bms_set_complete ? 'complete' : 'incomplete', hl.bms_set_complete),
        tile('Inverter', hl.inverter_heartbeat ? 'answering' : 'silent', hl.inverter_heartbeat),
        tile('Errors / min', hl.errors_per_minute, hl.errors_per_minute === 0),
        tile('Bus', hl.bus_state, hl.bus_state === 'active'),
        tile('Voltage', fmt('pack_voltage')), tile('Current', fmt('pack_current')),
        tile('SOC', fmt('soc')), tile('Charge limit', fmt('charge_current_limit')));
      values.replaceChildren(h('tbody', {}, ...Object.entries(v).map(([k, x]) =>
        h('tr', {}, h('td', {}, signalName(k)),
          h('td', {}, typeof x === 'number' ? `${Math.round(x * 100) / 100}${units[k] ? ' ' + units[k] : ''}` : x)))));
      status.textContent = `${status.textContent?.split(' · ')[0]} · ${hl.frames} frames`;
      judge();
    }
  };
}

// ---- admin: accounts, company details, deleted cases -------------------------------------------


async function adminPage(): Promise<void> {
  const here = stillHere();
  const s = currentSession();
  const parts: Child[] = [h('h1', {}, s.team ? 'Admin' : 'Settings')];
  // Company details, printed on the customer report.
  const company = (await get<{company: Company}>('/api/settings')).company;
  const input = (name: keyof Company, label: string, attrs: Record<string, string> = {}) => {
    const el = h('input', {name, autocomplete: 'off', ...attrs});
    el.value = company[name] ?? '';
    return field(label, el);
  };
  const companyStatus = h('div');
  const companyForm = h('form', {class: 'stack', id: 'company-form'},
    h('h2', {}, 'Company details on reports'),
    input('name', 'Company name'), input('phone', 'Phone', {inputmode: 'tel'}), input('email', 'E-mail', {inputmode: 'email'}),
    input('address', 'Address'), input('website', 'Website'),
    h('button', {class: 'primary', type: 'submit'}, 'Save'), companyStatus);
  companyForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = new FormData(companyForm);
    const out: Company = {};
    for (const k of ['name', 'phone', 'email', 'address', 'website'] as (keyof Company)[]) out[k] = String(d.get(k) ?? '').trim();
    try {
      await send('PUT', '/api/settings', {company: out});
      companyStatus.replaceChildren(h('p', {class: 'ok'}, 'Saved: the next reports carry them.'));
    } catch (err) {
      companyStatus.replaceChildren(errorBox(err));
    }
  });
  parts.push(companyForm);

  // Accounts (team mode).
  if (s.team) {
    const box = h('section', {class: 'panel', id: 'accounts'});
    const render = async (message?: string) => {
      const users = await get<Account[]>('/api/users');
      const rows = users.map((u) => {
        const role = h('select', {'aria-label': `Role of ${u.name}`},
          ...['technician', 'admin'].map((r) => h('option', {value: r, selected: u.role === r}, r)));
        role.addEventListener('change', () => void change(u.name, {role: role.value}));
        const toggle = h('button', {type: 'button', class: 'small'}, u.disabled ? 'Enable' : 'Disable');
        toggle.addEventListener('click', () => void change(u.name, {disabled: !u.disabled}));
        const reset = h('button', {type: 'button', class: 'small ghost'}, 'Reset password');
        reset.addEventListener('click', () => {
          const pw = window.prompt(`New password for ${u.name} (10 characters or more)`);
          if (pw) void change(u.name, {password: pw});
        });
        return h('li', {'data-user': u.name, class: u.disabled ? 'skipped' : ''},
          h('strong', {}, u.name), u.disabled ? h('span', {class: 'badge skipped'}, 'disabled') : null,
          h('div', {class: 'row wrap'}, role, toggle, reset));
      });
      const name = h('input', {name: 'name', autocomplete: 'off'});
      const password = h('input', {name: 'password', type: 'password', autocomplete: 'new-password'});
      const newRole = h('select', {name: 'role'}, h('option', {value: 'technician'}, 'technician'), h('option', {value: 'admin'}, 'admin'));
      const add = h('form', {class: 'stack', id: 'add-user'}, h('h3', {}, 'Add an account'),
        field('Name', name), field('Password (10 characters or more)', password), field('Role', newRole),
        h('button', {type: 'submit', class: 'primary'}, 'Add'));
      add.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          await send('POST', '/api/users', {name: name.value.trim(), password: password.value, role: newRole.value});
          await render(`Account ${name.value.trim()} added.`);
        } catch (err) {
          add.append(errorBox(err));
        }
      });
      fill(box, h('h2', {}, 'Accounts'), message ? h('p', {class: 'ok'}, message) : null,
        h('ul', {class: 'verdicts', id: 'users'}, ...rows), add);
    };
    const change = async (user: string, body: Record<string, unknown>) => {
      try {
        await send('PUT', `/api/users/${encodeURIComponent(user)}`, body);
        await render(`${user}: saved.`);
      } catch (err) {
        box.append(errorBox(err));
      }
    };
    await render();
    parts.push(box);
  }

  // Deleted cases, to bring back.
  const deleted = await get<CaseVersion[]>('/api/deleted');
  const gone = h('section', {class: 'panel', id: 'deleted'}, h('h2', {}, 'Deleted cases'),
    deleted.length ? h('ul', {class: 'verdicts'}, ...deleted.map((v) => {
      const restore = h('button', {type: 'button', class: 'small'}, 'Restore');
      restore.addEventListener('click', async () => {
        try {
          await send('POST', `/api/cases/${encodeURIComponent(v.case.id)}/restore`, {saved_at: v.saved_at});
          location.hash = `#/case/${encodeURIComponent(v.case.id)}`;
        } catch (err) {
          gone.append(errorBox(err));
        }
      });
      return h('li', {'data-case': v.case.id}, h('strong', {}, v.case.site.name || v.case.id),
        h('span', {class: 'muted'}, ` deleted ${localTime(v.saved_at)} `), restore);
    })) : h('p', {class: 'muted'}, 'None.'));
  parts.push(gone);
  if (!here()) return;
  show(...parts);
}

// An admin's part of a case: its earlier versions (to bring one back) and deleting it.
async function caseAdmin(box: HTMLElement, c: CaseJson): Promise<void> {
  if (currentSession().role !== 'admin') return;
  const versions = await get<CaseVersion[]>(`/api/cases/${encodeURIComponent(c.id)}/versions`).catch(() => []);
  const del = h('button', {type: 'button', class: 'ghost', id: 'delete-case'}, 'Delete this case');
  del.addEventListener('click', async () => {
    if (!window.confirm('Delete this case? An admin can restore it from Admin → Deleted cases.')) return;
    try {
      await send('DELETE', `/api/cases/${encodeURIComponent(c.id)}`);
      location.hash = '#/';
    } catch (err) {
      box.append(errorBox(err));
    }
  });
  fill(box, h('h2', {}, 'Admin'),
    versions.length ? h('details', {id: 'versions'}, h('summary', {}, `Earlier versions (${versions.length})`),
      h('ul', {class: 'verdicts'}, ...versions.map((v) => {
        const b = h('button', {type: 'button', class: 'small'}, 'Restore this version');
        b.addEventListener('click', async () => {
          try {
            await send('POST', `/api/cases/${encodeURIComponent(c.id)}/restore`, {saved_at: v.saved_at});
            location.reload();
          } catch (err) {
            box.append(errorBox(err));
          }
        });
        return h('li', {}, `${localTime(v.saved_at)}: ${v.case.checks.length} check(s), ${OUTCOME_WORDS[v.case.outcome]}`,
          v.case.root_cause ? `, ${causeName(v.case.root_cause)}` : '', ' ', b);
      }))) : h('p', {class: 'muted'}, 'No earlier versions.'),
    del);
}

// ---- team mode --------------------------------------------------------------------------------

function loginPage(): void {
  const name = h('input', {name: 'name', autocomplete: 'username', required: 'required'});
  const password = h('input', {name: 'password', type: 'password', autocomplete: 'current-password', required: 'required'});
  const status = h('div');
  const form = h('form', {class: 'stack', id: 'login-form'}, field('Name', name), field('Password', password),
    h('button', {class: 'primary', type: 'submit'}, 'Log in'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await login(name.value.trim(), password.value);
      renderWho();
      await loadVocabulary();
      location.hash = '#/';
      void route();
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  });
  // A team server's session cookie is Secure: a browser keeps it only over HTTPS (or on this
  // machine itself). Over plain HTTP from another machine the login would loop without a word.
  const local = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(location.hostname);
  const insecure = location.protocol === 'http:' && !local && currentSession().cookie_secure !== false;
  if (insecure) {
    name.disabled = true;
    password.disabled = true;
    form.querySelector('button')?.setAttribute('disabled', '');
  }
  show(h('h1', {}, 'Log in'),
    insecure ? h('div', {class: 'error', id: 'login-insecure', role: 'alert'},
      h('p', {}, 'This team server is reached over plain HTTP, so your browser will not keep the login (its cookie is only sent over HTTPS).'),
      h('p', {}, `Open it over HTTPS (behind nginx or Caddy with a certificate), or on the server itself at http://localhost:${location.port || '80'}/.`)) : null,
    form);
}

function renderWho(): void {
  const who = document.getElementById('who') as HTMLElement;
  const s = currentSession();
  // Accounts, company details and deleted cases: an admin's (everyone's in single-user mode).
  const admin = document.querySelector<HTMLElement>('#nav a[href="#/admin"]');
  if (admin) admin.hidden = s.role !== 'admin';
  if (!s.team || !s.user) {
    who.replaceChildren();
    return;
  }
  const out = h('button', {type: 'button', class: 'ghost small'}, 'Log out');
  out.addEventListener('click', async () => {
    await logout();
    renderWho();
    location.hash = '#/login';
  });
  const me = h('a', {class: 'user', href: '#/account', id: 'account-link', title: `${s.user} (${s.role}): your account`}, s.user);
  who.replaceChildren(me, out);
}

// The technician's own account: a new password (the other devices are logged out) and "log out
// everywhere" for a lost phone.
function accountPage(): void {
  const s = currentSession();
  if (!s.team || !s.user) {
    show(h('h1', {}, 'Account'), h('p', {class: 'muted'}, 'Single-user mode has no accounts.'));
    return;
  }
  const current = h('input', {name: 'current', type: 'password', autocomplete: 'current-password', required: 'required'});
  const fresh = h('input', {name: 'new', type: 'password', autocomplete: 'new-password', required: 'required', minlength: '10'});
  const again = h('input', {name: 'again', type: 'password', autocomplete: 'new-password', required: 'required', minlength: '10'});
  const status = h('div', {id: 'password-status', role: 'status'});
  const form = h('form', {class: 'stack', id: 'password-form'},
    field('Current password', current),
    field('New password', fresh, 'At least 10 characters'),
    field('New password again', again),
    h('button', {class: 'primary', type: 'submit'}, 'Change password'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (fresh.value !== again.value) {
      status.replaceChildren(h('p', {class: 'error'}, 'The two new passwords differ.'));
      return;
    }
    try {
      await changePassword(current.value, fresh.value);
      form.reset();
      status.replaceChildren(h('p', {class: 'ok'}, 'Password changed. Your other devices are logged out; this one stays logged in.'));
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  });
  const everywhere = h('button', {type: 'button', id: 'logout-everywhere'}, 'Log out everywhere');
  everywhere.addEventListener('click', async () => {
    if (!confirm('Log this account out on every phone and computer, this one included?')) return;
    try {
      await logoutEverywhere();
      renderWho();
      location.hash = '#/login';
    } catch (err) {
      status.replaceChildren(errorBox(err));
    }
  });
  show(h('h1', {}, 'Your account'),
    h('p', {}, `Logged in as `, h('strong', {}, s.user), ` (${s.role}).`),
    h('section', {class: 'panel'}, h('h2', {}, 'Password'), form),
    h('section', {class: 'panel'}, h('h2', {}, 'Devices'),
      h('p', {}, 'A lost phone or a shared computer still logged in: end every session of this account. You log in again here.'),
      everywhere));
}

// ---- router -----------------------------------------------------------------------------------

async function route(): Promise<void> {
  const here = (++routeGeneration, stillHere());
  window.clearInterval(timerHandle);
  if (!location.hash.startsWith('#/live')) {
    window.clearInterval(liveWatch);
    liveSource?.close();
    liveSource = null;
  }
  const hash = location.hash.replace(/^#/, '') || '/';
  const s = currentSession();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a'))
    a.classList.toggle('active', a.getAttribute('href') === `#${hash}` || (hash.startsWith('/case') && a.getAttribute('href') === '#/'));
  if (s.team && !s.user && hash !== '/login') {
    location.hash = '#/login';
    return;
  }
  try {
    if (hash === '/login') return loginPage();
    if (hash === '/new') return await newCasePage();
    if (hash.startsWith('/case/')) return await casePage(decodeURIComponent(hash.slice(6)));
    if (hash === '/analyze') return analyzePage();
    if (hash === '/live') return livePage();
    if (hash === '/stats') return await statsPage();
    if (hash === '/compat') return await compatPage();
    if (hash === '/hardcode' || hash.startsWith('/hardcode?')) return await hardcodePage();
    if (hash === '/admin') return await adminPage();
    if (hash === '/account') return accountPage();
    return await casesPage();
  } catch (e) {
    if (!here()) return;
    if (e instanceof ApiError && e.status === 401) {
      location.hash = '#/login';
      return;
    }
    show(errorBox(e));
  }
}

window.addEventListener('hashchange', () => void route());
// A file dropped beside the drop zone must not replace the app with the file.
for (const type of ['dragover', 'drop'])
  window.addEventListener(type, (e) => {
    if (!(e.target as HTMLElement).closest?.('.drop')) e.preventDefault();
  });
void refreshSession().then(async () => {
  renderWho();
  await loadVocabulary();
  return route();
}).catch((e) => show(errorBox(e)));

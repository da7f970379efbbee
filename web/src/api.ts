// The JSON API of `bmslink serve` (docs/api.md). Every write carries the session's CSRF token
// in team mode; an error answer's {"error": ...} becomes the thrown message.

export interface Session {
  team: boolean;
  max_upload_bytes?: number;
  user: string | null;
  role: string | null;
  csrf: string | null;
  // Team mode: the login cookie is Secure (the page must be on HTTPS or on this machine).
  cookie_secure?: boolean;
}

let session: Session = {team: false, user: null, role: 'admin', csrf: null};

export function currentSession(): Session {
  return session;
}

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

// The entity tag of each case as last seen from the server (ETag / X-Case-ETag): an update is sent
// with If-Match, so a case another device saved meanwhile is not overwritten (412 instead).
const caseTags = new Map<string, string>();

export function caseTag(id: string): string | undefined {
  return caseTags.get(id);
}

async function handle(res: Response): Promise<unknown> {
  const id = res.headers.get('X-Case-Id');
  const tag = res.headers.get('X-Case-ETag');
  if (id && tag) caseTags.set(id, tag);
  const type = res.headers.get('Content-Type') ?? '';
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    if (type.includes('json')) {
      const body = (await res.json()) as {error?: string};
      if (body.error) message = body.error;
    }
    throw new ApiError(message, res.status);
  }
  if (res.status === 204) return null;
  return type.includes('json') ? res.json() : res.text();
}

function headers(json: boolean, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = {...extra};
  if (json) h['Content-Type'] = 'application/json';
  if (session.csrf) h['X-CSRF-Token'] = session.csrf;
  return h;
}

export async function get<T>(path: string): Promise<T> {
  return (await handle(await fetch(path, {credentials: 'same-origin'}))) as T;
}

export async function send<T>(method: string, path: string, body?: unknown,
                              extra: Record<string, string> = {}): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: headers(body !== undefined, extra),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await handle(res)) as T;
}

export async function refreshSession(): Promise<Session> {
  session = await get<Session>('/api/session');
  return session;
}

// The login answers the user, role and token; the session's other fields (the upload limit,
// whether the cookie is Secure) come from /api/session.
export async function login(name: string, password: string): Promise<Session> {
  session = await send<Session>('POST', '/api/login', {name, password});
  return refreshSession();
}

export async function logout(): Promise<void> {
  await send('POST', '/api/logout');
  session = {team: true, user: null, role: null, csrf: null};
}

// Every session of this account, on every device, ends.
export async function logoutEverywhere(): Promise<number> {
  const r = await send<{sessions_ended: number}>('POST', '/api/logout/everywhere');
  session = {team: true, user: null, role: null, csrf: null};
  return r.sessions_ended;
}

// The account's own password; the other devices are logged out, this one goes on (a new token).
export async function changePassword(current: string, fresh: string): Promise<Session> {
  session = await send<Session>('POST', '/api/password', {current, new: fresh});
  return refreshSession();
}

// The capture goes up as the raw body (the server analyses it as it streams in); XHR because
// fetch cannot report upload progress.
export function upload<T>(file: File, query: string, progress: (share: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/analyze?name=${encodeURIComponent(file.name)}${query}`);
    if (session.csrf) xhr.setRequestHeader('X-CSRF-Token', session.csrf);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: {error?: string} = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = {error: `${xhr.status}: not JSON`};
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else reject(new ApiError(body.error ?? `upload failed (${xhr.status})`, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError('the upload was interrupted (network)', 0));
    xhr.send(file);
  });
}

// ---- shapes of the answers used by the pages -------------------------------------------

export interface AskOption {
  value: string | number;
  label: string;
  note: string;
  recommended: boolean;
}

export interface Ask {
  key: string;
  type: 'text' | 'number' | 'choice' | 'yes_no' | 'list' | 'capture';
  prompt: string;
  unit?: string;
  choices?: (string | number)[];
  min?: number;
  max?: number;
  allow?: string[];
  options?: AskOption[];
  other?: boolean;
}

// GET /api/vocabulary: the words for the ids.
export interface Vocabulary {
  causes: Record<string, string>;
  checks: Record<string, string>;
  layers: Record<string, string>;
  inputs: Record<string, {prompt: string; type: Ask['type']; unit: string; choices: (string | number)[];
    labels: Record<string, string>}>;
}

export type SourceClass = 'vendor_manual' | 'vendor_compatibility_list' | 'installer_report' | 'emulator_report';

export interface Verdict {
  check: string;
  layer: number;
  verdict: 'pass' | 'fail' | 'skipped' | 'unknown' | 'marginal' | 'suspect';
  reason: string;
  from_capture: boolean;
  cause: string | null;
  source_class: SourceClass | null;
  fix?: string;
}

export interface Guided {
  confirmed: string | null;
  layer: number | null;
  layer_name: string | null;
  confirmed_by: string | null;
  reason: string | null;
  fix: string | null;
  reverify: string | null;
  explain: {technician: string | null; customer: string | null};
  verdicts: Verdict[];
  // why: the order's reason ("next: termination fault — 44 % of your company's calls, 3 min");
  // how: the check explained for the technician.
  next: null | {check: string; layer: number; title: string; why: string; how: string;
    probability: number; minutes: number; asks: Ask[]};
  order: {mode: 'learned' | 'guide'; requested: 'learned' | 'guide'; closed_cases: number;
    group?: {kind: 'company' | 'inverter_family' | 'battery_family' | 'pair'; name: string | null; closed_cases: number};
    known_bad?: {cause: string; check: string | null; checks: string[]; pair: string; cases: number; closed_cases: number} | null};
  minutes: Record<string, number>;
  budget: Record<string, number>;
  budget_max: Record<string, number>;
  over_budget: number[];
  escalate: boolean;
  link: null | {bus: 'can' | 'rs485'; protocol: string; reason: string; port: string | null; source_class: SourceClass | null};
  marginal: Verdict[];
  suspects: Verdict[];
  hardcode: null | {battery: string; cells_series: number; charge_max_v: number | null; cutoff_min_v: number | null; source_class: SourceClass | null};
  still_open: string[];
  tentative: boolean;
  case?: CaseJson;
}

// POST /api/hardcode (docs/api.md).
export interface HardcodeAdvice {
  pack: {cells_series: number; from: 'battery' | 'cells'; battery: string | null; battery_name: string | null;
    charge_max_v: number | null; cutoff_min_v: number | null; sources: string[]; source_class: SourceClass | null};
  limited: string[];
  settings: {communication: string; battery_type: string; charge_voltage_v: number; charge_v_per_cell: number;
    cutoff_voltage_v: number; cutoff_v_per_cell: number; charge_current_a: [number, number]; discharge_current_a: [number, number]};
  kwh: number;
  kwh_estimated: boolean;
  verdict: 'acceptable' | 'not_acceptable' | 'depends';
  against: string[];
  for: string[];
  deciding: string[];
  lost_protection: string[];
  maintenance: string;
  expected_life: string;
  acknowledgment: string | null;
}

export interface CaseJson {
  id: string;
  opened: string;
  closed: string | null;
  installer?: string;
  site: {name: string; customer: string; address: string};
  bms: {model: string; firmware: string; count: number | null; energy_kwh: number | null};
  inverter: {model: string; firmware: string};
  symptom: string;
  checks: {check: string; layer: number; inputs: Record<string, unknown>; verdict: string; minutes: number}[];
  captures: {file: string; sha256: string; findings: StoredFinding[]}[];
  root_cause: string | null;
  layer: number | null;
  fix: string;
  verification: {uptime_share: number | null; hours: number | null};
  outcome: 'fixed' | 'hardcoded' | 'escalated' | 'open';
  minutes_by_layer: Record<string, number>;
  total_minutes?: number;
  hardcoded: Record<string, unknown> | null;
  acknowledged_by: string;
  acknowledged_at: string | null;
  notes: string;
  root_cause_reason: string;
  fix_by_hand: boolean;
  history: CaseChange[];
}

export interface CaseChange {
  at: string;
  by: string;
  field: string;
  key: string;
  check: string;
  from: unknown;
  to: unknown;
  reason: string;
}

// A finding as a case keeps it (records::attach_capture): no layer name, evidence by time.
export interface StoredFinding {
  cause: string;
  layer: number | null;
  severity: 'fault' | 'warning' | 'info';
  score: number;
  title: string;
  evidence: {text: string; at_ns: number | null}[];
  fix: string;
}

export interface Finding {
  cause: string;
  layer: number | null;
  layer_name: string | null;
  note?: boolean;
  severity: 'fault' | 'warning' | 'info';
  score: number;
  title: string;
  evidence: {text: string; t: number | null}[];
  fix: string;
}

export interface Analysis {
  file: string;
  format: string;
  frames: number;
  duration_s: number | null;
  capture_id?: string;
  size_bytes?: number;
  protocol: {family: string; variant: string | null; manufacturer: string | null; confidence: number; reasons: string[]};
  summary: {
    verdict: string;
    talking: string;
    errors_per_minute: number | null;
    bus_load_peak: number | null;
    uptime: {share: number | null; dropouts: number; longest_outage_s: number | null; not_judged?: string | null};
    start: number | null;
    // Several files as one capture (a zipped logger folder): the time no file covers.
    file_gaps?: {start_utc: string; length_s: number; before: string; after: string; recorded: boolean}[];
  };
  talkers: {ids: string[]; period_ms: number | null}[];
  findings: Finding[];
  timeline: {
    width_s: number;
    ids: string[];
    bins: {
      t: number;
      frames: number;
      errors: number;
      voltage_v: number | null;
      current_a: number | null;
      temperature_c: number | null;
      soc: number | null;
      ccl_a: number | null;
      dcl_a: number | null;
      present: boolean[];
    }[];
  };
}

// GET /api/stats, /api/compat, /api/users, /api/settings, /api/cases/{id}/versions (docs/api.md).
export interface Stats {
  cases: number;
  by_cause: Record<string, number>;
  closed_cases: number;
  by_cause_closed: Record<string, number>;
  by_cause_open: Record<string, number>;
  by_layer: Record<string, number>;
  layer_yield: Record<string, number>;
  cumulative_yield: Record<string, number>;
  minutes_by_layer: Record<string, {mean: number | null; median: number | null}>;
  solved_within_minutes: Record<string, number>;
  outcomes: Record<string, number>;
  // Expected minutes to the cause per call on this company's mix, in its own order and the
  // field guide's (null without a closed case with a root cause).
  order: {closed_cases: number; learns: boolean; learned_minutes: number | null; guide_minutes: number | null;
    groups?: {kind: 'inverter_family' | 'battery_family' | 'pair'; name: string; closed_cases: number}[];
    known_bad_pairs?: {pair: string; inverter_model: string; bms_model: string; cause: string; check: string | null;
      cases: number; closed_cases: number}[]};
}

export interface CompatRow {
  bms: {model: string; firmware: string};
  inverter: {model: string; firmware: string};
  worked: number; failed: number; hardcoded: number; open: number;
  causes: Record<string, number>;
  by_firmware: {bms_firmware: string; inverter_firmware: string; worked: number; failed: number; hardcoded: number; open: number}[];
  known_bad?: {cause: string; check: string | null; cases: number; closed_cases: number} | null;
}

export interface Account { name: string; role: 'admin' | 'technician'; disabled: boolean }

export interface Company { name?: string; phone?: string; email?: string; address?: string; website?: string }

export interface CaseVersion { saved_at: string; deleted: boolean; case: CaseJson }

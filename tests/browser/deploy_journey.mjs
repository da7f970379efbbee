// A company's deployment, end to end (issue 21): Debian's nginx with a self-signed certificate
// made here, running the site file of docs/deploy/nginx-bmslink.conf, in front of two
// `bmslink serve --team` processes on one real PostgreSQL and one captures directory. Through it,
// at a phone (390 px) and a laptop (1280 px): a guesser behind the same proxy is stopped without
// locking out the technician, who logs in, works a case (served by both processes in turn),
// keeps working across a restart of both servers, and logs out. Screenshots kept.
import {execFileSync, execSync, spawn} from 'child_process';
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'fs';
import https from 'https';
import net from 'net';
import {tmpdir} from 'os';
import {dirname, join} from 'path';
import {fileURLToPath} from 'url';
import {harness, launch} from './common.mjs';

const [bmslink, work, shots] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
rmSync(work, {recursive: true, force: true});
mkdirSync(work, {recursive: true});
mkdirSync(shots, {recursive: true});
const {failures, check, shot, noSideways, readable, checks} = harness(shots);

const freePort = () => new Promise((resolve) => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1', () => {
    const {port} = srv.address();
    srv.close(() => resolve(port));
  });
});

// PostgreSQL from Debian's packages, as the postgres user, in a directory of its own.
function startPostgres(port) {
  const bin = execSync('ls -d /usr/lib/postgresql/*/bin | tail -1').toString().trim();
  const dir = mkdtempSync(join(tmpdir(), 'bmslink-deploy-pg-'));
  const root = process.getuid() === 0;
  const as = root ? 'runuser -u postgres -- ' : '';
  if (root) execSync(`chown postgres ${dir}`);
  execSync(`${as}${bin}/initdb -D ${dir}/data -A trust -U postgres -E UTF8 --no-sync >${dir}/initdb.log 2>&1`, {shell: '/bin/sh'});
  execSync(`${as}${bin}/pg_ctl -D ${dir}/data -l ${dir}/server.log -w -t 60 -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1" start >/dev/null 2>&1`, {shell: '/bin/sh'});
  return {url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
          stop: () => {
            execSync(`${as}${bin}/pg_ctl -D ${dir}/data -m immediate -w stop >/dev/null 2>&1 || true`, {shell: '/bin/sh'});
            rmSync(dir, {recursive: true, force: true});
          }};
}

function startServe(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(bmslink, ['serve', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve did not start: ' + out)), 20000);
    const seen = (d) => {
      out += d;
      if (/bmslink web console: http/.test(out)) {
        clearTimeout(timer);
        resolve({proc: p, log: () => out});
      }
    };
    p.stdout.on('data', seen);
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

function stopProc(s) {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null) return resolve();
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', () => resolve());
    s.proc.kill('SIGTERM');
  });
}

// docs/deploy/nginx-bmslink.conf with this test's ports, certificate and upstreams, inside a
// main configuration of its own (no system paths written).
function nginxConfig(dir, port, upstreams, cert, key) {
  let site = readFileSync(join(here, '..', '..', 'docs', 'deploy', 'nginx-bmslink.conf'), 'utf8');
  site = site.replace(/^\s*server 127\.0\.0\.1:8080;\n(\s*#.*\n)?/m,
                      upstreams.map((p) => `    server 127.0.0.1:${p};\n`).join(''));
  site = site.replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`);
  site = site.replace('/etc/ssl/bmslink/fullchain.pem', cert).replace('/etc/ssl/bmslink/privkey.pem', key);
  // The HTTP redirect server: on a port of its own here.
  site = site.replace('listen 80;', `listen 127.0.0.1:${port + 1};`);
  for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t), {recursive: true});
  return `user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${site}
}
`;
}

// A login attempt from another client address behind the same proxy (127.0.0.2: Linux answers
// for all of 127/8 on loopback).
function loginFrom(localAddress, port, name, password) {
  return new Promise((resolve) => {
    const body = JSON.stringify({name, password});
    const req = https.request({host: '127.0.0.1', port, path: '/api/login', method: 'POST', localAddress,
      rejectUnauthorized: false,
      headers: {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                'Host': `127.0.0.1:${port}`}}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

const pgPort = await freePort();
let pg = null;
const serves = [];
let nginx = null;
const browser = await launch();
try {
  pg = startPostgres(pgPort);
  const cert = join(work, 'cert.pem'), key = join(work, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], {stdio: 'ignore'});
  for (const [name, role] of [['boss', 'admin'], ['tech1', 'technician']])
    execFileSync(bmslink, ['user', 'add', name, '--role', role, '--db', pg.url], {input: `${name}-password-1\n`});
  const captures = join(work, 'captures');
  const ports = [await freePort(), await freePort()];
  const serveArgs = (p) => ['--port', String(p), '--db', pg.url, '--team', '--trusted-proxy', '127.0.0.1',
    '--captures', captures];
  for (const p of ports) serves.push(await startServe(serveArgs(p)));
  const port = await freePort();
  const ngdir = join(work, 'nginx');
  mkdirSync(ngdir, {recursive: true});
  writeFileSync(join(ngdir, 'nginx.conf'), nginxConfig(ngdir, port, ports, cert, key));
  execFileSync('nginx', ['-t', '-c', join(ngdir, 'nginx.conf'), '-p', ngdir], {stdio: 'ignore'});
  nginx = spawn('nginx', ['-c', join(ngdir, 'nginx.conf'), '-p', ngdir, '-g', 'daemon off;'], {stdio: 'ignore'});
  for (let i = 0; i < 50; i++) {
    if (await loginFrom('127.0.0.1', port, 'nobody', 'x') !== -1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const base = `https://127.0.0.1:${port}/`;

  // A guesser on 127.0.0.2, behind the same proxy, runs into the per-client limit...
  const codes = [];
  for (let i = 0; i < 24; i++) codes.push(await loginFrom('127.0.0.2', port, `nobody${i}`, 'wrong-password'));
  check(codes.slice(0, 20).every((c) => c === 401) && codes.slice(20).every((c) => c === 429),
        `the guesser behind the proxy: ${codes.join(' ')}`);

  let caseId = null;
  // The technician's password: changed on the account page at each width.
  let password = 'tech1-password-1';
  for (const width of [390, 1280]) {
    const where = (what) => `${what} at ${width} px`;
    const context = await browser.newContext({ignoreHTTPSErrors: true, viewport: {width, height: 860}});
    const page = await context.newPage();
    page.on('pageerror', (e) => failures.push(where(`script error: ${e.message}`)));
    // ...while the technician (127.0.0.1) is not locked out: five wrong passwords of their own,
    // then in.
    await page.goto(base);
    await page.locator('#login-form').waitFor({timeout: 15000});
    check(await page.locator('#login-insecure').count() === 0, where('over HTTPS the login page has no warning'));
    for (let i = 0; i < 5; i++) {
      await page.fill('input[name=name]', 'tech1');
      await page.fill('input[name=password]', `wrong-password-${i}`);
      await page.locator('#login-form button[type=submit]').click();
      await page.waitForFunction((n) => document.querySelector('#login-form .error')?.textContent.includes('wrong name or password'), i, {timeout: 20000});
    }
    await shot(page, 'deploy-login-refused', width);
    await page.fill('input[name=password]', password);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#new-case').waitFor({timeout: 30000});
    // The same technician on another device (a phone left in the van).
    const phone = await browser.newContext({ignoreHTTPSErrors: true});
    const phoneLogin = await phone.request.post(base + 'api/login', {data: {name: 'tech1', password}});
    check(phoneLogin.status() === 200, where(`a second device logs in: ${phoneLogin.status()}`));
    check((await page.locator('#who').innerText()).includes('tech1'), where('logged in as tech1 through nginx'));
    const cookie = (await context.cookies()).find((c) => c.name === 'bmslink_session');
    check(cookie && cookie.secure && cookie.httpOnly && cookie.sameSite === 'Strict', where(`the cookie over HTTPS: ${JSON.stringify(cookie)}`));
    const hsts = (await page.request.get(base + 'api/session')).headers()['strict-transport-security'];
    check(hsts === 'max-age=31536000', where(`HSTS through the proxy: ${hsts}`));

    // Works a case: nginx sends the requests to both servers in turn.
    await page.locator('#new-case').click();
    await page.fill('input[name=site]', `Garage ${width}`);
    await page.fill('input[name=bms_model]', 'Pylontech US5000');
    await page.fill('input[name=bms_count]', '2');
    await page.fill('input[name=inverter_model]', 'Deye SUN-8K-SG04LP3-EU');
    await page.locator('#new-case-form button[type=submit]').click();
    await page.locator('#ask-form[data-check="l1.protocol_setting"]').waitFor({timeout: 15000});
    caseId = decodeURIComponent(page.url().split('#/case/')[1]);
    await page.locator('#ask-form button[data-value="__other"]').click();
    await page.fill('#ask-form input[data-other]', 'Lithium 01');
    await page.locator('#ask-form button[type=submit]').click();
    await page.locator('#confirmed').waitFor({timeout: 15000});
    check(await page.locator('#confirmed').getAttribute('data-cause') === 'inverter_protocol_mismatch', where('the case stops at the protocol setting'));
    await readable(page, where('the case'));
    await noSideways(page, where('the case'));
    await shot(page, 'deploy-case', width);
    // Read five times: whichever server answers, the case is there with its answer.
    for (let i = 0; i < 5; i++) {
      const r = await page.request.get(`${base}api/cases/${encodeURIComponent(caseId)}`);
      const c = r.status() === 200 ? await r.json() : {};
      check(c.root_cause === 'inverter_protocol_mismatch' && c.installer === 'tech1', where(`read ${i}: ${r.status()} ${c.root_cause}`));
    }

    // Both servers restarted (an upgrade): the open page goes on without a new login.
    for (let i = 0; i < serves.length; i++) {
      await stopProc(serves[i]);
      serves[i] = await startServe(serveArgs(ports[i]));
    }
    await page.reload();
    await page.locator('#confirmed').waitFor({timeout: 30000});
    check(await page.locator('#login-form').count() === 0, where('after the restart the page is still logged in'));
    await page.fill('#notes, textarea[name=notes]', `Restarted servers, ${width} px`).catch(() => {});
    const save = await page.evaluate(async (id) => {
      const s = await (await fetch('/api/session')).json();
      const r = await fetch(`/api/cases/${encodeURIComponent(id)}`, {method: 'PUT',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf},
        body: JSON.stringify({notes: 'written after the restart'})});
      return {status: r.status, user: s.user};
    }, caseId);
    check(save.status === 200 && save.user === 'tech1', where(`a write after the restart: ${JSON.stringify(save)}`));

    // The account page, then log out: the cookie no longer opens anything on either server.
    await page.locator('#account-link').click();
    await page.locator('#password-form').waitFor({timeout: 15000});
    await readable(page, where('the account page'));
    await noSideways(page, where('the account page'));
    await shot(page, 'deploy-account', width);
    // A new password: this page stays logged in, the other device is out, the new one works.
    const fresh = width === 390 ? 'tech1-password-2' : 'tech1-password-1';
    await page.fill('#password-form input[name=current]', password);
    await page.fill('#password-form input[name=new]', fresh);
    await page.fill('#password-form input[name=again]', fresh);
    await page.locator('#password-form button[type=submit]').click();
    await page.locator('#password-status .ok').waitFor({timeout: 15000});
    check((await page.locator('#password-status').innerText()).includes('other devices are logged out'), where('the page says the other devices are logged out'));
    await shot(page, 'deploy-password-changed', width);
    await new Promise((r) => setTimeout(r, 5500));  // every server re-reads a session within 5 s
    const phoneAfter = [];
    for (let i = 0; i < 4; i++) phoneAfter.push((await phone.request.get(base + 'api/cases')).status());
    check(phoneAfter.every((st) => st === 401), where(`the other device after the change: ${phoneAfter.join(' ')}`));
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push((await page.request.get(base + 'api/cases')).status());
    check(mine.every((st) => st === 200), where(`this page after the change: ${mine.join(' ')}`));
    password = fresh;
    await phone.close();
    await page.locator('#who button').click();
    await page.locator('#login-form').waitFor({timeout: 15000});
    const after = [];
    for (let i = 0; i < 4; i++) after.push((await page.request.get(base + 'api/cases')).status());
    check(after.every((s) => s === 401), where(`after the logout: ${after.join(' ')}`));
    await context.close();
  }
} catch (e) {
  failures.push(`deploy journey stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  if (nginx) nginx.kill('SIGQUIT');
  for (const s of serves) await stopProc(s);
  if (pg) pg.stop();
}
console.log(`deploy journey: ${checks()} checks, screenshots in ${shots}`);
if (failures.length) {
  console.log(`deploy journey: ${failures.length} failure(s)`);
  for (const f of failures) console.log('  ' + f);
  process.exit(1);
}

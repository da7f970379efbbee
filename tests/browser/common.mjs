// What the browser tests share: a `bmslink serve` on a free port, Debian's Chromium, screenshots,
// and the checks every page gets (no sideways scroll, no tiny text, no raw ids or "undefined").
import {chromium} from 'playwright-core';
import {spawn} from 'child_process';
import {join} from 'path';

export function serve(bmslink, db, extra = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(bmslink, ['serve', '--port', '0', '--db', db, ...extra], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve did not start: ' + out)), 15000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({url: m[1], proc: p});
      }
    });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

export function stop(s) {
  return new Promise((resolve) => {
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', (code, signal) => resolve({code, signal}));
    s.proc.kill('SIGTERM');
  });
}

export function launch(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', ...extra],
  });
}

// Ids a technician should never read on a page: check ids, cause ids, input keys.
const RAW = /\b(l[1-5]\.[a-z_]+|[a-z]+(?:_[a-z]+)*_(?:mismatch|fault|setting|conflict|wrong|ohms|kbps|visible|seated|passed|matches|type|shielded|length_m|environment|power|timing))\b/;

export function harness(shots) {
  const failures = [];
  let count = 0;
  const check = (ok, what) => { count++; if (!ok) failures.push(what); };
  const shot = (page, name, width) => page.screenshot({path: join(shots, `web-${name}-${width}.png`), fullPage: true});
  const noSideways = async (page, where) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${where}: the page scrolls sideways by ${overflow} px`);
  };
  // The words on the page: no "undefined", "NaN", "[object", raw ids or API error text.
  const readable = async (page, where) => {
    const text = await page.locator('main').innerText();
    for (const bad of ['undefined', 'NaN', '[object', 'the server takes a capture', '/api/'])
      check(!text.includes(bad), `${where}: the page shows "${bad}"`);
    const command = text.match(/\bbmslink (analyze|diagnose|capture|monitor|record|serve)\b|--[a-z]{3,}/);
    check(!command, `${where}: the page shows a command line "${command?.[0]}"`);
    const raw = text.match(RAW);
    check(!raw, `${where}: the page shows a raw id "${raw?.[0]}"`);
  };
  return {failures, check, shot, noSideways, readable, checks: () => count};
}

// The case reports and the statistics page as their readers see them: Debian's Chromium opens the
// technician and customer reports of a fixed, a hardcoded and an escalated case, the hardcoded
// case's acknowledgment and the statistics page at a phone width (390 px) and a laptop width
// (1280 px), and prints each on A4 and on Letter. It checks what a reader needs: nothing a customer
// or technician typed becomes markup (the fixtures carry <script> and <b>), no text under 12 px
// (SVG text scaled by its chart), no sideways scrolling, a signature field on the acknowledgment,
// and charts on the statistics page. Screenshots and PDFs are kept under the build directory.
import {chromium} from 'playwright-core';
import {execFileSync} from 'child_process';
import {existsSync, mkdirSync, readFileSync, rmSync} from 'fs';
import {dirname, join} from 'path';
import {fileURLToPath} from 'url';

const [bmslink, work, shots] = process.argv.slice(2);
const cases = join(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'cases');
rmSync(work, {recursive: true, force: true});
mkdirSync(work, {recursive: true});
mkdirSync(shots, {recursive: true});
const failures = [];
let checks = 0;
const check = (ok, what) => { checks++; if (!ok) failures.push(what); };

const browserPath = '/usr/bin/chromium';
if (!existsSync(browserPath)) {
  console.error('browser: /usr/bin/chromium is missing (scripts/bootstrap installs it)');
  process.exit(1);
}

// A company server keeps its database deep in a long path, and the statistics page names it: the
// path (no hyphen to break at) must wrap at a phone's width instead of pushing the page sideways.
const dbDir = join(work, 'srv', 'bmslink_service_records_of_the_company', 'installer_team_north');
mkdirSync(dbDir, {recursive: true});
const db = join(dbDir, 'cases.db');
for (const f of ['fixed', 'hardcoded', 'escalated'])
  execFileSync(bmslink, ['case', 'import', join(cases, `${f}.json`), '--db', db]);

// What each page must say; the ids come from the fixture files.
const pages = [
  {name: 'fixed-technician', args: ['2026-0412-termination', '--technician'],
   must: ['Termination', '120.4', 'Termination wrong', '<script>alert(1)</script>']},
  {name: 'fixed-customer', args: ['2026-0412-termination', '--customer'],
   must: ['What was wrong', 'Why it should not come back', 'Warning signs', '99.9 %']},
  {name: 'hardcoded-technician', args: ['2026-0520-hardcode', '--technician'],
   must: ['Orchard <b>cabin</b>', 'charge voltage (V)', '56', 'Expected battery life']},
  {name: 'hardcoded-customer', args: ['2026-0520-hardcode', '--customer'],
   must: ['What this gives up', 'Maintenance']},
  {name: 'hardcoded-acknowledgment', args: ['2026-0520-hardcode', '--acknowledgment'],
   must: ['I acknowledge', "Mary O'Neill", 'Signature', 'cell-level imbalance protection'],
   signature: true},
  {name: 'escalated-technician', args: ['2026-0611-escalated', '--technician'],
   must: ['Lakeside | workshop', 'not found', '`fault 25`']},
  {name: 'escalated-customer', args: ['2026-0611-escalated', '--customer'],
   must: ['manufacturer', '91.0 %']},
];
for (const p of pages) {
  p.html = join(work, `${p.name}.html`);
  execFileSync(bmslink, ['report', ...p.args, '--html', '-o', p.html, '--db', db]);
}
const stats = {name: 'stats', html: join(work, 'stats.html'), charts: 6,
               must: ['Root causes', 'Termination wrong', 'Unknown protocol', '3 case(s)']};
execFileSync(bmslink, ['stats', '--html', '-o', stats.html, '--db', db]);
pages.push(stats);

for (const p of pages) {
  const raw = readFileSync(p.html, 'utf8');
  check(!/<script/i.test(raw), `${p.name}: the HTML holds a <script> element`);
}

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
try {
  for (const width of [390, 1280]) {
    const page = await browser.newPage({viewport: {width, height: 900}});
    for (const p of pages) {
      await page.goto('file://' + p.html);
      const m = await page.evaluate(() => {
        const small = [];
        for (const el of document.body.querySelectorAll('*')) {
          if (el.closest('svg')) continue;
          const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
          if (!own) continue;
          const px = parseFloat(getComputedStyle(el).fontSize);
          if (px < 12) small.push(`${el.tagName} ${px}px "${el.textContent.trim().slice(0, 30)}"`);
        }
        for (const svg of document.querySelectorAll('svg')) {
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          for (const t of svg.querySelectorAll('text')) {
            const px = parseFloat(getComputedStyle(t).fontSize) * scale;
            if (px < 12) small.push(`svg text ${px.toFixed(1)}px "${t.textContent}"`);
          }
        }
        // An SVG label wider than its chart is cut off.
        const clipped = [];
        for (const svg of document.querySelectorAll('svg')) {
          const box = svg.getBoundingClientRect();
          for (const t of svg.querySelectorAll('text')) {
            const r = t.getBoundingClientRect();
            if (r.right > box.right + 1 || r.left < box.left - 1) clipped.push(t.textContent);
          }
        }
        return {
          text: document.body.innerText,
          small,
          clipped,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          injected: document.querySelectorAll('body script, body b').length,
          charts: document.querySelectorAll('figure svg rect').length > 0
              ? document.querySelectorAll('figure svg').length : 0,
          signatureLines: document.querySelectorAll('.sig div').length,
        };
      });
      const where = `${p.name} at ${width} px`;
      for (const s of p.must) check(m.text.includes(s), `${where}: "${s}" is not shown`);
      check(m.injected === 0, `${where}: a typed string became markup`);
      check(m.small.length === 0, `${where}: text under 12 px: ${m.small.slice(0, 5).join('; ')}`);
      check(m.clipped.length === 0, `${where}: chart labels cut off: ${m.clipped.slice(0, 3).join('; ')}`);
      check(m.overflow <= 0, `${where}: the page scrolls sideways by ${m.overflow} px`);
      if (p.signature) check(m.signatureLines >= 2, `${where}: no lines to write the date and sign on`);
      if (p.charts) check(m.charts >= p.charts, `${where}: ${m.charts} charts, expected ${p.charts}`);
      await page.screenshot({path: join(shots, `records-${p.name}-${width}.png`), fullPage: true});
    }
    await page.close();
  }
  // Print-ready: each page prints on A4 and on Letter without a table or chart wider than the paper.
  const page = await browser.newPage();
  await page.emulateMedia({media: 'print'});
  for (const p of pages) {
    await page.goto('file://' + p.html);
    for (const format of ['A4', 'Letter']) {
      const pdf = await page.pdf({format, path: join(shots, `records-${p.name}-${format}.pdf`)});
      check(pdf.length > 1000 && pdf.subarray(0, 5).toString() === '%PDF-',
            `${p.name}: no ${format} PDF`);
      // A4 is 210 mm and Letter 8.5 in wide, less 15 mm margins each side, at 96 px per inch.
      const paper = format === 'A4' ? (210 - 30) / 25.4 * 96 : (8.5 - 30 / 25.4) * 96;
      await page.setViewportSize({width: Math.floor(paper), height: 1000});
      const widest = await page.evaluate(() => Math.max(
          document.documentElement.scrollWidth,
          ...[...document.querySelectorAll('table, svg')].map((e) => e.getBoundingClientRect().right)));
      check(widest <= Math.ceil(paper), `${p.name}: ${Math.round(widest)} px wide on ${format} (${Math.floor(paper)} px)`);
    }
  }
  await page.close();
} finally {
  await browser.close();
}
console.log(`browser: ${checks} checks, screenshots in ${shots}`);
if (failures.length) {
  console.log(`browser: ${failures.length} failure(s)`);
  for (const f of failures) console.log('  ' + f);
  process.exit(1);
}

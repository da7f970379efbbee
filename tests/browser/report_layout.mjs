// The HTML report as a customer would see it: Debian's Chromium (never a downloaded browser)
// opens reports of simulated sites at a phone width (375 px) and a laptop width (1280 px) and
// checks what a reader needs: no text under 12 px (SVG text scaled by its chart), no sideways
// scrolling of the page, time axes with clock labels in the chosen zone and the zone named,
// units, zero lines, and inside each finding the chart that supports it. Screenshots are kept
// under the build directory for people to look at.
import {chromium} from 'playwright-core';
import {execFileSync} from 'child_process';
import {existsSync, mkdirSync} from 'fs';
import {join} from 'path';

const [bmslink, work, shots] = process.argv.slice(2);
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

// Simulated sites whose findings come with a chart: a thermal pattern over 12 h, an inverter
// that ignores the limits, interference with current over 12 h.
const sites = [
  {name: 'thermal', fault: 'thermal_or_time_pattern', duration: 43200,
   cause: 'thermal_or_time_pattern', chart: 'against pack temperature'},
  {name: 'limits', fault: 'limits_ignored', duration: 1800,
   cause: 'inverter_protocol_mismatch', chart: "against the BMS's charge limit"},
  {name: 'emi', fault: 'emi_power_correlated', duration: 43200,
   cause: 'emi_power_correlated', chart: 'against |pack current|'},
];
for (const s of sites) {
  const log = join(work, `${s.name}.log`);
  s.html = join(work, `${s.name}.html`);
  execFileSync(bmslink, ['simulate', '--fault', s.fault, '--duration', String(s.duration), '-o', log]);
  execFileSync(bmslink, ['analyze', log, '--tz', 'Europe/Berlin', '--html', s.html]);
}

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--no-first-run'],
});
try {
  for (const width of [375, 1280]) {
    const page = await browser.newPage({viewport: {width, height: 900}});
    for (const s of sites) {
      await page.goto('file://' + s.html);
      const m = await page.evaluate((cause) => {
        const small = [];
        // HTML text: every element that holds text of its own.
        for (const el of document.body.querySelectorAll('*')) {
          if (el.closest('svg')) continue;
          const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
          if (!own) continue;
          const px = parseFloat(getComputedStyle(el).fontSize);
          if (px < 12) small.push(`${el.tagName} ${px}px "${el.textContent.trim().slice(0, 30)}"`);
        }
        // SVG text: the font size times the chart's scale on screen.
        for (const svg of document.querySelectorAll('svg')) {
          const vb = svg.viewBox.baseVal;
          const scale = svg.getBoundingClientRect().width / vb.width;
          for (const t of svg.querySelectorAll('text')) {
            const px = parseFloat(getComputedStyle(t).fontSize) * scale;
            if (px < 12) small.push(`svg text ${px.toFixed(1)}px "${t.textContent}"`);
          }
        }
        const finding = [...document.querySelectorAll('.finding')]
            .find((d) => d.querySelector('code')?.textContent === cause);
        const captions = finding ? [...finding.querySelectorAll('figcaption')].map((c) => c.textContent) : [];
        const texts = [...document.querySelectorAll('svg text')].map((t) => t.textContent);
        return {
          small,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          captions,
          clockTicks: texts.filter((t) => /^\d\d:\d\d$/.test(t)).length,
          zoneLabel: texts.some((t) => /^time \(CES?T\)$/.test(t)),
          units: ['V', 'A', '°C', '%'].every((u) => texts.includes(u)),
          zeroLines: document.querySelectorAll('svg line.zero').length,
          layerNamed: /layer \d — /.test(document.body.textContent),
        };
      }, s.cause);
      const where = `${s.name} at ${width} px`;
      check(m.small.length === 0, `${where}: text under 12 px: ${m.small.slice(0, 5).join('; ')}`);
      check(m.overflow <= 0, `${where}: the page scrolls sideways by ${m.overflow} px`);
      check(m.captions.some((c) => c.includes(s.chart)),
            `${where}: the ${s.cause} finding has no "${s.chart}" chart (has: ${m.captions.join(' | ')})`);
      check(m.clockTicks >= 3, `${where}: only ${m.clockTicks} clock tick labels`);
      check(m.zoneLabel, `${where}: the time axis does not name the zone`);
      check(m.units, `${where}: a timeline lacks its unit`);
      check(m.layerNamed, `${where}: layers are not named`);
      // The pack current crosses zero on every one of these sites (charging and discharging).
      if (s.name !== 'limits') check(m.zeroLines >= 1, `${where}: no zero line in the current chart`);
      await page.screenshot({path: join(shots, `report-${s.name}-${width}.png`), fullPage: true});
    }
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(`browser: ${checks} checks, screenshots in ${shots}`);
if (failures.length) {
  console.log(`browser: ${failures.length} failure(s)`);
  for (const f of failures) console.log('  ' + f);
  process.exit(1);
}

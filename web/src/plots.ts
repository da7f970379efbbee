// Interactive plots of an analysed capture (uPlot): the BMS's values over time, the current
// against the BMS's limits, the error rate against |current|, and which ids were present.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type {Analysis} from './api';

type Bins = Analysis['timeline']['bins'];

function width(el: HTMLElement): number {
  return Math.max(280, Math.min(el.clientWidth || 600, 900));
}

type Series = {label: string; values: (number | null)[]; color: string; scale?: string; dash?: number[]};

// A plot with nothing to draw says why, instead of an empty frame.
function empty(parent: HTMLElement, title: string, why: string): void {
  const box = document.createElement('figure');
  box.className = 'plot empty-plot';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  const p = document.createElement('p');
  p.textContent = why;
  box.append(caption, p);
  parent.append(box);
}

function plot(
  parent: HTMLElement,
  title: string,
  xs: number[],
  series: Series[],
  // `zero`: the scale starts at zero (a count, a magnitude), so a flat line looks flat.
  scales: Record<string, {label: string; side?: number; zero?: boolean}>,
  absolute: boolean,
  why: string,
): uPlot | null {
  const drawn = series.filter((s) => s.values.some((v) => v !== null && Number.isFinite(v)));
  if (drawn.length === 0) {
    empty(parent, title, why);
    return null;
  }
  const box = document.createElement('figure');
  box.className = 'plot';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  box.append(caption);
  parent.append(box);
  const axes: uPlot.Axis[] = [
    {
      label: absolute ? 'time' : 'seconds from the start',
      values: absolute ? undefined : (_u, ticks) => ticks.map((v) => `${Math.round(v)} s`),
      font: '13px system-ui', labelFont: '13px system-ui',
    },
  ];
  for (const [key, s] of Object.entries(scales))
    axes.push({scale: key, label: s.label, side: s.side ?? 3, font: '13px system-ui', labelFont: '13px system-ui',
               grid: {show: s.side !== 1}});
  const scaleOpts: uPlot.Scales = {x: {time: absolute}};
  for (const [key, sc] of Object.entries(scales))
    if (sc.zero)
      scaleOpts[key] = {range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1]};
  const opts: uPlot.Options = {
    width: width(parent),
    height: 220,
    scales: scaleOpts,
    axes,
    series: [
      {},
      ...drawn.map((s) => ({label: s.label, stroke: s.color, width: 2, scale: s.scale ?? Object.keys(scales)[0],
                            spanGaps: false, dash: s.dash})),
    ],
    // The series' names only: values under a cursor mean nothing on a phone ("Time: --").
    legend: {show: true, live: false},
  };
  const data: uPlot.AlignedData = [xs, ...drawn.map((s) => s.values)] as uPlot.AlignedData;
  // What each zero-based scale starts at, for people checking the page (and its tests).
  opts.hooks = {setScale: [(p: uPlot, key: string) => {
    if (scales[key]?.zero) box.dataset[`min${key.toUpperCase()}`] = String(p.scales[key]?.min ?? '');
  }]};
  const u = new uPlot(opts, data, box);
  const resize = () => u.setSize({width: width(parent), height: 220});
  window.addEventListener('resize', resize);
  return u;
}

export function drawPlots(parent: HTMLElement, a: Analysis): void {
  const bins: Bins = a.timeline?.bins ?? [];
  if (bins.length < 2) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'The capture is shorter than two minutes: no timeline to plot.';
    parent.append(p);
    return;
  }
  const absolute = a.summary.start !== null;
  const xs = bins.map((b) => b.t);
  // Why a plot of decoded values may have nothing to draw.
  const known = a.protocol.family && a.protocol.family !== 'unknown';
  const notDecoded = (what: string) => known
    ? `The BMS sent no ${what} in this capture, so there is nothing to plot.`
    : `No ${what}: the protocol was not recognised, so the BMS's values cannot be decoded.`;
  plot(parent, 'Pack voltage and state of charge', xs, [
    {label: 'voltage (V)', values: bins.map((b) => b.voltage_v), color: '#0b5cad', scale: 'v'},
    {label: 'SOC (%)', values: bins.map((b) => b.soc), color: '#2a7d2e', scale: 'pct'},
  ], {v: {label: 'V'}, pct: {label: '%', side: 1}}, absolute, notDecoded('pack voltage or state of charge'));
  plot(parent, "Current against the BMS's limits", xs, [
    {label: 'current (A)', values: bins.map((b) => b.current_a), color: '#0b5cad', scale: 'a'},
    {label: 'charge limit (A)', values: bins.map((b) => b.ccl_a), color: '#c2410c', scale: 'a', dash: [6, 4]},
    {label: 'discharge limit (A)', values: bins.map((b) => (b.dcl_a === null ? null : -b.dcl_a)), color: '#7c3aed',
     scale: 'a', dash: [2, 4]},
  ], {a: {label: 'A'}}, absolute, notDecoded('current or charge and discharge limits'));
  plot(parent, 'Error frames per minute against |current|', xs, [
    {label: 'errors / min', values: bins.map((b) => b.errors * 60 / a.timeline.width_s), color: '#b91c1c', scale: 'e'},
    {label: '|current| (A)', values: bins.map((b) => (b.current_a === null ? null : Math.abs(b.current_a))),
     color: '#64748b', scale: 'a'},
  ], {e: {label: 'errors/min', zero: true}, a: {label: 'A', side: 1, zero: true}}, absolute,
  'No error frames and no current in this capture.');
  plot(parent, 'Temperature', xs, [
    {label: 'temperature (°C)', values: bins.map((b) => b.temperature_c), color: '#c2410c', scale: 't'},
  ], {t: {label: '°C'}}, absolute, notDecoded('temperature'));
  presence(parent, a);
}

// One row per id, one cell per minute: dark where the id was seen. A BMS frame that drops out is
// a gap in its row.
function presence(parent: HTMLElement, a: Analysis): void {
  const {ids, bins} = a.timeline;
  if (ids.length === 0) return;
  const box = document.createElement('figure');
  box.className = 'plot';
  const caption = document.createElement('figcaption');
  caption.textContent = `Presence per id (one column per ${a.timeline.width_s} s)`;
  box.append(caption);
  const canvas = document.createElement('canvas');
  const rowH = 16, labelW = 56;
  const w = width(parent);
  canvas.width = w * devicePixelRatio;
  canvas.height = (ids.length * rowH + 4) * devicePixelRatio;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${ids.length * rowH + 4}px`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', caption.textContent);
  const g = canvas.getContext('2d');
  if (g) {
    g.scale(devicePixelRatio, devicePixelRatio);
    g.font = '12px system-ui';
    const cell = (w - labelW) / bins.length;
    ids.forEach((id, row) => {
      g.fillStyle = '#111';
      g.fillText(id, 2, row * rowH + 12);
      bins.forEach((b, col) => {
        g.fillStyle = b.present[row] ? '#0b5cad' : '#f1d4d4';
        g.fillRect(labelW + col * cell, row * rowH + 2, Math.max(cell - 0.5, 0.5), rowH - 4);
      });
    });
  }
  box.append(canvas);
  parent.append(box);
}

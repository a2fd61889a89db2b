// bench:boot's JSON → docs/boot.svg (one bar per size and contender, its parts stacked,
// hand-written SVG) and the markdown table for docs/benchmarks.md (on stdout).
//
//   npx tsx scripts/plot-boot.ts boot.json [--svg docs/boot.svg]
// Bars longer than the axis (restore-then-open, seconds to minutes) are cut, with their
// total written at the cut: the axis is scaled to the open() and local-floor bars.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ContenderResult {
  medianMs: number;
  stackMedianMs: Record<string, number | null>;
  requests?: number;
  bytes?: number;
  sequentialRoundTrips?: number;
  ioWorkerStartMedianMs?: number | null;
  threadsStarted?: number;
}
interface BootJson {
  date: string;
  runs: number;
  machine: { cpus: number; cpu: string; node: string };
  loadAverage: { before: number[]; after: number[]; perRun: { load1: number }[] };
  results: Record<string, { open: ContenderResult; restoreThenOpen: ContenderResult; localFloor: ContenderResult; ratios: Record<string, number> }>;
}

const { values, positionals } = parseArgs({ options: { svg: { type: 'string', default: 'docs/boot.svg' } }, allowPositionals: true });
if (positionals.length !== 1) throw new Error('usage: plot-boot.ts <bench:boot JSON> [--svg docs/boot.svg]');
const text = readFileSync(positionals[0], 'utf8');
const data = JSON.parse(text.slice(text.indexOf('{'))) as BootJson;

const CONTENDERS = [
  ['open', 'open()'],
  ['restoreThenOpen', 'restore, then open'],
  ['localFloor', 'local file (floor)'],
] as const;
const COLORS: Record<string, string> = {
  'ltxvfs restore (CLI, spawn to exit)': '#bbbbbb',
  'node start': '#4e79a7',
  'package import': '#f28e2b',
  'until first request': '#e15759',
  listing: '#76b7b2',
  'index tails': '#59a14f',
  'open: client work': '#edc948',
  'open (local file)': '#edc948',
  'query round trips': '#b07aa1',
  'query: client work': '#ff9da7',
  query: '#ff9da7',
};
const sizes = Object.keys(data.results);
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en-US')} ms`);
const loads = data.loadAverage.perRun.map((r) => r.load1);

// --- SVG ---
const BAR = 18;
const GAP = 6;
const GROUP_GAP = 22;
const LEFT = 190;
const WIDTH = 860;
const PLOT = WIDTH - LEFT - 90;
const TOP = 46;
const axisMax = niceCeil(1.15 * Math.max(...sizes.flatMap((s) => [data.results[s].open.medianMs, data.results[s].localFloor.medianMs])));
const x = (ms: number) => LEFT + (Math.min(ms, axisMax) / axisMax) * PLOT;
const parts: string[] = [];
let y = TOP;
for (const s of sizes) {
  parts.push(`<text x="8" y="${y + 12}" font-weight="bold">${s}</text>`);
  for (const [key, label] of CONTENDERS) {
    const c = data.results[s][key];
    parts.push(`<text x="${LEFT - 6}" y="${y + BAR - 5}" text-anchor="end">${label}</text>`);
    let at = 0;
    // Each part's median, scaled so the stack ends at the median total (medians of parts need not add up).
    const stack = Object.entries(c.stackMedianMs).filter(([, v]) => (v ?? 0) > 0) as [string, number][];
    const sum = stack.reduce((a, [, v]) => a + v, 0);
    for (const [name, v] of stack) {
      const ms = (v * c.medianMs) / sum;
      const x0 = x(at);
      const x1 = x(at + ms);
      if (x1 > x0) parts.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${(x1 - x0).toFixed(1)}" height="${BAR}" fill="${COLORS[name] ?? '#999'}"><title>${name}: ${fmt(v)}</title></rect>`);
      at += ms;
    }
    const cut = c.medianMs > axisMax;
    if (cut) parts.push(`<path d="M${x(axisMax) - 4} ${y - 2} l8 ${BAR + 4}" stroke="white" stroke-width="3"/>`);
    parts.push(`<text x="${x(c.medianMs) + 5}" y="${y + BAR - 5}">${cut ? '… ' : ''}${fmt(c.medianMs)}</text>`);
    y += BAR + GAP;
  }
  y += GROUP_GAP;
}
// Axis and ticks.
const ticks = Array.from({ length: 5 }, (_, i) => (axisMax * i) / 4);
for (const t of ticks) {
  parts.push(`<line x1="${x(t)}" y1="${TOP - 6}" x2="${x(t)}" y2="${y - GROUP_GAP}" stroke="#ddd"/>`);
  parts.push(`<text x="${x(t)}" y="${y - GROUP_GAP + 14}" text-anchor="middle" fill="#666">${Math.round(t)} ms</text>`);
}
if (axisMax > 300) parts.push(`<line x1="${x(300)}" y1="${TOP - 6}" x2="${x(300)}" y2="${y - GROUP_GAP}" stroke="#e15759" stroke-dasharray="4 3"/><text x="${x(300) + 3}" y="${TOP - 10}" fill="#e15759">300 ms goal</text>`);
// Legend.
let ly = y + 10;
let lx = 8;
for (const [name, color] of Object.entries(COLORS)) {
  if (name === 'open (local file)' || name === 'query') continue;
  const w = 16 + name.length * 6.6;
  if (lx + w > WIDTH) {
    lx = 8;
    ly += 18;
  }
  parts.push(`<rect x="${lx}" y="${ly}" width="11" height="11" fill="${color}"/><text x="${lx + 15}" y="${ly + 10}">${name}</text>`);
  lx += w + 10;
}
const height = ly + 26;
const title = `Spawn → first row, indexed point lookup (median of ${data.runs}; ${data.date.slice(0, 16).replace('T', ' ')} UTC, load ${Math.min(...loads)}–${Math.max(...loads)} on ${data.machine.cpus} cores)`;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-size="13" font-weight="bold">${title}</text>
${parts.join('\n')}
</svg>
`;
writeFileSync(values.svg, svg);
process.stderr.write(`wrote ${values.svg}\n`);

// --- Markdown ---
const row = (label: string, f: (s: string) => string) => `| ${label} | ${sizes.map(f).join(' | ')} |`;
const part = (k: 'open' | 'restoreThenOpen' | 'localFloor', p: string) => (s: string) => {
  const v = data.results[s][k].stackMedianMs[p];
  return v === null || v === undefined ? '–' : fmt(v);
};
const lines = [
  `| spawn → first row (median of ${data.runs}) | ${sizes.join(' | ')} |`,
  `| --- |${sizes.map(() => ' --- |').join('')}`,
  row('**open()**', (s) => `**${fmt(data.results[s].open.medianMs)}**`),
  row('restore, then open', (s) => `${fmt(data.results[s].restoreThenOpen.medianMs)} (${data.results[s].ratios.restoreThenOpenOverOpen}×)`),
  row('local file (floor)', (s) => fmt(data.results[s].localFloor.medianMs)),
  row('*open(): node start*', part('open', 'node start')),
  row('*package import*', part('open', 'package import')),
  row('*until the first request (worker start)*', part('open', 'until first request')),
  row('*I/O worker: spawned → channel up (overlaps)*', (s) => {
    const v = data.results[s].open.ioWorkerStartMedianMs;
    return v === null || v === undefined ? '–' : fmt(v);
  }),
  row('*listing*', part('open', 'listing')),
  row('*index tails*', part('open', 'index tails')),
  row('*open(): client work between round trips*', part('open', 'open: client work')),
  row('*query round trips*', part('open', 'query round trips')),
  row('*query: client work*', part('open', 'query: client work')),
  row('sequential round trips, requests, bytes', (s) => {
    const o = data.results[s].open;
    return `${o.sequentialRoundTrips}, ${o.requests}, ${((o.bytes ?? 0) / 1e6).toFixed(2)} MB`;
  }),
  row('threads the process started', (s) => String(data.results[s].open.threadsStarted)),
  row('*local floor: node start / import / open / query*', (s) => {
    const l = data.results[s].localFloor.stackMedianMs;
    return ['node start', 'package import', 'open (local file)', 'query'].map((k) => Math.round(l[k] ?? 0)).join(' / ') + ' ms';
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);

/** 1, 2 or 5 × a power of ten, at least `v`. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

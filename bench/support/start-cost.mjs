// Start-up cost of builds side by side, without a network: fresh processes open a
// replica (a file:// one by default: no S3 client in the way) and look up one row by
// rowid; builds take turns within every run. Medians of node start (spawn → main),
// package import, open(), the query, spawn → first row, and the I/O worker's channel
// up (ms after spawn; builds that record it). JSON on stdout.
//   node bench/support/start-cost.mjs --replica file:///tmp/rep --runs 9 before=/tmp/old/dist after=dist
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'coldstart-child.mjs');
const { values, positionals } = parseArgs({ options: { replica: { type: 'string' }, runs: { type: 'string', default: '9' } }, allowPositionals: true });
const builds = positionals.map((p) => p.split('=')).map(([name, dist]) => ({ name, dist: path.resolve(dist) }));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return Math.round((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) * 10) / 10;
};
const samples = Object.fromEntries(builds.map((b) => [b.name, []]));
const load = [];
for (let run = 0; run < Number(values.runs); run++) {
  load.push(os.loadavg()[0]);
  for (const b of builds) {
    const task = { dist: b.dist, mode: 'open', replicaUrl: values.replica, sql: 'SELECT * FROM events WHERE id = ?', params: [1 + run] };
    const spawnAt = performance.timeOrigin + performance.now();
    const r = spawnSync(process.execPath, [CHILD, JSON.stringify(task)], { encoding: 'utf8', env: { ...process.env, LITESTREAM_LOG_LEVEL: 'warn' } });
    if (r.status !== 0) throw new Error(r.stderr);
    const o = JSON.parse(r.stdout.trim().split('\n').at(-1));
    const w = o.ioWorkers?.[0];
    samples[b.name].push({
      nodeStart: o.timeOrigin + o.mainMs - spawnAt,
      packageImport: o.importedMs - o.mainMs,
      open: o.openedMs - o.importedMs,
      query: o.firstRowMs - o.openedMs,
      spawnToFirstRow: o.timeOrigin + o.firstRowMs - spawnAt,
      ioWorkerUpAfterSpawn: w && w.readyAt > 0 ? w.readyAt - spawnAt : undefined,
      threads: o.threadsStartedMs.length,
    });
  }
}
const out = { replica: values.replica, runs: Number(values.runs), loadAverage1: { min: Math.min(...load), max: Math.max(...load) }, medianMs: {} };
for (const b of builds) {
  const xs = samples[b.name];
  out.medianMs[b.name] = Object.fromEntries(Object.keys(xs[0]).map((k) => [k, xs.some((x) => x[k] === undefined) ? null : median(xs.map((x) => x[k]))]));
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);

// bench:boot — the headline: a fresh process, from spawn to the first row of an indexed
// point lookup (`SELECT * FROM events WHERE account = ?`), on a replica in a local
// radosgw behind the bench link (20 ms to first byte, 100 MiB/s per connection), for
// 10 MiB, 100 MiB and 1 GiB. Three contenders take turns within every run:
//   open             open({ replicaUrl }) + the query
//   restoreThenOpen  `ltxvfs restore` (the CLI, spawn to exit), then a fresh process opens
//                    the restored file with our engine and runs the query
//   localFloor       a fresh process opens the already-local database file with our engine
//                    and runs the query (what no remote read can beat)
// Each is laid out as a stack that sums to its total: node start, package import, then for
// open() the wait for its first request (the I/O worker's start), each sequential round trip
// (waves of overlapping requests, from the link's log) and the client's work between them,
// the query. Medians over --runs (each part's median on its own: the parts' medians need not
// add up to the total's). Load averages per run. JSON on stdout, progress on stderr;
// `scripts/plot-boot.ts` turns the JSON into docs/boot.svg and the docs table.
//
//   npm run bench:boot                                (10 MiB, 100 MiB, 1 GiB; 3 runs)
//   npx tsx bench/boot.ts --sizes 10MiB,100MiB --runs 5 > boot.json
//   npx tsx bench/boot.ts --dist /tmp/old/dist ...      (children on another build: before/after)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ROOT, accountOf, type Dataset } from './support/dataset.js';
import { now, sequentialRoundTrips, summarize, type RequestRecord } from './support/request-log.js';
import { BANDWIDTH, LATENCY_MS, stageReplicas } from './support/stage.js';
import { lastJson, median, progress, round, runChild } from './support/stats.js';
import { waves } from './support/waves.js';

const SIZES: Record<string, number> = { '10MiB': 10 * 2 ** 20, '100MiB': 100 * 2 ** 20, '1GiB': 2 ** 30 };
const CHILD = path.join(BENCH_ROOT, 'bench/support/coldstart-child.mjs');
const SQL = 'SELECT * FROM events WHERE account = ?';

const { values: flags } = parseArgs({
  options: { sizes: { type: 'string', default: Object.keys(SIZES).join(',') }, runs: { type: 'string', default: '3' }, dist: { type: 'string' } },
});
// --dist: the built package the children run (another commit's dist/, for a before/after); default this tree's.
const DIST = path.resolve(flags.dist ?? path.join(BENCH_ROOT, 'dist'));
const CLI_MAIN = path.join(DIST, 'src/cli/main.js');
const sizes = flags.sizes.split(',').map((s) => {
  if (!(s in SIZES)) throw new Error(`--sizes: unknown size ${s}; use ${Object.keys(SIZES).join(', ')}`);
  return s;
});
const RUNS = Number(flags.runs);
if (!(RUNS >= 1)) throw new Error('--runs must be ≥ 1');

interface ChildOut {
  timeOrigin: number;
  mainMs: number;
  importedMs: number;
  openedMs: number;
  firstRowMs: number;
  row: { id: number; account: string } | null;
  threadsStartedMs: number[];
  ioWorkers?: { spawnedAt: number; readyAt: number }[];
}

/** One timed start: its total and its parts (ms, in time order, summing to the total). */
interface Sample {
  ms: number;
  stack: Record<string, number>;
  requests?: number;
  bytes?: number;
  roundTrips?: number;
  threads?: number;
  workerStartMs?: number;
  timeline?: { part: string; ms: number; what?: string; requests?: number; bytes?: number }[];
}

const CONTENDERS = ['open', 'restoreThenOpen', 'localFloor'] as const;
type Contender = (typeof CONTENDERS)[number];

async function main(): Promise<void> {
  const t0 = Date.now();
  const load = () => os.loadavg().map((x) => round(x, 2));
  const loadBefore = load();
  const stage = await stageReplicas('boot', Object.fromEntries(sizes.map((s) => [s, SIZES[s]])), progress);
  const { data, snapshots, env, urlOf, link } = stage;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-boot-'));
  const perRunLoad: { size: string; run: number; load1: number }[] = [];
  try {
    const child = async (task: Record<string, unknown>): Promise<{ out: ChildOut; spawnAt: number }> => {
      const spawnAt = now();
      const { stdout } = await runChild(process.execPath, [CHILD, JSON.stringify({ dist: DIST, ...task })], env);
      return { out: lastJson<ChildOut>(stdout), spawnAt };
    };
    const check = (what: string, out: ChildOut, id: number) => {
      if (out.row?.id !== id) throw new Error(`${what}: the lookup of row ${id} by account got ${JSON.stringify(out.row)}`);
    };

    const results: Record<string, unknown> = {};
    const headline: Record<Contender, Record<string, number>> = { open: {}, restoreThenOpen: {}, localFloor: {} };
    for (const s of sizes) {
      const d = data[s];
      const samples: Record<Contender, Sample[]> = { open: [], restoreThenOpen: [], localFloor: [] };
      for (let run = 1; run <= RUNS; run++) {
        perRunLoad.push({ size: s, run, load1: load()[0] });
        const id = 1 + Math.floor(Math.random() * d.rows);
        const params = [accountOf(id)];

        await link.clear();
        const a = await child({ mode: 'open', replicaUrl: urlOf(s), sql: SQL, params });
        check(`open ${s}`, a.out, id);
        samples.open.push(openSample(a.out, a.spawnAt, await link.records()));

        const l = await child({ mode: 'local', dbPath: d.path, sql: SQL, params });
        check(`localFloor ${s}`, l.out, id);
        samples.localFloor.push(localSample(l.out, l.spawnAt, l.spawnAt));

        const file = path.join(tmp, `restored-${s}.db`);
        await link.clear();
        const restoreAt = now();
        await runChild(process.execPath, [CLI_MAIN, 'restore', urlOf(s), '-o', file, '--force', '--json'], env);
        const restoreRecords = await link.records();
        const r = await child({ mode: 'local', dbPath: file, sql: SQL, params });
        check(`restoreThenOpen ${s}`, r.out, id);
        const rs = localSample(r.out, r.spawnAt, restoreAt);
        const sum = summarize(restoreRecords);
        samples.restoreThenOpen.push({ ...rs, requests: sum.requests, bytes: sum.bytes, roundTrips: sequentialRoundTrips(restoreRecords) });
        rmSync(file, { force: true });

        const o = samples.open.at(-1)!;
        progress(
          `[boot] ${s} run ${run}/${RUNS} (load ${perRunLoad.at(-1)!.load1}): open ${round(o.ms)} ms (${o.roundTrips} round trips, ${o.requests} requests), ` +
            `restore then open ${round(samples.restoreThenOpen.at(-1)!.ms)} ms, local floor ${round(samples.localFloor.at(-1)!.ms)} ms`,
        );
      }
      for (const c of CONTENDERS) headline[c][s] = round(median(samples[c].map((x) => x.ms)));
      results[s] = report(d, snapshots[s], samples);
    }

    const output = {
      // First: spawn → first row, median ms, per contender and size.
      spawnToFirstRowMs: headline,
      bench: 'boot',
      query: `${SQL} (a random row's account: a lookup through the index)`,
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, memGiB: round(os.totalmem() / 2 ** 30) },
      // 1/5/15-minute load averages: above the core count, every figure includes waiting for a core.
      loadAverage: { before: loadBefore, after: load(), perRun: perRunLoad },
      link: { latencyMs: LATENCY_MS, bandwidthMiBps: BANDWIDTH / 2 ** 20, proxy: 'one hop in its own process (bench/support/link-server.ts)', server: 'radosgw (memstore) on 127.0.0.1' },
      runs: RUNS,
      dist: DIST,
      results,
      totalSeconds: round((Date.now() - t0) / 1000),
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await stage.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * open()'s start laid out in time: node start, package import, until the first request
 * (the I/O worker's start), then round trips (waves) and the client's work between
 * them, split at open()'s return into open's part and the query's.
 */
function openSample(out: ChildOut, spawnAt: number, all: readonly RequestRecord[]): Sample {
  const at = (ms: number) => out.timeOrigin + ms;
  const [main, imported, opened, firstRow] = [at(out.mainMs), at(out.importedMs), at(out.openedMs), at(out.firstRowMs)];
  const records = all.filter((r) => r.start >= imported && r.start <= firstRow).map((r) => ({ ...r, end: Math.min(r.end || firstRow, firstRow) }));
  const ws = waves(records);
  const timeline: NonNullable<Sample['timeline']> = [
    { part: 'node start', ms: main - spawnAt },
    { part: 'package import', ms: imported - main },
  ];
  const stack: Record<string, number> = { 'node start': main - spawnAt, 'package import': imported - main, 'until first request': 0, listing: 0, 'index tails': 0, 'open: client work': 0, 'query round trips': 0, 'query: client work': 0 };
  let t = imported;
  const work = (until: number) => {
    // Client work (CPU, or waiting for the worker) from t to `until`, split at open()'s return.
    const before = Math.max(0, Math.min(until, opened) - t);
    const after = until - t - before;
    const first = t === imported;
    if (before > 0) {
      timeline.push({ part: first ? 'until first request' : 'open: client work', ms: before });
      stack[first ? 'until first request' : 'open: client work'] += before;
    }
    if (after > 0) {
      timeline.push({ part: 'query: client work', ms: after });
      stack['query: client work'] += after;
    }
    t = until;
  };
  ws.forEach((w, i) => {
    work(w.start);
    const kind = w.what.includes('LIST') ? 'listing' : w.start < opened ? 'index tails' : 'query round trips';
    timeline.push({ part: `round trip ${i + 1} (${kind})`, ms: w.end - w.start, what: w.what, requests: w.requests, bytes: w.bytes });
    stack[kind] += w.end - w.start;
    t = w.end;
  });
  work(firstRow);
  const sum = summarize(records);
  const worker = out.ioWorkers?.[0];
  return {
    ms: firstRow - spawnAt,
    stack,
    requests: sum.requests,
    bytes: sum.bytes,
    roundTrips: ws.length,
    threads: out.threadsStartedMs.length,
    workerStartMs: worker && worker.readyAt > 0 ? worker.readyAt - worker.spawnedAt : undefined,
    timeline: timeline.map((x) => ({ ...x, ms: round(x.ms) })),
  };
}

/** A local open (the floor, or after a restore that started at `startAt`). */
function localSample(out: ChildOut, spawnAt: number, startAt: number): Sample {
  const at = (ms: number) => out.timeOrigin + ms;
  const stack: Record<string, number> = {};
  if (startAt < spawnAt) stack['ltxvfs restore (CLI, spawn to exit)'] = spawnAt - startAt;
  Object.assign(stack, {
    'node start': at(out.mainMs) - spawnAt,
    'package import': out.importedMs - out.mainMs,
    'open (local file)': out.openedMs - out.importedMs,
    query: out.firstRowMs - out.openedMs,
  });
  return { ms: at(out.firstRowMs) - startAt, stack, threads: out.threadsStartedMs.length };
}

function report(d: Dataset, snap: { ltxBytes: number }, samples: Record<Contender, Sample[]>) {
  const med = (xs: Sample[], f: (x: Sample) => number | undefined) => {
    const v = xs.map(f).filter((x): x is number => x !== undefined);
    return v.length === 0 ? null : round(median(v));
  };
  const contender = (xs: Sample[]) => ({
    medianMs: med(xs, (x) => x.ms),
    runsMs: xs.map((x) => round(x.ms)),
    stackMedianMs: Object.fromEntries(Object.keys(xs[0].stack).map((k) => [k, med(xs, (x) => x.stack[k])])),
    ...(xs[0].requests === undefined ? {} : { requests: med(xs, (x) => x.requests), bytes: med(xs, (x) => x.bytes), sequentialRoundTrips: med(xs, (x) => x.roundTrips) }),
    threadsStarted: Math.max(...xs.map((x) => x.threads ?? 0)),
  });
  const open = { ...contender(samples.open), ioWorkerStartMedianMs: med(samples.open, (x) => x.workerStartMs), lastRunTimeline: samples.open.at(-1)!.timeline };
  const restore = contender(samples.restoreThenOpen);
  const local = contender(samples.localFloor);
  return {
    database: { bytes: d.bytes, rows: d.rows, pageSize: d.pageSize },
    snapshotBytes: snap.ltxBytes,
    open,
    restoreThenOpen: restore,
    localFloor: local,
    ratios: {
      restoreThenOpenOverOpen: round(restore.medianMs! / open.medianMs!, 2),
      openOverLocalFloor: round(open.medianMs! / local.medianMs!, 2),
    },
    target: { openUnder300Ms: open.medianMs! <= 300 },
  };
}

await main();

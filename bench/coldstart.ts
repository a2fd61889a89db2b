// bench:coldstart — time from process start to the first row, on a replica in a local
// radosgw behind the bench link (20 ms first-byte latency, 100 MiB/s per connection,
// roughly S3 Standard seen from EC2), for databases of 100 MiB and 1 GiB:
//   (a) open() + point lookup by rowid       (b) open() + lookup through an index
//   (c) `ltxvfs restore` (the CLI), then open the local file with our engine and query
//   (d) the copy floor: one whole-object GET of the snapshot (transfer only)
// Every contender but (d) is a fresh `node` running the built package (dist/), from
// spawn to its first row. Requests, bytes and sequential round trips come from the link's
// request log (bench/support/link-server.ts, one proxy hop in its own process).
// Progress on stderr; one JSON object on stdout.
//
//   npm run bench:coldstart                       (or: npx tsx bench/coldstart.ts)
//   npx tsx bench/coldstart.ts --sizes 100MiB --runs 3
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ROOT, accountOf, type Dataset } from './support/dataset.js';
import { now, sequentialRoundTrips, summarize, type RequestRecord } from './support/request-log.js';
import { BANDWIDTH, LATENCY_MS, stageReplicas } from './support/stage.js';
import { lastJson, median, progress, round, runChild } from './support/stats.js';

const SIZES: Record<string, number> = { '100MiB': 100 * 2 ** 20, '1GiB': 2 ** 30 };
const CHILD = path.join(BENCH_ROOT, 'bench/support/coldstart-child.mjs');
const DIST = path.join(BENCH_ROOT, 'dist');
const CLI_MAIN = path.join(DIST, 'src/cli/main.js');

const { values: flags } = parseArgs({
  options: { sizes: { type: 'string', default: Object.keys(SIZES).join(',') }, runs: { type: 'string', default: '5' } },
});
const sizes = flags.sizes.split(',').map((s) => {
  if (!(s in SIZES)) throw new Error(`--sizes: unknown size ${s}; use ${Object.keys(SIZES).join(', ')}`);
  return s;
});
const RUNS = Number(flags.runs);

interface ChildOut {
  timeOrigin: number;
  bootstrapMs: number;
  mainMs: number;
  importedMs: number;
  openedMs: number;
  firstRowMs: number;
  row: { id: number; account: string } | null;
  openStats?: { ms: number; planFiles: number; store: Record<string, { requests: number; bytes: number }> };
  storeStats?: Record<string, { requests: number; bytes: number }>;
  replicaStats?: { fetches: number; fetchedBytes: number; fetchedPages: number; cache: unknown };
  imports?: { module: string; ms: number }[];
}

interface Sample {
  ms: number; // spawn to first row
  requests: number;
  bytes: number;
  roundTrips: number;
  breakdown?: Record<string, number>;
  trace?: { op: string; range: string | null; atMs: number; ms: number; bytes: number }[];
}

function sumStats(s: Record<string, { requests: number; bytes: number }> | undefined) {
  const v = Object.values(s ?? {});
  return { requests: v.reduce((a, o) => a + o.requests, 0), bytes: v.reduce((a, o) => a + o.bytes, 0) };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = os.loadavg().map((x) => round(x, 2));
  const stage = await stageReplicas('coldstart', Object.fromEntries(sizes.map((s) => [s, SIZES[s]])), progress);
  const { data, snapshots, env, urlOf, link } = stage;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-coldstart-'));
  try {
    /** One child from spawn to first row; requests from the recorder up to that row. */
    const child = async (task: Record<string, unknown>, startAt = now()): Promise<{ out: ChildOut; sample: Sample }> => {
      const { stdout } = await runChild(process.execPath, [CHILD, JSON.stringify({ dist: DIST, ...task })], env);
      const out = lastJson<ChildOut>(stdout);
      const firstRowAt = out.timeOrigin + out.firstRowMs;
      const records = (await link.records()).filter((r) => r.start >= startAt && r.start <= firstRowAt);
      const sum = summarize(records);
      return { out, sample: { ms: firstRowAt - startAt, requests: sum.requests, bytes: sum.bytes, roundTrips: sequentialRoundTrips(records) } };
    };

    const results: Record<string, unknown> = {};
    for (const s of sizes) {
      const d = data[s];
      const samples: Record<'a_rowid' | 'b_index' | 'c_restore' | 'd_floor', Sample[]> = { a_rowid: [], b_index: [], c_restore: [], d_floor: [] };
      const restoreMs: number[] = [];
      let restoreDirectMs = NaN;
      for (let run = 1; run <= RUNS; run++) {
        // Contenders take turns within a run, so drift on the machine hits them alike.
        const id = randomInt(1, d.rows + 1);
        await link.clear();
        let startAt = now();
        const a = await child({ mode: 'open', replicaUrl: urlOf(s), sql: 'SELECT * FROM events WHERE id = ?', params: [id] }, startAt);
        if (a.out.row?.id !== id) throw new Error(`(a) rowid ${id}: wrong row ${JSON.stringify(a.out.row)}`);
        a.sample.breakdown = breakdown(a.out, startAt, await link.records());
        a.sample.trace = trace((await link.records()).filter((r) => r.start <= a.out.timeOrigin + a.out.firstRowMs), startAt);
        samples.a_rowid.push(a.sample);
        checkStats(a.out, a.sample, `(a) ${s}`);

        const id2 = randomInt(1, d.rows + 1);
        await link.clear();
        startAt = now();
        const b = await child({ mode: 'open', replicaUrl: urlOf(s), sql: 'SELECT * FROM events WHERE account = ?', params: [accountOf(id2)] }, startAt);
        if (b.out.row?.id !== id2) throw new Error(`(b) account of ${id2}: wrong row ${JSON.stringify(b.out.row)}`);
        b.sample.breakdown = breakdown(b.out, startAt, await link.records());
        samples.b_index.push(b.sample);

        // (c) restore with the CLI, then a fresh process opens the file and queries.
        const out = path.join(tmp, `restored-${s}.db`);
        await link.clear();
        startAt = now();
        const r = await runChild(process.execPath, [CLI_MAIN, 'restore', urlOf(s), '-o', out, '--force', '--json'], env);
        const restoreRecords = await link.records();
        const restored = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'), r.stdout.lastIndexOf('}') + 1)) as { ms: number; dbBytes: number };
        if (restored.dbBytes !== d.bytes) throw new Error(`(c) restore wrote ${restored.dbBytes} bytes, expected ${d.bytes}`);
        restoreMs.push(restored.ms);
        const c = await child({ mode: 'local', dbPath: out, sql: 'SELECT * FROM events WHERE id = ?', params: [id] }, startAt);
        if (c.out.row?.id !== id) throw new Error(`(c) rowid ${id}: wrong row ${JSON.stringify(c.out.row)}`);
        const cs = summarize(restoreRecords);
        samples.c_restore.push({ ms: c.sample.ms, requests: cs.requests, bytes: cs.bytes, roundTrips: sequentialRoundTrips(restoreRecords) });
        rmSync(out, { force: true });

        // The same restore straight from radosgw (no latency, no pacing, no proxy CPU): once per size.
        if (run === 1) {
          const t = now();
          await runChild(process.execPath, [CLI_MAIN, 'restore', urlOf(s, true), '-o', out, '--force', '--json'], env);
          const c0 = await child({ mode: 'local', dbPath: out, sql: 'SELECT * FROM events WHERE id = ?', params: [id] }, t);
          restoreDirectMs = c0.sample.ms;
          rmSync(out, { force: true });
        }

        // (d) one whole-object GET through the same link, streamed, in a fresh process (timed from the GET, not the spawn).
        await link.clear();
        const { ms: floorMs, bytes: floorBytes } = await stage.floor(s);
        samples.d_floor.push({ ms: floorMs, requests: 1, bytes: floorBytes, roundTrips: 1 });

        progress(
          `[coldstart] ${s} run ${run}/${RUNS}: (a) ${a.sample.ms.toFixed(0)} ms ${a.sample.requests} req ${a.sample.roundTrips} seq, (b) ${b.sample.ms.toFixed(0)} ms, (c) ${c.sample.ms.toFixed(0)} ms, (d) ${floorMs.toFixed(0)} ms`,
        );
      }
      results[s] = report(d, snapshots[s], samples, restoreMs, restoreDirectMs);
    }

    // Where package import time goes: each module alone in a fresh process.
    const probes: Record<string, number> = {};
    const probeTasks: [string, string[]][] = [
      ['probe', ['src/index.js']],
      ['probe', ['src/engine/index.js']],
      ['probe', ['@aws-sdk/client-s3']],
      ['worker', []],
      ['worker', ['@aws-sdk/client-s3']],
      ['worker', ['src/storage/s3-store.js', '@aws-sdk/client-s3']],
    ];
    for (const [mode, modules] of probeTasks) {
      const ms: number[] = [];
      let name = '';
      for (let i = 0; i < RUNS; i++) {
        const o = lastJson<ChildOut>((await runChild(process.execPath, [CHILD, JSON.stringify({ dist: DIST, mode, modules })], env)).stdout).imports!;
        ms.push(o.reduce((sum, x) => sum + x.ms, 0));
        name = mode === 'worker' ? o[0].module : `import ${modules.join('+')}`;
      }
      probes[name] = round(median(ms));
    }
    const nodeOnly: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const startAt = now();
      await runChild(process.execPath, ['-e', ''], env);
      nodeOnly.push(now() - startAt);
    }

    const output = {
      bench: 'coldstart',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, memGiB: round(os.totalmem() / 2 ** 30) },
      // 1/5/15-minute load averages: above the core count, every figure includes waiting for a core.
      loadAverage: { before: loadBefore, after: os.loadavg().map((x) => round(x, 2)) },
      link: { latencyMs: LATENCY_MS, bandwidthMiBps: BANDWIDTH / 2 ** 20, proxy: 'one hop in its own process (bench/support/link-server.ts)', server: 'radosgw (memstore) on 127.0.0.1' },
      runs: RUNS,
      results,
      importProbeMs: { ...probes, 'node -e "" (spawn to exit)': round(median(nodeOnly)) },
      totalSeconds: round((Date.now() - t0) / 1000),
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await stage.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Where (a)'s time went, in ms: process start, package import, open(), the first query. */
function breakdown(out: ChildOut, spawnAt: number, records: readonly RequestRecord[]): Record<string, number> {
  const openedAt = out.timeOrigin + out.openedMs;
  const firstPageRequest = records.find((r) => r.start >= openedAt);
  return {
    spawnToNodeStart: round(out.timeOrigin - spawnAt),
    nodeBootstrap: round(out.mainMs),
    packageImport: round(out.importedMs - out.mainMs),
    open: round(out.openedMs - out.importedMs),
    firstQuery: round(out.firstRowMs - out.openedMs),
    // The first page read waits for the I/O worker (thread start, module load, S3 client).
    firstQueryUntilFirstPageRequest: firstPageRequest ? round(firstPageRequest.start - openedAt) : -1,
  };
}

function trace(records: readonly RequestRecord[], t0: number) {
  return records.map((r) => ({ op: r.op, range: r.range, atMs: round(r.start - t0), ms: round(r.end - r.start), bytes: r.bytes }));
}

/** The package's own counters must agree with what the proxy saw. */
function checkStats(out: ChildOut, sample: Sample, what: string): void {
  const own = sumStats(out.openStats?.store).requests + sumStats(out.storeStats).requests;
  if (own !== sample.requests) progress(`[coldstart] note: ${what}: the package counted ${own} requests, the proxy ${sample.requests}`);
}

function report(d: Dataset, snap: { ltxBytes: number; importMs: number }, samples: Record<string, Sample[]>, restoreMs: number[], restoreDirectMs: number) {
  const med = (k: string, f: keyof Sample) => round(median(samples[k].map((x) => x[f] as number)));
  const contender = (k: string) => ({
    medianMs: med(k, 'ms'),
    runsMs: samples[k].map((x) => round(x.ms)),
    requests: med(k, 'requests'),
    bytes: med(k, 'bytes'),
    sequentialRoundTrips: med(k, 'roundTrips'),
  });
  const bd = (k: string) => {
    const keys = Object.keys(samples[k][0].breakdown ?? {});
    return Object.fromEntries(keys.map((key) => [key, round(median(samples[k].map((x) => x.breakdown![key])))]));
  };
  const a = contender('a_rowid');
  const c = contender('c_restore');
  const traceRun = samples.a_rowid[samples.a_rowid.length - 1];
  return {
    database: { bytes: d.bytes, rows: d.rows, pageSize: d.pageSize },
    snapshot: { bytes: snap.ltxBytes, importMs: round(snap.importMs) },
    a_rowid: { ...a, breakdownMedianMs: bd('a_rowid'), lastRunRequests: traceRun.trace },
    b_index: { ...contender('b_index'), breakdownMedianMs: bd('b_index') },
    c_restore: { ...c, restoreCliOwnMsMedian: round(median(restoreMs)), directFromRadosgwOneRunMs: round(restoreDirectMs) },
    d_floor: contender('d_floor'),
    ratios: {
      c_over_a: round(c.medianMs / a.medianMs, 2),
      c_over_b: round(c.medianMs / contender('b_index').medianMs, 2),
      d_over_a: round(contender('d_floor').medianMs / a.medianMs, 2),
    },
    target: { firstRowUnderOneTwentiethOfRestore: a.medianMs * 20 < c.medianMs, atMost8SequentialRoundTrips: a.sequentialRoundTrips <= 8 },
  };
}

await main();

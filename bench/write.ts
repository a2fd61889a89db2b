// bench:write — the write path against a plain local file, with the same engine:
//   commit latency p50/p99 and transactions per second of small transactions (one
//   INSERT of ~100 bytes, autocommit), on a local file (journal_mode DELETE and WAL)
//   and in write mode (open({ writeEnabled }), file:// replica and a local radosgw);
//   sync lag p50/p99 (commit returned → durable in object storage: the syncer's own
//   measure, writerStatus().sync.syncLagMs); PUTs per minute at 1 commit/s and at
//   1,000 commits/s, and requests in two idle windows after writes stop (S3: every request
//   counted by a pass-through FaultProxy in front of radosgw; windows scaled down
//   from a minute and extrapolated, see `scale` in the output).
// Targets (issue 5): commit p99 ≤ 2× local, sync lag p99 ≤ 1.5 s, ≤ 1 PUT per sync
// interval when busy, no requests beyond polling when idle (a writer does not poll).
// Progress on stderr; one JSON object on stdout.
//
//   npm run bench:write                          (or: npx tsx bench/write.ts)
//   npx tsx bench/write.ts --commits 2000 --window 10 --idle 20
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Database } from '../src/engine/index.js';
import { open, type ReplicaDatabase } from '../src/open.js';
import { FaultProxy, type S3Op } from '../test/support/fault-proxy.js';
import { startRgw, type S3Server } from '../test/support/s3-server.js';
import { progress, round } from './support/stats.js';

const { values: flags } = parseArgs({
  options: {
    commits: { type: 'string', default: '2000' }, // small transactions per latency run
    window: { type: 'string', default: '10' }, // seconds of each paced run (1/s, 1000/s)
    idle: { type: 'string', default: '20' }, // seconds of the idle window
  },
});
const COMMITS = Number(flags.commits);
const WINDOW_S = Number(flags.window);
const IDLE_S = Number(flags.idle);
const SYNC_INTERVAL_MS = 1000; // the default (LITESTREAM_SYNC_INTERVAL)
const BUCKET = 'ltxvfs-bench';
const ROW = 'x'.repeat(100);

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
  tps: number;
}

/** COMMITS autocommit INSERTs; the event loop runs between them (the syncer lives there), as in an application. */
async function latency(db: Database): Promise<Latency> {
  db.exec('CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)');
  const stmt = db.prepare('INSERT INTO t(v) VALUES (?)');
  const times: number[] = [];
  let busy = 0;
  try {
    for (let i = 0; i < COMMITS; i++) {
      const t = performance.now();
      stmt.run([ROW]);
      const dt = performance.now() - t;
      times.push(dt);
      busy += dt;
      if (i % 16 === 15) await new Promise((ok) => setImmediate(ok));
    }
  } finally {
    stmt.finalize();
  }
  times.sort((a, b) => a - b);
  return { p50Ms: round(pct(times, 50), 3), p99Ms: round(pct(times, 99), 3), tps: Math.round((1000 * COMMITS) / busy) };
}

/** Commit at `perSecond` for WINDOW_S seconds (in bursts every 10 ms); returns the commits made. */
async function paced(db: Database, perSecond: number): Promise<number> {
  const stmt = db.prepare('INSERT INTO t(v) VALUES (?)');
  const t0 = performance.now();
  let n = 0;
  try {
    while (performance.now() - t0 < WINDOW_S * 1000) {
      // At most one tick's worth per tick: when commits cannot keep up, the rate drops
      // but the event loop (the syncer) still runs every 10 ms, as in an application.
      const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * perSecond) + 1, n + Math.max(1, Math.ceil(perSecond / 100)));
      while (n < due) {
        stmt.run([ROW]);
        n++;
      }
      await sleep(perSecond >= 100 ? 10 : Math.max(10, 1000 / perSecond - 5));
    }
  } finally {
    stmt.finalize();
  }
  return n;
}

async function localRun(mode: 'delete' | 'wal', dir: string): Promise<Latency & { journalMode: string; synchronous: number }> {
  const db = new Database(path.join(dir, `local-${mode}.db`));
  try {
    const journalMode = String(Object.values(db.get(`PRAGMA journal_mode=${mode}`)!)[0]);
    const synchronous = Number(Object.values(db.get('PRAGMA synchronous')!)[0]);
    return { journalMode, synchronous, ...(await latency(db)) };
  } finally {
    db.close();
  }
}

interface WriteResult {
  commit: Latency;
  syncLagMs: { p50: number; p99: number };
  at1PerSec: { commits: number; puts: number; putsPerMinute: number; syncIntervals: number };
  at1000PerSec: { commits: number; achievedPerSec: number; puts: number; putsPerMinute: number; putsPerSyncInterval: number; syncLagMs: { p50: number; p99: number } };
  idle: { seconds: number; requests: number; requestsPerMinute: number; byOp: Record<string, number>; compactionPasses: number; then: { seconds: number; requests: number; byOp: Record<string, number>; compactionPasses: number } };
  compaction: { passes: number; filesWritten: number };
}

/**
 * A writer on `url`. `requests(db)` counts store requests by operation: for S3 every
 * request, at the proxy; for file:// (no proxy) the syncer's PUTs and one LIST per compaction pass.
 */
async function writeRun(label: string, url: string, bufferPath: string, s3: { accessKeyId: string; secretAccessKey: string } | undefined, count: (db: ReplicaDatabase) => Record<string, number>): Promise<WriteResult> {
  const db: ReplicaDatabase = await open({ replicaUrl: url, writeEnabled: true, bufferPath, syncInterval: SYNC_INTERVAL_MS, s3, logLevel: 'warn' });
  const requests = () => count(db);
  try {
    progress(`[write] ${label}: ${COMMITS} small commits`);
    const commit = await latency(db);
    await db.sync();
    const lag0 = db.writerStatus()!.sync.syncLagMs;

    const puts = () => requests().PUT ?? 0;
    progress(`[write] ${label}: 1 commit/s for ${WINDOW_S} s`);
    let p0 = puts();
    const slow = await paced(db, 1);
    await db.sync();
    const slowPuts = puts() - p0;

    progress(`[write] ${label}: 1000 commits/s for ${WINDOW_S} s`);
    p0 = puts();
    const t0 = performance.now();
    const fast = await paced(db, 1000);
    const fastS = (performance.now() - t0) / 1000;
    const fastPuts = puts() - p0; // during the window only: the final flush is not "busy"
    await db.sync();
    const lagFast = db.writerStatus()!.sync.syncLagMs;

    progress(`[write] ${label}: idle for ${IDLE_S} s`);
    await sleep(1500); // the last sync's answer settles
    const before = requests();
    const compactionBefore = db.writerStatus()!.compaction.passes;
    await sleep(IDLE_S * 1000);
    const after = requests();
    const byOp = diff(before, after);
    const idleRequests = Object.values(byOp).reduce((a, b) => a + b, 0);
    // A second window: the first may hold the compaction pass of what was just written
    // (L0 → L1 runs every 30 s); after it the writer should make no request at all.
    progress(`[write] ${label}: idle for another ${IDLE_S} s`);
    const c0 = db.writerStatus()!.compaction.passes;
    await sleep(IDLE_S * 1000);
    const later = requests();
    const byOp2 = diff(after, later);
    const passesInFirst = c0 - compactionBefore;
    const st = db.writerStatus()!;
    return {
      commit,
      syncLagMs: { p50: Math.max(lag0.p50, 0), p99: lag0.p99 },
      at1PerSec: { commits: slow, puts: slowPuts, putsPerMinute: round((slowPuts * 60) / WINDOW_S), syncIntervals: Math.round((WINDOW_S * 1000) / SYNC_INTERVAL_MS) },
      at1000PerSec: {
        commits: fast,
        achievedPerSec: Math.round(fast / fastS),
        puts: fastPuts,
        putsPerMinute: round((fastPuts * 60) / fastS),
        putsPerSyncInterval: round(fastPuts / ((fastS * 1000) / SYNC_INTERVAL_MS), 2),
        syncLagMs: lagFast,
      },
      idle: {
        seconds: IDLE_S,
        requests: idleRequests,
        requestsPerMinute: round((idleRequests * 60) / IDLE_S),
        byOp,
        compactionPasses: passesInFirst,
        then: { seconds: IDLE_S, requests: Object.values(byOp2).reduce((a, b) => a + b, 0), byOp: byOp2, compactionPasses: db.writerStatus()!.compaction.passes - c0 },
      },
      compaction: { passes: st.compaction.passes, filesWritten: st.compaction.filesWritten },
    };
  } finally {
    await db.close();
  }
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) if ((b[k] ?? 0) > (a[k] ?? 0)) out[k] = b[k] - (a[k] ?? 0);
  return out;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-write-'));
  let rgw: S3Server | undefined;
  let proxy: FaultProxy | undefined;
  try {
    progress('[write] local file, journal_mode DELETE and WAL');
    const local = { delete: await localRun('delete', tmp), wal: await localRun('wal', tmp) };

    const file = await writeRun('file', `file://${path.join(tmp, 'replica-file')}`, path.join(tmp, 'buffer-file'), undefined, (db) => {
      const st = db.writerStatus()!;
      return { PUT: st.sync.puts, LIST: st.compaction.passes };
    });

    progress('[write] starting radosgw');
    rgw = await startRgw({ log: progress });
    const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
    const sdk = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials });
    await sdk.send(new CreateBucketCommand({ Bucket: BUCKET }));
    sdk.destroy();
    proxy = await FaultProxy.start(rgw.endpoint); // no faults: it counts requests by operation
    const p = proxy;
    const s3Url = `s3://${BUCKET}/bench-write?${new URLSearchParams({ endpoint: p.endpoint, region: rgw.region, forcePathStyle: 'true' })}`;
    const s3 = await writeRun('s3', s3Url, path.join(tmp, 'buffer-s3'), credentials, () => p.stats().requests as Record<S3Op, number>);

    const ref = local.delete.p99Ms;
    const verdict = (r: WriteResult) => ({
      commitP99Within2xLocal: r.commit.p99Ms <= 2 * ref,
      syncLagP99Within1500ms: r.at1000PerSec.syncLagMs.p99 <= 1500 && r.syncLagMs.p99 <= 1500,
      atMostOnePutPerSyncIntervalBusy: r.at1000PerSec.putsPerSyncInterval <= 1,
      // The writer does not poll: an idle window's requests, if any, are a compaction pass of what was written before.
      noRequestsWhenIdle: [r.idle, r.idle.then].every((w) => w.requests === 0 || w.compactionPasses > 0),
    });
    const output = {
      bench: 'write',
      node: process.version,
      cpus: os.cpus().length,
      loadAvg: os.loadavg().map((x) => round(x, 2)),
      commits: COMMITS,
      syncIntervalMs: SYNC_INTERVAL_MS,
      scale: `paced runs last ${WINDOW_S} s and the idle window ${IDLE_S} s; per-minute figures are extrapolated from them`,
      local,
      write: { file, s3 },
      targets: { reference: 'local journal_mode DELETE p99 (rollback journal, fsync per commit, as the write buffer)', file: verdict(file), s3: verdict(s3) },
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await proxy?.close();
    await rgw?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

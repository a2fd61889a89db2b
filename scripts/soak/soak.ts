// The soak: one writer, two followers and one hydrating reader on one replica, with
// page caches smaller than the database, while compaction, snapshots and retention
// run; a restore now and then; optionally a writer that is paused and resumes after
// another took over, and the replica replaced by another database. Every answer is
// checked against an oracle the soak keeps: each committed state's digest, by
// database and sequence number. A read that returns a state not in the oracle (a mix,
// or the paused writer's commits) is a violation; a read that fails is a read error.
// Used by the time-compressed test (test/reliability/soak.test.ts, a fast policy) and
// by `npm run soak` (real time, the default policy).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_POLICY } from '../../src/compact/policy.js';
import type { CompactionOptions } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import { Database } from '../../src/engine/index.js';
import { open, type ReplicaDatabase } from '../../src/open.js';
import { importDatabase, listReplica, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { prng } from '../../test/support/prng.js';

export interface SoakOptions {
  /** A label for the report (file, s3, ...). */
  name: string;
  url: string;
  s3?: { accessKeyId: string; secretAccessKey: string };
  /** The replica's store, for restores, the replacement's import and listings. */
  store: ObjectStore;
  durationMs: number;
  /** The compaction policy (undefined: the defaults). */
  compaction?: CompactionOptions;
  syncInterval?: number;
  pollInterval?: number;
  /** The readers' page cache (default 128 KiB: smaller than the database). */
  cacheSize?: number | string;
  /** The writer's page cache (default the same). */
  writerCacheSize?: number | string;
  /** Rows in the starting database (~600 bytes each). */
  rows?: number;
  commitEveryMs?: number;
  readEveryMs?: number;
  restoreEveryMs?: number;
  /** Every Nth read of a reader scans every row (the others read the state's name and the digest its commit stored). */
  fullEvery?: number;
  /** Mid-run scenarios: a paused writer resumes after another took over; the replica replaced by another database. */
  scenarios?: { pausedWriter?: boolean; replace?: boolean };
  /** Scratch directory (buffers, the hydrated copy, restores); removed at the end. */
  workDir: string;
  /** The built package (dist/), for the reader and paused-writer processes (plain node). */
  dist: string;
  /** The environment of the reader and paused-writer processes (S3 credentials). */
  childEnv?: NodeJS.ProcessEnv;
  /** Requests by kind so far, when the caller counts them (a proxy in front of the store). */
  requests?: () => Record<string, number> | Promise<Record<string, number>>;
  progress?: (line: string) => void;
  seed?: number;
}

export interface SoakReport {
  name: string;
  durationMs: number;
  /** Real time × (the default snapshot interval / the policy's): what the policy's schedule covers. */
  simulatedHours: number;
  commits: number;
  reads: number;
  readErrors: number;
  /** Queries failed with REPLICA_REPLACED, and restores whose files vanished, while the replica was being replaced (clear errors, allowed then only). */
  replacedErrors: number;
  /**
   * Queries that failed with REPLICA_EXPIRED (the files of their state were gone: a reader
   * further behind than the readers' grace, or a replacement that left a gap; the reader
   * retried, and the retry's answer is checked like any other), with
   * how long the query had run and how long since its poller's last successful poll.
   */
  expired: { count: number; examples: string[] };
  /** Answers that match no committed state (never expected). */
  violations: number;
  examples: string[];
  restores: number;
  restoreFailures: number;
  syncLagMs: { p50: number; p99: number; max: number };
  /** Follower reloads by reason, re-plans of reads whose file was gone, the writer's re-points. */
  readers: { replans: number; caughtUp: number; reloads: number; replaced: number; repoints: number };
  compaction: { filesWritten: number; filesDeleted: number; levelsSeen: number[]; snapshotsSeen: number };
  pausedWriter: { fenced: boolean; message: string; leftover: boolean } | null;
  replaced: { readersOnNewDatabase: number; readers: number } | null;
  hydration: { state: string | null; switched: boolean };
  requests: Record<string, number> | null;
  /** The soak's own process (the writer, restores). */
  memoryMB: { start: { rss: number; heap: number }; end: { rss: number; heap: number } };
  /** Each reader process's RSS after warm-up (a tenth of the run) and at the end. */
  readerRssMB: Record<string, { start: number; end: number }>;
}

interface Row {
  gen: number;
  len: number;
}

/** What the database holds, kept by the soak: the oracle's source. */
class Model {
  rows = new Map<number, Row>();
  nextId = 1;
  seq = 0;
  constructor(readonly db: string) {}

  digest(): string {
    let bytes = 0;
    let mix = 0;
    for (const [id, r] of this.rows) {
      bytes += r.len;
      mix += id * r.gen;
    }
    return `${this.rows.size}/${bytes}/${mix}`;
  }
}

// One statement, so one read transaction: the state's name (database, seq), the digest
// its commit stored, and the digest of the rows as they are (reader.mjs has the same).
const META = "(SELECT v FROM meta WHERE k = 'db') AS db, (SELECT v FROM meta WHERE k = 'seq') AS seq, (SELECT v FROM meta WHERE k = 'digest') AS digest";
const CHECK_SQL = `SELECT ${META}, count(*) || '/' || sum(length(v)) || '/' || sum(id * gen) AS rows FROM t`;

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const say = o.progress ?? (() => undefined);
  const rand = prng(o.seed ?? 1);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const cacheSize = o.cacheSize ?? '128KiB';
  const syncInterval = o.syncInterval ?? 1000;
  const pollInterval = o.pollInterval ?? 1000;
  const commitEvery = o.commitEveryMs ?? 100;
  const readEvery = o.readEveryMs ?? 100;
  const restoreEvery = o.restoreEveryMs ?? Math.max(5000, o.durationMs / 6);
  const policy = loadConfig({ replicaUrl: o.url, compaction: o.compaction }, {}).compaction;
  rmSync(o.workDir, { recursive: true, force: true });
  mkdirSync(o.workDir, { recursive: true });

  const oracle = new Map<string, Map<number, string>>();
  const record = (m: Model) => {
    let byDb = oracle.get(m.db);
    if (!byDb) oracle.set(m.db, (byDb = new Map()));
    byDb.set(m.seq, m.digest());
  };
  const report: SoakReport = {
    name: o.name,
    durationMs: o.durationMs,
    simulatedHours: Math.round(((o.durationMs * (DEFAULT_POLICY.snapshotIntervalMs / policy.snapshotIntervalMs)) / 3_600_000) * 10) / 10,
    commits: 0,
    reads: 0,
    readErrors: 0,
    replacedErrors: 0,
    violations: 0,
    expired: { count: 0, examples: [] },
    examples: [],
    restores: 0,
    restoreFailures: 0,
    syncLagMs: { p50: 0, p99: 0, max: 0 },
    readers: { replans: 0, caughtUp: 0, reloads: 0, replaced: 0, repoints: 0 },
    compaction: { filesWritten: 0, filesDeleted: 0, levelsSeen: [], snapshotsSeen: 0 },
    pausedWriter: null,
    replaced: null,
    hydration: { state: null, switched: false },
    requests: null,
    memoryMB: { start: { rss: 0, heap: 0 }, end: { rss: 0, heap: 0 } },
    readerRssMB: {},
  };
  const problem = (kind: 'violation' | 'error' | 'restore', msg: string) => {
    if (kind === 'violation') report.violations++;
    else if (kind === 'error') report.readErrors++;
    else report.restoreFailures++;
    if (report.examples.length < 20) report.examples.push(`${kind}: ${msg}`);
    say(`${kind}: ${msg}`);
  };
  const levelsSeen = new Set<number>();
  const snapshots = new Set<string>();
  const observe = async () => {
    for (const f of await listReplica(o.store)) {
      levelsSeen.add(f.level);
      if (f.level === 9) snapshots.add(f.key);
    }
  };

  // ---- the writer ----
  let model = new Model('A');
  let writer: ReplicaDatabase | null = null;
  let writers = 0;
  const lagFrom = new Map<bigint, number>();
  const lags: number[] = [];
  const writerStats = { filesWritten: 0, filesDeleted: 0, repoints: 0 };
  const openWriter = async () => {
    writers++;
    writer = await open({ replicaUrl: o.url, s3: o.s3, writeEnabled: true, bufferPath: path.join(o.workDir, `buffer-${writers}`), syncInterval, cacheSize: o.writerCacheSize ?? cacheSize, compaction: o.compaction, logLevel: 'warn' });
  };
  const closeWriter = async () => {
    const w = writer!;
    writer = null;
    await w.sync();
    trackSynced(w.writerStatus()!.txid.synced);
    const s = w.writerStatus()!;
    writerStats.filesWritten += s.compaction.filesWritten;
    writerStats.filesDeleted += s.compaction.filesDeleted;
    writerStats.repoints += w.replicaStats().repoints;
    await w.close();
  };
  // Commit to durable in object storage, per TXID, as the loop sees it (within a few ms).
  const trackSynced = (synced: bigint) => {
    for (const [txid, t] of lagFrom) {
      if (synced >= txid) {
        lags.push(Date.now() - t);
        lagFrom.delete(txid);
      }
    }
  };
  const rowText = (len: number) => 'x'.repeat(len);
  const fill = (db: Database, m: Model, rows: number) => {
    db.exec('CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, gen INTEGER NOT NULL, v TEXT NOT NULL)');
    db.exec('CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    db.exec('BEGIN');
    db.run("INSERT OR REPLACE INTO meta(k, v) VALUES ('db', ?), ('seq', '0'), ('digest', '')", [m.db]);
    for (let i = 0; i < rows; i++) {
      const id = m.nextId++;
      const r = { gen: int(1, 1000), len: int(200, 1000) };
      db.run('INSERT INTO t(id, gen, v) VALUES (?, ?, ?)', [id, r.gen, rowText(r.len)]);
      m.rows.set(id, r);
    }
    m.seq = 0;
    db.run("UPDATE meta SET v = ? WHERE k = 'digest'", [m.digest()]);
    db.exec('COMMIT');
  };
  const commit = () => {
    const w = writer!;
    const m = model;
    m.seq++;
    w.exec('BEGIN');
    try {
      w.run("UPDATE meta SET v = ? WHERE k = 'seq'", [String(m.seq)]);
      const ids = [...m.rows.keys()];
      for (let k = int(1, 6); k > 0; k--) {
        const id = ids[int(0, ids.length - 1)];
        const r = { gen: int(1, 1000), len: int(100, 1200) };
        w.run('UPDATE t SET gen = ?, v = ? WHERE id = ?', [r.gen, rowText(r.len), id]);
        m.rows.set(id, r);
      }
      if (rand() < 0.2) {
        const id = m.nextId++;
        const r = { gen: int(1, 1000), len: int(100, 1200) };
        w.run('INSERT INTO t(id, gen, v) VALUES (?, ?, ?)', [id, r.gen, rowText(r.len)]);
        m.rows.set(id, r);
      }
      if (rand() < 0.15 && m.rows.size > 10) {
        const id = ids[int(0, ids.length - 1)];
        w.run('DELETE FROM t WHERE id = ?', [id]);
        m.rows.delete(id);
      }
      w.run("UPDATE meta SET v = ? WHERE k = 'digest'", [m.digest()]);
      record(m); // before COMMIT returns nobody can read it; after, anybody may
      w.exec('COMMIT');
    } catch (err) {
      try {
        w.exec('ROLLBACK');
      } catch {
        // SQLite rolled back already (a failed COMMIT does)
      }
      throw new Error(`soak: commit ${m.seq} of database ${m.db} failed: ${(err as Error).message}`, { cause: err });
    }
    report.commits++;
    lagFrom.set(w.writerStatus()!.txid.committed, Date.now());
  };

  await openWriter();
  fill(writer!, model, o.rows ?? 2000);
  record(model);
  await writer!.sync();
  say(`[${o.name}] writer ready: ${model.rows.size} rows`);

  // ---- the readers: each a process of its own (./reader.mjs) ----
  let replacing = false; // from the replacement until every reader has seen the new database
  let replaceWindow = false; // the import itself (a restore planned before it may find files gone)
  interface Reader {
    name: string;
    child: ChildProcess;
    last: { db: string; seq: number } | null;
    stats: ReaderStats | null;
    onStats: (() => void) | null;
  }
  interface ReaderStats {
    reads: number;
    replans: number;
    caughtUp: number;
    reloads: number;
    replaced: number;
    hydration: { state: string; switched: boolean } | null;
    rssMB: { start: number; end: number };
  }
  interface ReadLine {
    t: 'ready' | 'read' | 'error' | 'expired' | 'stats';
    db?: string;
    seq?: number;
    digest?: string;
    rows?: string | null;
    txid?: string;
    message?: string;
    queryMs?: number;
    sincePollMs?: number | null;
    pollFailures?: number;
  }
  const readers: Reader[] = [];
  const seen = (r: Reader, line: ReadLine) => {
    if (line.t === 'expired') {
      report.expired.count++;
      const ex = `${r.name}: query ran ${line.queryMs} ms, ${line.sincePollMs ?? '?'} ms after its last successful poll (${line.pollFailures} failed polls): ${line.message}`;
      if (report.expired.examples.length < 5) report.expired.examples.push(ex);
      say(`expired: ${ex}`);
      return;
    }
    if (line.t === 'error') {
      if (replacing && line.message!.includes('REPLICA_REPLACED')) report.replacedErrors++;
      else problem('error', `${r.name}: ${line.message}`);
      return;
    }
    if (line.t !== 'read') return;
    report.reads++;
    const db = String(line.db);
    const seq = Number(line.seq);
    const want = oracle.get(db)?.get(seq);
    const got = line.rows ?? line.digest;
    if (want !== got || (line.rows !== null && line.rows !== line.digest)) {
      problem('violation', `${r.name} at TXID ${line.txid}: database ${db} seq ${seq} holds ${got} (stored digest ${line.digest}), the writer committed ${want ?? 'no such state'}`);
      return;
    }
    if (r.last && r.last.db === db && seq < r.last.seq) problem('violation', `${r.name} went back from seq ${r.last.seq} to ${seq} of database ${db}`);
    r.last = { db, seq };
    if (replacing && readers.every((x) => x.last?.db === model.db)) replacing = false;
  };
  const readerScript = path.join(path.dirname(new URL(import.meta.url).pathname), 'reader.mjs');
  for (const name of ['follower-1', 'follower-2', 'hydrating']) {
    const task = {
      dist: o.dist,
      url: o.url,
      name,
      cacheSize,
      pollInterval,
      hydrationPath: name === 'hydrating' ? path.join(o.workDir, 'hydrated.db') : null,
      readEveryMs: readEvery,
      fullEvery: o.fullEvery ?? 5,
      durationMs: o.durationMs,
    };
    const child = spawn(process.execPath, [readerScript, JSON.stringify(task)], { env: { ...process.env, ...o.childEnv }, stdio: ['pipe', 'pipe', 'inherit'] });
    const r: Reader = { name, child, last: null, stats: null, onStats: null };
    const ready = new Promise<void>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`reader ${name} exited with code ${code} before it was ready`)));
      createInterface({ input: child.stdout! }).on('line', (text) => {
        const line = JSON.parse(text) as ReadLine & ReaderStats;
        if (line.t === 'ready') ok();
        else if (line.t === 'stats') {
          r.stats = line;
          r.onStats?.();
        } else seen(r, line);
      });
    });
    await ready;
    readers.push(r);
  }
  const send = (r: Reader, cmd: string) => r.child.stdin!.write(`${cmd}\n`);

  // ---- restores ----
  let restoring: Promise<void> | null = null;
  const restoreCheck = async () => {
    const out = path.join(o.workDir, `restore-${report.restores}.db`);
    try {
      await observe();
      await restore(o.store, {}, out, { overwrite: true });
      const db = new Database(out, { readOnly: true });
      try {
        const row = db.get(CHECK_SQL)!;
        const want = oracle.get(String(row.db))?.get(Number(row.seq));
        const got = String(row.rows);
        if (want !== got) problem('restore', `restore holds database ${row.db} seq ${row.seq} = ${got}, the writer committed ${want ?? 'no such state'}`);
        const ic = db.get('PRAGMA integrity_check')!;
        if (Object.values(ic)[0] !== 'ok') problem('restore', `restore integrity_check: ${JSON.stringify(ic)}`);
      } finally {
        db.close();
      }
      report.restores++;
    } catch (err) {
      // While the replica is being replaced its files vanish under a restore: a clear error, expected then.
      if (replacing || replaceWindow) report.replacedErrors++;
      else problem('restore', (err as Error).message);
    } finally {
      rmSync(out, { force: true });
    }
  };

  // ---- scenarios ----
  let paused: { child: ChildProcess; lines: AsyncIterator<string>; resumeAt: number } | null = null;
  const pausedAt = o.scenarios?.pausedWriter ? 0.3 : Infinity;
  const replaceAt = o.scenarios?.replace ? 0.6 : Infinity;
  let replacedDone = false;
  const startPaused = async () => {
    await closeWriter();
    const child = spawn(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), 'paused-writer.mjs'), JSON.stringify({ dist: o.dist, url: o.url, bufferPath: path.join(o.workDir, 'buffer-paused'), commits: 3 })], {
      env: { ...process.env, ...o.childEnv },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done || !String(first.value).startsWith('committed')) throw new Error(`paused writer: expected 'committed', got ${first.value}`);
    child.kill('SIGSTOP'); // a suspended VM: acknowledged commits, never synced
    say(`[${o.name}] paused writer: ${first.value}; suspended; another writer takes over`);
    await openWriter();
    paused = { child, lines, resumeAt: Date.now() + Math.max(1500, o.durationMs * 0.1) };
  };
  const resumePaused = async () => {
    const p = paused!;
    paused = null;
    p.child.kill('SIGCONT');
    p.child.stdin!.write('sync\n');
    const line = await p.lines.next();
    const result = JSON.parse(String(line.value ?? 'result {"fenced":false,"message":"no answer"}').replace(/^result /, '')) as { fenced: boolean; message: string };
    await new Promise((ok) => (p.child.exitCode !== null ? ok(null) : p.child.once('exit', ok)));
    const key = /: (\S+\.ltx) was written by another writer/.exec(result.message);
    const own = /our (\S+\.ltx) was (kept|removed)/.exec(result.message);
    const files = new Set((await listReplica(o.store)).map((f) => f.key));
    report.pausedWriter = { fenced: result.fenced, message: result.message, leftover: own !== null && files.has(own[1]) };
    say(`[${o.name}] paused writer resumed: fenced=${result.fenced} leftover=${report.pausedWriter.leftover} (${key?.[1] ?? ''})`);
  };
  const replace = async () => {
    await closeWriter();
    const file = path.join(o.workDir, 'replacement.db');
    rmSync(file, { force: true });
    const next = new Model('B');
    const db = new Database(file);
    try {
      db.exec('PRAGMA journal_mode = DELETE');
      fill(db, next, Math.round((o.rows ?? 2000) * 0.75));
    } finally {
      db.close();
    }
    record(next);
    model = next;
    replacing = true;
    replaceWindow = true;
    await importDatabase(file, o.store, { force: true });
    say(`[${o.name}] replica replaced by database B (${next.rows.size} rows, TXIDs start again)`);
    await openWriter();
    replacedDone = true;
    void restoring?.finally(() => (replaceWindow = false));
    if (restoring === null) replaceWindow = false;
  };

  // ---- the loop ----
  const t0 = Date.now();
  const end = t0 + o.durationMs;
  let nextCommit = t0;
  let nextRestore = t0 + restoreEvery / 2;
  let nextStatus = t0;
  let memStart: NodeJS.MemoryUsage | null = null;
  let pausedStarted = false;
  while (Date.now() < end) {
    const now = Date.now();
    const frac = (now - t0) / o.durationMs;
    if (memStart === null && frac >= 0.1) memStart = process.memoryUsage(); // after warm-up: caches filled, workers started
    if (!pausedStarted && frac >= pausedAt) {
      pausedStarted = true;
      await startPaused();
    }
    if (paused !== null && now >= (paused as { resumeAt: number }).resumeAt) await resumePaused();
    if (!replacedDone && frac >= replaceAt && paused === null) await replace();
    if (writer !== null && now >= nextCommit) {
      commit();
      nextCommit = now + commitEvery;
    }
    if (writer !== null) trackSynced((writer as ReplicaDatabase).writerStatus()!.txid.synced);
    if (restoring === null && now >= nextRestore) {
      restoring = restoreCheck().finally(() => (restoring = null));
      nextRestore = now + restoreEvery;
    }
    if (now >= nextStatus) {
      say(`[${o.name}] ${Math.round((now - t0) / 1000)} s: ${report.commits} commits, ${report.reads} reads, ${report.readErrors} errors, ${report.violations} violations, ${report.restores} restores`);
      nextStatus = now + 10_000;
    }
    await sleep(2);
  }
  if (paused !== null) await resumePaused();
  await restoring;

  // ---- convergence: every reader reaches the writer's last state ----
  await writer!.sync();
  trackSynced((writer as unknown as ReplicaDatabase).writerStatus()!.txid.synced);
  const finalDigest = `${model.db}/${model.seq}`;
  for (const r of readers) {
    const deadline = Date.now() + 30_000;
    while (r.last === null || `${r.last.db}/${r.last.seq}` !== finalDigest) {
      if (Date.now() > deadline) {
        problem('violation', `${r.name} never reached ${finalDigest} (stuck at ${r.last?.db}/${r.last?.seq})`);
        break;
      }
      send(r, 'refresh');
      await sleep(200);
    }
  }
  await restoreCheck();
  await observe();
  report.memoryMB.start = { rss: mb((memStart ?? process.memoryUsage()).rss), heap: mb((memStart ?? process.memoryUsage()).heapUsed) };
  const memEnd = process.memoryUsage();
  report.memoryMB.end = { rss: mb(memEnd.rss), heap: mb(memEnd.heapUsed) };
  for (const r of readers) {
    const got = new Promise<void>((ok) => (r.onStats = ok));
    send(r, 'stop');
    await Promise.race([got, sleep(30_000)]);
    await new Promise((ok) => (r.child.exitCode !== null ? ok(null) : r.child.once('exit', ok)));
    const st = r.stats;
    if (st === null) {
      problem('error', `${r.name} gave no stats at the end`);
      continue;
    }
    report.readers.replans += st.replans;
    report.readers.caughtUp += st.caughtUp;
    report.readers.reloads += st.reloads;
    report.readers.replaced += st.replaced;
    report.readerRssMB[r.name] = st.rssMB;
    if (r.name === 'hydrating' && st.hydration !== null) report.hydration = st.hydration;
  }
  if (o.scenarios?.replace) report.replaced = { readersOnNewDatabase: readers.filter((r) => r.last?.db === 'B').length, readers: readers.length };
  await closeWriter();
  report.readers.repoints = writerStats.repoints;
  report.compaction = { filesWritten: writerStats.filesWritten, filesDeleted: writerStats.filesDeleted, levelsSeen: [...levelsSeen].sort((a, b) => a - b), snapshotsSeen: snapshots.size };
  const sorted = [...lags].sort((a, b) => a - b);
  report.syncLagMs = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length === 0 ? 0 : sorted[sorted.length - 1] };
  report.requests = (await o.requests?.()) ?? null;
  rmSync(o.workDir, { recursive: true, force: true });
  return report;
}

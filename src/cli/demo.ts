// `ltxvfs demo`: the README's first command. With nothing but `npm ci` it runs the main
// job end to end on the embedded default, a file:// replica in a temp directory:
// make a sample database, import it into the replica as Litestream would snapshot it,
// open the replica through the VFS with open() and time the first query, with the
// requests and bytes it took; then write through the VFS (commits, a sync, the L0
// file that carried them, a follower seeing them), and hydrate (first row at once,
// the switch to a local copy, lookups per second before and after). Each step is one
// function over a shared context.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Database, type Row } from '../engine/index.js';
import { open, type ReplicaDatabase } from '../open.js';
import { importDatabase, listLevel, openReplicaStore } from '../replica/index.js';
import { totalOf, type StoreStats } from '../storage/stats.js';
import { type Command, EXIT_FAIL, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';
import { formatBytes } from './progress.js';

const DEFAULT_ROWS = 20_000;

/** What the steps share: inputs, then what earlier steps made. */
interface DemoContext {
  dir: string;
  rows: number;
  dbPath: string;
  replicaUrl: string;
  db?: ReplicaDatabase;
  /** Each step's result, by step name (the --json output). */
  results: Record<string, Record<string, unknown>>;
}

interface DemoStep {
  name: string;
  /** Runs the step, records its result in ctx.results, returns a line for the user. */
  run(ctx: DemoContext): Promise<string>;
}

/** The sample row the query step looks up (by the indexed name). */
const probeId = (rows: number) => Math.ceil(rows / 2);
const nameOf = (id: number) => `item-${String(id).padStart(6, '0')}`;

const makeSample: DemoStep = {
  name: 'make',
  async run(ctx) {
    const t = performance.now();
    const db = new Database(ctx.dbPath);
    try {
      db.exec(`PRAGMA page_size = 4096; PRAGMA journal_mode = DELETE;
        CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL, note TEXT);
        CREATE INDEX items_name ON items(name);`);
      db.exec('BEGIN');
      const insert = db.prepare('INSERT INTO items(id, name, price, note) VALUES (?, ?, ?, ?)');
      for (let i = 1; i <= ctx.rows; i++) insert.run([i, nameOf(i), (i * 7919) % 10_000, `note ${i}: ${'lorem ipsum '.repeat(1 + (i % 5))}`]);
      insert.finalize();
      db.exec('COMMIT');
    } finally {
      db.close();
    }
    const ms = performance.now() - t;
    const check = new Database(ctx.dbPath, { readOnly: true });
    const { page_count: pages, page_size: pageSize } = { ...check.get('PRAGMA page_count'), ...check.get('PRAGMA page_size') } as { page_count: number; page_size: number };
    check.close();
    ctx.results.make = { path: ctx.dbPath, rows: ctx.rows, pages, pageSize, bytes: pages * pageSize, ms };
    return `made ${ctx.dbPath}: ${ctx.rows} rows, ${pages} pages of ${pageSize} bytes (${formatBytes(pages * pageSize)}), ${ms.toFixed(0)} ms`;
  },
};

const importSample: DemoStep = {
  name: 'import',
  async run(ctx) {
    const store = openReplicaStore(ctx.replicaUrl);
    try {
      const r = await importDatabase(ctx.dbPath, store);
      ctx.results.import = { url: r.url, key: r.key, ltxBytes: r.ltxBytes, requests: r.requests, ms: r.ms };
      return `imported it into ${r.url} as a snapshot, ${r.key} (${formatBytes(r.ltxBytes)}), ${r.ms.toFixed(0)} ms`;
    } finally {
      await store.close();
    }
  },
};

/** open() then one query: the time to the first row and every request it took. */
const queryReplica: DemoStep = {
  name: 'query',
  async run(ctx) {
    const t0 = performance.now();
    const db = await open({ replicaUrl: ctx.replicaUrl, ...quiet() });
    ctx.db = db;
    const openMs = performance.now() - t0;
    const t1 = performance.now();
    const row: Row | null = db.get('SELECT id, name, price FROM items WHERE name = ?', [nameOf(probeId(ctx.rows))]);
    const queryMs = performance.now() - t1;
    const firstRowMs = performance.now() - t0;
    const open_ = countOf(db.openStats.store);
    const query = countOf(db.storeStats());
    const ok = row !== null && row.id === probeId(ctx.rows);
    ctx.results.query = {
      sql: 'SELECT id, name, price FROM items WHERE name = ?',
      row,
      ok,
      firstRowMs,
      open: { ms: openMs, planFiles: db.openStats.planFiles, ...open_ },
      firstQuery: { ms: queryMs, ...query, cache: db.replicaStats().cache },
      requests: open_.requests + query.requests,
      bytes: open_.bytes + query.bytes,
    };
    return [
      `opened it through the VFS with open() and looked up ${JSON.stringify(nameOf(probeId(ctx.rows)))} by its index:`,
      `  first row in ${firstRowMs.toFixed(1)} ms: ${JSON.stringify(row)}`,
      `  open ${openMs.toFixed(1)} ms: ${open_.detail}, ${formatBytes(open_.bytes)} (listing, page index)`,
      `  query ${queryMs.toFixed(1)} ms: ${query.detail}, ${formatBytes(query.bytes)} (pages read on demand; the rest of the file untouched)`,
    ].join('\n');
  },
};

/** The demo prints its own lines: the library's info logs only when asked for (LITESTREAM_LOG_LEVEL). */
const quiet = () => (process.env.LITESTREAM_LOG_LEVEL ? {} : { logLevel: 'warn' as const });

function countOf(stats: StoreStats): { requests: number; bytes: number; detail: string } {
  const parts = (['list', 'get', 'head'] as const).filter((op) => stats[op].requests > 0).map((op) => `${stats[op].requests} ${op}`);
  const requests = totalOf(stats, 'requests');
  return { requests, bytes: totalOf(stats, 'bytes'), detail: `${requests} request${requests === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}` };
}

/** Write mode: commits return at local speed, a sync ships them as one L0 file (one TXID), the reader of step 3 sees them. */
const writeReplica: DemoStep = {
  name: 'write',
  async run(ctx) {
    const reader = ctx.db!;
    const writer = await open({ replicaUrl: ctx.replicaUrl, writeEnabled: true, bufferPath: join(ctx.dir, 'buffer'), syncInterval: 60_000, ...quiet() });
    try {
      const commitsUs: number[] = [];
      const next = ctx.rows + 1;
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        writer.run('INSERT INTO items(id, name, price, note) VALUES (?, ?, ?, ?)', [next + i, nameOf(next + i), 100 + i, 'written through the VFS']);
        commitsUs.push((performance.now() - t) * 1000);
      }
      const t = performance.now();
      await writer.sync();
      const syncMs = performance.now() - t;
      const txid = writer.txid;
      const store = openReplicaStore(ctx.replicaUrl);
      let file: { key: string; size: number; minTXID: bigint; maxTXID: bigint } | undefined;
      try {
        file = (await listLevel(store, 0)).find((f) => f.maxTXID === txid);
      } finally {
        await store.close();
      }
      const t2 = performance.now();
      await reader.refresh();
      const seen = reader.get('SELECT id, name FROM items WHERE id = ?', [next + 4]);
      const followMs = performance.now() - t2;
      const median = [...commitsUs].sort((a, b) => a - b)[2];
      ctx.results.write = { commits: commitsUs.length, commitMedianUs: median, syncMs, txid, file: file && { key: file.key, bytes: file.size, minTXID: file.minTXID, maxTXID: file.maxTXID }, followerSaw: seen, followerMs: followMs };
      return [
        `opened it for writing (LITESTREAM_WRITE_ENABLED=true) and committed 5 rows: ${median.toFixed(0)} µs a commit (median), durable in the local buffer`,
        `  sync: ${file ? `${file.key} (${formatBytes(file.size)}) carried the ${commitsUs.length} commits as ${file.minTXID === file.maxTXID ? `TXID ${file.maxTXID}` : `TXIDs ${file.minTXID}..${file.maxTXID}`}` : 'no L0 file found'}, in ${syncMs.toFixed(0)} ms`,
        `  the reader from step 3 polled and saw row ${next + 4} in ${followMs.toFixed(1)} ms: ${JSON.stringify(seen)}`,
      ].join('\n');
    } finally {
      await writer.close();
    }
  },
};

/** Hydration: queries answered at once, the copy pulled in the background, then local reads. */
const hydrateReplica: DemoStep = {
  name: 'hydrate',
  async run(ctx) {
    const path = join(ctx.dir, 'hydrated.db');
    const t0 = performance.now();
    let progressEvents = 0;
    const db = await open({ replicaUrl: ctx.replicaUrl, hydrationPath: path, ...quiet(), onHydration: (e) => void (e.type === 'progress' && progressEvents++) });
    try {
      const row = db.get('SELECT id, name FROM items WHERE name = ?', [nameOf(probeId(ctx.rows))]);
      const firstRowMs = performance.now() - t0;
      const lookups = 2_000;
      const before = lookupRate(db, ctx.rows, lookups);
      const remoteReads = db.replicaStats().reads;
      await db.hydrated();
      const status = db.hydrationStatus()!;
      db.clearCache();
      const after = lookupRate(db, ctx.rows, lookups);
      const { localReads } = db.replicaStats();
      ctx.results.hydrate = { path, firstRowMs, row, switchedAfterMs: status.switchedAfterMs, bytesFetched: status.bytesFetched, txid: status.txid, progressEvents, lookupsPerSecBefore: before, lookupsPerSecAfter: after, remoteReads, localReads };
      return [
        `opened it with hydration (LITESTREAM_HYDRATION_PATH=${path}): first row in ${firstRowMs.toFixed(1)} ms, from object storage`,
        `  the copy (${formatBytes(status.bytesFetched)} fetched, ${progressEvents} progress events) was verified and reads switched to it after ${status.switchedAfterMs!.toFixed(0)} ms, at TXID ${status.txid}`,
        `  ${lookups} random lookups (warm): ${before.toFixed(0)}/s before the switch, ${after.toFixed(0)}/s after it (${localReads} page reads from the local file)`,
      ].join('\n');
    } finally {
      await db.close();
    }
  },
};

/** Random rowid lookups per second: one pass to touch the pages, the second timed (a fixed seed, so runs compare). */
function lookupRate(db: ReplicaDatabase, rows: number, n: number): number {
  const stmt = db.prepare('SELECT name FROM items WHERE id = ?');
  let ms = 0;
  for (let pass = 0; pass < 2; pass++) {
    let seed = 42;
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      stmt.get([1 + (seed % rows)]);
    }
    ms = performance.now() - t;
  }
  stmt.finalize();
  return (n * 1000) / ms;
}

/** The demo's steps, in order. */
export const STEPS: readonly DemoStep[] = [makeSample, importSample, queryReplica, writeReplica, hydrateReplica];

export const demo: Command = {
  summary: 'Run the main job on a local file:// replica: import a sample database, query it, write to it, hydrate it',
  help: `The main job on the embedded default, nothing to install:
  1. make a sample SQLite database (20,000 rows with an index);
  2. import it into a file:// replica in Litestream v0.5's layout (<dir>/replica/ltx/9/...);
  3. open the replica through the VFS with open() and look a row up by the index:
     the time to the first row and the requests and bytes it took;
  4. open it for writing, commit rows, sync: the L0 LTX file that carried them, and
     the reader of step 3 seeing them;
  5. open it with hydration: the first row at once, the switch to the local copy,
     lookups per second before and after.

Usage: ltxvfs demo [--rows N] [--dir DIR] [--keep] [--json]

Options:
  --rows N    rows in the sample table (default ${DEFAULT_ROWS})
  --dir DIR   work directory, kept afterwards; its sample.db and replica/ are replaced
              (default: a new temp directory, removed afterwards unless --keep)
  --keep      keep the temp directory
  --json      print the result as JSON
  -h, --help  this text`,

  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      rows: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
    });
    const rows = values.rows === undefined ? DEFAULT_ROWS : Number(values.rows);
    if (!Number.isSafeInteger(rows) || rows < 1) throw new UsageError(`--rows must be a positive integer, got ${String(values.rows)}`);
    const dir = typeof values.dir === 'string' ? resolve(values.dir) : mkdtempSync(join(tmpdir(), 'ltxvfs-demo-'));
    mkdirSync(dir, { recursive: true }); // --dir may name a directory that does not exist yet
    const temp = values.dir === undefined && !values.keep;
    const say = (line: string) => {
      if (!values.json) io.out(line);
    };
    const ctx: DemoContext = { dir, rows, dbPath: join(dir, 'sample.db'), replicaUrl: pathToFileURL(join(dir, 'replica')).href, results: {} };
    // A rerun in the same --dir starts over: these two paths are the demo's own.
    for (const p of [ctx.dbPath, `${ctx.dbPath}-journal`, join(dir, 'replica'), join(dir, 'buffer'), join(dir, 'hydrated.db'), join(dir, 'hydrated.db.ltxvfs.json')]) {
      rmSync(p, { recursive: true, force: true });
    }
    say(`ltxvfs demo: a SQLite database served from a file:// replica, in ${dir}${temp ? ' (removed afterwards; --keep keeps it)' : ''}`);
    try {
      for (const [i, step] of STEPS.entries()) say(`${i + 1}. ${await step.run(ctx)}`);
      const ok = ctx.results.query?.ok === true && ctx.results.write?.followerSaw != null && ctx.results.hydrate?.localReads !== 0;
      if (values.json) io.out(toJson({ ok, dir, replicaUrl: ctx.replicaUrl, kept: !temp, ...ctx.results }));
      else say(ok ? 'ok' : 'FAIL: a step did not show what it should (see above)');
      return ok ? EXIT_OK : EXIT_FAIL;
    } finally {
      await ctx.db?.close();
      if (temp) rmSync(dir, { recursive: true, force: true });
    }
  },
};

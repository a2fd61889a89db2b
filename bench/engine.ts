// bench:engine — point SELECTs by rowid and batched INSERTs on our engine (local
// and memory VFS) against node-sqlite3-wasm (default and EXCLUSIVE locking) and
// better-sqlite3 (if installed). Each contender runs in a fresh process on its own
// copy of one 50,000-row database; figures are medians of RUNS runs. One JSON
// object on stdout, ratios against node-sqlite3-wasm.
//
//   npm run bench:engine
//   npm run bench:engine -- --quick     (fewer queries, for a smoke run)

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);
const ROWS = 50_000;
/** Runs per figure; node-sqlite3-wasm's default mode takes ~100 s a run, so it gets fewer. */
const RUNS = 5;
const SLOW_RUNS = 3;

/** The few calls each contender must provide. */
interface Driver {
  exec(sql: string): void;
  /** A prepared `SELECT v FROM t WHERE id = ?`, returning v. */
  pointSelect(): (id: number) => unknown;
  /** A prepared `INSERT INTO ins (v) VALUES (?)`. */
  insert(): (v: string) => void;
  close(): void;
}

type Contender =
  | 'ltxvfs-local'
  | 'ltxvfs-local-exclusive'
  | 'ltxvfs-local-wal'
  | 'ltxvfs-memory'
  | 'node-sqlite3-wasm'
  | 'node-sqlite3-wasm-exclusive'
  | 'better-sqlite3'
  | 'better-sqlite3-exclusive';

const CONTENDERS: Contender[] = [
  'ltxvfs-local',
  'ltxvfs-local-exclusive',
  'ltxvfs-local-wal',
  'ltxvfs-memory',
  'node-sqlite3-wasm',
  'node-sqlite3-wasm-exclusive',
  'better-sqlite3',
  'better-sqlite3-exclusive',
];

async function openDriver(name: Contender, file: string): Promise<Driver> {
  const exclusive = name.endsWith('-exclusive');
  let driver: Driver;
  if (name.startsWith('ltxvfs')) {
    const { Database } = await import('../src/engine/index.js');
    let db: InstanceType<typeof Database>;
    if (name === 'ltxvfs-memory') {
      // Copy the benchmark database into the memory VFS, then use only that.
      const src = new Database(file, { vfs: 'local' });
      src.exec(`VACUUM INTO 'file:/bench.db?vfs=memory'`);
      src.close();
      db = new Database('/bench.db', { vfs: 'memory' });
    } else {
      db = new Database(file, { vfs: 'local' });
    }
    driver = {
      exec: (sql) => db.exec(sql),
      pointSelect: () => {
        const s = db.prepare('SELECT v FROM t WHERE id = ?');
        return (id) => s.get(id)!.v;
      },
      insert: () => {
        const s = db.prepare('INSERT INTO ins (v) VALUES (?)');
        return (v) => void s.run(v);
      },
      close: () => db.close(),
    };
  } else if (name.startsWith('node-sqlite3-wasm')) {
    const { Database } = require('node-sqlite3-wasm') as typeof import('node-sqlite3-wasm');
    const db = new Database(file);
    const stmts: { finalize(): void }[] = [];
    driver = {
      exec: (sql) => db.exec(sql),
      pointSelect: () => {
        const s = db.prepare('SELECT v FROM t WHERE id = ?');
        stmts.push(s);
        return (id) => (s.get(id) as { v: unknown }).v;
      },
      insert: () => {
        const s = db.prepare('INSERT INTO ins (v) VALUES (?)');
        stmts.push(s);
        return (v) => void s.run(v);
      },
      close: () => {
        for (const s of stmts) s.finalize(); // node-sqlite3-wasm's close does not
        db.close();
      },
    };
  } else {
    const BetterSqlite3 = require('better-sqlite3') as BetterSqlite3Ctor;
    const db = new BetterSqlite3(file);
    driver = {
      exec: (sql) => void db.exec(sql),
      pointSelect: () => {
        const s = db.prepare('SELECT v FROM t WHERE id = ?').pluck();
        return (id) => s.get(id);
      },
      insert: () => {
        const s = db.prepare('INSERT INTO ins (v) VALUES (?)');
        return (v) => void s.run(v);
      },
      close: () => db.close(),
    };
  }
  if (exclusive) driver.exec('PRAGMA locking_mode = EXCLUSIVE');
  // WAL with normal locking: other connections of the process keep working, and a
  // read transaction checks the in-heap wal-index instead of making the three
  // system calls (journal and WAL existence, file size) a rollback journal needs.
  if (name.endsWith('-wal')) driver.exec('PRAGMA journal_mode = WAL');
  return driver;
}

/** The part of better-sqlite3 used here (it ships no types; @types/better-sqlite3 is not a dependency). */
type BetterSqlite3Ctor = new (file: string) => {
  exec(sql: string): unknown;
  prepare(sql: string): { pluck(): { get(...a: unknown[]): unknown }; run(...a: unknown[]): unknown };
  close(): void;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Deterministic ids in 1..ROWS. */
function* ids(count: number): Generator<number> {
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield 1 + (x % ROWS);
  }
}

/** Wall-clock and CPU (user + system) µs per operation: CPU time is steadier when other work shares the cores. */
interface Timing {
  us: number;
  cpuUs: number;
  runs: number[];
}

interface ChildResult {
  contender: Contender;
  pointSelect: { queries: number } & Timing;
  insert: { rows: number; batch: number } & Timing;
}

function timed(runs: number, ops: number, fn: (run: number) => void): Timing {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn(r);
    wall.push(Number(process.hrtime.bigint() - t0) / 1000 / ops);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / ops);
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { us: round(median(wall)), cpuUs: round(median(cpu)), runs: wall.map(round) };
}

async function child(name: Contender, file: string, queries: number, inserts: number): Promise<ChildResult> {
  const db = await openDriver(name, file);
  const get = db.pointSelect();
  const idList = [...ids(queries)];
  let sink = 0;
  for (const id of idList.slice(0, Math.min(10_000, queries))) sink += String(get(id)).length; // warm-up
  const runs = name === 'node-sqlite3-wasm' ? SLOW_RUNS : RUNS;
  const pointSelect = timed(runs, queries, () => {
    for (const id of idList) sink += String(get(id)).length;
  });
  if (sink === 0) throw new Error('no rows read');

  db.exec('CREATE TABLE ins (id INTEGER PRIMARY KEY, v TEXT)');
  const put = db.insert();
  const BATCH = 100;
  const insert = timed(runs, inserts, (r) => {
    for (let i = 0; i < inserts; i += BATCH) {
      db.exec('BEGIN');
      for (let j = 0; j < BATCH; j++) put(`inserted row ${i + j} of run ${r}`);
      db.exec('COMMIT');
    }
  });
  db.close();
  return {
    contender: name,
    pointSelect: { queries, ...pointSelect },
    insert: { rows: inserts, batch: BATCH, ...insert },
  };
}

async function makeDatabase(file: string): Promise<void> {
  const { Database } = await import('../src/engine/index.js');
  const db = new Database(file, { vfs: 'local' });
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO t (id, v) VALUES (?, ?)');
  db.exec('BEGIN');
  for (let i = 1; i <= ROWS; i++) ins.run([i, `value number ${i} ${'x'.repeat(i % 40)}`]);
  db.exec('COMMIT');
  db.close();
}

function available(name: Contender): string | null {
  if (!name.startsWith('better-sqlite3')) return null;
  try {
    require('better-sqlite3');
    return null;
  } catch (e) {
    return `better-sqlite3 is not installed (optional dependency): ${(e as Error).message.split('\n')[0]}`;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      file: { type: 'string' },
      queries: { type: 'string' },
      inserts: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  if (values.child !== undefined) {
    const result = await child(values.child as Contender, values.file!, Number(values.queries), Number(values.inserts));
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }

  const queries = values.quick ? 10_000 : 100_000;
  const inserts = values.quick ? 1_000 : 10_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-engine-'));
  const results: Record<string, ChildResult | { absent: string }> = {};
  try {
    const master = path.join(dir, 'master.db');
    await makeDatabase(master);
    for (const name of CONTENDERS) {
      const why = available(name);
      if (why !== null) {
        results[name] = { absent: why };
        continue;
      }
      const file = path.join(dir, `${name}.db`);
      copyFileSync(master, file);
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', SELF, '--child', name, '--file', file, '--queries', String(queries), '--inserts', String(inserts)],
        { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      results[name] = JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const base = results['node-sqlite3-wasm'] as ChildResult;
  const baseEx = results['node-sqlite3-wasm-exclusive'] as ChildResult;
  const ratio = (a: number, b: number) => Math.round((b / a) * 100) / 100;
  const ratios: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(results)) {
    if ('absent' in r) continue;
    // Speed-ups: > 1 means faster than node-sqlite3-wasm (its time / ours); wall clock, then CPU time.
    ratios[name] = {
      pointSelectVsNodeSqlite3Wasm: ratio(r.pointSelect.us, base.pointSelect.us),
      pointSelectVsNodeSqlite3WasmExclusive: ratio(r.pointSelect.us, baseEx.pointSelect.us),
      pointSelectCpuVsNodeSqlite3WasmExclusive: ratio(r.pointSelect.cpuUs, baseEx.pointSelect.cpuUs),
      insertVsNodeSqlite3Wasm: ratio(r.insert.us, base.insert.us),
      insertVsNodeSqlite3WasmExclusive: ratio(r.insert.us, baseEx.insert.us),
    };
  }
  const local = results['ltxvfs-local'] as ChildResult;
  const localEx = results['ltxvfs-local-exclusive'] as ChildResult;
  const localWal = results['ltxvfs-local-wal'] as ChildResult;
  const { sqliteVersion } = await import('../src/engine/index.js');
  const report = {
    benchmark: 'engine',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.release()}` },
    sqlite: { ltxvfs: sqliteVersion() },
    workload: {
      rows: ROWS,
      pointSelects: queries,
      inserts,
      insertBatch: 100,
      runs: RUNS,
      runsNodeSqlite3WasmDefault: SLOW_RUNS,
      statistic: 'median µs per query / per inserted row: `us` wall clock, `cpuUs` process CPU (user + system)',
      notes: 'each contender in a fresh process on a copy of one database; rollback journal (DELETE), synchronous=FULL defaults',
    },
    results,
    ratios,
    // The targets for (a) point reads through the local-file VFS.
    targets: {
      localPointSelectAtLeastAsFastAsNodeSqlite3WasmExclusive: local.pointSelect.us <= baseEx.pointSelect.us,
      localPointSelectAtLeast10xNodeSqlite3WasmDefault: local.pointSelect.us * 10 <= base.pointSelect.us,
      localExclusivePointSelectAtLeastAsFastAsNodeSqlite3WasmExclusive: localEx.pointSelect.us <= baseEx.pointSelect.us,
      localWalPointSelectAtLeastAsFastAsNodeSqlite3WasmExclusive: localWal.pointSelect.us <= baseEx.pointSelect.us,
    },
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

await main();

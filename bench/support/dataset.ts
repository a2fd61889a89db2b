// Bench databases: a realistic table (random, barely compressible text; an index on a
// random key), made with better-sqlite3 and cached under .bench/data/ so reruns skip
// the minutes of generation. The key of row k is a pure function of k (`accountOf`),
// so a bench can look up any row by the index without asking the database first.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CACHE_DIR = path.join(BENCH_ROOT, '.bench');
// Bump when the schema or the row shape changes: cached files of another version are remade.
const DATASET_VERSION = 1;
const PAGE_SIZE = 4096;

export interface Dataset {
  path: string;
  bytes: number;
  rows: number;
  pageSize: number;
}

/** The indexed key of row `id`: 16 hex digits, unique in practice, random in order. */
export function accountOf(id: number): string {
  return createHash('sha1').update(`account-${id}`).digest('hex').slice(0, 16);
}

export const SCHEMA = `CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX events_account ON events(account);`;

const KINDS = ['login', 'logout', 'purchase', 'refund', 'view', 'search', 'share', 'error'];

/** A database of at least `targetBytes` (cached). `log` gets progress lines. */
export function dataset(name: string, targetBytes: number, log: (line: string) => void = () => undefined): Dataset {
  const dir = path.join(CACHE_DIR, 'data');
  const file = path.join(dir, `${name}.db`);
  const meta = `${file}.json`;
  if (existsSync(file) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Dataset & { version: number; targetBytes: number };
    if (m.version === DATASET_VERSION && m.targetBytes === targetBytes && statSync(file).size === m.bytes) return { path: file, bytes: m.bytes, rows: m.rows, pageSize: m.pageSize };
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  const t0 = Date.now();
  log(`[dataset] making ${path.relative(BENCH_ROOT, file)} (${(targetBytes / 2 ** 20).toFixed(0)} MiB); cached for later runs`);
  const require = createRequire(import.meta.url);
  // better-sqlite3 (an optional dependency) ships no types: the few calls used here.
  type Stmt = { run(...args: unknown[]): unknown; get(): unknown; pluck(): Stmt };
  type Db = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): Stmt; transaction<A>(fn: (a: A) => void): (a: A) => void; close(): void };
  const BetterSqlite3 = require('better-sqlite3') as new (file: string) => Db;
  const db = new BetterSqlite3(tmp);
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB: random index inserts stay in memory
  db.exec(SCHEMA);
  const insert = db.prepare('INSERT INTO events(id, account, ts, kind, payload) VALUES (?, ?, ?, ?, ?)');
  const pageCount = db.prepare('PRAGMA page_count').pluck();
  const BATCH = 20_000;
  let rows = 0;
  const insertBatch = db.transaction((from: number) => {
    for (let id = from; id < from + BATCH; id++) {
      // ~150-250 bytes of base64 from random bytes: LZ4 cannot do much with it, as with real payloads.
      const payload = randomBytes(110 + (id % 80)).toString('base64');
      insert.run(id, accountOf(id), 1_700_000_000_000 + id * 1000, KINDS[id % KINDS.length], payload);
    }
  });
  while ((pageCount.get() as number) * PAGE_SIZE < targetBytes) {
    insertBatch(rows + 1);
    rows += BATCH;
    if (rows % 500_000 === 0) log(`[dataset]   ${rows} rows, ${(((pageCount.get() as number) * PAGE_SIZE) / 2 ** 20).toFixed(0)} MiB`);
  }
  db.close();
  const bytes = statSync(tmp).size;
  renameSync(tmp, file);
  writeFileSync(meta, JSON.stringify({ version: DATASET_VERSION, targetBytes, bytes, rows, pageSize: PAGE_SIZE }));
  log(`[dataset] ${name}: ${rows} rows, ${bytes} bytes, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { path: file, bytes, rows, pageSize: PAGE_SIZE };
}

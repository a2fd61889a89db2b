// What open() does for the first query: the schema is read before it returns (from the
// snapshot head fetched with the plan), and the level below the B-tree roots is being
// fetched in the background, taken by the first miss. Neither may change an answer,
// and a prefetch still in flight must not get in the way of time travel.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncStore } from '../src/io/sync-store.js';
import { open } from '../src/open.js';
import { importDatabase } from '../src/replica/index.js';
import { BOOT_PACK_KEY } from '../src/boot/read.js';
import { fileStore, fileUrl, removeTempDirs, tempDir } from './replica/helpers.js';

// better-sqlite3 (an optional dependency, installed here) ships no types: the calls used.
type BetterStmt = { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; raw(): BetterStmt };
type BetterDb = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): BetterStmt; transaction(fn: () => void): () => void; close(): void };
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options?: { readonly?: boolean }) => BetterDb;

afterAll(removeTempDirs);

const ROWS = 20_000;
let dbPath: string;
let replicaUrl: string;
let rootChildren: number;

beforeAll(async () => {
  dbPath = path.join(tempDir('first-query'), 'deep.db');
  const db = new BetterSqlite3(dbPath);
  db.pragma('page_size = 1024'); // three levels, and a snapshot well past the 256 KiB head
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL, pad BLOB); CREATE INDEX t_a ON t(a)');
  const insert = db.prepare('INSERT INTO t(a, pad) VALUES (?, randomblob(100))');
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(`k${String((i * 7919) % ROWS).padStart(6, '0')}`);
  })();
  rootChildren = (db.prepare("SELECT count(*) AS n FROM dbstat WHERE name IN ('t', 't_a') AND length(path) = 5").get() as { n: number }).n;
  db.close();
  const dir = path.join(tempDir('first-query'), 'replica');
  const store = fileStore(dir);
  await importDatabase(dbPath, store);
  await store.deleteMany([BOOT_PACK_KEY]); // the head-and-prefetch path (the boot pack would hold these pages: test/boot/)
  await store.close();
  replicaUrl = fileUrl(dir);
}, 60_000);

describe('open() and the first query', () => {
  it('has read the schema when it returns, prefetches below the roots, and answers as the file does', async () => {
    const db = await open({ replicaUrl });
    const local = new BetterSqlite3(dbPath, { readonly: true });
    try {
      const atOpen = db.replicaStats();
      expect(atOpen.reads).toBeGreaterThan(0); // page 1 and the schema, from the seeded head
      expect(atOpen.fetches).toBe(0);
      const want = local.prepare('SELECT id, a, hex(pad) AS pad FROM t WHERE id = ?');
      for (const id of [17_345, 3, 9_999]) expect(db.get('SELECT id, a, hex(pad) AS pad FROM t WHERE id = ?', [id])).toEqual(want.get(id));
      expect(db.get('SELECT count(*) AS n FROM t WHERE a >= ? AND a < ?', ['k001', 'k002'])).toEqual(local.prepare('SELECT count(*) AS n FROM t WHERE a >= ? AND a < ?').get('k001', 'k002'));
      const s = db.replicaStats();
      expect(s.prefetchedPages).toBeGreaterThan(0);
      expect(s.prefetchedPages).toBeLessThanOrEqual(rootChildren);
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      local.close();
      await db.close();
    }
  });

  it("planLater: ready() tells without blocking, take() returns the plan (also when called first)", async () => {
    const sync = new SyncStore(replicaUrl);
    try {
      const later = sync.planLater({ headBytes: 4096 });
      let polls = 0;
      const cell = new Int32Array(new SharedArrayBuffer(4));
      while (!later.ready()) {
        polls++;
        Atomics.wait(cell, 0, 0, 1);
        if (polls > 20_000) throw new Error('the plan never arrived');
      }
      expect(later.ready()).toBe(true);
      const a = later.take();
      expect(a.plan.files).toHaveLength(1);
      expect(a.index.txid).toBe(1n);
      expect(a.head?.bytes.length).toBe(4096);
      expect(later.take().plan).toBe(a.plan); // taken again: the same answer, no new request
      const direct = sync.planLater({}).take(); // take() without ready(): blocks until there
      expect(direct.index.commit).toBe(a.index.commit);
    } finally {
      await sync.close();
    }
  });

  it('time travel right after open waits for the prefetch in flight and still answers right', async () => {
    const db = await open({ replicaUrl });
    try {
      // The prefetch has not been taken yet: the plan request goes out after it.
      expect(db.get("PRAGMA litestream_time = 'latest'")).toEqual({ latest: 'latest' });
      expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: ROWS });
      expect(db.get('SELECT a FROM t WHERE id = ?', [2])).toEqual({ a: `k${String(7919 % ROWS).padStart(6, '0')}` });
    } finally {
      await db.close();
    }
  });
});

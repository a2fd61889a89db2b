// The level below the B-tree roots: interiorChildren against SQLite's own dbstat, and
// ReplicaVfs.prefetchBelow: one batch of ranges started without waiting, taken at the
// next miss, so that a cold lookup fetches no page of that level; a failed prefetch
// costs only itself. The replica is a real snapshot (importDatabase) served from memory
// by a stand-in for the SyncStore that records what is asked, and when.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, registerVfs } from '../../src/engine/index.js';
import { buildPageIndex, importDatabase, planRestore, type PageIndex } from '../../src/replica/index.js';
import type { ByteRange } from '../../src/storage/object-store.js';
import { interiorChildren } from '../../src/vfs/btree-page.js';
import { ReplicaVfs, type PageSource } from '../../src/vfs/replica-vfs.js';
import { fileStore, removeTempDirs, tempDir } from '../replica/helpers.js';

// better-sqlite3 (an optional dependency, installed here) ships no types: the calls used.
type BetterStmt = { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; raw(): BetterStmt };
type BetterDb = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): BetterStmt; transaction(fn: () => void): () => void; close(): void };
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options?: { readonly?: boolean }) => BetterDb;

afterAll(removeTempDirs);

const PAGE = 1024; // small pages: three levels with a few thousand rows
const ROWS = 6000;
let dbPath: string;
let raw: Buffer;
let ltx: Uint8Array;
let key: string;
let index: PageIndex;
/** dbstat: B-tree name → pages by path ('/', '/000/', '/000/001/', …). */
let tree: { name: string; path: string; pageno: number; pagetype: string }[];

beforeAll(async () => {
  dbPath = path.join(tempDir('prefetch'), 'deep.db');
  const db = new BetterSqlite3(dbPath);
  db.pragma(`page_size = ${PAGE}`);
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL, pad BLOB); CREATE INDEX t_a ON t(a)');
  const insert = db.prepare('INSERT INTO t(a, pad) VALUES (?, randomblob(120))');
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(`k${String((i * 7919) % ROWS).padStart(6, '0')}`);
  })();
  tree = db.prepare("SELECT name, path, pageno, pagetype FROM dbstat WHERE name IN ('t', 't_a') ORDER BY name, path").all() as typeof tree;
  db.close();
  raw = readFileSync(dbPath);
  const store = fileStore();
  key = (await importDatabase(dbPath, store)).key;
  ltx = await store.get(key);
  index = await buildPageIndex(store, await planRestore(store));
  await store.close();
}, 60_000);

const rootOf = (name: string): number => tree.find((r) => r.name === name && r.path === '/')!.pageno;
const childrenOf = (name: string, parent: string): number[] =>
  tree.filter((r) => r.name === name && r.path.startsWith(parent) && r.path.length === parent.length + 4).map((r) => r.pageno);

describe('interiorChildren', () => {
  it("names an interior page's children in key order, as SQLite's dbstat does; a leaf has none", () => {
    let interiors = 0;
    for (const r of tree) {
      const page = raw.subarray((r.pageno - 1) * PAGE, r.pageno * PAGE);
      const got = interiorChildren(page, r.pageno, raw.length / PAGE);
      if (r.pagetype === 'internal') {
        interiors++;
        expect(got, `${r.name} ${r.path}`).toEqual(childrenOf(r.name, r.path));
      } else {
        expect(got).toEqual([]);
      }
    }
    expect(interiors).toBeGreaterThan(4);
    expect(tree.some((r) => r.path.length === 5 && r.pagetype === 'internal')).toBe(true); // three levels at least
  });

  it('returns nothing for bytes that are not an interior page, and drops children beyond the database', () => {
    expect(interiorChildren(new Uint8Array(PAGE), 5, 100)).toEqual([]);
    expect(interiorChildren(new Uint8Array(8).fill(5), 5, 100)).toEqual([]);
    const root = rootOf('t');
    const page = raw.subarray((root - 1) * PAGE, root * PAGE);
    const all = interiorChildren(page, root, Number.MAX_SAFE_INTEGER);
    expect(interiorChildren(page, root, Math.min(...all))).toEqual([Math.min(...all)]);
  });
});

class RecordingSource implements PageSource {
  reads: ByteRange[] = [];
  batches: { ranges: ByteRange[]; taken: boolean }[] = [];
  failNext = false;
  getSync(k: string, range?: ByteRange): Uint8Array {
    if (k !== key || range === undefined || !('offset' in range)) throw new Error('unexpected read');
    this.reads.push(range);
    return ltx.slice(range.offset, range.offset + range.length);
  }
  getManyLater(items: readonly { key: string; range?: ByteRange }[]): () => Uint8Array[] {
    const batch = { ranges: items.map((i) => i.range!), taken: false };
    this.batches.push(batch);
    const fail = this.failNext;
    this.failNext = false;
    return () => {
      batch.taken = true;
      if (fail) throw new Error('store on fire');
      return items.map(({ range }) => ltx.slice((range as { offset: number }).offset, (range as { offset: number }).offset + (range as { length: number }).length));
    };
  }
}

let seq = 0;
function replica(source: RecordingSource): { vfs: ReplicaVfs; db: Database } {
  const vfs = new ReplicaVfs({ name: `prefetch-${++seq}`, url: 'file:///prefetch', index, source, cacheSize: 64 << 20, readAheadBytes: 0 });
  registerVfs(vfs);
  const db = new Database('main.db', { vfs: vfs.name, readOnly: true });
  return { vfs, db };
}

/** The page a range request asked for (read-ahead is off: one frame each). */
const pageAt = (range: ByteRange): number => {
  for (let p = 1; p <= index.commit; p++) if (index.lookup(p)?.offset === (range as { offset: number }).offset) return p;
  throw new Error('no page at that offset');
};

describe('ReplicaVfs.prefetchBelow', () => {
  it("fetches the roots' children in one batch, taken at the next miss: a cold lookup reads none of them", () => {
    const source = new RecordingSource();
    const { vfs, db } = replica(source);
    try {
      db.get('SELECT count(*) FROM sqlite_schema'); // page 1 and the schema: the roots are known
      const roots = [rootOf('t'), rootOf('t_a')];
      for (const root of roots) db.get(root === rootOf('t') ? 'SELECT id FROM t WHERE id = 0' : "SELECT a FROM t WHERE a = ''"); // the roots cached
      const cached = new Set(source.reads.map(pageAt)); // the roots, and one path below each
      source.reads = [];
      const expected = [...childrenOf('t', '/'), ...childrenOf('t_a', '/')].filter((p) => !cached.has(p));
      expect(expected.length).toBeGreaterThan(4);
      expect(vfs.prefetchBelow([1, ...roots])).toBe(expected.length);
      expect(source.batches).toHaveLength(1);
      expect(source.batches[0].ranges.length).toBeLessThanOrEqual(16);
      expect(source.batches[0].taken).toBe(false); // prefetchBelow does not wait
      expect(source.reads).toEqual([]);

      const row = db.get('SELECT id, a FROM t WHERE id = ?', [4321]);
      expect(row).toMatchObject({ id: 4321 });
      expect(source.batches[0].taken).toBe(true);
      const read = source.reads.map(pageAt);
      expect(read.length).toBeGreaterThan(0); // the levels below still cost reads
      for (const p of read) expect(expected).not.toContain(p);
      expect(vfs.stats().prefetchedPages).toBe(expected.length);
      // An index lookup also starts below its root's level.
      source.reads = [];
      expect(db.get('SELECT id FROM t WHERE a = ?', ['k004321'])).toMatchObject({ id: expect.any(Number) });
      for (const p of source.reads.map(pageAt)) expect(expected).not.toContain(p);
    } finally {
      db.close();
      vfs.dispose();
    }
  });

  it('skips roots that are not cached (no round trip to find children) and pages already cached', () => {
    const source = new RecordingSource();
    const { vfs, db } = replica(source);
    source.reads = [];
    try {
      expect(vfs.prefetchBelow([rootOf('t')])).toBe(0);
      expect(source.batches).toEqual([]);
      expect(source.reads).toEqual([]);
      db.get('SELECT id FROM t WHERE id = 1'); // root, one child, a leaf
      const n = vfs.prefetchBelow([rootOf('t')]);
      expect(n).toBe(childrenOf('t', '/').length - 1);
    } finally {
      db.close();
      vfs.dispose();
    }
  });

  it("takes a root's children all or not at all: a wide one (more ranges than a batch) is left out", () => {
    const source = new RecordingSource();
    const { vfs, db } = replica(source);
    try {
      db.get('SELECT id FROM t WHERE id = 1'); // root, its first child, a leaf
      const wide = tree.find((r) => r.name === 't' && r.path === '/000/')!.pageno;
      expect(childrenOf('t', '/000/').length).toBeGreaterThan(16);
      expect(vfs.prefetchBelow([wide])).toBe(0);
      expect(source.batches).toEqual([]);
      const narrow = rootOf('t_a');
      db.get("SELECT a FROM t WHERE a = ''"); // the index root cached (and one path below it)
      const uncached = childrenOf('t_a', '/').length - 1;
      expect(vfs.prefetchBelow([wide, narrow])).toBe(uncached);
      expect(source.batches).toHaveLength(1);
    } finally {
      db.close();
      vfs.dispose();
    }
  });

  it('a failed prefetch costs only itself: the pages are read when needed and answers stay right', () => {
    const source = new RecordingSource();
    const { vfs, db } = replica(source);
    const local = new BetterSqlite3(dbPath, { readonly: true });
    try {
      db.get('SELECT id FROM t WHERE id = 0');
      source.failNext = true;
      expect(vfs.prefetchBelow([rootOf('t')])).toBeGreaterThan(0);
      for (const id of [1, 2500, 5999]) {
        const want = local.prepare('SELECT id, a, pad FROM t WHERE id = ?').get(id) as { pad: Buffer };
        expect(db.get('SELECT id, a, pad FROM t WHERE id = ?', [id])).toEqual({ ...want, pad: new Uint8Array(want.pad) });
      }
      expect(source.batches[0].taken).toBe(true);
      expect(vfs.stats().prefetchedPages).toBe(0);
    } finally {
      local.close();
      db.close();
      vfs.dispose();
    }
  });
});

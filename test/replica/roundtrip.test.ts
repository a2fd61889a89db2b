// Import then restore of real databases gives byte-identical files, on file:// and S3;
// import refuses a non-empty replica without force; corruption fails cleanly.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LtxError, decodeLtx } from '../../src/ltx/index.js';
import { importDatabase, isReplicaError, layoutFor, listReplica, restore, type RestoreProgress } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { Database } from '../../src/engine/index.js';
import { fillTo, makeDb, makeStore, putLtx, tempDir, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

async function roundTrip(store: ObjectStore, image: Uint8Array, dir: string, dbFile: string) {
  const imp = await importDatabase(dbFile, store);
  expect(imp.dbBytes).toBe(image.length);
  const out = path.join(dir, 'restored.db');
  const progress: RestoreProgress[] = [];
  const r = await restore(store, {}, out, { onProgress: (p) => progress.push(p), chunkBytes: 1 << 20 });
  expect(Buffer.compare(readFileSync(out), image)).toBe(0);
  expect(r.checksumVerified).toBe(true);
  expect(r.integrityChecked).toBe(true);
  expect(progress.at(-1)).toMatchObject({ filesDone: 1, files: 1, bytesDone: imp.ltxBytes });
  return { imp, r };
}

describe.each(['file', 's3'] as const)('import → restore on %s', (kind) => {
  for (const pageSize of [1024, 4096, 65536]) {
    it(`page size ${pageSize}: byte-identical`, async () => {
      const dir = tempDir('rt');
      const dbFile = path.join(dir, 'src.db');
      const image = makeDb(dbFile, pageSize, (db) => {
        db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t(v);');
        db.exec('BEGIN');
        for (let i = 0; i < 500; i++) db.run('INSERT INTO t(v) VALUES (?)', [`v-${i}-${'y'.repeat(i % 90)}`]);
        db.exec('COMMIT');
      });
      expect(image.length / pageSize).toBeGreaterThan(1);
      const store = makeStore(kind);
      const { imp } = await roundTrip(store, image, dir, dbFile);
      expect(imp.key).toBe(layoutFor(store).fileKey(9, 1n, 1n));
      await store.close();
    });
  }

  it('a one-page database and a ~50 MB database: byte-identical, large ones by ranged GETs', async () => {
    const dir = tempDir('rt-big');
    const tiny = path.join(dir, 'tiny.db');
    const tinyImage = makeDb(tiny, 4096, (db) => db.exec('PRAGMA user_version = 7'));
    expect(tinyImage.length).toBe(4096);
    const s1 = makeStore(kind);
    await roundTrip(s1, tinyImage, dir, tiny);
    await s1.close();

    const big = path.join(dir, 'big.db');
    const bigImage = makeDb(big, 4096, (db) => fillTo(db, 48 << 20));
    expect(bigImage.length).toBeGreaterThan(45 << 20);
    const s2 = makeStore(kind);
    const out = path.join(dir, 'big-restored.db');
    const imp = await importDatabase(big, s2);
    const r = await restore(s2, {}, out);
    expect(Buffer.compare(readFileSync(out), bigImage)).toBe(0);
    // 8 MiB ranges: the file came in several GETs (plus one LIST per level).
    expect(s2.stats().get.requests).toBe(Math.ceil(imp.ltxBytes / (8 << 20)));
    expect(r.files).toBe(1);
    expect(r.ltxBytes).toBe(imp.ltxBytes);
    await s2.close();
  });

  it('import refuses a non-empty replica without force, replaces it with force', async () => {
    const dir = tempDir('rt-force');
    const a = path.join(dir, 'a.db');
    const b = path.join(dir, 'b.db');
    makeDb(a, 4096, (db) => db.exec('CREATE TABLE a(x)'));
    const bImage = makeDb(b, 4096, (db) => db.exec('CREATE TABLE b(y); INSERT INTO b VALUES (1)'));
    const store = makeStore(kind);
    await importDatabase(a, store);
    await putLtx(store, 0, 2n, 2n, new Uint8Array([1, 2, 3])); // later files: must go too
    await putLtx(store, 0, 3n, 3n, new Uint8Array([1, 2, 3]));
    await putLtx(store, 1, 2n, 3n, new Uint8Array([1, 2, 3]));
    await expect(importDatabase(b, store)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_NOT_EMPTY') && /4 LTX files/.test(e.message) && /force/.test(e.message));
    const deletes: string[] = [];
    const deleteMany = store.deleteMany.bind(store);
    store.deleteMany = async (keys) => {
      deletes.push(...keys);
      return deleteMany(keys);
    };
    const r = await importDatabase(b, store, { force: true });
    expect(r.deleted).toBe(4);
    // Newest first (after the boot pack): what is left mid-way is a prefix of the old chain.
    const L = layoutFor(store);
    expect(deletes.slice(1)).toEqual([L.fileKey(1, 2n, 3n), L.fileKey(0, 3n, 3n), L.fileKey(0, 2n, 2n), L.fileKey(9, 1n, 1n)]);
    expect((await listReplica(store)).map((f) => f.key)).toEqual([layoutFor(store).fileKey(9, 1n, 1n)]);
    const out = path.join(dir, 'out.db');
    await restore(store, {}, out);
    expect(Buffer.compare(readFileSync(out), bImage)).toBe(0);
    if (kind === 's3') {
      const head = await store.head(r.key);
      expect(head!.metadata['litestream-timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    await store.close();
  });

  it('a flipped byte in an LTX file fails restore with a clear error and leaves no file', async () => {
    const dir = tempDir('rt-corrupt');
    const dbFile = path.join(dir, 'src.db');
    makeDb(dbFile, 4096, (db) => {
      db.exec('CREATE TABLE t(v)');
      for (let i = 0; i < 200; i++) db.run('INSERT INTO t VALUES (?)', [`row ${i} ${'z'.repeat(100)}`]);
    });
    const store = makeStore(kind);
    const { key } = await importDatabase(dbFile, store);
    const bytes = await store.get(key);
    for (const at of [50, Math.floor(bytes.length / 2), bytes.length - 20]) {
      const bad = bytes.slice();
      bad[at] ^= 0x10;
      await store.put(key, bad);
      const out = path.join(dir, 'out.db');
      const err = await restore(store, {}, out).catch((e: unknown) => e);
      expect(err instanceof LtxError || isReplicaError(err)).toBe(true);
      expect((err as Error).message).toContain(key);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir).filter((n) => n !== 'src.db')).toEqual([]);
    }
    await store.close();
  });
});

describe('import preconditions', () => {
  it('refuses non-SQLite files, hot journals and WAL mode with a -wal file; accepts WAL mode at rest', async () => {
    const dir = tempDir('imp');
    const store = makeStore('file');
    const junk = path.join(dir, 'junk.db');
    writeFileSync(junk, Buffer.alloc(4096, 1));
    await expect(importDatabase(junk, store)).rejects.toThrow(/not a SQLite database/);
    const empty = path.join(dir, 'empty.db');
    writeFileSync(empty, '');
    await expect(importDatabase(empty, store)).rejects.toThrow(/empty file/);

    const hot = path.join(dir, 'hot.db');
    makeDb(hot, 4096, (db) => db.exec('CREATE TABLE t(x)'));
    writeFileSync(`${hot}-journal`, Buffer.alloc(512, 7));
    await expect(importDatabase(hot, store)).rejects.toThrow(/rollback journal/);

    const wal = path.join(dir, 'wal.db');
    const db = new Database(wal);
    db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    await expect(importDatabase(wal, store)).rejects.toThrow(/WAL mode with a non-empty/);
    db.close(); // checkpoints and removes the -wal
    const image = new Uint8Array(readFileSync(wal));
    expect(image[18]).toBe(2);
    await importDatabase(wal, store);
    const out = path.join(dir, 'wal-restored.db');
    const r = await restore(store, {}, out);
    expect(Buffer.compare(readFileSync(out), image)).toBe(0);
    expect(r.integrityChecked).toBe(true);
    // The restored file opens normally.
    const check = new Database(out);
    expect(check.all('SELECT x FROM t')).toEqual([{ x: 1 }]);
    check.close();
    // The encoded snapshot passes the strict decoder.
    const ltx = decodeLtx(await store.get(layoutFor(store).fileKey(9, 1n, 1n)));
    expect(ltx.header.commit).toBe(image.length / 4096);
  });

  it('restore refuses an existing output unless overwrite', async () => {
    const dir = tempDir('imp-out');
    const dbFile = path.join(dir, 'src.db');
    const image = makeDb(dbFile, 4096, (db) => db.exec('CREATE TABLE t(x)'));
    const store = makeStore('file');
    await importDatabase(dbFile, store);
    const out = path.join(dir, 'out.db');
    writeFileSync(out, 'keep me');
    await expect(restore(store, {}, out)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_OUTPUT_EXISTS'));
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    writeFileSync(`${out}-journal`, 'stale');
    await restore(store, {}, out, { overwrite: true });
    expect(Buffer.compare(readFileSync(out), image)).toBe(0);
    expect(existsSync(`${out}-journal`)).toBe(false);
  });
});

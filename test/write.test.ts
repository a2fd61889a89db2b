// open({ writeEnabled }): the single writer. Read-your-writes before and after a
// sync, what the syncer uploads (verified LTX, a restorable chain), a follower
// seeing the writer's commits, and a second writer fenced with a clear error.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../src/engine/index.js';
import { HEADER_FLAG_NO_CHECKSUM, decodeLtx, hasChecksums } from '../src/ltx/index.js';
import { open, type ReplicaDatabase } from '../src/open.js';
import { listReplica, readLtxHeader, restore } from '../src/replica/index.js';
import { parseRecord, type ChecksumRecord } from '../src/replica/checksum-record.js';
import { FileStore } from '../src/storage/file-store.js';
import { S3Store } from '../src/storage/s3-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { fileUrl, removeTempDirs, tempDir } from './replica/helpers.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from './support/s3.js';

afterAll(removeTempDirs);

function one(db: Database, sql: string): unknown {
  return Object.values(db.get(sql)!)[0];
}

type Target = { url: string; store: () => ObjectStore; s3?: { accessKeyId: string; secretAccessKey: string } };

const targets: [string, () => Target][] = [
  ['file', () => {
    const dir = path.join(tempDir('write'), 'replica');
    return { url: fileUrl(dir), store: () => new FileStore({ dir }) };
  }],
  ['s3', () => {
    const prefix = uniquePrefix('write');
    const c = testS3Config();
    return { url: testReplicaUrl(prefix), store: () => new S3Store(testS3StoreOptions(prefix)), s3: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } };
  }],
];

async function contentOf(db: Database): Promise<unknown[]> {
  return db.all('SELECT id, name, n FROM items ORDER BY id');
}

describe.each(targets)('the writer on %s', (_kind, make) => {
  it('creates a database in an empty replica, reads its writes, syncs them as verified L0 files, restores them', async () => {
    const t = make();
    const bufferPath = tempDir('write-buffer');
    const db = await open({ replicaUrl: t.url, s3: t.s3, writeEnabled: true, bufferPath, syncInterval: 3_600_000 }); // syncs only when asked
    let view: unknown[];
    try {
      expect(db.writeEnabled).toBe(true);
      expect(one(db, 'PRAGMA litestream_write_enabled')).toBe('true');
      expect(() => db.exec('PRAGMA journal_mode = WAL')).toThrow(/journal_mode=WAL is not supported/);
      expect(() => db.get("PRAGMA litestream_time = '1 minute ago'")).toThrow(/not available in write mode/);
      db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)');
      db.exec('BEGIN');
      for (let i = 1; i <= 500; i++) db.run('INSERT INTO items(name, n) VALUES (?, ?)', [`item-${i}-${'x'.repeat(100)}`, i]);
      db.exec('COMMIT');
      // Read-your-writes before any sync.
      expect(one(db, 'SELECT count(*) FROM items')).toBe(500);
      // A TXID is one upload: both commits (CREATE TABLE, the inserts) share the pending TXID 1.
      expect(db.writerStatus()!.txid).toEqual({ committed: 1n, synced: 0n });
      expect(one(db, 'PRAGMA litestream_sync')).toBe('1'); // waits: TXID 1 is in object storage
      expect(db.writerStatus()!.txid).toEqual({ committed: 1n, synced: 1n });
      await db.sync();
      expect(one(db, 'PRAGMA litestream_sync')).toBe('1');
      expect(one(db, 'PRAGMA litestream_txid')).toBe('1');
      // ... and after it, when the pages come from the replica.
      db.clearCache();
      expect(one(db, 'SELECT count(*) FROM items')).toBe(500);
      // More commits: an update, a delete, a growth; then one more sync.
      db.run('UPDATE items SET n = n * 2 WHERE id % 3 = 0');
      db.run('DELETE FROM items WHERE id % 7 = 0');
      db.exec('BEGIN');
      for (let i = 501; i <= 800; i++) db.run('INSERT INTO items(name, n) VALUES (?, ?)', [`item-${i}-${'y'.repeat(300)}`, i]);
      db.exec('COMMIT');
      db.exec('BEGIN'); // a rollback leaves nothing behind
      db.run('DELETE FROM items');
      db.exec('ROLLBACK');
      // Three more commits, one TXID (2) until the sync uploads it.
      expect(db.writerStatus()!.txid).toEqual({ committed: 2n, synced: 1n });
      await db.sync();
      expect(one(db, 'PRAGMA litestream_txid')).toBe('2');
      expect(db.writerStatus()!.txid).toEqual({ committed: 2n, synced: 2n });
      expect(db.replicaStats().commits).toBe(5);
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      view = await contentOf(db);
      expect(view.length).toBe(800 - Math.floor(500 / 7));
    } finally {
      await db.close();
    }

    // What the syncer wrote: a snapshot at TXID 1, then one L0 file for TXID 2 (three commits), each strictly valid.
    const store = t.store();
    try {
      const files = (await listReplica(store)).filter((f) => f.level === 0);
      expect(files.map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(['1-1', '2-2']);
      const records: (ChecksumRecord | null)[] = [];
      for (const f of files) {
        const got = await store.getWithMetadata(f.key);
        const d = decodeLtx(got.bytes);
        expect(d.header.maxTXID).toBe(f.maxTXID);
        // Litestream's format: NoChecksum flag, no checksums in the file, WAL fields 32 + 0.
        expect(d.header).toMatchObject({ flags: HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: 0n, walOffset: 32n, walSize: 0n });
        expect(d.trailer.postApplyChecksum).toBe(0n);
        // The writer tracks the database checksum: it is recorded beside every file.
        const rec = parseRecord(got.metadata);
        expect(rec).not.toBeNull();
        expect(hasChecksums(await readLtxHeader(store, f.key))).toBe(true);
        records.push(rec);
      }
      // The snapshot starts from nothing; the next file starts where it ended.
      expect(records[0]!.pre).toBe(0n);
      expect(records[1]!.pre).toBe(records[0]!.post);
      const out = path.join(tempDir('write-restore'), 'restored.db');
      const result = await restore(store, {}, out);
      expect(result.txid).toBe(2n);
      const restored = new Database(out, { readOnly: true });
      try {
        expect(restored.all('SELECT id, name, n FROM items ORDER BY id')).toEqual(view);
        expect(restored.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      } finally {
        restored.close();
      }
      expect(readFileSync(out).length % 4096).toBe(0);
    } finally {
      await store.close();
    }

    // Reopening as the writer continues the chain; a follower sees the new commit.
    const again = await open({ replicaUrl: t.url, s3: t.s3, writeEnabled: true, bufferPath, syncInterval: 3_600_000 });
    const follower = await open({ replicaUrl: t.url, s3: t.s3, pollInterval: 3_600_000 });
    try {
      expect(await contentOf(again)).toEqual(view);
      again.run('INSERT INTO items(name, n) VALUES (?, ?)', ['after-reopen', -1]);
      await again.sync();
      expect(one(again, 'PRAGMA litestream_txid')).toBe('3');
      await follower.refresh();
      expect(follower.get('SELECT n FROM items WHERE name = ?', ['after-reopen'])).toEqual({ n: -1 });
      expect(() => follower.run('DELETE FROM items')).toThrow(/read-only|readonly/);
    } finally {
      await follower.close();
      await again.close();
    }
  });
});

describe('two writers on one replica', () => {
  it('the one that loses the conditional put stops with the second-writer error and keeps its commits', async () => {
    const dir = path.join(tempDir('write-two'), 'replica');
    const url = fileUrl(dir);
    const seed = await open({ replicaUrl: url, writeEnabled: true, bufferPath: tempDir('write-seed'), syncInterval: 3_600_000 });
    seed.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)');
    await seed.close();

    // Two processes' worth of writers: separate buffers, same base (TXID 1).
    const a: ReplicaDatabase = await open({ replicaUrl: url, writeEnabled: true, bufferPath: tempDir('write-a'), syncInterval: 3_600_000 });
    const b: ReplicaDatabase = await open({ replicaUrl: url, writeEnabled: true, bufferPath: tempDir('write-b'), syncInterval: 3_600_000 });
    try {
      a.run('INSERT INTO items(name, n) VALUES (?, ?)', ['from-a', 1]);
      b.run('INSERT INTO items(name, n) VALUES (?, ?)', ['from-b', 2]);
      await a.sync();
      await expect(b.sync()).rejects.toThrow(/second writer/i);
      expect(b.writerStatus()!.state).toBe('fenced');
      // Every later write fails with the same explanation; reads still work.
      expect(() => b.run('INSERT INTO items(name, n) VALUES (?, ?)', ['from-b-2', 3])).toThrow(/second writer/i);
      expect(b.get('SELECT n FROM items WHERE name = ?', ['from-b'])).toEqual({ n: 2 });
      // B's commit is kept in its buffer, not dropped.
      expect(b.writerStatus()!.sync.unsyncedBytes).toBeGreaterThan(0);
      a.run('INSERT INTO items(name, n) VALUES (?, ?)', ['from-a-2', 4]);
      await a.sync();
    } finally {
      await a.close();
      await b.close().catch(() => undefined);
    }
    const store = new FileStore({ dir });
    try {
      const l0 = (await listReplica(store)).filter((f) => f.level === 0).map((f) => `${f.minTXID}-${f.maxTXID}`);
      expect(l0).toEqual(['1-1', '2-2', '3-3']);
    } finally {
      await store.close();
    }
  });
});

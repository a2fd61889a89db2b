// Issue 12, "they wedge after a write": a writer and a follower on one replica, both
// with page caches smaller than the database, while the writer's compaction merges L0
// into L1 and retention deletes the L0 files both page indexes point to. Before the
// fix every uncached read then failed with SQLITE_IOERR (page 1 included, so the
// writer's own commits failed too) and never recovered. Now the writer re-points its
// index after each pass, and a read that finds its file gone re-plans at the same TXID.
// The policy is compressed (L1 every 200 ms, L0 kept 300 ms after): the defaults take 5.5 min.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/engine/index.js';
import { open, type ReplicaDatabase } from '../../src/open.js';
import { compactOnce } from '../../src/compact/index.js';
import { listReplica } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { fileUrl, removeTempDirs, tempDir } from '../replica/helpers.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';

afterAll(removeTempDirs);

const FAST = { l1Interval: 200, l2Interval: 600, l3Interval: 1800, snapshotInterval: 3_600_000, snapshotRetention: 3_600_000, l0Retention: 300, readerGrace: 300 };

type Target = { url: string; store: () => ObjectStore; s3?: { accessKeyId: string; secretAccessKey: string } };
const targets: [string, () => Target][] = [
  ['file', () => {
    const dir = path.join(tempDir('wedge'), 'replica');
    return { url: fileUrl(dir), store: () => new FileStore({ dir }) };
  }],
  ['s3', () => {
    const prefix = uniquePrefix('wedge');
    const c = testS3Config();
    return { url: testReplicaUrl(prefix), store: () => new S3Store(testS3StoreOptions(prefix)), s3: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } };
  }],
];

const digest = (db: Database) => db.get('SELECT count(*) AS n, sum(length(v)) AS bytes, sum(id * length(v)) AS mix FROM t');

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

describe.each(targets)('reads through compaction and retention (%s)', (_kind, make) => {
  it('writer and follower keep reading and committing after the L0 files their indexes use are deleted', async () => {
    const t = make();
    const writer = await open({ replicaUrl: t.url, s3: t.s3, writeEnabled: true, bufferPath: tempDir('wedge-buffer'), syncInterval: 100, cacheSize: '64KiB', compaction: FAST });
    let follower: ReplicaDatabase | null = null;
    const store = t.store();
    try {
      writer.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
      // ~600 KB over 12 commits, so the pages live in many L0 files; the caches hold 16 pages.
      for (let b = 0; b < 12; b++) {
        writer.exec('BEGIN');
        for (let i = 0; i < 50; i++) writer.run('INSERT INTO t(v) VALUES (?)', [`${b}-${i}-${'v'.repeat(900 + ((b * 7 + i) % 100))}`]);
        writer.exec('COMMIT');
        await writer.sync();
      }
      const expected = digest(writer);
      follower = await open({ replicaUrl: t.url, s3: t.s3, cacheSize: '64KiB', pollInterval: 100 });
      expect(digest(follower)).toEqual(expected);
      const l0AtOpen = (await listReplica(store)).filter((f) => f.level === 0).map((f) => f.key);
      expect(l0AtOpen.length).toBeGreaterThan(5);
      // Retention always keeps the newest L0 file (a Litestream primary taking over reads it),
      // and that file holds page 1: one more commit (another table: t's digest does not change)
      // so that every L0 file the follower's index was built from can go. The follower is not
      // read until they are gone, so its next transaction reads through its old index.
      writer.exec('CREATE TABLE marker(x)');
      await writer.sync();
      const newestL0 = (await listReplica(store, [0])).find((f) => f.maxTXID === writer.txid)!.key;
      expect(l0AtOpen).not.toContain(newestL0);

      // Compaction covers them with L1, retention deletes them 300 ms later.
      await until('the L0 files the indexes were built from to be deleted', async () => {
        const now = new Set((await listReplica(store)).map((f) => f.key));
        return l0AtOpen.every((k) => !now.has(k));
      });
      expect((await listReplica(store, [0])).map((f) => f.key)).toEqual([newestL0]); // the newest L0 file stays

      follower.clearCache();
      expect(digest(follower)).toEqual(expected); // every page from a deleted file: re-planned once, then L1
      expect(follower.replicaStats().replans).toBeGreaterThanOrEqual(1);

      writer.clearCache();
      expect(digest(writer)).toEqual(expected);
      writer.run("UPDATE t SET v = v || '!' WHERE id % 3 = 0");
      await writer.sync();
      const after = digest(writer);
      expect(after).not.toEqual(expected);
      expect(writer.replicaStats().repoints).toBeGreaterThanOrEqual(1); // re-pointed after compaction passes
      expect(writer.replicaStats().replans).toBe(0); // so its reads never hit a deleted file

      await until('the follower to see the update', async () => {
        await follower!.refresh();
        return JSON.stringify(digest(follower!)) === JSON.stringify(after);
      });
      expect(follower.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(writer.writerStatus()!.compaction.filesDeleted).toBeGreaterThan(0);
    } finally {
      await follower?.close();
      await writer.close();
      await store.close();
    }
  });
});

describe('a follower that fell behind past the readers\' grace', () => {
  it('begins its next transaction at the latest state when the files of its own state are gone from every level', async () => {
    const dir = path.join(tempDir('behind'), 'replica');
    const url = fileUrl(dir);
    const store = new FileStore({ dir });
    // No background compaction: the test runs the pass itself, with no retention delay at all.
    const writer = await open({ replicaUrl: url, writeEnabled: true, bufferPath: tempDir('behind-buffer'), syncInterval: 3_600_000, compaction: { l1Interval: 3_600_000 } });
    let follower: ReplicaDatabase | null = null;
    try {
      writer.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
      await writer.sync();
      for (let i = 0; i < 2; i++) {
        writer.run('INSERT INTO t(v) VALUES (?)', ['v'.repeat(3000)]);
        await writer.sync();
      }
      follower = await open({ replicaUrl: url, pollInterval: 3_600_000 }); // it never polls by itself
      expect(follower.txid).toBe(3n);
      for (let i = 0; i < 2; i++) {
        writer.run('INSERT INTO t(v) VALUES (?)', ['w'.repeat(3000)]);
        await writer.sync();
      }
      // L1 1..5 and a snapshot 1..5; the L0 files go at once, but for the newest (5, which retention
      // always keeps): TXID 3 is in no file's boundary any more.
      const pass = await compactOnce(store, { force: true, policy: { l0RetentionMs: 0, readerGraceMs: 0 }, now: Date.now() + 1000 });
      expect(pass.deleted.filter((d) => d.level === 0).map((d) => d.maxTXID)).toEqual([1n, 2n, 3n, 4n]);
      expect((await listReplica(store, [0])).map((f) => f.maxTXID)).toEqual([5n]);
      follower.clearCache();
      expect(follower.get('SELECT count(*) AS n FROM t')).toEqual({ n: 4 }); // the state at TXID 5, whole
      expect(follower.txid).toBe(5n);
      expect(follower.replicaStats().caughtUp).toBe(1);
      expect(follower.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await follower?.close();
      await writer.close();
      await store.close();
    }
  });
});

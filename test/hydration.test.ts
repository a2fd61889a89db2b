// open({ hydrationPath }): queries are answered remotely at once, the local copy is
// built in the background, reads switch to it at a transaction boundary, and later
// transactions (a follower's polls, a writer's own syncs) reach the copy too.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../src/engine/index.js';
import { open, type ReplicaDatabase } from '../src/open.js';
import { restore } from '../src/replica/index.js';
import { FileStore } from '../src/storage/file-store.js';
import { diffLtx, fileUrl, history, putLtx, removeTempDirs, snapshotLtx, tempDir } from './replica/helpers.js';

afterAll(removeTempDirs);

const PAGE = 4096;

function one(db: ReplicaDatabase, sql: string): unknown {
  return Object.values(db.get(sql)!)[0];
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What `ltxvfs restore` makes of the replica at `txid`. */
async function restored(store: FileStore, txid: bigint): Promise<Buffer> {
  const out = path.join(tempDir('hydration-restore'), `at-${txid}.db`);
  await restore(store, { txid }, out);
  return readFileSync(out);
}

describe('hydration in read-only mode', () => {
  it('answers at once, switches at a transaction boundary, follows new transactions into the local copy', async () => {
    const images = history(tempDir('hydration-history'), PAGE, 5);
    const dir = path.join(tempDir('hydration'), 'replica');
    const store = new FileStore({ dir });
    await putLtx(store, 9, 1n, 1n, snapshotLtx(images[0], PAGE, { checksums: false }).bytes);
    await putLtx(store, 0, 2n, 2n, diffLtx(images[0], images[1], PAGE, 2n, { checksums: false }).bytes);
    const local = path.join(tempDir('hydration-local'), 'copy.db');
    const events: string[] = [];
    const db = await open({ replicaUrl: fileUrl(dir), hydrationPath: local, pollInterval: 50, onHydration: (e) => events.push(e.type) });
    try {
      // A read transaction that is open while the copy completes keeps reading remotely.
      db.exec('BEGIN');
      const rows = db.all('SELECT id, v FROM t ORDER BY id');
      await until('the copy to be built', () => db.hydrationStatus()!.txid === 2n);
      await new Promise((r) => setTimeout(r, 100));
      expect(db.replicaStats().localPath).toBeNull();
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rows);
      db.exec('COMMIT');
      // The next transaction switches.
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rows);
      await db.hydrated();
      expect(db.replicaStats().localPath).toBe(local);
      expect(one(db, 'PRAGMA litestream_hydration_progress')).toBe('100');
      expect(one(db, 'PRAGMA litestream_hydration_file')).toBe(local);
      expect(events).toContain('progress');
      expect(events).toContain('switched');
      const before = db.replicaStats().localReads;
      db.clearCache();
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rows);
      expect(db.replicaStats().localReads).toBeGreaterThan(before);
      expect(readFileSync(local)).toEqual(await restored(store, 2n));

      // New transactions: read remotely for the pages they change, then applied to the copy.
      await putLtx(store, 0, 3n, 3n, diffLtx(images[1], images[2], PAGE, 3n, { checksums: false }).bytes);
      await putLtx(store, 0, 4n, 4n, diffLtx(images[2], images[3], PAGE, 4n, { checksums: false }).bytes);
      await until('the follower to reach TXID 4', () => one(db, 'PRAGMA litestream_txid') === '4');
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      await until('the copy to reach TXID 4', () => db.hydrationStatus()!.txid === 4n);
      expect(readFileSync(local)).toEqual(await restored(store, 4n));
      db.clearCache();
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(db.all('SELECT count(*) AS n FROM t')).toEqual([{ n: countRows(images[3]) }]);
    } finally {
      await db.close();
      await store.close();
    }

    // Reopening reuses the copy (its sidecar says TXID 4): reads are local almost at once.
    const again = await open({ replicaUrl: fileUrl(dir), hydrationPath: local, pollInterval: 50 });
    try {
      await again.hydrated();
      expect(again.hydrationStatus()!.bytesFetched).toBeLessThan(100_000);
      expect(one(again, 'PRAGMA litestream_txid')).toBe('4');
    } finally {
      await again.close();
    }
  });
});

describe('hydration in write mode', () => {
  it('switches to the copy and brings it forward with the writer\'s own syncs', async () => {
    const dir = path.join(tempDir('hydration-w'), 'replica');
    const local = path.join(tempDir('hydration-w-local'), 'copy.db');
    const seed = await open({ replicaUrl: fileUrl(dir), writeEnabled: true, bufferPath: tempDir('hydration-seed'), syncInterval: 3_600_000 });
    seed.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    for (let i = 0; i < 50; i++) seed.run('INSERT INTO t(v) VALUES (?)', [`seed-${i}-${'s'.repeat(500)}`]);
    await seed.close();

    const db = await open({ replicaUrl: fileUrl(dir), writeEnabled: true, bufferPath: tempDir('hydration-wbuf'), hydrationPath: local, syncInterval: 100 });
    const store = new FileStore({ dir });
    try {
      await db.hydrated();
      db.exec('BEGIN');
      for (let i = 0; i < 200; i++) db.run('INSERT INTO t(v) VALUES (?)', [`more-${i}-${'m'.repeat(300)}`]);
      db.exec('COMMIT');
      db.run("UPDATE t SET v = 'changed' WHERE id % 5 = 0");
      await db.sync();
      const txid = BigInt(one(db, 'PRAGMA litestream_txid') as string);
      await until('the copy to reach the synced TXID', () => db.hydrationStatus()!.txid === txid);
      expect(readFileSync(local)).toEqual(await restored(store, txid));
      db.clearCache();
      expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 250 });
      expect(db.get("SELECT count(*) AS n FROM t WHERE v = 'changed'")).toEqual({ n: 50 });
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await db.close();
      await store.close();
    }
  });
});

function countRows(image: Uint8Array): number {
  const file = path.join(tempDir('hydration-count'), 'c.db');
  writeFileSync(file, image);
  const db = new Database(file, { readOnly: true });
  try {
    return db.get('SELECT count(*) AS n FROM t')!.n as number;
  } finally {
    db.close();
  }
}

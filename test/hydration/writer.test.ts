// Hydration while another process writes: a writer (open({ writeEnabled }), syncing
// every 100 ms) commits throughout while this process opens the replica read-only
// with hydration, through a slow proxy so the download takes a while. After the
// switch the local copy equals `restore()` at the TXID it reports, and later
// transactions reach it too; a read transaction open while the copy completes (the
// switch queued behind it) sees one version, and reads turn local after it ends.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open, type ReplicaDatabase } from '../../src/open.js';
import { importDatabase, listReplica, restore } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { ProxyThread } from '../io/proxy-thread.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { Child, replicaUrlVia, s3Env, seedDatabase, until } from './helpers.js';

afterAll(removeTempDirs);

const SEED_BYTES = 24 << 20;

/** What restore() makes of the replica at `txid`. */
async function restoredAt(store: S3Store, txid: bigint): Promise<Buffer> {
  const out = path.join(tempDir('hyd-w-restore'), `at-${txid}.db`);
  await restore(store, { txid }, out, { integrityCheck: false });
  return readFileSync(out);
}

/** A view of the rows the writer changes: the newest rows and some it updates. */
function fingerprint(db: ReplicaDatabase): unknown {
  return db.get("SELECT max(id) AS m, (SELECT count(*) FROM t WHERE id > (SELECT max(id) - 300 FROM t)) AS n, (SELECT group_concat(v) FROM t WHERE id <= 100) AS g FROM t");
}

async function setup(label: string) {
  const cfg = testS3Config();
  const dir = tempDir(label);
  const prefix = uniquePrefix(label);
  const seed = path.join(dir, 'seed.db');
  seedDatabase(seed, SEED_BYTES);
  const direct = new S3Store(testS3StoreOptions(prefix));
  await importDatabase(seed, direct);
  const writer = new Child('writer.ts', [replicaUrlVia(prefix, cfg.endpoint), path.join(dir, 'buffer')], s3Env());
  await writer.line(/^ready \d+/);
  const credentials = { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey };
  return { cfg, dir, prefix, direct, writer, credentials, local: path.join(dir, 'local', 'copy.db') };
}

describe('hydration while a writer commits', () => {
  it('switches while the writer keeps committing; the copy equals restore() at the TXID it reports, and follows', async () => {
    const s = await setup('hyd-w-cont');
    const proxy = await ProxyThread.start(s.cfg.endpoint, { latencyMs: 5, bandwidthBytesPerSec: 16 << 20 });
    let atSwitch: { txid: bigint; bytes: Buffer } | null = null;
    let db: ReplicaDatabase | undefined;
    try {
      const txidAtOpen = (await listReplica(s.direct)).reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
      db = await open({
        replicaUrl: replicaUrlVia(s.prefix, proxy.endpoint),
        s3: s.credentials,
        hydrationPath: s.local,
        pollInterval: 50,
        logLevel: 'warn',
        // The copy is not touched again before this handler returns: take it as it was switched to.
        onHydration: (e) => void (e.type === 'switched' && (atSwitch = { txid: e.txid, bytes: readFileSync(e.path) })),
      });
      // Queries are answered remotely while the copy downloads and the writer commits.
      let queries = 0;
      while (db.hydrationStatus()!.state !== 'local') {
        expect((fingerprint(db) as { m: number }).m).toBeGreaterThan(5000);
        queries++;
        await new Promise((r) => setTimeout(r, 50));
      }
      await db.hydrated();
      expect(queries).toBeGreaterThan(3);
      const sw = atSwitch as { txid: bigint; bytes: Buffer } | null;
      expect(sw).not.toBeNull();
      // Transactions landed while it downloaded: the copy caught up with them before switching.
      expect(sw!.txid).toBeGreaterThan(txidAtOpen + 5n);
      expect(Buffer.compare(sw!.bytes, await restoredAt(s.direct, sw!.txid))).toBe(0);
      expect(db.replicaStats().localPath).toBe(s.local);

      // After the switch the writer's new transactions reach the copy.
      await new Promise((r) => setTimeout(r, 800));
      s.writer.send('stop');
      const last = BigInt((await s.writer.line(/^stopped (\d+)/))[1]);
      expect(last).toBeGreaterThan(sw!.txid);
      await until('the reader to reach the writer\'s last TXID', () => (void db!.refresh(), db!.get('SELECT 1'), db!.txid === last));
      await until('the copy to reach it', () => db!.hydrationStatus()!.txid === last);
      expect(Buffer.compare(readFileSync(s.local), await restoredAt(s.direct, last))).toBe(0);
      db.clearCache();
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(db.hydrationStatus()).toMatchObject({ state: 'local', percent: 100, txid: last, lastError: null });
    } finally {
      s.writer.kill();
      await db?.close();
      await proxy.close();
      await s.direct.close();
    }
  });

  it('a read transaction open while the copy completes sees one version; the queued switch applies when it ends', async () => {
    const s = await setup('hyd-w-tx');
    // Slow at first, so the transactions below start before the download is done.
    const proxy = await ProxyThread.start(s.cfg.endpoint, { latencyMs: 5, bandwidthBytesPerSec: 1 << 20 });
    let db: ReplicaDatabase | undefined;
    try {
      db = await open({ replicaUrl: replicaUrlVia(s.prefix, proxy.endpoint), s3: s.credentials, hydrationPath: s.local, pollInterval: 50, logLevel: 'warn' });
      const status = () => db!.hydrationStatus()!;

      // 1. A transaction across part of the download, while the writer commits.
      db.exec('BEGIN');
      const f1 = fingerprint(db);
      const t1 = db.txid;
      await until('a fifth of the download', () => status().percent >= 20);
      s.writer.send('pause');
      const paused = BigInt((await s.writer.line(/^paused (\d+)/))[1]);
      expect(paused).toBeGreaterThan(t1);
      expect(fingerprint(db)).toEqual(f1);
      expect(db.txid).toBe(t1);
      db.exec('COMMIT');

      // 2. The reader reaches the writer's TXID, then opens a transaction there and
      //    lets the download finish: the copy is at that TXID and its switch is queued.
      await until('the reader to reach the paused TXID', () => (void db!.refresh(), db!.get('SELECT 1'), db!.txid === paused));
      expect(status().txid).toBeNull();
      db.exec('BEGIN');
      const f2 = fingerprint(db);
      await proxy.set({ bandwidthBytesPerSec: 0 });
      await until('the copy to be built at the paused TXID', () => status().txid === paused && status().state === 'catching-up');
      await new Promise((r) => setTimeout(r, 200));

      // 3. The writer moves on; the transaction still sees its version, from remote pages.
      s.writer.send('resume');
      await s.writer.line(/^resumed/);
      await new Promise((r) => setTimeout(r, 600));
      const newer = (await listReplica(s.direct)).reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
      expect(newer).toBeGreaterThan(paused);
      await db.refresh();
      expect(fingerprint(db)).toEqual(f2);
      expect(db.txid).toBe(paused);
      expect(db.replicaStats().localPath).toBeNull();
      expect(status().state).toBe('catching-up');
      db.exec('COMMIT');

      // 4. The switch was applied at that boundary: the next transaction reads the copy.
      const before = db.replicaStats().localReads;
      db.clearCache();
      const f3 = fingerprint(db) as { m: number };
      expect(db.replicaStats().localPath).toBe(s.local);
      expect(db.replicaStats().localReads).toBeGreaterThan(before);
      expect(f3.m).toBeGreaterThanOrEqual((f2 as { m: number }).m);
      await db.hydrated();
      expect(status().switchedAfterMs).toBeGreaterThan(0);

      s.writer.send('stop');
      const last = BigInt((await s.writer.line(/^stopped (\d+)/))[1]);
      await until('the copy to reach the last TXID', () => (void db!.refresh(), db!.get('SELECT 1'), status().txid === last));
      expect(Buffer.compare(readFileSync(s.local), await restoredAt(s.direct, last))).toBe(0);
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      s.writer.kill();
      await db?.close();
      await proxy.close();
      await s.direct.close();
    }
  });
});

// The syncer against real stores (file:// and the run's S3 server): commits made by
// real SQLite become L0 files that decode and restore byte-identically; fencing of a
// second writer; a failing store (fault proxy) that recovers; reconcile after a crash.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLtx, encodeLtx, HEADER_FLAG_NO_CHECKSUM } from '../../src/ltx/index.js';
import { layoutFor, listLevel, planRestore, readLtxHeader, readPostApplyChecksum, restore } from '../../src/replica/index.js';
import { parseRecord, recordMetadata } from '../../src/replica/checksum-record.js';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { SecondWriterError, Syncer, WriteBuffer, encodeBatch, reconcileBuffer, type SyncedFile } from '../../src/sync/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from './helpers.js';

const PS = 4096;
const stores: ObjectStore[] = [];
afterAll(async () => {
  for (const s of stores.splice(0)) await s.close();
  removeTempDirs();
});

function makeStore(kind: 'file' | 's3', prefix = uniquePrefix('sync')): ObjectStore {
  const s = kind === 'file' ? new FileStore({ dir: path.join(tempDir('sync-rep'), 'replica') }) : new S3Store(testS3StoreOptions(prefix));
  stores.push(s);
  return s;
}

function openBuffer(store: ObjectStore, dir = tempDir('sync-buf'), maxBytes = 64 << 20): WriteBuffer {
  return WriteBuffer.open(dir, { replicaUrl: store.url, pageSize: PS, maxBytes, log: quiet });
}

async function restoreBytes(store: ObjectStore): Promise<Uint8Array> {
  const out = path.join(tempDir('sync-out'), 'db');
  await restore(store, {}, out);
  return new Uint8Array(readFileSync(out));
}

describe.each(['file', 's3'] as const)('Syncer on %s', (kind) => {
  it('ships SQLite commits as L0 files (snapshot first, shrink included) that restore byte-identically', async () => {
    const store = makeStore(kind);
    const buffer = openBuffer(store);
    expect((await reconcileBuffer(store, buffer, quiet)).status).toBe('clean');
    expect(buffer.base).toMatchObject({ txid: 0n, commit: 0 });
    const files: SyncedFile[] = [];
    const syncer = new Syncer({ store, buffer, intervalMs: 30, log: quiet, onSynced: (f) => files.push(f) });
    syncer.start();
    const db = new SqliteCommits(tempDir('sync-src'), PS);
    buffer.append(db.step('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'));
    for (let i = 0; i < 20; i++) buffer.append(db.step(`INSERT INTO t(v) SELECT hex(randomblob(300)) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3)`));
    await syncer.flush();
    expect(buffer.unsynced().commits).toBe(0);
    buffer.append(db.step('INSERT INTO t(v) SELECT hex(randomblob(3000)) FROM t'));
    await syncer.flush();
    const grown = buffer.base!.commit;
    buffer.append(db.step('DELETE FROM t WHERE id > 5'));
    buffer.append(db.step('VACUUM'));
    buffer.append(db.step(`INSERT INTO t(v) VALUES ('after the shrink')`, false)); // a commit that does not know its checksum
    await syncer.stop({ flush: true });
    expect(buffer.base!.commit).toBeLessThan(grown);
    expect(syncer.state).toBe('idle');
    expect(syncer.stats()).toMatchObject({ unsyncedBytes: 0, oldestUnsyncedAgeMs: null });
    expect(syncer.stats().syncs).toBe(files.length);

    // Every file decodes; TXIDs chain with no gap or overlap; the first is a snapshot.
    expect(files[0].minTXID).toBe(1n);
    // One TXID per file (N-N, as Litestream names them), so the TXIDs count the uploads.
    for (let i = 0; i < files.length; i++) {
      const d = decodeLtx(files[i].encoded.bytes);
      expect(d.header.minTXID).toBe(files[i].minTXID);
      expect(files[i].maxTXID).toBe(files[i].minTXID);
      if (i > 0) expect(files[i].minTXID).toBe(files[i - 1].maxTXID + 1n);
      expect(files[i].key).toBe(layoutFor(store).fileKey(0, files[i].minTXID, files[i].maxTXID));
      // Every file is NoChecksum, as Litestream writes; the database checksums go beside it, in the record.
      expect(d.header.flags & HEADER_FLAG_NO_CHECKSUM).toBe(HEADER_FLAG_NO_CHECKSUM);
      expect(d.header.preApplyChecksum).toBe(0n);
      expect(d.trailer.postApplyChecksum).toBe(0n);
      expect(parseRecord((await store.getWithMetadata(files[i].key)).metadata)).toEqual(files[i].record);
    }
    expect(files[files.length - 1].maxTXID).toBe(buffer.lastTXID);
    expect(files.length).toBe(Number(buffer.lastTXID));
    expect(files).toHaveLength(3); // one per flush: 21 commits, 1, then 3 (the appends between flushes never yield)
    // The snapshot's record comes from its pages; read back, its header is as if the checksums were inline.
    expect(files[0].record).toMatchObject({ pre: 0n });
    expect(files[0].record!.post).not.toBe(0n);
    expect((await readLtxHeader(store, files[0].key)).flags).toBe(0);
    expect(await readPostApplyChecksum(store, files[0].key)).toBe(files[0].record!.post);
    // The last file carries a commit without a checksum: no record, so NoChecksum even read back.
    expect(files[files.length - 1].record).toBeNull();
    expect((await readLtxHeader(store, files[files.length - 1].key)).flags & HEADER_FLAG_NO_CHECKSUM).toBe(HEADER_FLAG_NO_CHECKSUM);
    // A file between them links to the one before it: its pre-apply checksum is the previous post-apply one.
    for (let i = 1; i < files.length - 1; i++) expect(files[i].record).toEqual({ pre: files[i - 1].record!.post, post: expect.any(BigInt) });
    expect((await listLevel(store, 0)).map((f) => f.key)).toEqual(files.map((f) => f.key));
    if (kind === 's3') {
      const head = await store.head(files[0].key);
      expect(Date.parse(head!.metadata['litestream-timestamp'])).toBe(Number(files[0].encoded.header.timestamp));
    }
    expect(Buffer.compare(await restoreBytes(store), db.current())).toBe(0);
    db.close();
    buffer.close();
  });

  it('two writers on one replica: the conditional put fences the loser, whose commits stay in its buffer', async () => {
    const store = makeStore(kind);
    const a = openBuffer(store);
    const b = openBuffer(store);
    await reconcileBuffer(store, a, quiet);
    await reconcileBuffer(store, b, quiet);
    const dbA = new SqliteCommits(tempDir('sync-src'), PS);
    const dbB = new SqliteCommits(tempDir('sync-src'), PS);
    a.append(dbA.step('CREATE TABLE a(x)'));
    b.append(dbB.step('CREATE TABLE b(y)'));
    const sa = new Syncer({ store, buffer: a, intervalMs: 10_000, log: quiet });
    const sb = new Syncer({ store, buffer: b, intervalMs: 10_000, log: quiet });
    const [ra, rb] = await Promise.allSettled([sa.flush(), sb.flush()]);
    const results = [ra.status, rb.status].sort();
    expect(results).toEqual(['fulfilled', 'rejected']); // both wrote key 1-1: exactly one wins
    const [winner, loser, loserBuf, winnerDb, loserDb] = ra.status === 'fulfilled' ? [sa, sb, b, dbA, dbB] : [sb, sa, a, dbB, dbA];
    const err = (ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason) as SecondWriterError;
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err.code).toBe('SECOND_WRITER');
    expect(err.message).toMatch(/0000000000000001-0000000000000001\.ltx.*TXIDs 1\.\.1.*kept in/);
    expect(loser.state).toBe('fenced');
    expect(loserBuf.unsynced().commits).toBe(1);
    expect(() => loserBuf.append(loserDb.step('CREATE TABLE late(w)'))).toThrow(SecondWriterError);
    await expect(loser.flush()).rejects.toBeInstanceOf(SecondWriterError);

    // The winner keeps writing; the replica is its history only.
    const winBuf = winner === sa ? a : b;
    winBuf.append(winnerDb.step('CREATE TABLE more(z)'));
    await winner.stop({ flush: true });
    expect(Buffer.compare(await restoreBytes(store), winnerDb.current())).toBe(0);

    // Batches of different sizes (1 commit vs 2) still make the same key: a TXID is one upload, so
    // both write base+1-base+1 and the conditional put catches the second, before anything lands.
    const c = openBuffer(store);
    await reconcileBuffer(store, c, quiet); // c sits on the same base as the winner
    const w2 = new Syncer({ store, buffer: winBuf, intervalMs: 10_000, log: quiet });
    const sc = new Syncer({ store, buffer: c, intervalMs: 10_000, log: quiet });
    winBuf.append(winnerDb.step('INSERT INTO more VALUES (1)'));
    await w2.flush();
    const size = c.base!.commit;
    expect(c.append({ pages: [[1, new Uint8Array(PS)]], commit: size, checksum: null })).toBe(c.base!.txid + 1n);
    expect(c.append({ pages: [[2, new Uint8Array(PS)]], commit: size, checksum: null })).toBe(c.base!.txid + 1n);
    const cErr = await sc.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(cErr).toBeInstanceOf(SecondWriterError);
    expect((cErr as SecondWriterError).key).toBe(layoutFor(store).fileKey(0, winBuf.base!.txid, winBuf.base!.txid));
    expect(cErr!.message).toMatch(/conditional put of TXIDs (\d+)\.\.\1 failed/);
    expect(sc.state).toBe('fenced');
    expect(c.unsynced().commits).toBe(2);
    expect(c.lastTXID).toBe(winBuf.base!.txid);
    const l0 = await listLevel(store, 0);
    expect(l0.filter((f) => f.maxTXID === c.lastTXID).map((f) => f.key)).toEqual([(cErr as SecondWriterError).key]); // the winner's, untouched
    expect(Buffer.compare(await restoreBytes(store), winnerDb.current())).toBe(0);
    await w2.stop({ flush: true });

    // Reopening the loser sets its commits aside and reports where.
    const loserDir = loserBuf.dir;
    loserBuf.close();
    const reopened = openBuffer(store, loserDir);
    const rec = await reconcileBuffer(store, reopened, quiet);
    expect(rec.status).toBe('set-aside');
    expect(rec.message).toMatch(/1 unsynced commits kept aside in .*conflict-.*moved on/);
    expect(readFileSync(path.join(rec.setAsideDir!, 'REASON.txt'), 'utf8')).toMatch(/TXIDs 1\.\.1/);
    expect(reopened.base!.txid).toBe(winBuf.base!.txid);

    // Different keys for the same TXIDs now come only from other tools or older writers: one put by
    // hand, past the base with a higher key (one file for two TXIDs). If-None-Match cannot see it; the
    // rival check after our put does: it is not withdrawn, so we yield and remove our own file.
    const top = winBuf.base!.txid;
    const foreignKey = layoutFor(store).fileKey(0, top + 1n, top + 2n);
    const current = winnerDb.current();
    const foreign = encodeLtx(
      { pageSize: PS, commit: current.length / PS, minTXID: top + 1n, maxTXID: top + 2n, timestamp: BigInt(Date.now()), flags: HEADER_FLAG_NO_CHECKSUM },
      [{ pgno: 1, data: current.subarray(0, PS) }], // rewrites page 1 as it is: the database stays the winner's
    );
    await store.putIfAbsent(foreignKey, foreign.bytes);
    const sr = new Syncer({ store, buffer: reopened, intervalMs: 10_000, log: quiet });
    expect(reopened.append({ pages: [[1, current.slice(0, PS)]], commit: current.length / PS, checksum: null })).toBe(top + 1n);
    const rErr = await sr.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(rErr).toBeInstanceOf(SecondWriterError);
    expect((rErr as SecondWriterError).key).toBe(foreignKey);
    expect(rErr!.message).toMatch(/a higher key than ours.*not withdrawn.*was removed/);
    expect(sr.state).toBe('fenced');
    expect(reopened.unsynced().commits).toBe(1);
    expect((await listLevel(store, 0)).filter((f) => f.maxTXID > top).map((f) => f.key)).toEqual([foreignKey]); // ours was removed again
    expect(Buffer.compare(await restoreBytes(store), winnerDb.current())).toBe(0);
    await sr.stop();
    for (const x of [reopened, winBuf, c]) x.close();
    for (const d of [dbA, dbB]) d.close();
  });
});

describe('Syncer and a failing store', () => {
  it('commits keep succeeding while S3 fails; syncs catch up with no duplicate or missing TXIDs', async () => {
    const cfg = testS3Config();
    const proxy = await FaultProxy.start(cfg.endpoint, { seed: 11 });
    const prefix = uniquePrefix('sync-fault');
    const flaky = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 }, timeoutMs: 5_000 }));
    const healthy = new S3Store(testS3StoreOptions(prefix));
    stores.push(flaky, healthy);
    try {
      const buffer = openBuffer(flaky);
      await reconcileBuffer(flaky, buffer, quiet);
      const syncer = new Syncer({ store: flaky, buffer, intervalMs: 20, log: quiet, retry: { baseDelayMs: 10, maxDelayMs: 50 } });
      syncer.start();
      const db = new SqliteCommits(tempDir('sync-src'), PS);
      buffer.append(db.step('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'));
      await syncer.flush();
      proxy.set({ errorRate: 1 }); // the store is down
      for (let i = 0; i < 30; i++) {
        buffer.append(db.step(`INSERT INTO t(v) VALUES ('${'x'.repeat(i * 20)}')`));
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 200));
      expect(syncer.state).toBe('failing');
      expect(syncer.lastError?.message).toMatch(/put/);
      expect(syncer.stats().failures).toBeGreaterThan(0);
      expect(syncer.stats().oldestUnsyncedAgeMs).toBeGreaterThan(0);
      expect(buffer.unsynced().commits).toBeGreaterThan(0);
      proxy.set({ errorRate: 0.3, resetRate: 0.3 }); // flaky: 503s, and resets before and after the upstream write
      for (let i = 0; i < 30; i++) {
        buffer.append(db.step(`UPDATE t SET v = v || 'y' WHERE id % 3 = ${i % 3}`));
        await new Promise((r) => setTimeout(r, 10));
      }
      proxy.set({ errorRate: 0, resetRate: 0 });
      await syncer.stop({ flush: true });
      expect(proxy.stats().faults.resetAfter + proxy.stats().faults.error503).toBeGreaterThan(0);
      expect(buffer.unsynced().commits).toBe(0);
      const l0 = await listLevel(healthy, 0);
      for (let i = 1; i < l0.length; i++) expect(l0[i].minTXID).toBe(l0[i - 1].maxTXID + 1n); // no gap, no overlap
      expect(l0[0].minTXID).toBe(1n);
      expect(l0[l0.length - 1].maxTXID).toBe(buffer.lastTXID);
      // A TXID is one upload, not one commit: 61 commits, one L0 file (N-N) per successful sync.
      for (const f of l0) expect(f.maxTXID).toBe(f.minTXID);
      expect(BigInt(l0.length)).toBe(buffer.lastTXID);
      expect(syncer.stats().syncs).toBe(l0.length);
      expect(buffer.lastTXID).toBeGreaterThan(1n);
      expect(buffer.lastTXID).toBeLessThanOrEqual(61n);
      expect((await planRestore(healthy)).txid).toBe(buffer.lastTXID);
      expect(Buffer.compare(await restoreBytes(healthy), db.current())).toBe(0);
      db.close();
      buffer.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('reconcileBuffer', () => {
  it('uploads what a crash left when the remote is still at the base, and recognises an upload that landed before markSynced', async () => {
    const store = makeStore('file');
    const dir = tempDir('sync-buf');
    let buffer = openBuffer(store, dir);
    await reconcileBuffer(store, buffer, quiet);
    const db = new SqliteCommits(tempDir('sync-src'), PS);
    buffer.append(db.step('CREATE TABLE t(x)'));
    buffer.close(); // "crash": nothing uploaded
    buffer = openBuffer(store, dir);
    const r1 = await reconcileBuffer(store, buffer, quiet);
    expect(r1.status).toBe('pending');
    await new Syncer({ store, buffer, intervalMs: 10, log: quiet }).stop({ flush: true });

    // A crash between the PUT and markSynced: the upload record tells it is ours.
    buffer.append(db.step('INSERT INTO t VALUES (1)'));
    const batch = buffer.batch()!;
    const { encoded: enc, record } = encodeBatch(batch, PS);
    const key = layoutFor(store).fileKey(0, batch.minTXID, batch.maxTXID);
    buffer.recordUpload({ key, minTXID: batch.minTXID, maxTXID: batch.maxTXID, commit: batch.commit, postApplyChecksum: record?.post ?? null, fileChecksum: enc.fileChecksum });
    await store.putIfAbsent(key, enc.bytes, { metadata: record ? recordMetadata(record) : undefined });
    buffer.close();
    buffer = openBuffer(store, dir);
    const r2 = await reconcileBuffer(store, buffer, quiet);
    expect(r2.status).toBe('clean');
    expect(r2.base.txid).toBe(2n);
    expect(buffer.unsynced().commits).toBe(0);
    expect(Buffer.compare(await restoreBytes(store), db.current())).toBe(0);

    // The remote moved on while the buffer was empty: it just takes the remote state.
    const other = openBuffer(store);
    await reconcileBuffer(store, other, quiet);
    other.append(db.step('INSERT INTO t VALUES (2)'));
    await new Syncer({ store, buffer: other, intervalMs: 10, log: quiet }).stop({ flush: true });
    other.close();
    buffer.close();
    buffer = openBuffer(store, dir);
    const r3 = await reconcileBuffer(store, buffer, quiet);
    expect(r3).toMatchObject({ status: 'clean', base: { txid: 3n } });
    buffer.close();
    db.close();
  });
});

// Syncer.flushSync: what PRAGMA litestream_sync runs. It uploads synchronously, through
// the I/O worker, everything committed so far, and returns the TXID now durable; an
// async upload of the same batch in flight meanwhile is recognised, not duplicated; a
// rival writer fences it; failing uploads are retried until they land (through a
// fault proxy in another process: this thread is blocked while it waits).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncStore } from '../../src/io/index.js';
import { layoutFor, listLevel, planRestore, restore } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { SecondWriterError, Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from '../sync/helpers.js';
import { ROOT } from '../support/cli.js';

const PS = 4096;
afterAll(removeTempDirs);

async function buffered(store: ObjectStore): Promise<{ buffer: WriteBuffer; db: SqliteCommits }> {
  const buffer = WriteBuffer.open(tempDir('flush-buf'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
  await reconcileBuffer(store, buffer, quiet);
  return { buffer, db: new SqliteCommits(tempDir('flush-src'), PS) };
}

async function restoredBytes(store: ObjectStore): Promise<Buffer> {
  const out = path.join(tempDir('flush-out'), 'db');
  await restore(store, {}, out, { plan: await planRestore(store) });
  return readFileSync(out);
}

describe('Syncer.flushSync', () => {
  it('uploads everything committed so far before it returns, through the I/O worker (file://)', async () => {
    const dir = path.join(tempDir('flush-rep'), 'replica');
    const store = new FileStore({ dir });
    const sync = new SyncStore(store.url);
    const { buffer, db } = await buffered(store);
    const syncer = new Syncer({ store, buffer, intervalMs: 3_600_000, log: quiet });
    try {
      syncer.start();
      // Six commits, one upload: they all join TXID 1, and one L0 file (1-1) carries them.
      buffer.append(db.step('CREATE TABLE t(x)'));
      for (let i = 0; i < 5; i++) expect(buffer.append(db.step(`INSERT INTO t VALUES (randomblob(${500 * (i + 1)}))`))).toBe(1n);
      expect(buffer.unsynced().commits).toBe(6);
      expect(syncer.flushSync(sync)).toBe(1n);
      expect(buffer.unsynced().commits).toBe(0);
      expect((await listLevel(store, 0)).map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(['1-1']);
      expect(Buffer.compare(await restoredBytes(store), Buffer.from(db.current()))).toBe(0);
      // Nothing new: no upload, the same TXID.
      const puts = syncer.stats().puts;
      expect(syncer.flushSync(sync)).toBe(1n);
      expect(syncer.stats().puts).toBe(puts);
      // An async flush() waiting is resolved by it.
      expect(buffer.append(db.step('INSERT INTO t VALUES (1)'))).toBe(2n);
      let resolved = false;
      const waiting = syncer.flush().then(() => (resolved = true));
      expect(syncer.flushSync(sync)).toBe(2n);
      await waiting;
      expect(resolved).toBe(true);
      expect(syncer.state).toBe('idle');
    } finally {
      await syncer.stop();
      buffer.close();
      db.close();
      await sync.close();
      await store.close();
    }
  });

  it('finishes a batch whose async upload is in flight without a duplicate; the async path stands down (S3, slow proxy)', async () => {
    const cfg = testS3Config();
    const proxy = await FaultProxy.start(cfg.endpoint, { latencyMs: 300, seed: 3 });
    const prefix = uniquePrefix('flush-race');
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    const direct = new S3Store(testS3StoreOptions(prefix));
    const sync = new SyncStore(store.url, { store: testS3StoreOptions(prefix) });
    const { buffer, db } = await buffered(direct);
    const syncer = new Syncer({ store, buffer, intervalMs: 20, log: quiet });
    try {
      buffer.append(db.step('CREATE TABLE t(x)'));
      buffer.append(db.step('INSERT INTO t VALUES (randomblob(3000))'));
      syncer.start();
      // Let the async upload of TXID 1 (both commits) start (its PUT is held 300 ms by the proxy), then flush synchronously.
      await new Promise((ok) => setTimeout(ok, 60));
      expect(syncer.stats().puts).toBe(1);
      expect(buffer.append(db.step('INSERT INTO t VALUES (2)'))).toBe(2n); // TXID 1 is taken: a new one
      expect(syncer.flushSync(sync)).toBe(2n);
      await new Promise((ok) => setTimeout(ok, 800)); // the async PUT's answer arrives; it must do nothing more
      expect(syncer.state).toBe('idle');
      expect(syncer.lastError).toBeNull();
      expect(syncer.stats().failures).toBe(0);
      expect((await listLevel(direct, 0)).map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(['1-1', '2-2']);
      expect(Buffer.compare(await restoredBytes(direct), Buffer.from(db.current()))).toBe(0);
    } finally {
      await syncer.stop();
      buffer.close();
      db.close();
      await Promise.all([sync.close(), store.close(), direct.close()]);
      await proxy.close();
    }
  });

  it('retries failing uploads until they land (a proxy process answering 503s and resets)', async () => {
    // The proxy must run in another process: flushSync blocks this thread, and with it any server here.
    const cfg = testS3Config();
    const proxy = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/fault-proxy.ts'), '--upstream', cfg.endpoint, '--error-rate', '0.3', '--reset-rate', '0.2', '--seed', '7'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const endpoint = await new Promise<string>((ok, fail) => {
      let out = '';
      proxy.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        const m = /S3_ENDPOINT=(\S+)/.exec(out);
        if (m) ok(m[1]);
      });
      proxy.once('exit', (code) => fail(new Error(`fault proxy exited ${code}`)));
    });
    const prefix = uniquePrefix('flush-fail');
    const direct = new S3Store(testS3StoreOptions(prefix));
    // The worker's store has no retries of its own: the syncer's loop retries.
    const sync = new SyncStore(direct.url, { store: testS3StoreOptions(prefix, { endpoint, retry: { maxAttempts: 1 } }) });
    const { buffer, db } = await buffered(direct);
    const syncer = new Syncer({ store: direct, buffer, intervalMs: 3_600_000, log: quiet, retry: { baseDelayMs: 10, maxDelayMs: 50 } });
    try {
      // The first flush carries two commits (TXID 1), each later one a single commit: one TXID per flush.
      buffer.append(db.step('CREATE TABLE t(x)'));
      for (let i = 0; i < 20; i++) {
        expect(buffer.append(db.step(`INSERT INTO t VALUES (randomblob(${100 * i}))`))).toBe(BigInt(i + 1));
        expect(syncer.flushSync(sync)).toBe(BigInt(i + 1));
        expect(buffer.unsynced().commits).toBe(0);
      }
      expect(syncer.stats().failures).toBeGreaterThan(5);
      // One file per flush, no duplicate or overlap: a put whose answer was lost was recognised.
      const l0 = await listLevel(direct, 0);
      expect(l0.map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(Array.from({ length: 20 }, (_, i) => `${i + 1}-${i + 1}`));
      expect(Buffer.compare(await restoredBytes(direct), Buffer.from(db.current()))).toBe(0);
    } finally {
      await syncer.stop();
      buffer.close();
      db.close();
      await Promise.all([sync.close(), direct.close()]);
      proxy.kill('SIGTERM');
    }
  });

  it('throws the second-writer error when another writer took the TXID; the commit stays in the buffer', async () => {
    const dir = path.join(tempDir('flush-rep'), 'replica');
    const direct = new FileStore({ dir });
    const sync = new SyncStore(direct.url);
    const { buffer, db } = await buffered(direct);
    const syncer = new Syncer({ store: direct, buffer, intervalMs: 3_600_000, log: quiet });
    try {
      buffer.append(db.step('CREATE TABLE t(x)'));
      expect(syncer.flushSync(sync)).toBe(1n);
      // Another writer takes TXID 2 with a different file.
      const layout = layoutFor(direct);
      const other = await buffered(direct);
      other.buffer.append({ pages: [[1, new Uint8Array(db.current().subarray(0, PS))]], commit: 1, checksum: null });
      const rival = new Syncer({ store: direct, buffer: other.buffer, intervalMs: 3_600_000, log: quiet });
      await rival.flush();
      buffer.append(db.step('INSERT INTO t VALUES (1)'));
      expect(() => syncer.flushSync(sync)).toThrow(SecondWriterError);
      expect(() => syncer.flushSync(sync)).toThrow(/second writer.*TXIDs 2\.\.2, are kept in/);
      expect(syncer.state).toBe('fenced');
      expect(buffer.unsynced().commits).toBe(1);
      expect((await listLevel(direct, 0)).map((f) => f.key)).toEqual([layout.fileKey(0, 1n, 1n), layout.fileKey(0, 2n, 2n)]);
      await rival.stop();
      other.buffer.close();
      other.db.close();
    } finally {
      await syncer.stop();
      buffer.close();
      db.close();
      await Promise.all([sync.close(), direct.close()]);
    }
  });
});

// The hydrator's worker thread (src/hydrate/hydrate-thread.ts): hydrate() runs there and
// its results, progress and typed errors come back; closing it mid-download keeps what
// was done for the next thread; forward() applies newer files.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HydrateThread } from '../../src/hydrate/hydrate-thread.js';
import { hydrationTempPaths, isHydrationError, HydrationError, type HydrationProgress } from '../../src/hydrate/index.js';
import { importDatabase, listReplica, restore } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { seedDatabase } from './helpers.js';

afterAll(removeTempDirs);

const thread = (url: string, local: string, progress: HydrationProgress[] = [], store = {}) =>
  new HydrateThread({ url, store, path: local, logLevel: 'warn' }, (p) => progress.push(p));

describe('HydrateThread', () => {
  it('builds the copy in the worker (equal to restore), reports progress, and reuses it in a new thread', async () => {
    const dir = tempDir('hyd-thread');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 2 << 20);
    const replica = path.join(dir, 'replica');
    const store = new FileStore({ dir: replica });
    await importDatabase(seed, store);
    const url = `file://${replica}`;
    const local = path.join(dir, 'local', 'copy.db');

    const progress: HydrationProgress[] = [];
    const t = thread(url, local, progress);
    const file = await t.build();
    await t.close();
    expect(file).toMatchObject({ path: local, txid: 1n, pageSize: 4096 });
    expect(file.stats?.mode).toBe('built');
    expect(file.stats!.bytesFetched).toBeGreaterThan(2 << 20);
    expect(progress.at(-1)).toMatchObject({ phase: 'done', percent: 100, txid: 1n });
    expect(progress.some((p) => p.phase === 'fetch')).toBe(true);
    const restored = path.join(dir, 'restored.db');
    await restore(store, {}, restored);
    expect(Buffer.compare(readFileSync(local), readFileSync(restored))).toBe(0);

    const again = thread(url, local);
    const reused = await again.build();
    expect(reused.stats?.mode).toBe('reused');
    expect(reused.stats!.bytesFetched).toBeLessThan(100_000);
    // A closed thread refuses further calls with a typed error.
    await again.close();
    await expect(again.build()).rejects.toSatisfy((e: unknown) => isHydrationError(e, 'HYDRATE_ABORTED'));
  });

  it('forward() with no newer file fails, naming the TXID it could not continue', async () => {
    const dir = tempDir('hyd-thread-fwd');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 1 << 20);
    const replica = path.join(dir, 'replica');
    const store = new FileStore({ dir: replica });
    await importDatabase(seed, store);
    const url = `file://${replica}`;
    const local = path.join(dir, 'copy.db');
    const t = thread(url, local);
    try {
      const first = await t.build();
      expect(first.txid).toBe(1n);
      // No file continues TXID 1 yet: forward() fails with a message naming the TXID.
      await expect(t.forward(first, null)).rejects.toThrow(/no chain of files from TXID 1/);
    } finally {
      await t.close();
    }
  });

  it('passes the hydrator errors back typed: a corrupt object is HYDRATE_CORRUPT, named by key', async () => {
    const dir = tempDir('hyd-thread-corrupt');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 1 << 20);
    const replica = path.join(dir, 'replica');
    const store = new FileStore({ dir: replica });
    await importDatabase(seed, store);
    const [snapshot] = await listReplica(store);
    const file = path.join(replica, snapshot.key);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length * 0.5)] ^= 0x10;
    writeFileSync(file, bytes);
    const local = path.join(dir, 'copy.db');
    const t = thread(`file://${replica}`, local);
    try {
      const err = await t.build().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HydrationError);
      expect((err as HydrationError).code).toBe('HYDRATE_CORRUPT');
      expect((err as Error).message).toContain(snapshot.key);
      expect(existsSync(local)).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('close() mid-download ends the call and keeps the progress; the next thread resumes', async () => {
    const dir = tempDir('hyd-thread-close');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 12 << 20);
    const prefix = uniquePrefix('hyd-thread');
    const store = new S3Store(testS3StoreOptions(prefix));
    const c = testS3Config();
    // 4 MiB/s per connection: the download takes seconds, so close() lands in the middle.
    const proxy = await FaultProxy.start(c.endpoint, { latencyMs: 5, bandwidthBytesPerSec: 4 << 20 });
    try {
      await importDatabase(seed, store);
      const url = `s3://${c.bucket}/${prefix}`;
      const storeOptions = { endpoint: proxy.endpoint, region: c.region, forcePathStyle: true, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } };
      const local = path.join(dir, 'copy.db');
      const progress: HydrationProgress[] = [];
      const t = thread(url, local, progress, storeOptions);
      const building = t.build().then(
        () => null,
        (e: unknown) => e,
      );
      const t0 = Date.now();
      while (!progress.some((p) => p.phase === 'fetch' && p.bytesDone > 0) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
      await t.close();
      expect(await building).toBeInstanceOf(Error);
      expect(existsSync(local)).toBe(false);
      expect(existsSync(hydrationTempPaths(local).journal)).toBe(true);

      proxy.set({ bandwidthBytesPerSec: 0 });
      const next = thread(url, local, [], storeOptions);
      const file = await next.build();
      await next.close();
      expect(file.stats?.bytesResumed).toBeGreaterThan(0);
      const restored = path.join(dir, 'restored.db');
      await restore(store, {}, restored);
      expect(Buffer.compare(readFileSync(local), readFileSync(restored))).toBe(0);
    } finally {
      await proxy.close();
      await store.close();
    }
  }, 120_000);
});

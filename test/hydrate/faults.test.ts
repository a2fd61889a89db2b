// Damage and trouble: a byte flipped in transit is fetched again and never lands;
// a corrupt object (wrong on every fetch) fails hydration with its key named and
// no final file; a flaky S3 (503s, resets, truncated bodies) still ends identical.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrate, hydrationTempPaths, isHydrationError, readSidecar } from '../../src/hydrate/index.js';
import { decodeLtx } from '../../src/ltx/index.js';
import { layoutFor } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { makeStore, removeTempDirs, tempDir } from '../replica/helpers.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { makeReplica, restored, wrapGets } from './helpers.js';

afterAll(removeTempDirs);

/** The same store, but `damage` may change a GET body before the caller sees it. */
function damaging(store: ObjectStore, damage: (key: string, body: Uint8Array) => Uint8Array): ObjectStore {
  return wrapGets(store, async (key, read) => damage(key, await read()));
}

describe('hydrate under damage', () => {
  it('a byte flipped in transit is fetched again; the result is identical', async () => {
    const dir = tempDir('hyd-flip');
    const store = makeStore('s3');
    await makeReplica(store, dir, { bytes: 2 << 20, steps: 3, checksums: false });
    let flips = 0;
    // Flip one byte in the first fetch of every large range and of every whole small file.
    const seen = new Set<string>();
    const flaky = damaging(store, (key, body) => {
      const id = `${key}:${body.length}`;
      if (body.length < 200 || seen.has(id)) return body;
      seen.add(id);
      flips++;
      const copy = new Uint8Array(body);
      copy[Math.floor(copy.length * 0.6)] ^= 0x40;
      return copy;
    });
    const out = path.join(dir, 'h.db');
    const f = await hydrate({ store: flaky, path: out, chunkBytes: 512 << 10 });
    expect(flips).toBeGreaterThan(3);
    expect(f.stats!.corruptFetches).toBeGreaterThan(0);
    expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
    await store.close();
  });

  for (const where of ['size prefix (decode fails)', 'last literal (decodes to wrong bytes)'] as const) {
    it(`a corrupt object (${where}) fails with its key named, and no final file`, async () => {
      const dir = tempDir('hyd-corrupt');
      const store = makeStore('s3');
      await makeReplica(store, dir, { bytes: 2 << 20, steps: 2, checksums: false });
      const key = layoutFor(store).fileKey(9, 1n, 1n);
      const bytes = new Uint8Array(await store.get(key));
      const frames = decodeLtx(bytes).frames;
      const fr = frames[Math.floor(frames.length / 2)];
      // Current encoding: pgno(4) flags(2) N(4) block(N); LZ4 blocks end in literals.
      const at = where.startsWith('size') ? fr.offset + 8 : fr.offset + fr.size - 1;
      bytes[at] ^= 0x01;
      await store.put(key, bytes);
      const out = path.join(dir, 'h.db');
      const err = await hydrate({ store, path: out, chunkBytes: 256 << 10 }).catch((e: unknown) => e);
      expect(isHydrationError(err, 'HYDRATE_CORRUPT')).toBe(true);
      expect((err as Error).message).toContain(key);
      expect((err as Error).message).toMatch(/corrupt/);
      expect(existsSync(out)).toBe(false);
      expect(readSidecar(out)).toBeNull();
      expect(existsSync(hydrationTempPaths(out).tmp)).toBe(false);
      await store.close();
    });
  }

  it('a flaky S3 (503s, resets, truncated bodies) still ends identical, with retries counted', async () => {
    const dir = tempDir('hyd-flaky');
    const prefix = uniquePrefix('hyd-flaky');
    const direct = new S3Store(testS3StoreOptions(prefix));
    await makeReplica(direct, dir, { bytes: 3 << 20, steps: 4, checksums: true });
    const proxy = await FaultProxy.start(testS3Config().endpoint, { errorRate: 0.1, resetRate: 0.05, truncateRate: 0.1, ops: ['GET', 'GET_RANGE'], seed: 7 });
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 } }));
    try {
      const out = path.join(dir, 'h.db');
      const f = await hydrate({ store, path: out, chunkBytes: 128 << 10 });
      expect(Buffer.compare(readFileSync(out), await restored(direct, dir))).toBe(0);
      const faults = proxy.stats().faults;
      expect(faults.error503 + faults.resetBefore + faults.resetAfter + faults.truncate).toBeGreaterThan(3);
      // Retried by the store and, when the store gave up, by the hydrator.
      expect(store.stats().get.retries + f.stats!.retries).toBeGreaterThan(3);
      expect(f.checksum).not.toBeNull();
    } finally {
      await store.close();
      await direct.close();
      await proxy.close();
    }
  });
});

// getStream, the streamed read, on S3 (the run's server, and through the fault proxy
// for cut and stalled bodies) and on file://: whole objects, ranges, missing keys,
// a stream cut short is an error (never a short success), nothing is retried, and
// a stream left early gives its connection back.
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore, ObjectStream } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { pattern } from './conformance.js';
import { expectStoreError } from './store-suite.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function readAll(s: ObjectStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of s.body) parts.push(Buffer.from(chunk)); // chunks may be reused: copy
  return Buffer.concat(parts);
}

/** The error the body throws while being read (null if it reads to the end). */
async function readError(s: ObjectStream): Promise<unknown> {
  return readAll(s).then(
    () => null,
    (e: unknown) => e,
  );
}

const SIZE = 600 * 1024 + 123; // several chunks on either store

const stores: [string, () => Promise<ObjectStore>][] = [
  ['S3', async () => new S3Store(testS3StoreOptions(uniquePrefix('stream')))],
  [
    'file://',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-stream-'));
      dirs.push(dir);
      return new FileStore({ dir });
    },
  ],
];

for (const [name, make] of stores) {
  describe(`getStream on ${name}`, () => {
    it('reads a whole object, ranges and suffixes byte-exact, counting requests and bytes', async () => {
      const store = await make();
      try {
        const data = pattern(SIZE, 3);
        await store.put('obj', data);
        const before = store.stats().get;
        const whole = await store.getStream!('obj');
        expect(whole.length).toBe(SIZE);
        expect((await readAll(whole)).equals(Buffer.from(data))).toBe(true);
        const mid = await store.getStream!('obj', { range: { offset: 70_001, length: 300_000 } });
        expect(mid.length).toBe(300_000);
        expect((await readAll(mid)).equals(Buffer.from(data.subarray(70_001, 370_001)))).toBe(true);
        const clipped = await store.getStream!('obj', { range: { offset: SIZE - 10, length: 100 } });
        expect(clipped.length).toBe(10);
        expect((await readAll(clipped)).equals(Buffer.from(data.subarray(SIZE - 10)))).toBe(true);
        const suffix = await store.getStream!('obj', { range: { suffix: 5000 } });
        expect((await readAll(suffix)).equals(Buffer.from(data.subarray(SIZE - 5000)))).toBe(true);
        const empty = await store.getStream!('obj', { range: { offset: 5, length: 0 } });
        expect(empty.length).toBe(0);
        expect((await readAll(empty)).length).toBe(0);
        const after = store.stats().get;
        expect(after.requests - before.requests).toBe(4); // the empty range asks nothing
        expect(after.bytes - before.bytes).toBe(SIZE + 300_000 + 10 + 5000);
        expect(after.errors).toBe(before.errors);
      } finally {
        await store.close();
      }
    });

    it('a missing key is NOT_FOUND, a range past the end RANGE_NOT_SATISFIABLE', async () => {
      const store = await make();
      try {
        await store.put('small', pattern(100));
        const missing = await expectStoreError(store.getStream!('nope/missing.ltx'), 'NOT_FOUND');
        expect(missing.key).toBe('nope/missing.ltx');
        await expectStoreError(store.getStream!('small', { range: { offset: 100, length: 10 } }), 'RANGE_NOT_SATISFIABLE');
        expect(store.stats().get.retries).toBe(0);
      } finally {
        await store.close();
      }
    });

    it('a stream left early gives its connection back: later reads and close() do not wait for it', async () => {
      const store = await make();
      try {
        const data = pattern(SIZE, 5);
        await store.put('obj', data);
        for (let i = 0; i < 6; i++) {
          const s = await store.getStream!('obj');
          for await (const chunk of s.body) {
            expect(chunk.length).toBeGreaterThan(0);
            break;
          }
        }
        const got = await store.get('obj', { range: { offset: 1000, length: 10 } });
        expect(Buffer.from(got).equals(Buffer.from(data.subarray(1000, 1010)))).toBe(true);
      } finally {
        await store.close();
      }
    });
  }, 30_000);
}

describe('getStream on S3: one connection, cut and stalled bodies', () => {
  it('holds a slot of `concurrency` until read or left, so a second stream waits its turn', async () => {
    const store = new S3Store(testS3StoreOptions(uniquePrefix('stream-slot'), { concurrency: 1 }));
    try {
      await store.put('obj', pattern(SIZE, 1));
      const first = await store.getStream('obj');
      let secondOpened = false;
      const second = store.getStream('obj').then((s) => ((secondOpened = true), s));
      await new Promise((r) => setTimeout(r, 200));
      expect(secondOpened).toBe(false); // the only slot is the first stream's
      expect((await readAll(first)).length).toBe(SIZE);
      expect((await readAll(await second)).length).toBe(SIZE);
    } finally {
      await store.close();
    }
  });

  it('a body cut short is an IO error, not a short success, and is not retried', async () => {
    const proxy = await FaultProxy.start(testS3Config().endpoint);
    const store = new S3Store(testS3StoreOptions(uniquePrefix('stream-cut'), { endpoint: proxy.endpoint }));
    try {
      const data = pattern(2 << 20, 2);
      await store.put('obj', data);
      for (const op of ['GET', 'GET_RANGE'] as const) {
        proxy.injectNext('truncate', op);
        const s = await store.getStream('obj', op === 'GET' ? undefined : { range: { offset: 1, length: data.length - 1 } });
        const err = await readError(s);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('IO');
        expect((err as StoreError).key).toBe('obj');
      }
      expect(proxy.stats().faults.truncate).toBe(2);
      const stats = store.stats().get;
      expect(stats.retries).toBe(0);
      expect(stats.errors).toBe(2);
      // The store is still good for the next request.
      expect((await readAll(await store.getStream('obj'))).equals(Buffer.from(data))).toBe(true);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('a body that stops moving ends in TIMEOUT (an idle timeout: a slow body that moves is fine)', async () => {
    // 1 MiB/s at first: the 2 MiB body takes ~2 s, longer than the 500 ms timeout, and must pass.
    const proxy = await FaultProxy.start(testS3Config().endpoint, { bandwidthBytesPerSec: 1 << 20 });
    const store = new S3Store(testS3StoreOptions(uniquePrefix('stream-idle'), { endpoint: proxy.endpoint, timeoutMs: 500 }));
    try {
      const data = pattern(2 << 20, 4);
      await store.put('obj', data);
      expect((await readAll(await store.getStream('obj'))).equals(Buffer.from(data))).toBe(true);
      // Then the link stalls mid-body: 16 KiB every ~3 s.
      const s = await store.getStream('obj');
      const err = await (async () => {
        try {
          let n = 0;
          for await (const chunk of s.body) {
            if ((n += chunk.length) > 0) proxy.set({ bandwidthBytesPerSec: 5000 });
          }
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('TIMEOUT');
    } finally {
      proxy.set({ bandwidthBytesPerSec: 0 });
      await store.close();
      await proxy.close();
    }
  });
});

describe('getStream on file://', () => {
  it('a file that shrinks while it is read is an IO error, not a short success', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-stream-'));
    dirs.push(dir);
    const store = new FileStore({ dir });
    await store.put('obj', pattern(2 << 20, 9));
    const s = await store.getStream('obj');
    let got = 0;
    const err = await (async () => {
      try {
        for await (const chunk of s.body) {
          if (got === 0) await truncate(join(dir, 'obj'), 300 << 10);
          got += chunk.length;
        }
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('IO');
    expect(got).toBeLessThan(2 << 20);
    expect(store.stats().get.errors).toBe(1);
  });
});

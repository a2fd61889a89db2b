// Round trips through the bridge, run against every backend (file://, S3): the objects
// are written with an ordinary async ObjectStore, then read back with a SyncStore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../src/io/io-error.js';
import { SyncStore } from '../../src/io/sync-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { totalOf } from '../../src/storage/stats.js';
import { prng } from '../support/prng.js';

export interface Backend {
  /** An async store on a fresh, empty root, and the SyncStore arguments for the same root. */
  open(): Promise<{ writer: ObjectStore; url: string; options: ConstructorParameters<typeof SyncStore>[1] }>;
}

export function randomBytesSeeded(size: number, seed: number): Uint8Array {
  const random = prng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (random() * 256) | 0;
  return out;
}

export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const SMALL = 200;

export function describeRoundTrips(name: string, backend: Backend): void {
  describe(`round trips: ${name}`, () => {
    let writer: ObjectStore;
    let sync: SyncStore;
    const medium = randomBytesSeeded(256 * 1024, 1);
    const big = randomBytesSeeded(20 * 1024 * 1024, 2);
    const smalls = Array.from({ length: SMALL }, (_, i) => randomBytesSeeded(1 + ((i * 37) % 300), 100 + i));
    const smallKey = (i: number): string => `small/${String(i).padStart(4, '0')}`;

    beforeAll(async () => {
      const opened = await backend.open();
      writer = opened.writer;
      await writer.put('medium', medium);
      await writer.put('big', big, { metadata: { 'litestream-timestamp': '2026-01-02T03:04:05Z' } });
      for (let i = 0; i < SMALL; i += 25) await Promise.all(smalls.slice(i, i + 25).map((b, j) => writer.put(smallKey(i + j), b)));
      sync = new SyncStore(opened.url, opened.options);
    });
    afterAll(async () => {
      await sync?.close();
      await writer?.close();
    });

    it('ranged gets are byte-exact (offset/length, clipped, suffix, first byte)', () => {
      for (const offset of [0, 1, 4095, 4096, 100_000, medium.length - 10]) {
        expect(same(sync.getSync('medium', { offset, length: 4096 }), medium.subarray(offset, offset + 4096))).toBe(true);
      }
      expect(same(sync.getSync('medium', { offset: 0, length: 1 }), medium.subarray(0, 1))).toBe(true);
      expect(same(sync.getSync('medium', { suffix: 100 }), medium.subarray(medium.length - 100))).toBe(true);
      expect(same(sync.getSync('medium'), medium)).toBe(true);
    });

    it('a 20 MiB object comes back whole', () => {
      const got = sync.getSync('big');
      expect(got.length).toBe(big.length);
      expect(same(got, big)).toBe(true);
      expect(same(sync.getSync('big', { offset: 15 * 1024 * 1024 + 3, length: 3 * 1024 * 1024 }), big.subarray(15 * 1024 * 1024 + 3, 18 * 1024 * 1024 + 3))).toBe(true);
    });

    it('many small objects, one by one and in one batch', () => {
      for (let i = 0; i < SMALL; i++) expect(same(sync.getSync(smallKey(i)), smalls[i])).toBe(true);
      const all = sync.getManySync(smalls.map((_, i) => ({ key: smallKey(i) })));
      expect(all.length).toBe(SMALL);
      all.forEach((b, i) => expect(same(b, smalls[i])).toBe(true));
    });

    it('a batch of ranges of different objects keeps its order', () => {
      const items = [
        { key: 'medium', range: { offset: 8192, length: 4096 } },
        { key: smallKey(7) },
        { key: 'big', range: { suffix: 1000 } },
        { key: 'medium', range: { offset: 0, length: 100 } },
      ];
      const got = sync.getManySync(items);
      expect(same(got[0], medium.subarray(8192, 12288))).toBe(true);
      expect(same(got[1], smalls[7])).toBe(true);
      expect(same(got[2], big.subarray(big.length - 1000))).toBe(true);
      expect(same(got[3], medium.subarray(0, 100))).toBe(true);
      expect(sync.getManySync([])).toEqual([]);
    });

    it('NOT_FOUND and RANGE_NOT_SATISFIABLE cross as StoreErrors with code, op, key and message', () => {
      const err = thrown(() => sync.getSync('missing/key'));
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: 'NOT_FOUND', op: 'get', key: 'missing/key' });
      expect((err as Error).message).toMatch(/^get "missing\/key": /);
      expect(thrown(() => sync.getSync('medium', { offset: medium.length + 10, length: 10 }))).toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });
      // In a batch the first failure by position is thrown, after all items ran.
      const batch = thrown(() => sync.getManySync([{ key: 'medium' }, { key: 'gone-1' }, { key: 'gone-2' }]));
      expect(batch).toMatchObject({ code: 'NOT_FOUND', key: 'gone-1' });
      expect(batch).not.toBeInstanceOf(IoError);
    });

    it('a get taken later keeps its answer while other calls run, and its failure stays its own', () => {
      const later = sync.getManyLater([{ key: 'medium', range: { offset: 1000, length: 5000 } }, { key: smallKey(3) }]);
      // Another call before taking it: the bridge waits for the first answer and keeps it.
      expect(same(sync.getSync(smallKey(7)), smalls[7])).toBe(true);
      const calls = sync.ioStats().calls;
      const [part, small] = later();
      expect(same(part, medium.subarray(1000, 6000))).toBe(true);
      expect(same(small, smalls[3])).toBe(true);
      expect(later()[1]).toBe(small); // taken again: the same answer, no new request
      expect(sync.ioStats().calls).toBe(calls);
      // A later get that fails does not fail the call in between; taking it throws.
      const failing = sync.getManyLater([{ key: 'missing/later' }]);
      expect(same(sync.getSync(smallKey(8)), smalls[8])).toBe(true);
      expect(thrown(failing)).toMatchObject({ code: 'NOT_FOUND', key: 'missing/later' });
    });

    it('head and listPage', () => {
      expect(sync.headSync('medium')).toMatchObject({ size: medium.length });
      expect(sync.headSync('nothing-here')).toBeNull();
      const head = sync.headSync('big');
      expect(head?.lastModified).toBeInstanceOf(Date);
      const page = sync.listPageSync('small/', { maxKeys: 50 });
      expect(page.isTruncated).toBe(true);
      expect(page.objects.map((o) => o.key)).toEqual(smalls.slice(0, 50).map((_, i) => smallKey(i)));
      expect(page.objects[0].lastModified).toBeInstanceOf(Date);
      const next = sync.listPageSync('small/', { startAfter: smallKey(189) });
      expect(next.objects.map((o) => o.key)).toEqual(smalls.slice(190).map((_, i) => smallKey(190 + i)));
      expect(next.isTruncated).toBe(false);
    });

    it("the worker's counters are readable synchronously", () => {
      const stats = sync.storeStats();
      expect(stats.get.requests).toBeGreaterThanOrEqual(SMALL * 2 + 12);
      expect(stats.get.bytes).toBeGreaterThan(big.length + 3 * 1024 * 1024);
      expect(stats.list.requests).toBeGreaterThanOrEqual(2);
      expect(totalOf(stats, 'retries')).toBe(0);
      expect(sync.ioStats()).toMatchObject({ restarts: 0, dropped: 0, failures: { IO_TIMEOUT: 0, IO_WORKER_HUNG: 0, IO_WORKER_DIED: 0 } });
    });
  });
}

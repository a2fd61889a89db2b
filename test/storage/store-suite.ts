// The ObjectStore suite: one set of tests run against every backend (file://, S3,
// S3 through the fault proxy). Each backend passes a factory that returns a store
// rooted at a fresh, empty prefix or directory.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { StoreError } from '../../src/storage/store-error.js';
import { byteOrder, pattern } from './conformance.js';

export interface StoreSuiteOptions {
  /** How `litestream-timestamp` comes back: S3 user metadata, or the file's mtime. */
  timestamp: 'metadata' | 'mtime';
  /** Keys for the deleteMany test; above 1000 (one DeleteObjects batch) by default. */
  bulkKeys?: number;
}

// Byte order differs from UTF-16 order here ('\uff5e' vs '\u{1f600}'). No key is also the
// "directory" of another ('a' and 'a/b'), which file:// cannot hold.
export const STORE_ORDER_KEYS = ['B', 'a-b', 'a/b', 'a/c/d', 'a0', 'aa', '~', 'é', '\uff5e', '\u{1f600}', 'Z'];

export async function expectStoreError(p: Promise<unknown>, code: StoreError['code']): Promise<StoreError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
  return err as StoreError;
}

async function listKeys(store: ObjectStore, prefix: string, options?: { startAfter?: string; maxKeys?: number }): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix, options)) keys.push(info.key);
  return keys;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** `extra` adds backend-specific tests that run on the same store after the shared ones. */
export function describeObjectStore(name: string, open: () => Promise<ObjectStore>, options: StoreSuiteOptions, extra?: (store: () => ObjectStore) => void): void {
  describe(`ObjectStore: ${name}`, () => {
    let store: ObjectStore;
    const data = pattern(10_000, 5);

    beforeAll(async () => {
      store = await open();
      await store.put('obj', data);
    });
    afterAll(async () => {
      await store?.close();
    });

    it('put then get returns the exact bytes (also empty and 300 KB objects)', async () => {
      expect(same(await store.get('obj'), data)).toBe(true);
      await store.put('empty', new Uint8Array(0));
      expect((await store.get('empty')).length).toBe(0);
      const big = pattern(300_000, 9);
      await store.put('dir/big', big);
      expect(same(await store.get('dir/big'), big)).toBe(true);
    });

    it('ranged get returns exactly the requested bytes', async () => {
      for (const [offset, length] of [[0, 1], [1, 1], [4095, 4097], [9999, 1], [0, 10_000], [5000, 123]]) {
        const got = await store.get('obj', { range: { offset, length } });
        expect(got.length).toBe(length);
        expect(same(got, data.subarray(offset, offset + length))).toBe(true);
      }
    });

    it('ranged get clips at the end; suffix ranges give the tail; past the end is RANGE_NOT_SATISFIABLE', async () => {
      expect(same(await store.get('obj', { range: { offset: 9990, length: 100 } }), data.subarray(9990))).toBe(true);
      expect(same(await store.get('obj', { range: { suffix: 100 } }), data.subarray(9900))).toBe(true);
      expect(same(await store.get('obj', { range: { suffix: 1 } }), data.subarray(9999))).toBe(true);
      expect(same(await store.get('obj', { range: { suffix: 20_000 } }), data)).toBe(true);
      expect((await store.get('obj', { range: { offset: 10, length: 0 } })).length).toBe(0);
      const err = await expectStoreError(store.get('obj', { range: { offset: 10_000, length: 1 } }), 'RANGE_NOT_SATISFIABLE');
      expect(err.message).toContain('"obj"');
    });

    it('get of a missing key is NOT_FOUND naming the key; head is null', async () => {
      const err = await expectStoreError(store.get('nope/missing'), 'NOT_FOUND');
      expect(err.op).toBe('get');
      expect(err.message).toContain('"nope/missing"');
      expect(await store.head('nope/missing')).toBeNull();
    });

    it('head gives size, an ETag that changes when the object does, and the timestamp', async () => {
      const stamp = '2024-05-06T07:08:09.000Z';
      await store.put('h', pattern(77), { metadata: { 'litestream-timestamp': stamp } });
      const first = await store.head('h');
      expect(first?.size).toBe(77);
      expect(first?.etag).toMatch(/^[^"]+$/);
      if (options.timestamp === 'metadata') expect(first?.metadata['litestream-timestamp']).toBe(stamp);
      else expect(first?.lastModified.toISOString()).toBe(stamp);
      await store.put('h', pattern(78, 1));
      const second = await store.head('h');
      expect(second?.size).toBe(78);
      expect(second?.etag).not.toBe(first?.etag);
    });

    it('user metadata comes back with the bytes of a GET, a ranged GET, a stream and a HEAD; a replacement drops it; a losing putIfAbsent keeps the winner\'s', async () => {
      const meta = { 'ltxvfs-pre-apply': '8000000000000001', 'ltxvfs-post-apply': 'fedcba9876543210' };
      await store.put('m/one', pattern(300, 3), { metadata: meta });
      const whole = await store.getWithMetadata('m/one');
      expect(same(whole.bytes, pattern(300, 3))).toBe(true);
      expect(whole.metadata).toMatchObject(meta);
      const tail = await store.getWithMetadata('m/one', { range: { suffix: 16 } });
      expect(tail.bytes.length).toBe(16);
      expect(tail.metadata).toMatchObject(meta);
      if (store.getStream) {
        const s = await store.getStream('m/one', { range: { offset: 10, length: 20 } });
        for await (const _ of s.body) void _;
        expect(s.metadata).toMatchObject(meta);
      }
      expect((await store.head('m/one'))?.metadata).toMatchObject(meta);
      await expectStoreError(store.putIfAbsent('m/one', pattern(5), { metadata: { 'ltxvfs-post-apply': '0000000000000000' } }), 'PRECONDITION_FAILED');
      expect((await store.getWithMetadata('m/one')).metadata).toMatchObject(meta);
      await store.put('m/one', pattern(10));
      expect((await store.getWithMetadata('m/one')).metadata['ltxvfs-post-apply']).toBeUndefined();
      await store.deleteMany(['m/one']);
      await store.put('m/one', pattern(10));
      expect((await store.head('m/one'))?.metadata['ltxvfs-pre-apply']).toBeUndefined();
      const keys: string[] = [];
      for await (const o of store.list('')) keys.push(o.key);
      expect(keys.filter((k) => k.includes('m/one'))).toEqual(['m/one']); // no sidecar is listed
    });

    it('put replaces an existing object', async () => {
      await store.put('replace', pattern(50, 1));
      await store.put('replace', pattern(40, 2));
      expect(same(await store.get('replace'), pattern(40, 2))).toBe(true);
    });

    it('put takes a stream body that can be reopened', async () => {
      const big = pattern(200_000, 4);
      let opened = 0;
      const body = { size: big.length, open: () => (opened++, Readable.from([big.subarray(0, 70_000), big.subarray(70_000)])) };
      await store.put('streamed', body);
      expect(opened).toBeGreaterThanOrEqual(1);
      expect(same(await store.get('streamed'), big)).toBe(true);
    });

    it('putIfAbsent creates a key once; then PRECONDITION_FAILED and the first body stays', async () => {
      await store.putIfAbsent('once', pattern(10, 1));
      const err = await expectStoreError(store.putIfAbsent('once', pattern(10, 2)), 'PRECONDITION_FAILED');
      expect(err.op).toBe('put');
      expect(err.message).toContain('"once"');
      expect(same(await store.get('once'), pattern(10, 1))).toBe(true);
    });

    it('putIfAbsent races: of 8 concurrent creators exactly one wins, and its body is stored', async () => {
      for (let round = 0; round < 4; round++) {
        const key = `race/${round}`;
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.putIfAbsent(key, pattern(1000 + i, i)).then(
              () => 'won',
              (e: unknown) => (e instanceof StoreError ? e.code : String(e)),
            ),
          ),
        );
        expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'PRECONDITION_FAILED')).toHaveLength(7);
        const winner = outcomes.indexOf('won');
        expect(same(await store.get(key), pattern(1000 + winner, winner))).toBe(true);
      }
    });

    it('list returns keys under a prefix in UTF-8 byte order, with sizes', async () => {
      await Promise.all(STORE_ORDER_KEYS.map((k, i) => store.put(`order/${k}`, pattern(i + 1))));
      const listed: { key: string; size: number }[] = [];
      for await (const o of store.list('order/')) listed.push({ key: o.key, size: o.size });
      expect(listed.map((o) => o.key)).toEqual(byteOrder(STORE_ORDER_KEYS).map((k) => `order/${k}`));
      for (const o of listed) expect(o.size).toBe(STORE_ORDER_KEYS.indexOf(o.key.slice('order/'.length)) + 1);
      expect(await listKeys(store, 'order/a/')).toEqual(['order/a/b', 'order/a/c/d']);
      expect(await listKeys(store, 'order/a')).toEqual(['order/a-b', 'order/a/b', 'order/a/c/d', 'order/a0', 'order/aa']);
      expect(await listKeys(store, 'no-such-prefix/')).toEqual([]);
    });

    it('listPage pages by maxKeys and continues after startAfter', async () => {
      await Promise.all(Array.from({ length: 7 }, (_, i) => store.put(`paged/${i}`, pattern(1))));
      const first = await store.listPage('paged/', { maxKeys: 3 });
      expect(first.objects.map((o) => o.key)).toEqual(['paged/0', 'paged/1', 'paged/2']);
      expect(first.isTruncated).toBe(true);
      const next = await store.listPage('paged/', { maxKeys: 3, startAfter: 'paged/2' });
      expect(next.objects.map((o) => o.key)).toEqual(['paged/3', 'paged/4', 'paged/5']);
      const last = await store.listPage('paged/', { maxKeys: 3, startAfter: 'paged/5' });
      expect(last.objects.map((o) => o.key)).toEqual(['paged/6']);
      expect(last.isTruncated).toBe(false);
      expect(await listKeys(store, 'paged/', { maxKeys: 2 })).toEqual(Array.from({ length: 7 }, (_, i) => `paged/${i}`));
      expect(await listKeys(store, 'paged/', { startAfter: 'paged/4' })).toEqual(['paged/5', 'paged/6']);
      const sorted = byteOrder(STORE_ORDER_KEYS);
      expect(await listKeys(store, 'order/', { startAfter: 'order/a/b' })).toEqual(sorted.slice(sorted.indexOf('a/b') + 1).map((k) => `order/${k}`));
      expect(await listKeys(store, 'order/', { startAfter: 'order/a' })).toEqual(sorted.slice(sorted.indexOf('a-b')).map((k) => `order/${k}`));
    });

    const bulk = options.bulkKeys ?? 1003;
    it(`deleteMany deletes ${bulk} keys (one batch is 1000); missing keys are fine`, async () => {
      const keys = Array.from({ length: bulk }, (_, i) => `del/${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => store.put(k, pattern(3))));
      expect(await listKeys(store, 'del/')).toHaveLength(bulk);
      await store.deleteMany([...keys.slice(0, bulk - 2), 'del/missing']);
      expect(await listKeys(store, 'del/')).toEqual(keys.slice(bulk - 2));
      await store.deleteMany([]);
      expect(await store.head(keys[0])).toBeNull();
    });

    it('counts requests and bytes per operation', async () => {
      const before = store.stats();
      await store.get('obj', { range: { offset: 100, length: 1234 } });
      await store.put('counted', pattern(321));
      await store.head('counted');
      const after = store.stats();
      expect(after.get.bytes - before.get.bytes).toBe(1234);
      expect(after.get.requests - before.get.requests).toBeGreaterThanOrEqual(1);
      expect(after.put.bytes - before.put.bytes).toBe(321);
      expect(after.head.requests - before.head.requests).toBeGreaterThanOrEqual(1);
    });

    it('a closed store refuses calls with CLOSED', async () => {
      const other = await open();
      await other.close();
      await expectStoreError(other.get('obj'), 'CLOSED');
      await expectStoreError(other.put('x', pattern(1)), 'CLOSED');
    });

    extra?.(() => store);
  });
}

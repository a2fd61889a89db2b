// S3Store against the run's server, directly and through the fault proxy, plus the
// behaviour only S3 has: retries (counted), timeouts, truncated bodies, missing buckets.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store, type S3StoreOptions } from '../../src/storage/s3-store.js';
import { totalOf } from '../../src/storage/stats.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { pattern } from './conformance.js';
import { describeObjectStore, expectStoreError } from './store-suite.js';

// Tests wait out backoffs: keep them short, and allow enough attempts that at the fault
// rates below (at most 13% of requests) a call fails for good about once in 10^9.
const FAST_RETRY = { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 20 };

describeObjectStore('S3', async () => new S3Store(testS3StoreOptions(uniquePrefix('store'))), { timestamp: 'metadata' });

describe('through the fault proxy (503s, resets, truncated bodies)', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(testS3Config().endpoint, { errorRate: 0.05, resetRate: 0.04, truncateRate: 0.04, seed: 42 });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  describeObjectStore(
    'S3 via fault proxy',
    async () => new S3Store(testS3StoreOptions(uniquePrefix('faulty'), { endpoint: proxy.endpoint, retry: FAST_RETRY })),
    // Batching past 1000 keys is covered by the direct S3 run; 1000 PUTs here cost ~8 s.
    { timestamp: 'metadata', bulkKeys: 150 },
    (store) => {
      it('ranged gets stay byte-exact under faults', async () => {
        const data = pattern(64 * 1024, 6);
        await store().put('ranges', data);
        for (let batch = 0; batch < 25; batch++) {
          await Promise.all(
            Array.from({ length: 8 }, async (_, i) => {
              const offset = ((batch * 8 + i) * 997) % 60_000;
              const got = await store().get('ranges', { range: { offset, length: 4096 } });
              expect(Buffer.from(got).equals(Buffer.from(data.subarray(offset, offset + 4096)))).toBe(true);
            }),
          );
        }
      });

      it('counted exactly one retry per injected fault, and faults of every kind happened', () => {
        const faults = proxy.stats().faults;
        const stats = store().stats();
        expect(faults.error503).toBeGreaterThan(0);
        expect(faults.resetBefore).toBeGreaterThan(0);
        expect(faults.resetAfter).toBeGreaterThan(0);
        expect(faults.truncate).toBeGreaterThan(0);
        expect(totalOf(stats, 'retries')).toBe(faults.error503 + faults.resetBefore + faults.resetAfter + faults.truncate);
        expect(totalOf(stats, 'requests')).toBeGreaterThan(400);
      });
    },
  );
});

describe('S3Store retries, timeouts and errors', () => {
  let proxy: FaultProxy;
  const opened: S3Store[] = [];
  function open(overrides: Partial<S3StoreOptions> = {}): S3Store {
    const store = new S3Store(testS3StoreOptions(uniquePrefix('s3err'), { endpoint: proxy.endpoint, retry: FAST_RETRY, ...overrides }));
    opened.push(store);
    return store;
  }
  beforeAll(async () => {
    proxy = await FaultProxy.start(testS3Config().endpoint);
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await proxy?.close();
  });

  it('retries a 503 and counts it', async () => {
    const store = open();
    await store.put('k', pattern(100));
    proxy.resetStats();
    proxy.injectNext('error503', 'GET');
    expect(Buffer.from(await store.get('k')).equals(Buffer.from(pattern(100)))).toBe(true);
    expect(store.stats().get).toEqual({ requests: 2, bytes: 100, retries: 1, errors: 0 });
    expect(proxy.stats().requests.GET).toBe(2);
  });

  it('detects a truncated body and retries instead of returning it', async () => {
    const store = open();
    const data = pattern(100_000, 3);
    await store.put('big', data);
    proxy.injectNext('truncate', 'GET_RANGE');
    const got = await store.get('big', { range: { offset: 1000, length: 90_000 } });
    expect(Buffer.from(got).equals(Buffer.from(data.subarray(1000, 91_000)))).toBe(true);
    expect(store.stats().get.retries).toBe(1);
    expect(proxy.stats().faults.truncate).toBeGreaterThanOrEqual(1);
  });

  it('gives up after maxAttempts with IO, counting every attempt', async () => {
    const store = open({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    await store.put('big', pattern(50_000));
    proxy.resetStats();
    proxy.set({ truncateRate: 1, ops: ['GET_RANGE'] });
    try {
      const err = await expectStoreError(store.get('big', { range: { offset: 0, length: 40_000 } }), 'IO');
      expect(err.message).toMatch(/truncated|aborted|premature|socket/i);
      expect(err.message).toContain('after 3 attempts');
    } finally {
      proxy.set({ truncateRate: 0, ops: null });
    }
    expect(proxy.stats().requests.GET_RANGE).toBe(3);
    expect(store.stats().get).toMatchObject({ requests: 3, retries: 2, errors: 1 });
  });

  it('never retries a 4xx: a missing key is one request', async () => {
    const store = open();
    proxy.resetStats();
    await expectStoreError(store.get('missing'), 'NOT_FOUND');
    expect(proxy.stats().requests.GET).toBe(1);
    expect(store.stats().get).toEqual({ requests: 1, bytes: 0, retries: 0, errors: 1 });
  });

  it('never retries a 403: wrong credentials are one request and ACCESS_DENIED', async () => {
    const config = testS3Config();
    const store = open({ credentials: { accessKeyId: config.accessKeyId, secretAccessKey: 'wrong-secret' } });
    proxy.resetStats();
    const err = await expectStoreError(store.get('k'), 'ACCESS_DENIED');
    expect(err.message).toContain(config.bucket);
    expect(proxy.stats().requests.GET).toBe(1);
    expect(store.stats().get.retries).toBe(0);
  });

  it('a missing bucket is NO_SUCH_BUCKET, naming the bucket', async () => {
    const bucket = `ltxvfs-missing-${Date.now()}`;
    const store = open({ bucket });
    for (const call of [() => store.get('k'), () => store.put('k', pattern(1)), () => store.listPage('')]) {
      const err = await expectStoreError(call(), 'NO_SUCH_BUCKET');
      expect(err.message).toContain(`"${bucket}"`);
    }
    expect(store.stats().get.retries + store.stats().put.retries + store.stats().list.retries).toBe(0);
  });

  it('times out a request that gets no answer, retrying it first', async () => {
    const store = open({ timeoutMs: 200, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } });
    await store.put('slow', pattern(10));
    proxy.set({ latencyMs: 3_000 });
    try {
      const err = await expectStoreError(store.get('slow'), 'TIMEOUT');
      expect(err.message).toContain('200 ms');
    } finally {
      proxy.set({ latencyMs: 0 });
    }
    expect(store.stats().get).toMatchObject({ requests: 2, retries: 1, errors: 1 });
  });

  it('times out a body that stalls after the headers', async () => {
    const store = open({ timeoutMs: 300, retry: { maxAttempts: 1 } });
    await store.put('trickle', pattern(200_000));
    proxy.set({ bandwidthBytesPerSec: 50_000 }); // 4 s for the body
    try {
      await expectStoreError(store.get('trickle'), 'TIMEOUT');
    } finally {
      proxy.set({ bandwidthBytesPerSec: 0 });
    }
  });

  it('putIfAbsent whose first attempt was stored but not answered still succeeds', async () => {
    const store = open();
    proxy.injectNext('resetAfter', 'PUT');
    await store.putIfAbsent('fenced', pattern(64, 1));
    expect(store.stats().put.retries).toBe(1);
    expect(Buffer.from(await store.get('fenced')).equals(Buffer.from(pattern(64, 1)))).toBe(true);
    await expectStoreError(store.putIfAbsent('fenced', pattern(64, 2)), 'PRECONDITION_FAILED');
  });

  it('putIfAbsent retried into someone else\'s object is PRECONDITION_FAILED', async () => {
    const store = open();
    await store.put('theirs', pattern(64, 7));
    proxy.injectNext('resetBefore', 'PUT');
    await expectStoreError(store.putIfAbsent('theirs', pattern(64, 8)), 'PRECONDITION_FAILED');
    expect(store.stats().put.retries).toBe(1);
  });

  it('retries a stream body by opening it again', async () => {
    const store = open();
    const data = pattern(150_000, 2);
    let opened = 0;
    proxy.injectNext('resetBefore', 'PUT');
    await store.put('stream', { size: data.length, open: () => (opened++, Readable.from([data.subarray(0, 1000), data.subarray(1000)])) });
    expect(opened).toBe(2);
    expect(Buffer.from(await store.get('stream')).equals(Buffer.from(data))).toBe(true);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const store = open({ concurrency: 3 });
    await store.put('c', pattern(10));
    proxy.resetStats();
    proxy.set({ latencyMs: 50 });
    try {
      await Promise.all(Array.from({ length: 12 }, () => store.get('c')));
    } finally {
      proxy.set({ latencyMs: 0 });
    }
    expect(proxy.stats().maxInFlight).toBe(3);
    expect(proxy.stats().requests.GET).toBe(12);
  });
});

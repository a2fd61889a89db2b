// The fault proxy itself: it forwards signed requests unchanged, counts operations,
// and injects exactly the faults it is told to (and, with a seed, the same ones again).
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Client, testS3Config, uniquePrefix } from '../support/s3.js';
import { pattern } from './conformance.js';

describe('fault proxy', () => {
  let proxy: FaultProxy;
  let client: S3Client; // through the proxy
  let direct: S3Client;
  let bucket: string;
  const prefix = uniquePrefix('proxy');

  beforeAll(async () => {
    const config = testS3Config();
    bucket = config.bucket;
    proxy = await FaultProxy.start(config.endpoint);
    client = testS3Client(config, proxy.endpoint);
    direct = testS3Client(config);
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}obj`, Body: pattern(100_000) }));
  });
  afterAll(async () => {
    client?.destroy();
    direct?.destroy();
    await proxy?.close();
  });

  const get = async (key: string, range?: string): Promise<Uint8Array> => {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key, Range: range }));
    return res.Body!.transformToByteArray();
  };
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => String(e.$metadata?.httpStatusCode ?? e.name),
    );

  it('forwards SigV4-signed requests unchanged and counts them by operation', async () => {
    proxy.resetStats();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}a`, Body: pattern(10) }));
    expect([...(await get('a'))]).toEqual([...pattern(10)]);
    expect((await get('obj', 'bytes=5-9')).length).toBe(5);
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}a` }));
    await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `${prefix}a` }] } }));
    expect(proxy.stats().requests).toEqual({ LIST: 1, GET: 1, GET_RANGE: 1, HEAD: 1, PUT: 1, DELETE: 1, OTHER: 0 });
    expect(proxy.stats().bytesOut).toBeGreaterThanOrEqual(15);
  });

  it('answers 503 SlowDown itself: the upstream never sees the request', async () => {
    proxy.injectNext('error503', 'PUT');
    const err = await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}never`, Body: pattern(10) })).catch((e: Error) => e);
    expect((err as Error).name).toBe('SlowDown');
    expect(await outcome(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}never` })))).toBe('404');
    expect(proxy.stats().faults.error503).toBe(1);
  });

  it('resets before forwarding (nothing stored) or after the upstream answered (stored)', async () => {
    proxy.injectNext('resetBefore', 'PUT');
    const before = await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}rb`, Body: pattern(10) })));
    expect(before).toMatch(/ECONNRESET|socket hang up|Error|EPIPE/);
    expect(await outcome(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}rb` })))).toBe('404');

    proxy.injectNext('resetAfter', 'PUT');
    const after = await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}ra`, Body: pattern(10) })));
    expect(after).not.toBe('ok');
    expect(await outcome(direct.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}ra` })))).toBe('ok');
  });

  it('truncates a GET body: the client gets fewer bytes than Content-Length, or an error', async () => {
    proxy.injectNext('truncate', 'GET');
    const got = await get('obj').then(
      (bytes) => bytes.length,
      () => -1,
    );
    expect(got).toBeLessThan(100_000);
    expect(proxy.stats().faults.truncate).toBeGreaterThanOrEqual(1);
    expect((await get('obj')).length).toBe(100_000); // only the one
  });

  it('random faults follow the seed: the same seed gives the same faults again', async () => {
    const run = async (): Promise<string[]> => {
      proxy.set({ errorRate: 0.3, seed: 7 });
      const results: string[] = [];
      for (let i = 0; i < 30; i++) results.push(await outcome(client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}obj` }))));
      proxy.set({ errorRate: 0 });
      return results;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first.filter((r) => r === '503').length).toBeGreaterThan(0);
    expect(first.filter((r) => r === 'ok').length).toBeGreaterThan(0);
  });

  it('limits faults to the given operations', async () => {
    proxy.resetStats();
    proxy.set({ errorRate: 1, ops: ['PUT'] });
    try {
      expect((await get('obj', 'bytes=0-0')).length).toBe(1);
      expect(await outcome(client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}x`, Body: pattern(1) })))).toBe('503');
    } finally {
      proxy.set({ errorRate: 0, ops: null });
    }
    expect(proxy.stats().faults.error503).toBe(1);
  });

  it('holds the first byte back by latencyMs and paces bodies to the bandwidth (lower bounds)', async () => {
    proxy.set({ latencyMs: 150 });
    let t0 = performance.now();
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}obj` }));
    // timers never fire early by more than rounding, so a lower bound cannot flake
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    proxy.set({ latencyMs: 0, bandwidthBytesPerSec: 500_000 });
    t0 = performance.now();
    expect((await get('obj')).length).toBe(100_000); // 0.2 s at 500 KB/s
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    proxy.set({ bandwidthBytesPerSec: 0 });
  });
});

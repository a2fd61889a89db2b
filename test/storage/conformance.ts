// The S3 conformance suite: what ltxvfs relies on from an S3-compatible server,
// checked with the raw SDK (no ltxvfs code). Run it against any endpoint with
// `S3_ENDPOINT=… S3_ACCESS_KEY=… S3_SECRET_KEY=… S3_BUCKET=… npx vitest run test/storage/s3-conformance.test.ts`.
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface ConformanceTarget {
  client: S3Client;
  bucket: string;
  /** Every key of the suite goes under it (ends in `/`). */
  prefix: string;
}

/** Bytes 0..255 repeated, so any offset error shows up as wrong content. */
export function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  return out;
}

/** Keys whose UTF-8 byte order differs from UTF-16 (JS `<`) order and from locale order. */
export const ORDER_KEYS = ['B', 'a', 'a-b', 'a/b', 'a0', 'aa', '~', 'é', '\uff5e', '\u{1f600}', 'Z'];

export function byteOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

async function statusOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return 200;
  } catch (err) {
    return status(err);
  }
}

export function describeS3Conformance(name: string, target: () => Promise<ConformanceTarget>): void {
  describe(`S3 conformance: ${name}`, () => {
    let t: ConformanceTarget;
    const SIZE = 1000;
    const data = pattern(SIZE);

    beforeAll(async () => {
      t = await target();
      await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}obj`, Body: data }));
    });
    afterAll(() => t?.client.destroy());

    async function getRange(range: string | undefined, key = 'obj'): Promise<{ bytes: Uint8Array; status?: number; contentRange?: string }> {
      const res = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}${key}`, Range: range }));
      return { bytes: await res.Body!.transformToByteArray(), status: res.$metadata.httpStatusCode, contentRange: res.ContentRange };
    }

    it('GET returns the exact bytes', async () => {
      const { bytes, status: code } = await getRange(undefined);
      expect(code).toBe(200);
      expect(Buffer.from(bytes).equals(Buffer.from(data))).toBe(true);
    });

    it('Range bytes=0-0 returns exactly the first byte (206)', async () => {
      const r = await getRange('bytes=0-0');
      expect(r.status).toBe(206);
      expect([...r.bytes]).toEqual([data[0]]);
      expect(r.contentRange).toBe(`bytes 0-0/${SIZE}`);
    });

    it('Range bytes=a-b returns exactly b-a+1 bytes from a', async () => {
      for (const [a, b] of [[1, 1], [100, 355], [999, 999], [0, 999]]) {
        const r = await getRange(`bytes=${a}-${b}`);
        expect(r.status).toBe(206);
        expect(Buffer.from(r.bytes).equals(Buffer.from(data.subarray(a, b + 1)))).toBe(true);
      }
    });

    it('Range past the end is clipped; open-ended ranges run to the end', async () => {
      const clipped = await getRange('bytes=990-2000');
      expect(Buffer.from(clipped.bytes).equals(Buffer.from(data.subarray(990)))).toBe(true);
      expect(clipped.contentRange).toBe(`bytes 990-999/${SIZE}`);
      const open = await getRange('bytes=900-');
      expect(Buffer.from(open.bytes).equals(Buffer.from(data.subarray(900)))).toBe(true);
    });

    it('suffix Range bytes=-100 returns exactly the last 100 bytes', async () => {
      const r = await getRange('bytes=-100');
      expect(r.status).toBe(206);
      expect(r.bytes.length).toBe(100);
      expect(Buffer.from(r.bytes).equals(Buffer.from(data.subarray(SIZE - 100)))).toBe(true);
      const all = await getRange('bytes=-5000');
      expect(Buffer.from(all.bytes).equals(Buffer.from(data))).toBe(true);
    });

    it('Range starting at or past the end is 416', async () => {
      expect(await statusOf(getRange(`bytes=${SIZE}-`))).toBe(416);
      expect(await statusOf(getRange(`bytes=${SIZE + 10}-${SIZE + 20}`))).toBe(416);
    });

    it('GET and HEAD of a missing key are 404 (NoSuchKey on GET)', async () => {
      const err = await getRange(undefined, 'missing').catch((e: Error) => e);
      expect((err as Error).name).toBe('NoSuchKey');
      expect(await statusOf(t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}missing` })))).toBe(404);
    });

    it('HEAD gives size, ETag (MD5 of a single PUT) and user metadata', async () => {
      await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}meta`, Body: data, Metadata: { 'litestream-timestamp': '2025-01-02T03:04:05.678Z' } }));
      const head = await t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}meta` }));
      expect(head.ContentLength).toBe(SIZE);
      const { createHash } = await import('node:crypto');
      expect(head.ETag?.replace(/"/g, '')).toBe(createHash('md5').update(data).digest('hex'));
      expect(head.Metadata?.['litestream-timestamp']).toBe('2025-01-02T03:04:05.678Z');
    });

    it('If-None-Match: * creates a new key and refuses an existing one with 412', async () => {
      const key = `${t.prefix}exclusive`;
      await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: pattern(10, 1), IfNoneMatch: '*' }));
      const err = await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: pattern(10, 2), IfNoneMatch: '*' })).catch((e: unknown) => e);
      expect(status(err)).toBe(412);
      const r = await getRange(undefined, 'exclusive');
      expect([...r.bytes]).toEqual([...pattern(10, 1)]); // the first write stands
    });

    it('If-None-Match: * races: of 8 concurrent creators exactly one wins', async () => {
      for (let round = 0; round < 3; round++) {
        const key = `${t.prefix}race-${round}`;
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => statusOf(t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: pattern(100, i), IfNoneMatch: '*' })))),
        );
        expect(results.filter((s) => s === 200)).toHaveLength(1);
        expect(results.filter((s) => s === 412 || s === 409)).toHaveLength(7);
        const winner = results.indexOf(200);
        expect([...(await getRange(undefined, `race-${round}`)).bytes]).toEqual([...pattern(100, winner)]);
      }
    });

    it('stream (Readable) uploads are stored byte-exact, without aws-chunked framing', async () => {
      const big = pattern(300_000, 3);
      const chunks = [big.subarray(0, 65_536), big.subarray(65_536, 200_000), big.subarray(200_000)];
      await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: `${t.prefix}stream`, Body: Readable.from(chunks), ContentLength: big.length }));
      const r = await getRange(undefined, 'stream');
      expect(r.bytes.length).toBe(big.length);
      expect(Buffer.from(r.bytes).equals(Buffer.from(big))).toBe(true);
    });

    it('ListObjectsV2 lists in UTF-8 byte order, paginates with MaxKeys and honours StartAfter', async () => {
      const base = `${t.prefix}order/`;
      await Promise.all(ORDER_KEYS.map((k, i) => t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: base + k, Body: pattern(i + 1) }))));
      const expected = byteOrder(ORDER_KEYS);
      expect(expected).not.toEqual([...ORDER_KEYS].sort()); // the keys do tell byte order from UTF-16 order

      const listed: string[] = [];
      const pageSizes: number[] = [];
      let token: string | undefined;
      do {
        const res = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: base, MaxKeys: 3, ContinuationToken: token }));
        pageSizes.push(res.Contents?.length ?? 0);
        listed.push(...(res.Contents ?? []).map((o) => o.Key!.slice(base.length)));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      expect(listed).toEqual(expected);
      expect(pageSizes).toEqual([3, 3, 3, 2]);

      const after = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: base, StartAfter: base + 'a-b', MaxKeys: 4 }));
      const start = expected.indexOf('a-b') + 1;
      expect((after.Contents ?? []).map((o) => o.Key!.slice(base.length))).toEqual(expected.slice(start, start + 4));
      expect(after.IsTruncated).toBe(true);
      const sizes = new Map((after.Contents ?? []).map((o) => [o.Key!.slice(base.length), o.Size]));
      expect(sizes.get(expected[start])).toBe(ORDER_KEYS.indexOf(expected[start]) + 1);
    });

    it('ListObjectsV2 with a Prefix lists only keys that start with it', async () => {
      const base = `${t.prefix}pfx/`;
      await Promise.all(['a/1', 'a/2', 'ab', 'b/1'].map((k) => t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: base + k, Body: data.subarray(0, 1) }))));
      const res = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: `${base}a/` }));
      expect((res.Contents ?? []).map((o) => o.Key!.slice(base.length))).toEqual(['a/1', 'a/2']);
    });

    it('DeleteObjects deletes many keys at once; missing keys are no error', async () => {
      const base = `${t.prefix}del/`;
      const keys = Array.from({ length: 20 }, (_, i) => `${base}${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((k) => t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: k, Body: data.subarray(0, 3) }))));
      const res = await t.client.send(
        new DeleteObjectsCommand({ Bucket: t.bucket, Delete: { Objects: [...keys.slice(0, 15), `${base}missing`].map((Key) => ({ Key })), Quiet: true } }),
      );
      expect(res.Errors ?? []).toEqual([]);
      const left = await t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: base }));
      expect((left.Contents ?? []).map((o) => o.Key)).toEqual(keys.slice(15));
    });

    it('a missing bucket is NoSuchBucket (404)', async () => {
      const err = await t.client.send(new ListObjectsV2Command({ Bucket: `${t.bucket}-missing-${Date.now()}` })).catch((e: unknown) => e);
      expect((err as Error).name).toBe('NoSuchBucket');
      expect(status(err)).toBe(404);
    });
  });
}

// Fetching in runs, journaling in pieces: a run of consecutive pieces is one streamed
// request (so requests are far fewer than pieces); a stream cut midway keeps the pieces
// it finished and asks again only for the rest; a journal cut with other piece sizes
// (an older version's, or another chunkBytes) still resumes everything it recorded.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { chunksOf } from '../../src/hydrate/chunk.js';
import { Fetcher } from '../../src/hydrate/fetcher.js';
import { fetchFileMeta } from '../../src/hydrate/file-meta.js';
import { hydrate, hydrationTempPaths, isHydrationError } from '../../src/hydrate/index.js';
import { listReplica } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { makeStore, removeTempDirs, tempDir } from '../replica/helpers.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { makeReplica } from './helpers.js';

afterAll(removeTempDirs);

const quiet = pino({ level: 'silent' });

describe('pieces', () => {
  it('chunksOf keeps recorded ranges on frame boundaries, cuts only the gaps, and always tiles the file', async () => {
    const dir = tempDir('hyd-pieces');
    const store = makeStore('file');
    await makeReplica(store, dir, { bytes: 2 << 20, steps: 1, checksums: true });
    const snapshot = (await listReplica(store)).reduce((a, b) => (b.size > a.size ? b : a));
    const meta = await fetchFileMeta(new Fetcher(store, quiet), snapshot);
    const tiles = (cs: { start: number; end: number; first: number; last: number }[]) => {
      expect(cs[0].start).toBe(0);
      expect(cs.at(-1)!.end).toBe(snapshot.size);
      for (let i = 1; i < cs.length; i++) {
        expect(cs[i].start).toBe(cs[i - 1].end);
        expect(cs[i].first).toBe(cs[i - 1].last);
      }
      expect(cs.at(-1)!.last).toBe(meta.entries.length);
    };
    const large = Math.ceil(snapshot.size / 8);
    const small = Math.ceil(snapshot.size / 32);
    const big = chunksOf(meta, large);
    tiles(big);
    // At most `large`, but for the tail (end marker, index, trailer), which is never split.
    expect(big.slice(0, -1).every((c) => c.end - c.start <= large)).toBe(true);

    // Records cut large (say, by an older version), pieces now small: every recorded
    // range is kept as it is; misaligned ones, and ones overlapping a kept one, are not.
    expect(big.length).toBeGreaterThan(5);
    const recorded = [big[1], big[3], { start: big[1].start, end: big[2].end }, { start: big[3].start + 1, end: big[4].end }, { start: big[4].start, end: big[5].end - 1 }];
    const mixed = chunksOf(meta, small, recorded);
    tiles(mixed);
    const ranges = new Set(mixed.map((c) => `${c.start}-${c.end}`));
    expect(ranges.has(`${big[1].start}-${big[1].end}`)).toBe(true);
    expect(ranges.has(`${big[3].start}-${big[3].end}`)).toBe(true);
    const kept = new Set([big[1], big[3]].map((c) => `${c.start}-${c.end}`));
    expect(mixed.slice(0, -1).filter((c) => c.end - c.start > small && !kept.has(`${c.start}-${c.end}`))).toEqual([]);
    expect(mixed.length).toBeGreaterThan(big.length);
  });
});

describe('runs of pieces', () => {
  it('file://: far fewer requests than pieces', async () => {
    const dir = tempDir('hyd-runs');
    const store = makeStore('file');
    const { images } = await makeReplica(store, dir, { bytes: 12 << 20, steps: 2, checksums: true });
    const ltxBytes = (await listReplica(store)).reduce((s, f) => s + f.size, 0);
    const f = await hydrate({ store, path: path.join(dir, 'h.db'), chunkBytes: 64 << 10, log: quiet });
    // ~190 pieces of 64 KiB; 8 connections, runs from 256 KiB doubling up to 8 MiB.
    expect(f.stats!.requests).toBeLessThan(ltxBytes / (64 << 10) / 3);
    expect(Buffer.compare(readFileSync(f.path), images[2])).toBe(0);
    await store.close();
  });

  it('S3: an abort mid-way resumes under another piece size, fetching only what is left', async () => {
    const dir = tempDir('hyd-resize');
    const prefix = uniquePrefix('hyd-resize');
    const direct = new S3Store(testS3StoreOptions(prefix));
    const { images } = await makeReplica(direct, dir, { bytes: 8 << 20, steps: 2, checksums: true });
    const ltxBytes = (await listReplica(direct)).reduce((s, f) => s + f.size, 0);
    // A slow link, so that the abort lands mid-way.
    const proxy = await FaultProxy.start(testS3Config().endpoint, { bandwidthBytesPerSec: 2 << 20 });
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    const out = path.join(dir, 'h.db');

    const ac = new AbortController();
    const err = await hydrate({
      store,
      path: out,
      chunkBytes: 256 << 10,
      requestBytes: 1 << 20,
      concurrency: 2,
      log: quiet,
      signal: ac.signal,
      onProgress: (p) => p.phase === 'fetch' && p.bytesDone > p.bytesTotal * 0.5 && ac.abort(),
    }).catch((e: unknown) => e);
    expect(isHydrationError(err, 'HYDRATE_ABORTED')).toBe(true);
    const recorded = readFileSync(hydrationTempPaths(out).journal, 'utf8').split('\n').filter((l) => l.startsWith('{"c"')).length;
    expect(recorded).toBeGreaterThan(0);

    proxy.set({ bandwidthBytesPerSec: 0 });
    const before = store.stats().get.bytes;
    const f = await hydrate({ store, path: out, chunkBytes: 96 << 10, log: quiet });
    const second = store.stats().get.bytes - before;
    expect(f.stats!.bytesResumed).toBeGreaterThan(ltxBytes * 0.5);
    expect(second).toBeLessThan(ltxBytes * 0.5 + (256 << 10));
    expect(Buffer.compare(readFileSync(out), images[2])).toBe(0);
    await store.close();
    await direct.close();
    await proxy.close();
  });

  it('S3: a stream cut midway keeps the pieces it finished and asks again only for the rest', async () => {
    const dir = tempDir('hyd-cut');
    const prefix = uniquePrefix('hyd-cut');
    const direct = new S3Store(testS3StoreOptions(prefix));
    const { images } = await makeReplica(direct, dir, { bytes: 6 << 20, steps: 2, checksums: true });
    const ltxBytes = (await listReplica(direct)).reduce((s, f) => s + f.size, 0);
    const proxy = await FaultProxy.start(testS3Config().endpoint);
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    try {
      // Metadata first, then every range GET of the download is cut at a random point, one in two.
      const chunkBytes = 64 << 10;
      let cuts = 0;
      const f = await hydrate({
        store,
        path: path.join(dir, 'h.db'),
        chunkBytes,
        requestBytes: 2 << 20,
        log: quiet,
        onProgress: (p) => {
          if (p.phase === 'fetch' && cuts === 0) {
            proxy.set({ truncateRate: 0.5, ops: ['GET_RANGE'], seed: 3 });
            cuts = 1;
          }
        },
      });
      const faults = proxy.stats().faults;
      expect(faults.truncate).toBeGreaterThan(3);
      expect(f.stats!.retries).toBeGreaterThanOrEqual(faults.truncate);
      expect(Buffer.compare(readFileSync(f.path), images[2])).toBe(0);
      // Each cut loses at most the piece it was in (refetching whole runs would lose ~1 MiB each).
      expect(proxy.stats().bytesOut).toBeLessThan(ltxBytes + faults.truncate * chunkBytes + (256 << 10));
    } finally {
      await store.close();
      await direct.close();
      await proxy.close();
    }
  });
});

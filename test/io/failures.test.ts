// What the bridge does when the worker or the store misbehaves: a hung store or worker
// times out and the worker is replaced, a dead worker is noticed and replaced, a late
// or forged answer is never taken for another request's, and faults below the store
// (503s, resets, truncated bodies) are retried in the worker, invisible to the caller.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoError } from '../../src/io/io-error.js';
import { SyncStore, worstCaseMs } from '../../src/io/sync-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { totalOf } from '../../src/storage/stats.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { ProxyThread } from './proxy-thread.js';
import { randomBytesSeeded, thrown } from './round-trip-suite.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();
const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

function fileReplica(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-io-fail-'));
  writeFileSync(path.join(dir, 'a'), 'contents of a');
  writeFileSync(path.join(dir, 'b'), 'contents of b');
  return pathToFileURL(dir).href;
}

describe('worker failures (file://, test hooks)', () => {
  let url: string;
  const open: SyncStore[] = [];
  const make = (options: ConstructorParameters<typeof SyncStore>[1] = {}): SyncStore => {
    const s = new SyncStore(url, { testHooks: true, ...options });
    open.push(s);
    return s;
  };
  beforeAll(() => {
    url = fileReplica();
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
  });

  it('a slow answer times out with IO_TIMEOUT within the deadline; the replacement answers', () => {
    // Short deadlines only on the calls meant to time out: on a loaded 2-core machine a
    // fresh worker's first answer can take longer than they are.
    const s = make();
    expect(text(s.getSync('a'))).toBe('contents of a');
    const t = performance.now();
    const err = thrown(() => s.testSync({ kind: 'sleep', ms: 5_000 }, { timeoutMs: 400 }));
    const waited = performance.now() - t;
    expect(err).toBeInstanceOf(IoError);
    expect(err).toMatchObject({ code: 'IO_TIMEOUT' });
    expect(waited).toBeGreaterThanOrEqual(399);
    expect(waited).toBeLessThan(10_000); // not the default deadline of over a minute
    expect(text(s.getSync('b'))).toBe('contents of b');
    expect(s.ioStats()).toMatchObject({ restarts: 1, failures: { IO_TIMEOUT: 1 } });
  });

  it('a late answer is never taken for the next request (the timed-out worker is gone)', async () => {
    const s = make();
    expect(thrown(() => s.testSync({ kind: 'sleep', ms: 600 }, { timeoutMs: 300 }))).toMatchObject({ code: 'IO_TIMEOUT' });
    expect(text(s.getSync('a'))).toBe('contents of a'); // while the old one still sleeps
    await sleep(800); // the old worker's answer would be due now
    expect(s.testSync({ kind: 'echo' })).toBe('echo');
    expect(text(s.getSync('b'))).toBe('contents of b');
    expect(s.ioStats().dropped).toBe(0);
  });

  it('a forged answer with another sequence number is dropped, the real one returned', () => {
    const s = make();
    expect(s.testSync({ kind: 'stale' })).toBe('fresh');
    expect(s.testSync({ kind: 'stale' })).toBe('fresh');
    expect(s.ioStats().dropped).toBe(2);
    expect(text(s.getSync('a'))).toBe('contents of a');
  });

  it('a worker that exits mid-request: IO_WORKER_DIED at once, replaced, the next call succeeds', () => {
    const s = make({ timeoutMs: 30_000 });
    s.testSync({ kind: 'echo' });
    const t = performance.now();
    const err = thrown(() => s.testSync({ kind: 'exit', code: 7 }));
    expect(err).toBeInstanceOf(IoError);
    expect(err).toMatchObject({ code: 'IO_WORKER_DIED', message: expect.stringMatching(/exited with code 7 during test exit/) });
    expect(performance.now() - t).toBeLessThan(5_000); // not the 30 s deadline
    expect(text(s.getSync('a'))).toBe('contents of a');
    expect(s.ioStats()).toMatchObject({ restarts: 1, failures: { IO_WORKER_DIED: 1 } });
  });

  it('a worker that died while idle is replaced before the next request, without an error', async () => {
    const s = make();
    // Seen through the 'exit' event (the event loop ran meanwhile)...
    expect(s.testSync({ kind: 'exit', code: 3, afterMs: 50 })).toBe('exiting');
    await sleep(500);
    expect(text(s.getSync('b'))).toBe('contents of b');
    // ...or only through STATE (the caller never yielded to its event loop).
    expect(s.testSync({ kind: 'exit', code: 4, afterMs: 50 })).toBe('exiting');
    const until = Date.now() + 500;
    while (Date.now() < until) {
      // busy: no event loop turn
    }
    expect(text(s.getSync('a'))).toBe('contents of a');
    expect(s.ioStats()).toMatchObject({ restarts: 2, failures: { IO_WORKER_DIED: 0 } });
  });

  it('a worker whose event loop is blocked: IO_WORKER_HUNG after hangMs, replaced', () => {
    const s = make({ timeoutMs: 30_000, hangMs: 1_000 });
    s.testSync({ kind: 'echo' });
    const t = performance.now();
    expect(thrown(() => s.testSync({ kind: 'block', ms: 20_000 }))).toMatchObject({ code: 'IO_WORKER_HUNG' });
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(text(s.getSync('a'))).toBe('contents of a');
  });

  it('store counters survive a replaced worker', () => {
    const s = make();
    s.getSync('a');
    s.getSync('b');
    thrown(() => s.testSync({ kind: 'sleep', ms: 1_000 }, { timeoutMs: 300 }));
    s.getSync('a');
    expect(s.storeStats().get).toMatchObject({ requests: 3, bytes: 3 * 13 });
  });

  it('after close every call is IO_CLOSED; close twice is fine', async () => {
    const s = new SyncStore(url);
    expect(text(s.getSync('a'))).toBe('contents of a');
    await s.close();
    await s.close();
    expect(thrown(() => s.getSync('a'))).toMatchObject({ code: 'IO_CLOSED' });
  });

  it('test hooks are refused unless enabled; bad options are TypeErrors', async () => {
    const s = new SyncStore(url);
    expect(thrown(() => s.testSync({ kind: 'echo' }))).toBeInstanceOf(TypeError);
    await s.close();
    expect(() => new SyncStore(url, { spinUs: -1 })).toThrow(TypeError);
    expect(() => new SyncStore(url, { timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
  });

  it('a bad replica URL reaches the caller as the TypeError openStore threw in the worker', async () => {
    const s = new SyncStore('file://somehost/dir');
    expect(thrown(() => s.getSync('a'))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/names host/) });
    await s.close();
  });

  it('the default deadline is above the store worst case (attempt timeouts and backoffs)', () => {
    // 6 attempts × 10 s + backoff caps 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s
    expect(worstCaseMs({})).toBe(63_100);
    expect(worstCaseMs({ timeoutMs: 1_000, retry: { maxAttempts: 2, baseDelayMs: 50 } })).toBe(2_050);
  });
});

// The proxy runs in a thread of its own: this one is blocked while SyncStore waits.
describe('S3 through the fault proxy', () => {
  let proxy: ProxyThread;
  let prefix: string;
  const data = randomBytesSeeded(512 * 1024, 9);
  const open: SyncStore[] = [];
  const make = (options: ConstructorParameters<typeof SyncStore>[1] = {}): SyncStore => {
    const s = new SyncStore(testReplicaUrl(prefix).replace(encodeURIComponent(testS3Config().endpoint), encodeURIComponent(proxy.endpoint)), {
      ...options,
      store: { credentials: testS3StoreOptions(prefix).credentials, ...options.store },
    });
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    prefix = uniquePrefix('io-fault');
    const writer = new S3Store(testS3StoreOptions(prefix));
    await writer.put('data', data);
    await writer.close();
    proxy = await ProxyThread.start(testS3Config().endpoint, { seed: 7 });
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await proxy?.close();
  });

  it('the replica URL points at the proxy', async () => {
    const s = make();
    expect(s.getSync('data', { offset: 0, length: 10 }).length).toBe(10);
    expect((await proxy.stats()).requests.GET_RANGE).toBeGreaterThan(0);
  });

  it('a store that never answers: IO_TIMEOUT within the deadline, replaced, then fine', async () => {
    const s = make();
    expect(s.getSync('data', { offset: 0, length: 4 }).length).toBe(4);
    await proxy.set({ latencyMs: 60_000 });
    const t = performance.now();
    try {
      expect(thrown(() => s.getSync('data', { offset: 4096, length: 4096 }, { timeoutMs: 1_500 }))).toMatchObject({ code: 'IO_TIMEOUT' });
    } finally {
      await proxy.set({ latencyMs: 0 });
    }
    expect(performance.now() - t).toBeLessThan(10_000); // not the default deadline of over a minute
    expect(Buffer.from(s.getSync('data', { offset: 4096, length: 4096 })).equals(Buffer.from(data.subarray(4096, 8192)))).toBe(true);
  });

  it('503s, resets and truncated bodies at moderate rates: results byte-exact, retries counted', async () => {
    const s = make({ store: { retry: { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 20 } } });
    s.getSync('data', { offset: 0, length: 1 }); // started, before the faults
    const retriesBefore = totalOf(s.storeStats(), 'retries');
    await proxy.resetStats();
    await proxy.set({ errorRate: 0.05, resetRate: 0.04, truncateRate: 0.04, seed: 11 });
    try {
      for (let batch = 0; batch < 20; batch++) {
        const items = Array.from({ length: 16 }, (_, i) => {
          const offset = ((batch * 16 + i) * 7919) % (data.length - 8192);
          return { key: 'data', range: { offset, length: 1 + ((i * 1237) % 8192) } };
        });
        const got = s.getManySync(items);
        items.forEach((item, i) => {
          const { offset, length } = item.range;
          expect(Buffer.from(got[i]).equals(Buffer.from(data.subarray(offset, offset + length)))).toBe(true);
        });
        expect(Buffer.from(s.getSync('data', { suffix: 777 })).equals(Buffer.from(data.subarray(data.length - 777)))).toBe(true);
      }
    } finally {
      await proxy.set({ errorRate: 0, resetRate: 0, truncateRate: 0 });
    }
    const faults = (await proxy.stats()).faults;
    const injected = faults.error503 + faults.resetBefore + faults.resetAfter + faults.truncate;
    expect(injected).toBeGreaterThan(10);
    expect(totalOf(s.storeStats(), 'retries') - retriesBefore).toBe(injected);
    expect(s.ioStats().restarts).toBe(0);
  });
});

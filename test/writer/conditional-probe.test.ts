// The writer proves at open that the server refuses a second `If-None-Match: *` PUT,
// and refuses to write when it does not (a server that ignores the header, played by
// the fault proxy in front of the real S3 server). The probe costs 3 requests, on the
// write path only: a read-only open makes no PUT or DELETE.
import { afterAll, describe, expect, it } from 'vitest';
import { open } from '../../src/open.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { ConditionalWriteError, PROBE_PREFIX, PROBE_REQUESTS, probeConditionalWrites } from '../../src/sync/index.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { FaultProxy, type FaultProxyStats } from '../support/fault-proxy.js';
import { ROOT } from '../support/cli.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';

afterAll(removeTempDirs);

const listed = async (store: S3Store, prefix: string) => {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys;
};

describe('conditional-write probe', () => {
  it(`passes on the real server in ${PROBE_REQUESTS} requests (2 PUT, 1 DELETE) and leaves nothing behind`, async () => {
    const store = new S3Store(testS3StoreOptions(uniquePrefix('probe')));
    try {
      await probeConditionalWrites(store);
      const s = store.stats();
      expect([s.put.requests, s.delete.requests, s.get.requests, s.list.requests, s.head.requests]).toEqual([2, 1, 0, 0, 0]);
      expect(s.put.requests + s.delete.requests).toBe(PROBE_REQUESTS);
      expect(await listed(store, PROBE_PREFIX)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('a server that ignores If-None-Match: * is refused, named, and the probe object removed', async () => {
    const cfg = testS3Config();
    const proxy = await FaultProxy.start(cfg.endpoint, { ignoreIfNoneMatch: true });
    const prefix = uniquePrefix('probe-ignored');
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    try {
      const err = await probeConditionalWrites(store).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConditionalWriteError);
      expect((err as Error).message).toContain(proxy.endpoint);
      expect((err as Error).message).toMatch(/does not honour If-None-Match: \* on PUT.*second create .* succeeded/);
      expect(await listed(store, PROBE_PREFIX)).toEqual([]);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  // open() reads pages synchronously through the I/O worker, which blocks this thread:
  // a proxy serving it must run in another process (scripts/fault-proxy.ts).
  it('open(): a writer against the ignoring server fails before acknowledging anything; readers make no PUT or DELETE; a writer on a good server probes once', async () => {
    const cfg = testS3Config();
    const prefix = uniquePrefix('probe-open');
    const direct = testReplicaUrl(prefix);
    const via = (endpoint: string) => direct.replace(encodeURIComponent(cfg.endpoint), encodeURIComponent(endpoint));
    const quiet = { s3: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey }, logLevel: 'silent' as const, syncInterval: 60_000 };

    // A good server: the writer's open costs the probe's 2 PUTs and 1 DELETE; nothing else writes before the first sync.
    let proxy = await proxyProcess(cfg.endpoint);
    const w = await open({ replicaUrl: via(proxy.endpoint), writeEnabled: true, bufferPath: tempDir('probe-buf'), ...quiet });
    const atOpen = await proxy.stats();
    expect([atOpen.requests.PUT, atOpen.requests.DELETE]).toEqual([2, 1]);
    w.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
    await w.close();
    await proxy.stop();

    proxy = await proxyProcess(cfg.endpoint);
    const r = await open({ replicaUrl: via(proxy.endpoint), ...quiet });
    expect(r.get('SELECT x FROM t')).toEqual({ x: 1 });
    await r.close();
    const reader = await proxy.stop();
    expect(reader.requests.LIST).toBeGreaterThan(0);
    expect([reader.requests.PUT, reader.requests.DELETE]).toEqual([0, 0]);

    proxy = await proxyProcess(cfg.endpoint, ['--ignore-if-none-match']);
    const bufferPath = tempDir('probe-buf');
    const err = await open({ replicaUrl: via(proxy.endpoint), writeEnabled: true, bufferPath, ...quiet }).then(() => null, (e: unknown) => e);
    const refused = await proxy.stop();
    expect(err).toBeInstanceOf(ConditionalWriteError);
    expect((err as Error).message).toMatch(/refusing to write: .* does not honour If-None-Match: \* on PUT/);
    expect((err as Error).message).toContain(proxy.endpoint);
    expect([refused.requests.PUT, refused.requests.DELETE]).toEqual([2, 1]); // the probe, and not one upload
    // The failed open released its buffer: with a good server it opens at once.
    const again = await open({ replicaUrl: direct, writeEnabled: true, bufferPath, ...quiet });
    expect(again.get('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });
    await again.close();
  });
});

interface ProxyProcess {
  endpoint: string;
  /** Its counters so far (SIGUSR2). */
  stats(): Promise<FaultProxyStats>;
  /** SIGTERM; resolves with the counters it prints. */
  stop(): Promise<FaultProxyStats>;
}

async function proxyProcess(upstream: string, args: string[] = []): Promise<ProxyProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/fault-proxy.ts'), '--upstream', upstream, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => void (out += b));
  const endpoint = await new Promise<string>((ok, fail) => {
    const check = () => {
      const m = /S3_ENDPOINT=(\S+)\n/.exec(out);
      if (m) ok(m[1]);
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`fault proxy exited (${code}): ${out}`)));
  });
  const last = () => JSON.parse(out.trim().split('\n').pop()!) as FaultProxyStats;
  return {
    endpoint,
    stats: () =>
      new Promise((ok) => {
        const lines = out.split('\n').length;
        const wait = () => (out.split('\n').length > lines && out.endsWith('\n') ? ok(last()) : setTimeout(wait, 10));
        child.kill('SIGUSR2');
        wait();
      }),
    stop: () =>
      new Promise((ok) => {
        child.once('exit', () => ok(last()));
        child.kill('SIGTERM');
      }),
  };
}

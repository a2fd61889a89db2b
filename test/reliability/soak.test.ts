// The time-compressed soak (issue 12): one writer, two followers, one hydrating reader
// and restores on one replica, caches smaller than the database, with a fast policy
// (L1 every 250 ms ... snapshots every 6 s, kept 6 s, 10 s of readers' grace: one real second is four simulated
// hours of the default policy's schedule), through a paused writer that resumes after
// another took over and a replica replaced by another database. Every answer is
// checked against the soak's oracle (scripts/soak/soak.ts). On file:// and on the
// local S3 server behind the fault proxy (latency, 503s, resets).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSoak, type SoakOptions, type SoakReport } from '../../scripts/soak/soak.js';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { ROOT } from '../support/cli.js';
import { startProxyProcess } from '../../scripts/soak/proxy-process.js';
import { fileUrl, removeTempDirs, tempDir } from '../replica/helpers.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';

afterAll(removeTempDirs);

// The readers' grace must outlast how far a reader lags plus its longest read
// transaction: in a loaded CI run (two test files on two cores) a reader process whose
// synchronous reads hold up its poller lags seconds behind.
const FAST = { l1Interval: 250, l2Interval: 1000, l3Interval: 3000, snapshotInterval: 6000, snapshotRetention: 6000, l0Retention: 500, readerGrace: 10_000 };
const RUN: Omit<SoakOptions, 'name' | 'url' | 'store' | 'workDir'> = {
  durationMs: 30_000,
  compaction: FAST,
  syncInterval: 100,
  pollInterval: 100,
  cacheSize: '128KiB', // the readers': the database is ~1 MB
  writerCacheSize: '8MiB', // the writer's commits do not wait on faulty reads; its reads still go remote after a re-point
  rows: 1500,
  commitEveryMs: 40,
  readEveryMs: 50,
  restoreEveryMs: 6000,
  scenarios: { pausedWriter: true, replace: true },
  dist: path.join(ROOT, 'dist'),
  progress: (line) => process.stderr.write(`${line}\n`),
};

function expectClean(r: SoakReport): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
  expect(r.examples).toEqual([]);
  expect(r.violations).toBe(0);
  expect(r.readErrors).toBe(0);
  // A reader held up past the 10 s grace fails a query with REPLICA_EXPIRED and retries it;
  // more than a couple would mean readers fall behind (or the replacement left a gap).
  expect(r.expired.count).toBeLessThanOrEqual(2);
  expect(r.replacedErrors).toBeLessThanOrEqual(60); // queries caught between the replacement and their reader's next poll (counted as read errors outside that window)
  expect(r.restoreFailures).toBe(0);
  expect(r.simulatedHours).toBeGreaterThanOrEqual(48);
  expect(r.commits).toBeGreaterThan(100);
  expect(r.reads).toBeGreaterThan(150);
  expect(r.restores).toBeGreaterThanOrEqual(3);
  // Every level, snapshots and retention ran while the readers held old indexes.
  expect(r.compaction.levelsSeen).toEqual(expect.arrayContaining([0, 1, 2, 3, 9]));
  expect(r.compaction.snapshotsSeen).toBeGreaterThanOrEqual(2);
  expect(r.compaction.filesDeleted).toBeGreaterThan(5);
  expect(r.readers.repoints).toBeGreaterThan(0);
  // The paused writer was fenced and left nothing behind; every reader moved to the new database.
  expect(r.pausedWriter).toMatchObject({ fenced: true, leftover: false });
  expect(r.replaced).toEqual({ readersOnNewDatabase: 3, readers: 3 });
  expect(r.readers.replaced).toBeGreaterThanOrEqual(3);
}

describe('soak, time-compressed', () => {
  it('file://: 30 s, 120 simulated hours', async () => {
    const dir = path.join(tempDir('soak'), 'replica');
    const store = new FileStore({ dir });
    try {
      expectClean(await runSoak({ ...RUN, name: 'file', url: fileUrl(dir), store, workDir: tempDir('soak-work') }));
    } finally {
      await store.close();
    }
  }, 150_000);

  it('S3 behind the fault proxy (2 ms latency, 1% 503s, 0.5% resets): 30 s, 120 simulated hours', async () => {
    const c = testS3Config();
    const proxy = await startProxyProcess(c.endpoint, { latencyMs: 2, errorRate: 0.01, resetRate: 0.005, seed: 12 });
    let stopped: Awaited<ReturnType<typeof proxy.stop>> | null = null;
    const stop = async () => (stopped ??= await proxy.stop());
    const prefix = uniquePrefix('soak');
    const direct = new S3Store(testS3StoreOptions(prefix));
    const url = testReplicaUrl(prefix).replace(encodeURIComponent(c.endpoint), encodeURIComponent(proxy.endpoint));
    const s3 = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
    try {
      const r = await runSoak({
        ...RUN,
        name: 's3+faults',
        readEveryMs: 100,
        url,
        s3,
        store: direct,
        workDir: tempDir('soak-work'),
        childEnv: { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey },
        requests: async () => {
          const s = await stop();
          return { ...s.requests, ...Object.fromEntries(Object.entries(s.faults).map(([k, v]) => [`fault_${k}`, v])) };
        },
      });
      expectClean(r);
      expect((r.requests?.fault_error503 ?? 0) + (r.requests?.fault_resetBefore ?? 0) + (r.requests?.fault_resetAfter ?? 0)).toBeGreaterThan(5);
    } finally {
      await stop();
      await direct.close();
    }
  }, 150_000);
});

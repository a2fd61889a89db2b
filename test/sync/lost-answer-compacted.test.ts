// A PUT that lands but whose answer is lost, then a compaction pass that merges the
// landed file into L1 before the syncer's retry lists: the L1 file holds TXIDs past the
// syncer's base, but it is the writer's own history (it ends where the upload ends and
// leaves its checksum). Found by the real-time soak during a store outage: the writer
// fenced itself as if a second writer existed. Now the retry recognises its own file.
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { compactOnce } from '../../src/compact/index.js';
import { listReplica } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

it('a retried upload whose first PUT landed and was compacted meanwhile completes; the writer is not fenced', async () => {
  const cfg = testS3Config();
  const proxy = await FaultProxy.start(cfg.endpoint, { seed: 3 });
  const prefix = uniquePrefix('lost-answer');
  const direct = new S3Store(testS3StoreOptions(prefix));
  const flaky = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint, retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20 }, timeoutMs: 5_000 }));
  const buffer = WriteBuffer.open(tempDir('lost-buf'), { replicaUrl: flaky.url, pageSize: 4096, maxBytes: 64 << 20, log: quiet });
  // Every rival check lists every level (the syncer does so once a minute): the L1 file is seen.
  const syncer = new Syncer({ store: flaky, buffer, intervalMs: 3_600_000, log: quiet, retry: { baseDelayMs: 20, maxDelayMs: 50 }, fullCheckAfterMs: 0 });
  try {
    await reconcileBuffer(flaky, buffer, quiet);
    syncer.start();
    const db = new SqliteCommits(tempDir('lost-src'));
    buffer.append(db.step('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'));
    await syncer.flush();
    expect(buffer.append(db.step("INSERT INTO t(v) VALUES ('a'), ('b')"))).toBe(2n);
    expect(buffer.append(db.step("INSERT INTO t(v) VALUES ('c')"))).toBe(2n);
    // Both commits join TXID 2 (one upload). Its upload lands, its answer is lost; every PUT after it fails until the pass is done.
    proxy.injectNext('resetAfter', 'PUT');
    proxy.set({ errorRate: 1, ops: ['PUT'] });
    const flushed = syncer.flush();
    const l0 = path.posix.join('0000', '0000000000000002-0000000000000002.ltx');
    for (let i = 0; i < 200 && !(await listReplica(direct)).some((f) => f.key === l0); i++) await new Promise((ok) => setTimeout(ok, 25));
    const pass = await compactOnce(direct, { force: true, log: quiet });
    expect(pass.written.map((w) => w.key)).toContain('0001/0000000000000001-0000000000000002.ltx');
    proxy.set({ errorRate: 0, ops: null });
    await flushed;
    expect(syncer.state).not.toBe('fenced');
    expect(buffer.base!.txid).toBe(2n);
    expect(buffer.unsynced().commits).toBe(0);
    // And it goes on syncing.
    buffer.append(db.step("INSERT INTO t(v) VALUES ('d')"));
    await syncer.flush();
    expect(buffer.base!.txid).toBe(3n);
  } finally {
    await syncer.stop().catch(() => undefined);
    buffer.close();
    await flaky.close();
    await direct.close();
    await proxy.close();
  }
});

// A fenced writer's overlapping file stays only when the next file really continues
// it. Writer A holds commits 2..3 unsynced (paused) while writer B syncs 2, 3 and 4,
// one file each; A's 2-3 then lands beside them and B's 4-4 starts right after it.
// By TXID adjacency alone A's file looked continued and was kept (the shortest plan
// then went through it and restores failed); by the checksums it is not: A removes
// it. A file really built on A's (a writer that opened on top of it) keeps it, and
// where neither side has checksums the old rule holds, with a warning.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncStore } from '../../src/io/index.js';
import { listReplica, planRestore, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { SecondWriterError, Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { makeStore } from '../replica/helpers.js';
import { testReplicaUrl, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from '../sync/helpers.js';

const PS = 4096;
const HOUR = 3_600_000;
afterAll(removeTempDirs);

const ranges = async (store: ObjectStore) => (await listReplica(store)).map((f) => `L${f.level}:${f.minTXID}-${f.maxTXID}`);

async function openBuffer(store: ObjectStore): Promise<WriteBuffer> {
  const b = WriteBuffer.open(tempDir('fenced-buf'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
  await reconcileBuffer(store, b, quiet);
  return b;
}

/** TXID 1 (the same table in both databases) in the replica; A and B open on it, each with its own database copy. */
async function twoWriters(store: ObjectStore, checksums: boolean) {
  const dbA = new SqliteCommits(tempDir('fenced-a'), PS);
  const dbB = new SqliteCommits(tempDir('fenced-b'), PS);
  dbA.step('CREATE TABLE t(x)', checksums);
  const first = dbB.step('CREATE TABLE t(x)', checksums);
  expect(Buffer.compare(dbA.current(), dbB.current())).toBe(0); // one state at TXID 1
  const seed = await openBuffer(store);
  seed.append(first);
  await new Syncer({ store, buffer: seed, intervalMs: HOUR, log: quiet }).stop({ flush: true });
  seed.close();
  return { dbA, dbB, a: await openBuffer(store), b: await openBuffer(store) };
}

/** B syncs 2, 3, 4 one file each; A has 2..3 in its buffer, not uploaded. */
async function pausedA(store: ObjectStore, checksums: boolean) {
  const w = await twoWriters(store, checksums);
  w.a.append(w.dbA.step("INSERT INTO t VALUES ('a1')", checksums));
  w.a.append(w.dbA.step("INSERT INTO t VALUES ('a2')", checksums));
  const sb = new Syncer({ store, buffer: w.b, intervalMs: HOUR, log: quiet });
  for (const v of ['b1', 'b2', 'b3']) {
    w.b.append(w.dbB.step(`INSERT INTO t VALUES ('${v}')`, checksums));
    await sb.flush();
  }
  await sb.stop();
  expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4']);
  return w;
}

async function restoredBytes(store: ObjectStore): Promise<{ bytes: Buffer; verified: boolean }> {
  const out = path.join(tempDir('fenced-out'), 'db');
  const r = await restore(store, {}, out, { plan: await planRestore(store) });
  return { bytes: readFileSync(out), verified: r.checksumVerified };
}

/** A store and a SyncStore (the I/O worker's view) of the same replica. */
function withSyncStore(kind: 'file' | 's3'): { store: ObjectStore; sync: SyncStore } {
  if (kind === 'file') {
    const store = makeStore('file');
    return { store, sync: new SyncStore(store.url) };
  }
  const prefix = uniquePrefix('fenced');
  const options = testS3StoreOptions(prefix);
  return { store: new S3Store(options), sync: new SyncStore(testReplicaUrl(prefix), { store: { credentials: options.credentials } }) };
}

function capture(): { log: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

describe.each(['file', 's3'] as const)('a fenced writer cleans up (%s)', (kind) => {
  it("a paused writer's file next to the winner's history is removed: the winner's file after it does not continue it", async () => {
    const store = makeStore(kind);
    const { a, b, dbA, dbB } = await pausedA(store, true);
    const sa = new Syncer({ store, buffer: a, intervalMs: HOUR, log: quiet });
    const err = await sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(/our [^ ]*0000000000000002-0000000000000003\.ltx was removed/);
    expect(a.unsynced().commits).toBe(2); // kept in A's buffer
    expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4']);
    const r = await restoredBytes(store);
    expect(r.verified).toBe(true);
    expect(Buffer.compare(r.bytes, Buffer.from(dbB.current()))).toBe(0);
    await sa.stop();
    for (const x of [a, b, dbA, dbB]) x.close();
    await store.close();
  });

  it('the same through the synchronous driver (PRAGMA litestream_sync): the header read goes through the I/O worker', async () => {
    const { store, sync } = withSyncStore(kind);
    const { a, b, dbA, dbB } = await pausedA(store, true);
    const sa = new Syncer({ store, buffer: a, intervalMs: HOUR, log: quiet });
    try {
      expect(() => sa.flushSync(sync)).toThrow(/our [^ ]*0000000000000002-0000000000000003\.ltx was removed/);
      expect(sa.state).toBe('fenced');
      expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4']);
      expect((await restoredBytes(store)).verified).toBe(true);
    } finally {
      await sa.stop();
      for (const x of [a, b, dbA, dbB]) x.close();
      await sync.close();
      await store.close();
    }
  });
});

describe('a fenced writer keeps its file', () => {
  it('when the file after it was built on it (its pre-apply checksum is ours)', async () => {
    const store = makeStore('file');
    const { a, b, dbA, dbB } = await twoWriters(store, true);
    a.append(dbA.step("INSERT INTO t VALUES ('a1')"));
    a.append(dbA.step("INSERT INTO t VALUES ('a2')"));
    // A's put lands, then A is held before it lists; meanwhile C opens on top of A's 2-3 and syncs 4.
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    let landed!: () => void;
    const put = new Promise<void>((ok) => (landed = ok));
    const held = Object.create(store) as ObjectStore;
    held.putIfAbsent = async (key, body, options) => {
      await store.putIfAbsent(key, body, options);
      landed();
      await gate;
    };
    const sa = new Syncer({ store: held, buffer: a, intervalMs: HOUR, log: quiet });
    const fa = sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    await put;
    const c = await openBuffer(store);
    expect(c.base?.txid).toBe(3n);
    c.append(dbA.step("INSERT INTO t VALUES ('c1')")); // C's database is A's state at 3
    const sc = new Syncer({ store, buffer: c, intervalMs: HOUR, log: quiet });
    await sc.flush();
    release();
    const err = await fa;
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(/our [^ ]*0000000000000002-0000000000000003\.ltx was kept \(a later file continues it\)/);
    expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-3', 'L0:4-4']);
    const r = await restoredBytes(store);
    expect(r.verified).toBe(true);
    expect(Buffer.compare(r.bytes, Buffer.from(dbA.current()))).toBe(0);
    await Promise.all([sa.stop(), sc.stop()]);
    for (const x of [a, b, c, dbA, dbB]) x.close();
    await store.close();
  });

  it('when neither side carries checksums (linkage cannot be told): by adjacency, with a warning', async () => {
    const store = makeStore('file');
    const { a, b, dbA, dbB } = await pausedA(store, false);
    const { log, lines } = capture();
    const sa = new Syncer({ store, buffer: a, intervalMs: HOUR, log });
    const err = await sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(/our [^ ]*0000000000000002-0000000000000003\.ltx was kept/);
    expect(await ranges(store)).toContain('L0:2-3');
    const warned = lines.filter((l) => l.level === 40 && /cannot tell whether a file starting at TXID 4 continues our .*0000000000000002-0000000000000003\.ltx \(our .* has no checksums\)/.test(l.msg));
    expect(warned).toHaveLength(1);
    await sa.stop();
    for (const x of [a, b, dbA, dbB]) x.close();
    await store.close();
  });
});

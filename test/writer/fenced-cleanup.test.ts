// A fenced writer's file stays only when the next file really continues it. Each of
// our L0 files holds one TXID (N-N), so a paused writer racing the winner for the
// same key is stopped by If-None-Match; its file lands only where that key is free
// again: writer A holds TXID 2 unsynced (paused) while writer B syncs 2 and 3, and a
// compaction pass merges them into L1 and deletes B's L0 2-2 (the newest L0, 3-3,
// stays). A's 2-2 then lands, and B's 3-3 starts right after it. By TXID adjacency
// alone A's file looked continued and was kept; by the checksums (B's record) it is
// not: A removes it. A file really built on A's (a writer that opened on top of it)
// keeps it, and where that cannot be told (our file or the next one has no
// checksums: a Litestream file carries none, in it or beside it) the old rule holds,
// with a warning.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { compactOnce } from '../../src/compact/index.js';
import { SyncStore } from '../../src/io/index.js';
import { HEADER_FLAG_NO_CHECKSUM, decodeHeader, encodeLtx, hasChecksums } from '../../src/ltx/index.js';
import { parseRecord } from '../../src/replica/checksum-record.js';
import { layoutFor, listReplica, planRestore, readLtxHeader, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { type CommitInput, SecondWriterError, Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { makeStore, putLtx } from '../replica/helpers.js';
import { testReplicaUrl, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from '../sync/helpers.js';

const PS = 4096;
const HOUR = 3_600_000;
const KEY2 = '0000000000000002-0000000000000002\\.ltx';
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

/**
 * A has TXID 2 (two commits) in its buffer, not uploaded; B syncs 2 and 3, one file each;
 * then a compaction pass merges them into L1 and lets B's L0 2-2 go (3-3, the newest L0, stays).
 */
async function pausedA(store: ObjectStore) {
  const w = await twoWriters(store, true);
  expect(w.a.append(w.dbA.step("INSERT INTO t VALUES ('a1')"))).toBe(2n);
  expect(w.a.append(w.dbA.step("INSERT INTO t VALUES ('a2')"))).toBe(2n); // joins the pending TXID
  const sb = new Syncer({ store, buffer: w.b, intervalMs: HOUR, log: quiet });
  for (const v of ['b1', 'b2']) {
    w.b.append(w.dbB.step(`INSERT INTO t VALUES ('${v}')`));
    await sb.flush();
  }
  await sb.stop();
  expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3']);
  const report = await compactOnce(store, { policy: { l0RetentionMs: 0, readerGraceMs: 0 }, log: quiet });
  expect(report.deleted.map((f) => `L${f.level}:${f.minTXID}-${f.maxTXID}`)).toContain('L0:2-2');
  const l0 = (await ranges(store)).filter((r) => r.startsWith('L0:'));
  expect(l0).toEqual(['L0:3-3']); // A's key is free again; B's next file is still there
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

/** `store`, whose conditional puts are held after landing until `release()` (the writer has not listed yet). */
function heldAfterPut(store: ObjectStore): { store: ObjectStore; landed: Promise<void>; release: () => void } {
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
  return { store: held, landed: put, release };
}

/** A Litestream-style L0 file by hand: NoChecksum, no checksums inline nor beside it (no metadata), `commits` merged into TXIDs min..max. */
async function litestreamFile(store: ObjectStore, min: bigint, max: bigint, commits: CommitInput[]): Promise<string> {
  const pages = new Map<number, Uint8Array>();
  for (const c of commits) for (const [pgno, data] of c.pages) pages.set(pgno, data);
  const enc = encodeLtx(
    { pageSize: PS, commit: commits[commits.length - 1].commit, minTXID: min, maxTXID: max, flags: HEADER_FLAG_NO_CHECKSUM, timestamp: BigInt(Date.now()) },
    [...pages].map(([pgno, data]) => ({ pgno, data })),
  );
  const key = await putLtx(store, 0, min, max, enc.bytes);
  const got = await store.getWithMetadata(key);
  expect(parseRecord(got.metadata)).toBeNull();
  expect(hasChecksums(await readLtxHeader(store, key))).toBe(false);
  return key;
}

describe.each(['file', 's3'] as const)('a fenced writer cleans up (%s)', (kind) => {
  it("a paused writer's file next to the winner's history is removed: the winner's file after it does not continue it", async () => {
    const store = makeStore(kind);
    const { a, b, dbA, dbB } = await pausedA(store);
    const before = await ranges(store);
    const sa = new Syncer({ store, buffer: a, intervalMs: HOUR, log: quiet });
    const err = await sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(new RegExp(`our [^ ]*${KEY2} was removed`));
    expect(a.unsynced().commits).toBe(2); // kept in A's buffer
    expect(await ranges(store)).toEqual(before);
    const r = await restoredBytes(store);
    expect(r.verified).toBe(true);
    expect(Buffer.compare(r.bytes, Buffer.from(dbB.current()))).toBe(0);
    await sa.stop();
    for (const x of [a, b, dbA, dbB]) x.close();
    await store.close();
  });

  it('the same through the synchronous driver (PRAGMA litestream_sync): the header read goes through the I/O worker', async () => {
    const { store, sync } = withSyncStore(kind);
    const { a, b, dbA, dbB } = await pausedA(store);
    const before = await ranges(store);
    const sa = new Syncer({ store, buffer: a, intervalMs: HOUR, log: quiet });
    try {
      expect(() => sa.flushSync(sync)).toThrow(new RegExp(`our [^ ]*${KEY2} was removed`));
      expect(sa.state).toBe('fenced');
      expect(await ranges(store)).toEqual(before);
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
  it('when the file after it was built on it (its pre-apply checksum, recorded beside it, is ours)', async () => {
    const store = makeStore('file');
    const { a, b, dbA, dbB } = await twoWriters(store, true);
    a.append(dbA.step("INSERT INTO t VALUES ('a1')"));
    a.append(dbA.step("INSERT INTO t VALUES ('a2')"));
    // A's put lands, then A is held before it lists; meanwhile C opens on top of A's 2-2 and syncs 3.
    const held = heldAfterPut(store);
    const { log, lines } = capture();
    const sa = new Syncer({ store: held.store, buffer: a, intervalMs: HOUR, log });
    const fa = sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    await held.landed;
    const c = await openBuffer(store);
    expect(c.base?.txid).toBe(2n);
    const ourPost = parseRecord((await store.getWithMetadata(layoutFor(store).fileKey(0, 2n, 2n))).metadata)?.post ?? null;
    c.append(dbA.step("INSERT INTO t VALUES ('c1')")); // C's database is A's state at 2
    const sc = new Syncer({ store, buffer: c, intervalMs: HOUR, log: quiet });
    await sc.flush();
    // C's file carries no checksums inline (NoChecksum); its record links it to A's.
    const cKey = (await listReplica(store)).find((f) => f.minTXID === 3n)!.key;
    expect(decodeHeader(await store.get(cKey, { range: { offset: 0, length: 100 } })).flags).toBe(HEADER_FLAG_NO_CHECKSUM);
    expect(ourPost).not.toBeNull();
    expect((await readLtxHeader(store, cKey)).preApplyChecksum).toBe(ourPost);
    held.release();
    const err = await fa;
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(new RegExp(`our [^ ]*${KEY2} was kept \\(a later file continues it\\)`));
    expect(lines.filter((l) => /cannot tell/.test(l.msg))).toEqual([]); // told by the checksums, not by adjacency
    expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3']);
    const r = await restoredBytes(store);
    expect(r.verified).toBe(true);
    expect(Buffer.compare(r.bytes, Buffer.from(dbA.current()))).toBe(0);
    await Promise.all([sa.stop(), sc.stop()]);
    for (const x of [a, b, c, dbA, dbB]) x.close();
    await store.close();
  });

  it('when neither side carries checksums (linkage cannot be told): by adjacency, with a warning', async () => {
    const store = makeStore('file');
    const { a, b, dbA, dbB } = await twoWriters(store, false);
    a.append(dbA.step("INSERT INTO t VALUES ('a1')", false));
    const held = heldAfterPut(store);
    const { log, lines } = capture();
    const sa = new Syncer({ store: held.store, buffer: a, intervalMs: HOUR, log });
    const fa = sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    await held.landed;
    expect(parseRecord((await store.getWithMetadata(layoutFor(store).fileKey(0, 2n, 2n))).metadata)).toBeNull(); // ours: no record
    // Litestream takes over on top of A's 2-2 and writes 3-4 in one file: no checksums in it or beside it.
    await litestreamFile(store, 3n, 4n, [dbA.step("INSERT INTO t VALUES ('l1')", false), dbA.step("INSERT INTO t VALUES ('l2')", false)]);
    held.release();
    const err = await fa;
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(new RegExp(`our [^ ]*${KEY2} was kept`));
    expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-4']);
    const warned = lines.filter((l) => l.level === 40 && new RegExp(`cannot tell whether a file starting at TXID 3 continues our .*${KEY2} \\(our .* has no checksums\\)`).test(l.msg));
    expect(warned).toHaveLength(1);
    await sa.stop();
    for (const x of [a, b, dbA, dbB]) x.close();
    await store.close();
  });

  it('when ours has checksums but the file after it has none (a Litestream file, no record): by adjacency, with a warning', async () => {
    const store = makeStore('file');
    const { a, b, dbA, dbB } = await twoWriters(store, true);
    a.append(dbA.step("INSERT INTO t VALUES ('a1')"));
    const held = heldAfterPut(store);
    const { log, lines } = capture();
    const sa = new Syncer({ store: held.store, buffer: a, intervalMs: HOUR, log });
    const fa = sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    await held.landed;
    const lsKey = await litestreamFile(store, 3n, 3n, [dbA.step("INSERT INTO t VALUES ('l1')")]);
    held.release();
    const err = await fa;
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(new RegExp(`our [^ ]*${KEY2} was kept`));
    expect(await ranges(store)).toEqual(['L0:1-1', 'L0:2-2', 'L0:3-3']);
    const name = lsKey.replace(/\./g, '\\.');
    const warned = lines.filter((l) => l.level === 40 && new RegExp(`cannot tell whether a file starting at TXID 3 continues our .*${KEY2} \\(${name} has no checksums\\)`).test(l.msg));
    expect(warned).toHaveLength(1);
    await sa.stop();
    for (const x of [a, b, dbA, dbB]) x.close();
    await store.close();
  });
});

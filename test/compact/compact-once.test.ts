// compactOnce on file:// and on the run's S3 server: merged files equal the merge of
// their inputs, restores give the same bytes before and after compaction and after
// deletion, retention keeps what restores inside it need, the plan shrinks, and a
// pass interrupted anywhere is harmless when run again.
import { afterAll, describe, expect, it } from 'vitest';
import { CompactionError, compactOnce, mergeInto } from '../../src/compact/index.js';
import { HEADER_FLAG_NO_CHECKSUM, compactLtx, decodeLtx, encodeLtx } from '../../src/ltx/index.js';
import { formatLitestreamTimestamp, isReplicaError, listReplica, planRestore, readLtxHeader, readPostApplyChecksum } from '../../src/replica/index.js';
import { parseRecord } from '../../src/replica/checksum-record.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { makeStore, removeTempDirs } from '../replica/helpers.js';
import { History, PAGE, apply, buildReplica, key, keysAt, planLength, putL0, restored } from './helpers.js';

afterAll(removeTempDirs);

const MIN = 60_000;
const HOUR = 60 * MIN;
const eq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

describe.each(['file', 's3'] as const)('compactOnce on %s', (kind) => {
  it('force: L1, L2, L3 and an L9 snapshot that equal the merge of their inputs; restores unchanged', async () => {
    const h = new History();
    h.advance(39);
    const store = makeStore(kind);
    const base = Date.now() - 10 * MIN;
    const files = await buildReplica(store, h, 40, base, true);
    expect(eq(await restored(store), h.images[39])).toBe(true);
    expect(await planLength(store)).toBe(40);

    const r = await compactOnce(store, { force: true });
    expect(r.written.map((w) => [w.level, w.minTXID, w.maxTXID, w.inputs])).toEqual([
      [1, 2n, 40n, 39],
      [2, 2n, 40n, 1],
      [3, 2n, 40n, 1],
      [9, 1n, 40n, 2],
    ]);
    expect(r).toMatchObject({ latestTXID: 40n, planFilesBefore: 40, planFilesAfter: 1, deleted: [] });
    expect(r.bytesWritten).toBe(r.written.reduce((s, w) => s + w.bytes, 0));

    // L1 is exactly the k-way merge of the L0 files, with the NoChecksum flag (as Litestream's
    // compactions); every input had checksums, so the output's are recorded beside it.
    const got1 = await store.getWithMetadata(key(store, 1, 2, 40));
    const l1 = got1.bytes;
    const inputs = Array.from({ length: 39 }, (_, i) => files.get(i + 2)!);
    expect(eq(l1, (await compactLtx(inputs, { flags: HEADER_FLAG_NO_CHECKSUM })).bytes)).toBe(true);
    const d1 = decodeLtx(l1);
    expect(d1.header).toMatchObject({ minTXID: 2n, maxTXID: 40n, flags: HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: 0n, timestamp: BigInt(base + 40_000) });
    expect(d1.trailer.postApplyChecksum).toBe(0n);
    const pre2 = decodeLtx(files.get(2)!).header.preApplyChecksum;
    const post40 = decodeLtx(files.get(40)!).trailer.postApplyChecksum;
    expect(pre2).not.toBe(0n);
    expect(post40).not.toBe(0n);
    expect(parseRecord(got1.metadata)).toEqual({ pre: pre2, post: post40 });
    expect(await readLtxHeader(store, key(store, 1, 2, 40))).toMatchObject({ flags: 0, preApplyChecksum: pre2 });
    expect(await readPostApplyChecksum(store, key(store, 1, 2, 40))).toBe(post40);
    expect(eq(apply(h.images[0], l1), h.images[39])).toBe(true);
    // L2 and L3 are copies of it (record too); the snapshot is the whole database at TXID 40.
    const got3 = await store.getWithMetadata(key(store, 3, 2, 40));
    expect(eq(got3.bytes, l1)).toBe(true);
    expect(parseRecord(got3.metadata)).toEqual({ pre: pre2, post: post40 });
    const gotSnap = await store.getWithMetadata(key(store, 9, 1, 40));
    const snap = gotSnap.bytes;
    expect(eq(apply(new Uint8Array(0), snap), h.images[39])).toBe(true);
    expect(decodeLtx(snap).header).toMatchObject({ flags: HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: 0n, timestamp: BigInt(base + 40_000) });
    expect(parseRecord(gotSnap.metadata)).toEqual({ pre: 0n, post: post40 });
    if (kind === 's3') {
      const head = await store.head(key(store, 9, 1, 40));
      expect(head?.metadata['litestream-timestamp']).toBe(formatLitestreamTimestamp(base + 40_000));
    }

    // Same bytes through the new plan; older states still there (nothing deleted yet).
    expect((await planRestore(store)).files.map((f) => f.key)).toEqual([key(store, 9, 1, 40)]);
    expect(eq(await restored(store), h.images[39])).toBe(true);
    expect(eq(await restored(store, 17n), h.images[16])).toBe(true);

    // A second forced pass finds nothing to do.
    const again = await compactOnce(store, { force: true });
    expect(again.written).toEqual([]);
    expect(again.planFilesAfter).toBe(1);
    h.close();
    await store.close();
  });

  it('scheduled passes: L0 kept l0RetentionMs after L1 covers it, then deleted; restores inside retention work', async () => {
    const h = new History();
    h.advance(29);
    const store = makeStore(kind);
    const base = Date.now() - 10 * MIN;
    await buildReplica(store, h, 20, base);
    // Levels due every second, snapshots never (so the test does not depend on where the clock is in a window).
    const policy = { l0RetentionMs: 5 * MIN, l1IntervalMs: 1000, l2IntervalMs: 1000, l3IntervalMs: 1000, snapshotIntervalMs: 1e15 };

    // First pass: every level is empty, so due: L1, L2, L3 each get 2..20.
    const p1 = await compactOnce(store, { policy });
    expect(p1.written.map((w) => `${w.level}:${w.minTXID}-${w.maxTXID}:${w.reason}`)).toEqual(['1:2-20:interval', '2:2-20:interval', '3:2-20:interval']);
    expect(p1.deleted).toEqual([]);
    expect(p1.nextDeletionAt).toBe(p1.now + 5 * MIN);

    // More transactions; a few minutes on, every level is due again.
    await putL0(store, h, 21, 30, base);
    const p2 = await compactOnce(store, { policy, now: Date.now() + 4 * MIN });
    expect(p2.written.map((w) => `${w.level}:${w.minTXID}-${w.maxTXID}`)).toEqual(['1:21-30', '2:21-30', '3:21-30']);
    // 2..20 were covered under 5 minutes ago; 21..30 just now.
    expect(p2.deleted).toEqual([]);
    expect((await keysAt(store, 0)).length).toBe(29);

    // The store's clock says when each L1 file was written: both under 5 minutes ago.
    const p3 = await compactOnce(store, { policy, now: Date.now() + 4 * MIN });
    expect(p3.written).toEqual([]); // nothing new at any level
    expect(p3.deleted).toEqual([]);
    expect(p3.nextDeletionAt).not.toBeNull();

    // L0 2..29 go; the newest L0 file (30) stays whatever covers it (a Litestream primary taking over reads it).
    const p4 = await compactOnce(store, { policy, now: Date.now() + 6 * MIN });
    expect(p4.deleted.map((d) => d.maxTXID)).toEqual(Array.from({ length: 28 }, (_, i) => BigInt(i + 2)));
    expect(p4.deleted.every((d) => d.level === 0 && d.reason === 'l0-compacted')).toBe(true);
    expect(p4.planFilesAfter).toBe(3); // L9 1, L3 2..20, L3 21..30
    expect(await keysAt(store, 0)).toEqual([key(store, 0, 30, 30)]);
    expect(await planLength(store)).toBe(3);

    // Every state at a compaction boundary is still restorable, byte for byte.
    expect(eq(await restored(store), h.images[29])).toBe(true);
    expect(eq(await restored(store, 20n), h.images[19])).toBe(true);
    expect(eq(await restored(store, 1n), h.images[0])).toBe(true);
    // States inside one compacted file are gone with their L0 files.
    await expect(restored(store, 25n)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_TARGET'));
    h.close();
    await store.close();
  });

  it('a plan longer than maxPlanFiles: lower levels compact ahead of schedule, then a snapshot', async () => {
    const h = new History();
    h.advance(44);
    const store = makeStore(kind);
    const base = Date.now() - 10 * MIN;
    await buildReplica(store, h, 10, base);
    const policy = { maxPlanFiles: 4, l1IntervalMs: 1e15, l2IntervalMs: 1e15, l3IntervalMs: 1e15, snapshotIntervalMs: 1e15 }; // never due once written
    await compactOnce(store, { policy }); // empty levels are due: L1, L2, L3 = 2..10
    expect(await planLength(store)).toBe(2);

    // 10 more L0 files: the plan is 12 long; L1 alone brings it back under 4.
    await putL0(store, h, 11, 20, base);
    const a = await compactOnce(store, { policy });
    expect(a.planFilesBefore).toBe(12);
    expect(a.written.map((w) => `${w.level}:${w.minTXID}-${w.maxTXID}:${w.reason}`)).toEqual(['1:11-20:plan']);
    expect(a.planFilesAfter).toBe(3);

    // Again: L1 gives L9 + L3 + L1 + L1 = 4 files: enough.
    await putL0(store, h, 21, 25, base);
    const b = await compactOnce(store, { policy });
    expect(b.written.map((w) => `${w.level}:${w.reason}`)).toEqual(['1:plan']);
    expect(b.planFilesAfter).toBe(4);

    // With a limit of 1 nothing but a snapshot will do; every level is compacted to TXID 45 first.
    await putL0(store, h, 26, 45, base);
    const c = await compactOnce(store, { policy: { ...policy, maxPlanFiles: 1 } });
    expect(c.written.map((w) => `${w.level}:${w.minTXID}-${w.maxTXID}:${w.reason}`)).toEqual(['1:26-45:plan', '2:11-45:plan', '3:11-45:plan', '9:1-45:snapshot']);
    expect(c.planFilesAfter).toBe(1);
    expect(eq(await restored(store), h.images[44])).toBe(true);
    expect(eq(await restored(store, 25n), h.images[24])).toBe(true);
    h.close();
    await store.close();
  });

  it('retention: snapshots and files older than the newest snapshot past retention go; later states stay restorable', async () => {
    const h = new History();
    h.advance(24);
    const store = makeStore(kind);
    const base = Date.now() - 10 * MIN;
    await buildReplica(store, h, 15, base);
    await compactOnce(store, { force: true }); // L1-3 2..15, L9 1..15
    await putL0(store, h, 16, 25, base);
    // A day on: levels and the daily snapshot are due (L1-3 16..25, L9 1..25); the snapshot
    // at 15 is now the base, so L9 1..1 and the files ending at or before 15 go.
    const r = await compactOnce(store, { now: Date.now() + 25 * HOUR });
    expect(r.written.map((w) => `${w.level}:${w.minTXID}-${w.maxTXID}`)).toEqual(['1:16-25', '2:16-25', '3:16-25', '9:1-25']);
    const deleted = r.deleted.map((d) => `${d.level}:${d.minTXID}-${d.maxTXID}:${d.reason}`).sort();
    const l0 = Array.from({ length: 14 }, (_, i) => `0:${i + 2}-${i + 2}:l0-compacted`);
    expect(deleted).toEqual([...l0, '1:2-15:retention', '2:2-15:retention', '3:2-15:retention', '9:1-1:retention'].sort());
    expect(r.nextDeletionAt).toBe(r.now + 5 * MIN); // L0 16..25, covered just now
    expect(eq(await restored(store), h.images[24])).toBe(true);
    expect(eq(await restored(store, 15n), h.images[14])).toBe(true);
    expect(eq(await restored(store, 20n), h.images[19])).toBe(true); // L0 still there
    await expect(restored(store, 10n)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_TARGET'));

    // Retention 0: only what the latest plan needs is left, and the newest L0 file (a Litestream
    // primary taking over reads its position from it), although the snapshot covers it.
    const z = await compactOnce(store, { policy: { retentionMs: 0, l0RetentionMs: 0 }, now: Date.now() + 26 * HOUR });
    expect(z.written).toEqual([]);
    expect((await listReplica(store)).map((f) => f.key)).toEqual([key(store, 0, 25, 25), key(store, 9, 1, 25)]);
    expect(eq(await restored(store), h.images[24])).toBe(true);
    h.close();
    await store.close();
  });

  it('dry run decides what a real pass does and changes nothing', async () => {
    const h = new History();
    h.advance(11);
    const store = makeStore(kind);
    await buildReplica(store, h, 12, Date.now() - 10 * MIN);
    const before = (await listReplica(store)).map((f) => f.key);
    const dry = await compactOnce(store, { force: true, dryRun: true });
    expect(dry.written.map((w) => w.key)).toEqual([key(store, 1, 2, 12), key(store, 2, 2, 12), key(store, 3, 2, 12), key(store, 9, 1, 12)]);
    expect(dry.bytesRead).toBe(0);
    expect(dry.planFilesAfter).toBe(1);
    expect((await listReplica(store)).map((f) => f.key)).toEqual(before);
    const real = await compactOnce(store, { force: true });
    expect(real.written.map((w) => w.key)).toEqual(dry.written.map((w) => w.key));
    h.close();
    await store.close();
  });

  it('a pass that crashed after its PUTs is harmless: the next pass continues, an existing output is checked', async () => {
    const h = new History();
    h.advance(21);
    const store = makeStore(kind);
    await buildReplica(store, h, 20, Date.now() - 10 * MIN);
    const l0 = (await listReplica(store, [0])).sort((a, b) => Number(a.minTXID - b.minTXID));
    // The crashed pass wrote L1 2..20 and died before anything else.
    const first = await mergeInto(store, 1, l0);
    expect(first.existed).toBe(false);
    // Writing it again (a racing or repeated pass) finds the same range there.
    const again = await mergeInto(store, 1, l0);
    expect(again).toMatchObject({ existed: true, minTXID: 2n, maxTXID: 20n, bytes: first.bytes });
    // The next pass carries on from L1; nothing is written twice; restores are unchanged.
    const r = await compactOnce(store, { force: true });
    expect(r.written.map((w) => w.key)).toEqual([key(store, 2, 2, 20), key(store, 3, 2, 20), key(store, 9, 1, 20)]);
    expect(eq(await restored(store), h.images[19])).toBe(true);
    // Run twice more (a crash after the snapshot's PUT, before deletions): still nothing new.
    expect((await compactOnce(store, { force: true })).written).toEqual([]);
    // L0 2..19, covered an hour ago; the newest L0 file (20) stays.
    const later = await compactOnce(store, { now: Date.now() + HOUR });
    expect(later.deleted.map((d) => d.key)).toEqual(Array.from({ length: 18 }, (_, i) => key(store, 0, i + 2, i + 2)));
    expect(await keysAt(store, 0)).toEqual([key(store, 0, 20, 20)]);
    expect(eq(await restored(store), h.images[19])).toBe(true);

    // An output key that exists with a different range in its header is refused, not overwritten.
    const l0b = await putL0(store, h, 21, 22, Date.now() - MIN);
    const bogus = encodeLtx({ pageSize: PAGE, commit: 1, minTXID: 7n, maxTXID: 7n, flags: HEADER_FLAG_NO_CHECKSUM }, [{ pgno: 1, data: h.images[0].subarray(0, PAGE) }]);
    await store.put(key(store, 1, 21, 22), bogus.bytes);
    expect(l0b.size).toBe(2);
    const err = await mergeInto(store, 1, (await listReplica(store, [0])).filter((f) => f.minTXID >= 21n)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactionError);
    expect((err as Error).message).toMatch(/already exists with TXIDs 7\.\.7.*expected 21\.\.22/);
    h.close();
    await store.close();
  });
});

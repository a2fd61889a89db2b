// Orphans: a fenced writer's L0 file that overlaps the winner's history and that no
// later file continues. Selection (pure, from chain checksums), then compactOnce on
// file:// and S3: the orphan is deleted and reported before anything is merged;
// overlaps nobody can decide yet stay, and L1 and snapshots stop before them.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compactOnce, filesToRead, overlapping, selectOrphans, type ChainSums } from '../../src/compact/index.js';
import { listReplica, restore, type LtxFileInfo } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { makeStore, putLtx, removeTempDirs, tempDir } from '../replica/helpers.js';
import { History, buildReplica, keysAt, putL0, restored, spanLtx } from './helpers.js';

afterAll(removeTempDirs);

const MIN = 60_000;
const eq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

const file = (level: number, min: number, max: number): LtxFileInfo => ({
  level,
  minTXID: BigInt(min),
  maxTXID: BigInt(max),
  key: `L${level}/${min}-${max}`,
  size: 100,
  lastModified: new Date(0),
});
const keys = (fs: readonly LtxFileInfo[]) => fs.map((f) => f.key).sort();

describe('orphan selection (pure)', () => {
  // The winner B: 2, 3, 4, 5 one file each; the paused A: 2-4 from the same state at 1.
  const b2 = file(0, 2, 2);
  const b3 = file(0, 3, 3);
  const b4 = file(0, 4, 4);
  const b5 = file(0, 5, 5);
  const a = file(0, 2, 4);
  const files = [file(9, 1, 1), b2, b3, b4, b5, a];
  const chain = (): Map<string, ChainSums> =>
    new Map([
      [b2.key, { pre: 1n, post: 2n }],
      [b3.key, { pre: 2n, post: 3n }],
      [b4.key, { pre: 3n, post: 4n }],
      [b5.key, { pre: 4n, post: 5n }],
      [a.key, { pre: 1n, post: 40n }],
    ]);

  it('overlapping: the L0 files whose ranges overlap another L0 file, nothing else', () => {
    expect(keys(overlapping(files))).toEqual(keys([b2, b3, b4, a]));
    expect(overlapping([b2, b3, b4, b5, file(1, 2, 5)])).toEqual([]); // other levels do not count
  });

  it('reads: the trailers of the candidates with a successor and of the files ending with them, the headers of the successors', () => {
    const wanted = new Map(filesToRead(files, overlapping(files)).map((w) => [w.key, w.trailer]));
    expect(wanted.get(a.key)).toBe(true);
    expect(wanted.get(b4.key)).toBe(true); // ends where A ends
    expect(wanted.get(b5.key)).toBe(false); // A's successor: its header only
    expect(filesToRead([b2, a], overlapping([b2, a]))).toEqual([]); // nothing starts at 3 or 5: nothing to read
  });

  it('a file whose successor continues another file ending where it ends is an orphan', () => {
    expect(selectOrphans(files, overlapping(files), chain())).toEqual([a]);
  });

  it('not an orphan: a successor continues it, the evidence lacks checksums, or nothing starts after it', () => {
    // 5 continues A, not B's 4: then B's 4 is the one nobody continues.
    const linked = chain();
    linked.set(b5.key, { pre: 40n, post: 5n });
    expect(selectOrphans(files, overlapping(files), linked)).toEqual([b4]);
    const noSums = chain();
    noSums.set(b5.key, { pre: null, post: null });
    expect(selectOrphans(files, overlapping(files), noSums)).toEqual([]);
    const oursNone = chain();
    oursNone.set(a.key, { pre: null, post: null });
    expect(selectOrphans(files, overlapping(files), oursNone)).toEqual([]);
    const unread = chain();
    unread.delete(b4.key); // the other end unknown: no positive evidence
    expect(selectOrphans(files, overlapping(files), unread)).toEqual([]);
    const short = files.filter((f) => f !== b5);
    expect(selectOrphans(short, overlapping(short), chain())).toEqual([]);
    // Two successors, one of them continuing A (a writer built on it): kept.
    const c5 = file(1, 5, 6);
    const both = chain();
    both.set(c5.key, { pre: 40n, post: 6n });
    expect(selectOrphans([...files, c5], overlapping([...files, c5]), both)).toEqual([]);
  });
});

/** B's history (the winner) to TXID `to` as L9 1-1 + L0 files, and A's (the paused writer) 2..aMax as one L0 file. */
async function split(kind: 'file' | 's3', to: number, aMax: number, checksums = true) {
  const h = new History();
  h.advance(9);
  const hA = new History(tempDir('compact-a'), 'a');
  hA.advance(aMax);
  expect(eq(h.images[0], hA.images[0])).toBe(true); // one state at TXID 1
  const store = makeStore(kind);
  const base = Date.now() - 10 * MIN;
  await buildReplica(store, h, to, base, checksums);
  const orphan = await putLtx(store, 0, 2n, BigInt(aMax), spanLtx(hA.images[0], hA.images[aMax - 1], 2, aMax, base + 500_000, checksums), base + 500_000);
  hA.close();
  return { h, store, orphan, base };
}

async function restoreChecked(store: ObjectStore): Promise<boolean> {
  const out = path.join(tempDir('orphan-restore'), 'out.db');
  return (await restore(store, {}, out)).checksumVerified;
}

describe.each(['file', 's3'] as const)('compactOnce and orphans (%s)', (kind) => {
  it('deletes an orphan before compacting: reported with reason orphan, never merged; restores give the winner’s state', async () => {
    const { h, store, orphan } = await split(kind, 6, 4);
    const r = await compactOnce(store, { force: true });
    expect(r.deleted.map((d) => [d.key, d.reason])).toEqual([[orphan, 'orphan']]);
    expect(r.deleted[0]).toMatchObject({ level: 0, minTXID: 2n, maxTXID: 4n });
    expect(r.bytesDeleted).toBe(r.deleted[0].bytes);
    // L1 merges B's five files, not A's.
    expect(r.written.map((w) => [w.level, w.minTXID, w.maxTXID, w.inputs])).toEqual([
      [1, 2n, 6n, 5],
      [2, 2n, 6n, 1],
      [3, 2n, 6n, 1],
      [9, 1n, 6n, 2],
    ]);
    expect(await keysAt(store, 0)).not.toContain(orphan);
    expect(eq(await restored(store), h.images[5])).toBe(true);
    expect(await restoreChecked(store)).toBe(true);
    h.close();
    await store.close();
  });

  it('a dry run reports the orphan, deletes nothing, and plans without it', async () => {
    const { h, store, orphan } = await split(kind, 6, 4);
    const before = (await listReplica(store)).map((f) => f.key).sort();
    const r = await compactOnce(store, { force: true, dryRun: true });
    expect(r.deleted.map((d) => [d.key, d.reason])).toEqual([[orphan, 'orphan']]);
    expect(r.written[0]).toMatchObject({ level: 1, minTXID: 2n, maxTXID: 6n, inputs: 5 });
    expect((await listReplica(store)).map((f) => f.key).sort()).toEqual(before);
    h.close();
    await store.close();
  });

  it('an overlap nothing decides yet stays; L1 and the snapshot stop before it; once the winner goes on, the next pass removes it', async () => {
    const { h, store, orphan, base } = await split(kind, 4, 4);
    const r = await compactOnce(store, { force: true });
    expect(r.deleted).toEqual([]);
    expect(r.written).toEqual([]);
    expect(r.warnings.some((w) => w.includes('no later file tells yet') && w.includes(orphan))).toBe(true);
    expect(r.warnings.some((w) => /L1 stops before TXID 2: L0 files overlap there/.test(w))).toBe(true);
    expect(r.warnings.some((w) => w.includes(`no snapshot this pass: the latest plan uses ${orphan}`))).toBe(true);
    expect(await keysAt(store, 0)).toContain(orphan);
    // B writes TXID 5: its pre-apply checksum is B's state at 4, not A's.
    await putL0(store, h, 5, 5, base, true);
    const r2 = await compactOnce(store, { force: true });
    expect(r2.deleted.map((d) => [d.key, d.reason])).toEqual([[orphan, 'orphan']]);
    expect(r2.written[0]).toMatchObject({ level: 1, minTXID: 2n, maxTXID: 5n, inputs: 4 });
    expect(eq(await restored(store), h.images[4])).toBe(true);
    h.close();
    await store.close();
  });

  it('without checksums an overlap cannot be decided: nothing deleted, L1 stops before it', async () => {
    const { h, store, orphan } = await split(kind, 6, 4, false);
    const r = await compactOnce(store, { force: true });
    expect(r.deleted).toEqual([]);
    expect(r.written.filter((w) => w.level === 1)).toEqual([]);
    expect(r.warnings.some((w) => w.includes(orphan))).toBe(true);
    expect(await keysAt(store, 0)).toContain(orphan);
    h.close();
    await store.close();
  });
});

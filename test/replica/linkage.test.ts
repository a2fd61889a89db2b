// Checksum linkage (issue 12): a file whose pre-apply checksum does not continue the
// state before it (a fenced writer's leftover, a file of another database) is never
// applied, planned or followed, although its TXIDs fit. The leftover here is what a
// paused writer A uploads after B took over: TXIDs 5..6 built on TXID 4, beside B's
// 5, 6 and 7. A's file makes the shortest chain (snapshot, A, B's 7) and reaches as
// far as B's: choosePlan and continueChain alone take it, and would serve a mix.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseChecksum } from '../../src/ltx/index.js';
import { buildPageIndex, choosePlan, LinkError, listReplica, planLinked, planRestoreLinked, restore, ReplicaFollower, type LtxFileInfo } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { diffLtx, history, makeStore, putLtx, removeTempDirs, snapshotLtx, tempDir, type StoreKind } from './helpers.js';

const PAGE = 4096;
afterAll(removeTempDirs);

/** One file covering TXIDs min..max: the pages that differ from `prev` to `next`, with both checksums. */
const rangeLtx = (prev: Uint8Array, next: Uint8Array, min: bigint, max: bigint) => diffLtx(prev, next, PAGE, max, { minTXID: min });

let images: Uint8Array[]; // images[k] is the state at TXID k + 1
let foreign: Uint8Array; // A's state at TXID 6: never committed by the winner

beforeAll(() => {
  images = history(tempDir('link-b'), PAGE, 8);
  foreign = history(tempDir('link-a'), PAGE, 5)[4];
});

/** Snapshot 1..4, B's L0 files 5, 6, 7, and A's leftover 5..6. */
async function poisoned(kind: StoreKind): Promise<{ store: ObjectStore; leftover: string }> {
  const store = makeStore(kind);
  await putLtx(store, 9, 1n, 4n, snapshotLtx(images[3], PAGE, { maxTXID: 4n }).bytes);
  for (const t of [5, 6, 7]) await putLtx(store, 0, BigInt(t), BigInt(t), diffLtx(images[t - 2], images[t - 1], PAGE, BigInt(t)).bytes);
  const leftover = await putLtx(store, 0, 5n, 6n, rangeLtx(images[3], foreign, 5n, 6n).bytes);
  return { store, leftover };
}

describe.each(['file', 's3'] as const)('checksum linkage (%s)', (kind) => {
  it('the shortest plan goes through the leftover; its index is refused with a LinkError naming both files', async () => {
    const { store, leftover } = await poisoned(kind);
    const plan = choosePlan(store.url, await listReplica(store));
    expect(plan.files.map((f) => f.key)).toContain(leftover);
    const err = await buildPageIndex(store, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LinkError);
    expect((err as LinkError).prevKey).toBe(leftover);
    expect((err as LinkError).message).toMatch(/does not continue/);
  });

  it('planLinked takes the chain whose checksums link: the winner\'s three files, the state B committed', async () => {
    const { store, leftover } = await poisoned(kind);
    const refused: string[] = [];
    const { plan, index } = await planLinked(store, await listReplica(store), undefined, { onRefused: (e) => refused.push(e.prevKey) });
    expect(refused).toEqual([leftover]);
    expect(plan.files.map((f) => f.key)).not.toContain(leftover);
    expect(plan.files).toHaveLength(4);
    expect(index.txid).toBe(7n);
    expect(index.checksum).toBe(databaseChecksum(images[6], PAGE));
  });

  it('restore builds the winner\'s database and its checksum check passes', async () => {
    const { store } = await poisoned(kind);
    const out = path.join(tempDir('link-restore'), 'out.db');
    const r = await restore(store, {}, out);
    expect(r.txid).toBe(7n);
    expect(Buffer.compare(readFileSync(out), images[6])).toBe(0);
  });

  it('a follower at TXID 4 refuses the chain through the leftover and follows the winner\'s files', async () => {
    const { store, leftover } = await poisoned(kind);
    const { plan, index } = await planRestoreLinked(store, { txid: 4n });
    const follower = new ReplicaFollower(store, { txid: 4n, checksum: index.checksum, anchor: plan.files[plan.files.length - 1], pageSize: PAGE });
    const update = await follower.poll();
    expect(update?.kind).toBe('files');
    if (update?.kind !== 'files') return;
    expect(update.files.map((f) => f.info.key)).not.toContain(leftover);
    expect(update.files.map((f) => Number(f.info.maxTXID))).toEqual([5, 6, 7]);
    expect(update.txid).toBe(7n);
  });

  it('PageIndex.apply refuses a file that does not continue its checksum, and changes nothing', async () => {
    const { store, leftover } = await poisoned(kind);
    const { index } = await planRestoreLinked(store, { txid: 4n });
    const stranger = rangeLtx(foreign, images[4], 5n, 5n); // TXID 5, built on a state that is not TXID 4's
    const before = { txid: index.txid, checksum: index.checksum, loc: index.lookup(1) };
    expect(() => index.apply('stranger', stranger.header, stranger.index, stranger.postApplyChecksum)).toThrow(LinkError);
    expect({ txid: index.txid, checksum: index.checksum, loc: index.lookup(1) }).toEqual(before);
    // The winner's file links and moves the checksum on.
    const b5 = diffLtx(images[3], images[4], PAGE, 5n);
    index.apply('b5', b5.header, b5.index, b5.postApplyChecksum);
    expect(index.checksum).toBe(databaseChecksum(images[4], PAGE));
    expect(leftover).toBeTruthy();
  });

  it('files without checksums (Litestream writes NoChecksum) still link to anything', async () => {
    const store = makeStore(kind);
    await putLtx(store, 9, 1n, 4n, snapshotLtx(images[3], PAGE, { maxTXID: 4n, checksums: false }).bytes);
    await putLtx(store, 0, 5n, 5n, diffLtx(images[3], images[4], PAGE, 5n, { checksums: false }).bytes);
    const files: LtxFileInfo[] = await listReplica(store);
    const { index } = await planLinked(store, files);
    expect(index.txid).toBe(5n);
    expect(index.checksum).toBeNull();
  });
});

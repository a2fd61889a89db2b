// The replica follower on file:// and the run's S3 server: new L0 files become a
// 'files' update whose pages, overlaid on the reader's state, give the new state
// byte for byte; an idle poll is one LIST; L0 files compacted away are bridged by
// L1..L3 (including a file straddling our TXID); no chain at all gives a 'reset' to
// a newer snapshot; a misnamed file or a page size change is a clear error.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/engine/index.js';
import { compactLtx, databaseChecksum, decodePageFrame, encodeLtx, HEADER_FLAG_NO_CHECKSUM } from '../../src/ltx/index.js';
import { ReplicaFollower, type FollowUpdate } from '../../src/replica/follower.js';
import { buildPageIndex, isReplicaError, layoutFor, planRestore, restore, TAIL_BYTES, type ReplicaPageIndex } from '../../src/replica/index.js';
import type { ListOptions, ObjectStore } from '../../src/storage/object-store.js';
import { diffLtx, history, makeStore, putLtx, removeTempDirs, snapshotLtx, tempDir, type StoreKind } from './helpers.js';

afterAll(removeTempDirs);

const PAGE = 4096;
const T0 = Date.UTC(2026, 5, 1);
const stamp = (t: number) => T0 + t * 1000;

/** The real store, recording the prefix and start key of every listing (to check positions). */
function recording(inner: ObjectStore): ObjectStore & { lists: { prefix: string; startAfter?: string }[] } {
  const lists: { prefix: string; startAfter?: string }[] = [];
  return {
    lists,
    url: inner.url,
    listPage: (prefix, o) => inner.listPage(prefix, o),
    list(prefix: string, o?: ListOptions) {
      lists.push({ prefix, startAfter: o?.startAfter });
      return inner.list(prefix, o);
    },
    get: (k, o) => inner.get(k, o),
    getWithMetadata: (k, o) => inner.getWithMetadata(k, o),
    head: (k) => inner.head(k),
    put: (k, b, o) => inner.put(k, b, o),
    putIfAbsent: (k, b, o) => inner.putIfAbsent(k, b, o),
    deleteMany: (k) => inner.deleteMany(k),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

interface Replica {
  store: ReturnType<typeof recording>;
  images: Uint8Array[]; // images[t-1]: the database after TXID t
  ltx: Uint8Array[]; // ltx[t-1]: the L0 file of TXID t (the snapshot for t = 1)
  dir: string;
}

/** A history of `steps` transactions: TXID 1 as an L9 snapshot, the rest written to L0 only up to `l0Upto`. */
async function replica(kind: StoreKind, steps: number, l0Upto = steps): Promise<Replica> {
  const dir = tempDir('follow');
  const images = history(dir, PAGE, steps);
  const store = recording(makeStore(kind));
  const ltx = [snapshotLtx(images[0], PAGE, { timestamp: stamp(1) }).bytes];
  for (let t = 2; t <= steps; t++) ltx.push(diffLtx(images[t - 2], images[t - 1], PAGE, BigInt(t), { timestamp: stamp(t) }).bytes);
  await putLtx(store, 9, 1n, 1n, ltx[0]);
  for (let t = 2; t <= l0Upto; t++) await putLtx(store, 0, BigInt(t), BigInt(t), ltx[t - 1]);
  return { store, images, ltx, dir };
}

/** One more transaction of incompressible data (its L0 file is well over 32 KiB), made on the history's own file. */
function growHistory(r: Replica): void {
  const file = path.join(r.dir, 'history.db');
  const db = new Database(file);
  db.run('INSERT INTO t(v) VALUES (?)', [randomBytes(60_000).toString('base64')]);
  db.close();
  const image = new Uint8Array(readFileSync(file));
  const t = r.images.length + 1;
  r.ltx.push(diffLtx(r.images[t - 2], image, PAGE, BigInt(t), { timestamp: stamp(t) }).bytes);
  r.images.push(image);
}

const putL0 = (r: Replica, from: number, to: number) => Promise.all(range(from, to).map((t) => putLtx(r.store, 0, BigInt(t), BigInt(t), r.ltx[t - 1])));
const dropL0 = (r: Replica, from: number, to: number) => r.store.deleteMany(range(from, to).map((t) => layoutFor(r.store).fileKey(0, BigInt(t), BigInt(t))));
/** Compact the L0 files of TXIDs from..to into one file at `level`. */
async function compactTo(r: Replica, level: number, from: number, to: number): Promise<void> {
  const out = await compactLtx(r.ltx.slice(from - 1, to));
  await putLtx(r.store, level, BigInt(from), BigInt(to), out.bytes);
}
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

type PageMap = Map<number, Uint8Array>;

/** The reader's pages at a TXID, read through the page index of the plan for it. */
async function pagesOf(store: ObjectStore, index: ReplicaPageIndex): Promise<PageMap> {
  const pages: PageMap = new Map();
  for (let pgno = 1; pgno <= index.commit; pgno++) {
    const loc = index.lookup(pgno);
    if (!loc) continue;
    pages.set(pgno, decodePageFrame(await store.get(loc.key, { range: { offset: loc.offset, length: loc.size } }), index.pageSize, pgno).data);
  }
  return pages;
}

async function pagesAt(store: ObjectStore, txid: bigint): Promise<{ pages: PageMap; commit: number }> {
  const index = await buildPageIndex(store, await planRestore(store, { txid }));
  return { pages: await pagesOf(store, index), commit: index.commit };
}

/** Overlay an update's files in order, as the VFS will: each file's frames, then its commit. */
async function apply(store: ObjectStore, state: { pages: PageMap; commit: number }, update: FollowUpdate): Promise<void> {
  if (update.kind === 'reset') {
    const fresh = await pagesOf(store, update.index);
    state.pages = fresh;
    state.commit = update.index.commit;
    return;
  }
  for (const f of update.files) {
    const bytes = f.bytes ?? (await store.get(f.info.key));
    for (const e of f.entries) state.pages.set(e.pgno, decodePageFrame(bytes.subarray(e.offset, e.offset + e.size), f.header.pageSize, e.pgno).data);
    state.commit = f.header.commit;
    for (const pgno of state.pages.keys()) if (pgno > state.commit) state.pages.delete(pgno);
  }
}

function imageOf(state: { pages: PageMap; commit: number }): Uint8Array {
  const out = new Uint8Array(state.commit * PAGE);
  for (const [pgno, data] of state.pages) out.set(data, (pgno - 1) * PAGE);
  return out;
}

/** Requests one poll costs. */
async function polled(r: Replica, follower: ReplicaFollower): Promise<{ update: FollowUpdate | null; lists: number; gets: number }> {
  const before = r.store.stats();
  const update = await follower.poll();
  const after = r.store.stats();
  return { update, lists: after.list.requests - before.list.requests, gets: after.get.requests - before.get.requests };
}

const keysOf = (u: FollowUpdate | null) => (u?.kind === 'files' ? u.files.map((f) => `${f.info.level}:${f.info.minTXID}-${f.info.maxTXID}`) : []);

describe.each(['file', 's3'] as const)('ReplicaFollower on %s', (kind) => {
  it('new L0 files become one update that gives the new state; an idle poll is one LIST from our position', async () => {
    const r = await replica(kind, 10, 4);
    growHistory(r); // TXID 11
    const state = await pagesAt(r.store, 4n);
    const follower = new ReplicaFollower(r.store, { txid: 4n, timestampMs: stamp(4), pageSize: PAGE });
    const l0 = layoutFor(r.store).levelPrefix(0);

    let p = await polled(r, follower);
    expect(p).toEqual({ update: null, lists: 1, gets: 0 });
    expect(r.store.lists.at(-1)).toEqual({ prefix: l0, startAfter: `${l0}0000000000000003.` }); // brings back our own file, the anchor

    await putL0(r, 5, 11);
    p = await polled(r, follower);
    expect(p.lists).toBe(1);
    expect(keysOf(p.update)).toEqual(range(5, 11).map((t) => `0:${t}-${t}`));
    expect(p.update).toMatchObject({ kind: 'files', txid: 11n });
    expect(follower.txid).toBe(11n);
    expect(follower.newestTimestampMs).toBe(stamp(11));
    const files = p.update!.kind === 'files' ? p.update!.files : [];
    for (const f of files) {
      expect(f.header.minTXID).toBe(f.info.minTXID);
      expect(f.entries.length).toBeGreaterThan(0);
      // Small files come whole (one GET, header included); larger ones as tail + header.
      expect(f.bytes !== undefined).toBe(f.info.size <= TAIL_BYTES);
    }
    const large = files.filter((f) => f.info.size > TAIL_BYTES).length;
    expect(large).toBeGreaterThan(0);
    expect(large).toBeLessThan(files.length);
    expect(p.gets).toBe(files.length + large);

    await apply(r.store, state, p.update!);
    const img = imageOf(state);
    expect(Buffer.compare(img, r.images[10])).toBe(0);
    const out = path.join(r.dir, 'restored.db');
    await restore(r.store, {}, out);
    expect(Buffer.compare(readFileSync(out), img)).toBe(0);

    // Idle again: one LIST, starting after TXID 10's keys.
    p = await polled(r, follower);
    expect(p).toEqual({ update: null, lists: 1, gets: 0 });
    expect(r.store.lists.at(-1)).toEqual({ prefix: l0, startAfter: `${l0}000000000000000a.` });
    await r.store.close();
  });

  it('overlapping polls run one after the other: each transaction is returned once', async () => {
    const r = await replica(kind, 6, 3);
    const follower = new ReplicaFollower(r.store, { txid: 3n });
    await putL0(r, 4, 6);
    const [a, b] = await Promise.all([follower.poll(), follower.poll()]);
    expect(keysOf(a)).toEqual(['0:4-4', '0:5-5', '0:6-6']);
    expect(b).toBeNull();
    expect(follower.txid).toBe(6n);
    await r.store.close();
  });

  it('a reader whose L0 files were compacted away catches up through an L1 file straddling its TXID, then L0', async () => {
    const r = await replica(kind, 9);
    const state = await pagesAt(r.store, 3n);
    // The reader had TXID 1's state (its snapshot): the L1 file straddling TXID 3 is checked against it.
    const follower = new ReplicaFollower(r.store, { txid: 3n, pageSize: PAGE, history: [[1n, databaseChecksum(r.images[0], PAGE)]] });
    await compactTo(r, 1, 2, 6);
    await dropL0(r, 2, 6);
    const p = await polled(r, follower);
    expect(p.lists).toBe(7); // L0 (gap after 3), L1, then every level for a file ending at 3 (none: the chain proves itself)
    expect(keysOf(p.update)).toEqual(['1:2-6', '0:7-7', '0:8-8', '0:9-9']);
    await apply(r.store, state, p.update!);
    expect(Buffer.compare(imageOf(state), r.images[8])).toBe(0);
    expect(follower.txid).toBe(9n);
    await r.store.close();
  });

  it('chains L3, L2, L1 and L0 when each level holds part of what the reader missed', async () => {
    const r = await replica(kind, 12);
    const state = await pagesAt(r.store, 3n);
    const follower = new ReplicaFollower(r.store, { txid: 3n, history: [[1n, databaseChecksum(r.images[0], PAGE)]] });
    await compactTo(r, 3, 2, 6);
    await compactTo(r, 2, 7, 9);
    await compactTo(r, 1, 10, 11);
    await dropL0(r, 2, 11);
    const p = await polled(r, follower);
    expect(p.lists).toBe(7); // L0, L1, then the whole replica (no file ends at 3); its listings serve the chain
    expect(r.store.lists.slice(-7, -5).map((l) => l.prefix)).toEqual([0, 1].map((l) => layoutFor(r.store).levelPrefix(l)));
    expect(keysOf(p.update)).toEqual(['3:2-6', '2:7-9', '1:10-11', '0:12-12']);
    expect(p.update!.kind === 'files' && p.update!.files[0].info.minTXID).toBe(2n); // overlaps TXIDs 2..3 we already have
    await apply(r.store, state, p.update!);
    expect(Buffer.compare(imageOf(state), r.images[11])).toBe(0);
    await r.store.close();
  });

  it('an idle writer whose new L0 files were pruned after compaction: found in L1 (two LISTs), then L1 is listed from its position', async () => {
    const r = await replica(kind, 8, 4);
    const state = await pagesAt(r.store, 4n);
    const follower = new ReplicaFollower(r.store, { txid: 4n });
    expect((await polled(r, follower)).lists).toBe(1); // the anchor (L0 4) is there: nothing new, for sure
    await putL0(r, 5, 8);
    await compactTo(r, 1, 2, 4);
    await compactTo(r, 1, 5, 8);
    await dropL0(r, 2, 8);
    let p = await polled(r, follower);
    expect(p.lists).toBe(2); // L0 is empty after us and our anchor is gone: L1 decides
    expect(keysOf(p.update)).toEqual(['1:5-8']);
    await apply(r.store, state, p.update!);
    expect(Buffer.compare(imageOf(state), r.images[7])).toBe(0);

    p = await polled(r, follower);
    expect(p).toEqual({ update: null, lists: 2, gets: 0 });
    const l1 = layoutFor(r.store).levelPrefix(1);
    // L1 from the anchor (the file we applied last) on: it must still be there, unchanged.
    expect(r.store.lists.at(-1)).toEqual({ prefix: l1, startAfter: `${l1}0000000000000004.` });
    await r.store.close();
  });

  it('no chain from our TXID at any level, but a newer snapshot: a reset to the latest plan and index', async () => {
    const r = await replica(kind, 10, 4);
    const follower = new ReplicaFollower(r.store, { txid: 3n, pageSize: PAGE });
    // A snapshot at 8, then L0 9 and 10; L0 4 (and the TXIDs up to 8) gone from every level.
    await putLtx(r.store, 9, 1n, 8n, snapshotLtx(r.images[7], PAGE, { maxTXID: 8n, timestamp: stamp(8) }).bytes);
    await putL0(r, 9, 10);
    await dropL0(r, 2, 4);
    const p = await polled(r, follower);
    expect(p.update?.kind).toBe('reset');
    if (p.update?.kind !== 'reset') throw new Error('unreachable');
    expect(p.update.plan.txid).toBe(10n);
    expect(p.update.plan.files.map((f) => `${f.level}:${f.minTXID}-${f.maxTXID}`)).toEqual(['9:1-8', '0:9-9', '0:10-10']);
    expect(p.update.index.txid).toBe(10n);
    const state = { pages: new Map(), commit: 0 };
    await apply(r.store, state, p.update);
    expect(Buffer.compare(imageOf(state), r.images[9])).toBe(0);
    expect(follower.txid).toBe(10n);
    expect(follower.newestTimestampMs).toBe(stamp(10));
    expect(await polled(r, follower)).toEqual({ update: null, lists: 1, gets: 0 });
    await r.store.close();
  });

  it('without a state to check it against, a file straddling our TXID is not overlaid: the reader reloads (reason expired)', async () => {
    const r = await replica(kind, 9);
    const follower = new ReplicaFollower(r.store, { txid: 3n, pageSize: PAGE });
    await compactTo(r, 1, 2, 6);
    await dropL0(r, 2, 6);
    const p = await polled(r, follower);
    expect(p.update?.kind).toBe('reset');
    if (p.update?.kind !== 'reset') throw new Error('unreachable');
    expect(p.update.reason).toBe('expired');
    const state = { pages: new Map(), commit: 0 };
    await apply(r.store, state, p.update);
    expect(Buffer.compare(imageOf(state), r.images[8])).toBe(0);
    await r.store.close();
  });

  it('a replica replaced by another database whose TXIDs pass ours: the rewritten anchor is noticed, the new database served whole, never overlaid', async () => {
    const r = await replica(kind, 6);
    const follower = new ReplicaFollower(r.store, { txid: 4n, pageSize: PAGE, checksum: databaseChecksum(r.images[3], PAGE) });
    expect((await polled(r, follower)).update?.kind).toBe('files'); // 5, 6
    expect(follower.txid).toBe(6n);
    // Replaced: every file deleted, another history (same page size) written from TXID 1 to 8.
    await r.store.deleteMany((await r.store.listPage('', {})).objects.map((o) => o.key).filter((k) => k.endsWith('.ltx')));
    await new Promise((ok) => setTimeout(ok, 1100)); // a new modification time even on second-granular stores
    const other = history(tempDir('follow-other'), PAGE, 8).map((img, i, all) => (i === 0 ? snapshotLtx(img, PAGE).bytes : diffLtx(all[i - 1], img, PAGE, BigInt(i + 1)).bytes));
    await putLtx(r.store, 9, 1n, 1n, other[0]);
    for (let t = 2; t <= 8; t++) await putLtx(r.store, 0, BigInt(t), BigInt(t), other[t - 1]);
    const p = await polled(r, follower);
    expect(p.update?.kind).toBe('reset');
    if (p.update?.kind !== 'reset') throw new Error('unreachable');
    expect(p.update.reason).toBe('replaced');
    expect(p.update.index.txid).toBe(8n);
    await r.store.close();
  });

  it('a replica reset below our TXID (the latest TXID fell under ours): reason replaced', async () => {
    const r = await replica(kind, 6);
    const follower = new ReplicaFollower(r.store, { txid: 6n, pageSize: PAGE, checksum: databaseChecksum(r.images[5], PAGE) });
    expect((await polled(r, follower)).update).toBeNull();
    await r.store.deleteMany((await r.store.listPage('', {})).objects.map((o) => o.key).filter((k) => k.endsWith('.ltx')));
    await putLtx(r.store, 9, 1n, 1n, r.ltx[0]);
    await putL0(r, 2, 3);
    const p = await polled(r, follower);
    expect(p.update?.kind === 'reset' && p.update.reason).toBe('replaced');
    expect(follower.txid).toBe(3n);
    await r.store.close();
  });

  it('a file ending at our TXID that leaves another checksum than ours: reason replaced', async () => {
    const r = await replica(kind, 6, 5);
    // The reader believes TXID 5 left another state than this replica's TXID 5.
    const follower = new ReplicaFollower(r.store, { txid: 5n, pageSize: PAGE, checksum: databaseChecksum(r.images[1], PAGE) });
    const p = await polled(r, follower);
    expect(p.update?.kind === 'reset' && p.update.reason).toBe('replaced');
    await r.store.close();
  });

  it('a header that disagrees with its name, or a new page size, is an error naming the file; the position stays', async () => {
    const r = await replica(kind, 6, 3);
    const follower = new ReplicaFollower(r.store, { txid: 3n, pageSize: PAGE });
    // TXID 5's file under TXID 4's name.
    const wrong = await putLtx(r.store, 0, 4n, 4n, r.ltx[4]);
    const err = await follower.poll().catch((e: unknown) => e);
    expect(isReplicaError(err, 'REPLICA_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain(wrong);
    expect((err as Error).message).toContain('TXIDs 5..5');
    expect(follower.txid).toBe(3n);

    await putL0(r, 4, 4); // fixed: TXID 4 applies
    expect(keysOf(await follower.poll())).toEqual(['0:4-4']);
    const small = 1024;
    const other = encodeLtx({ pageSize: small, commit: 2, minTXID: 5n, maxTXID: 5n, flags: HEADER_FLAG_NO_CHECKSUM }, [
      { pgno: 1, data: new Uint8Array(small).fill(1) },
      { pgno: 2, data: new Uint8Array(small).fill(2) },
    ]);
    const key = await putLtx(r.store, 0, 5n, 5n, other.bytes);
    const err2 = await follower.poll().catch((e: unknown) => e);
    expect(isReplicaError(err2, 'REPLICA_MISMATCH')).toBe(true);
    expect((err2 as Error).message).toMatch(new RegExp(`${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has page size 1024, but the database's page size is 4096`));
    expect(follower.txid).toBe(4n);
    await r.store.close();
  });
});

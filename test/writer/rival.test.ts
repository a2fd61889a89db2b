// Two of our writers on the same base race for the same key: each L0 file holds one
// TXID, so both write N-N, and If-None-Match lets exactly one land; the other sees a
// different file under its key and stops. Rival files with different keys for the
// same TXIDs (2-2 vs 2-3) now come only from old writers or other tools; If-None-Match
// cannot stop those, and the rival check after the put decides: our file (always the
// lower key) goes on when the higher one is withdrawn (its writer saw ours), and
// yields when it is not (that writer listed before ours landed and thinks it won).
// Those rivals are written here by hand.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEADER_FLAG_NO_CHECKSUM, encodeLtx, hex64 } from '../../src/ltx/index.js';
import { layoutFor, listLevel } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { SecondWriterError, type SyncedFile, Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { makeStore, storedFileChecksum } from '../replica/helpers.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from '../sync/helpers.js';

const PS = 4096;
const HOUR = 3_600_000;
afterAll(removeTempDirs);

const page = (n: number) => new Uint8Array(PS).fill(n);
const l0 = async (store: ObjectStore) => (await listLevel(store, 0)).map((f) => `${f.minTXID}-${f.maxTXID}`);

/** TXID 1 in the replica; A and B open on it; A has TXID 2 pending (one commit), B too (two commits: one TXID). */
async function twoWriters(store: ObjectStore) {
  const seedBuf = WriteBuffer.open(tempDir('rival-seed'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
  await reconcileBuffer(store, seedBuf, quiet);
  const db = new SqliteCommits(tempDir('rival-src'), PS);
  seedBuf.append(db.step('CREATE TABLE t(x)'));
  await new Syncer({ store, buffer: seedBuf, intervalMs: HOUR, log: quiet }).stop({ flush: true });
  seedBuf.close();
  const open = async () => {
    const b = WriteBuffer.open(tempDir('rival-buf'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
    await reconcileBuffer(store, b, quiet);
    return b;
  };
  const a = await open();
  const b = await open();
  expect(a.append({ pages: [[2, page(1)]], commit: 2, checksum: null })).toBe(2n);
  expect(b.append({ pages: [[2, page(2)]], commit: 2, checksum: null })).toBe(2n);
  expect(b.append({ pages: [[3, page(3)]], commit: 3, checksum: null })).toBe(2n);
  db.close();
  return { a, b };
}

/** An old writer's (or another tool's) file for TXIDs 2..3 in one, by hand: a higher key than our 2-2. */
async function oldRival(store: ObjectStore): Promise<string> {
  const enc = encodeLtx({ pageSize: PS, commit: 3, minTXID: 2n, maxTXID: 3n, flags: HEADER_FLAG_NO_CHECKSUM, timestamp: BigInt(Date.now()) }, [
    { pgno: 2, data: page(2) },
    { pgno: 3, data: page(3) },
  ]);
  const key = layoutFor(store).fileKey(0, 2n, 3n);
  await store.put(key, enc.bytes);
  return key;
}

/** A store whose conditional puts wait until `n` of them have been issued, then all go at once. */
function together(store: ObjectStore, n: number): ObjectStore {
  let arrived = 0;
  let go!: () => void;
  const all = new Promise<void>((ok) => (go = ok));
  const wrapped = Object.create(store) as ObjectStore;
  wrapped.putIfAbsent = async (key, body, options) => {
    if (++arrived === n) go();
    await all;
    return store.putIfAbsent(key, body, options);
  };
  return wrapped;
}

describe.each(['file', 's3'] as const)('two writers on one base (%s)', (kind) => {
  it('race for the same key (2-2): If-None-Match lets exactly one land; the other stops, its commits kept', async () => {
    const store = makeStore(kind);
    const { a, b } = await twoWriters(store);
    const raced = together(store, 2);
    const synced: Record<string, SyncedFile[]> = { A: [], B: [] };
    const sa = new Syncer({ store: raced, buffer: a, intervalMs: HOUR, log: quiet, onSynced: (f) => synced.A.push(f) });
    const sb = new Syncer({ store: raced, buffer: b, intervalMs: HOUR, log: quiet, onSynced: (f) => synced.B.push(f) });
    const [ra, rb] = await Promise.allSettled([sa.flush(), sb.flush()]);
    const outcome = { A: { r: ra, s: sa, buf: a, commits: 1 }, B: { r: rb, s: sb, buf: b, commits: 2 } };
    const won = (['A', 'B'] as const).filter((w) => outcome[w].r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const winner = outcome[won[0]];
    const loser = outcome[won[0] === 'A' ? 'B' : 'A'];
    const reason = (loser.r as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(SecondWriterError);
    expect(reason.message).toMatch(/0000000000000002-0000000000000002\.ltx was written by another writer \(the conditional put of TXIDs 2\.\.2 failed/);
    expect(winner.s.state).not.toBe('fenced');
    expect(winner.s.lastError).toBeNull();
    expect(winner.buf.unsynced().commits).toBe(0);
    expect(loser.s.state).toBe('fenced');
    expect(loser.buf.unsynced().commits).toBe(loser.commits); // kept, not dropped
    expect(() => loser.buf.append({ pages: [[2, page(9)]], commit: 2, checksum: null })).toThrow(SecondWriterError);
    // One file, the winner's, and nothing of the loser's.
    expect(await l0(store)).toEqual(['1-1', '2-2']);
    expect(synced[won[0]]).toHaveLength(1);
    expect(synced[won[0] === 'A' ? 'B' : 'A']).toHaveLength(0);
    const key = layoutFor(store).fileKey(0, 2n, 2n);
    expect(hex64(await storedFileChecksum(store, key))).toBe(hex64(synced[won[0]][0].encoded.fileChecksum));
    await Promise.all([sa.stop(), sb.stop()]);
    a.close();
    b.close();
    await store.close();
  });
});

describe('the rival check (a rival with a different key for the same TXIDs, from an old writer or another tool)', () => {
  it('its writer saw ours and withdraws its higher key: ours goes on', async () => {
    const base = new FileStore({ dir: path.join(tempDir('rival-rep'), 'replica') });
    const { a, b } = await twoWriters(base);
    const rivalKey = await oldRival(base);
    // Watch A's L0 listings: once one has shown the rival, the rival's writer (having seen ours) deletes its file.
    let lists = 0;
    let sawRival!: () => void;
    const saw = new Promise<void>((ok) => (sawRival = ok));
    const watched = Object.create(base) as ObjectStore;
    watched.list = async function* (prefix, options) {
      let found = false;
      for await (const o of base.list(prefix, options)) {
        if (o.key === rivalKey) found = true;
        yield o;
      }
      if (prefix === layoutFor(base).levelPrefix(0)) {
        lists++;
        if (found) sawRival();
      }
    };
    const sa = new Syncer({ store: watched, buffer: a, intervalMs: HOUR, log: quiet });
    const fa = sa.flush();
    await saw;
    const listsBefore = lists;
    await base.deleteMany([rivalKey]);
    await fa;
    expect(lists).toBeGreaterThan(listsBefore); // A waited and listed again
    expect(sa.state).not.toBe('fenced');
    expect(sa.lastError).toBeNull();
    expect(a.unsynced().commits).toBe(0);
    expect(await l0(base)).toEqual(['1-1', '2-2']);
    await sa.stop();
    a.close();
    b.close();
    await base.close();
  });

  it('its writer listed first and saw nothing: it goes on; ours waits for a withdrawal that never comes, then yields', async () => {
    const base = new FileStore({ dir: path.join(tempDir('rival-rep'), 'replica') });
    const { a, b } = await twoWriters(base);
    await oldRival(base); // 2-3 landed and its writer's check saw no rival
    const sa = new Syncer({ store: base, buffer: a, intervalMs: HOUR, log: quiet });
    const err = await sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(/0000000000000002-0000000000000003\.ltx.*a higher key than ours.*not withdrawn.*our .*0000000000000002-0000000000000002\.ltx was removed/);
    expect(sa.state).toBe('fenced');
    expect(a.unsynced().commits).toBe(1);
    expect(await l0(base)).toEqual(['1-1', '2-3']);
    await sa.stop();
    a.close();
    b.close();
    await base.close();
  });
});

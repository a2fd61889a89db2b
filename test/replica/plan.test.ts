// Restore plans: pure choosePlan over listings, and planRestore over real stores.
import { afterAll, describe, expect, it } from 'vitest';
import { choosePlan, isReplicaError, listLevel, layoutFor, planRestore, formatLitestreamTimestamp, type LtxFileInfo } from '../../src/replica/index.js';
import { fileStore, s3Store, putLtx, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const URL = 'file:///r';
function f(level: number, min: number, max: number): LtxFileInfo {
  return { level, minTXID: BigInt(min), maxTXID: BigInt(max), key: `${level}/${min}-${max}`, size: 100, lastModified: new Date(0) };
}
const names = (files: LtxFileInfo[]) => files.map((x) => `L${x.level}:${x.minTXID}-${x.maxTXID}`);

describe('choosePlan', () => {
  it('snapshot + L0 chain', () => {
    const p = choosePlan(URL, [f(9, 1, 1), f(0, 2, 2), f(0, 3, 3), f(0, 4, 4)]);
    expect(names(p.files)).toEqual(['L9:1-1', 'L0:2-2', 'L0:3-3', 'L0:4-4']);
    expect(p.txid).toBe(4n);
  });

  it('prefers higher levels (fewer files), filling the tail from L0', () => {
    const files = [f(9, 1, 1), ...[2, 3, 4, 5, 6, 7, 8].map((t) => f(0, t, t)), f(1, 2, 4), f(1, 5, 7), f(2, 2, 7)];
    expect(names(choosePlan(URL, files).files)).toEqual(['L9:1-1', 'L2:2-7', 'L0:8-8']);
    // Targets inside L2's range fall back to L1 and L0.
    expect(names(choosePlan(URL, files, 6n).files)).toEqual(['L9:1-1', 'L1:2-4', 'L0:5-5', 'L0:6-6']);
  });

  it('uses the newest snapshot at or before the target', () => {
    const files = [f(9, 1, 1), f(0, 2, 2), f(0, 3, 3), f(9, 1, 3), f(0, 4, 4)];
    expect(names(choosePlan(URL, files).files)).toEqual(['L9:1-3', 'L0:4-4']);
    expect(names(choosePlan(URL, files, 2n).files)).toEqual(['L9:1-1', 'L0:2-2']);
  });

  it('takes a compaction from TXID 1 at any level as the snapshot', () => {
    expect(names(choosePlan(URL, [f(1, 1, 5), f(0, 6, 6)]).files)).toEqual(['L1:1-5', 'L0:6-6']);
  });

  it('a chain served by L1 where L0 was deleted', () => {
    expect(names(choosePlan(URL, [f(9, 1, 1), f(1, 2, 10), f(1, 11, 20), f(0, 21, 21)]).files)).toEqual(['L9:1-1', 'L1:2-10', 'L1:11-20', 'L0:21-21']);
  });

  it('a gap is REPLICA_GAP naming the missing TXIDs', () => {
    const files = [f(9, 1, 1), f(0, 2, 2), f(0, 5, 5), f(0, 6, 6)];
    let err: unknown;
    try {
      choosePlan(URL, files);
    } catch (e) {
      err = e;
    }
    expect(isReplicaError(err, 'REPLICA_GAP')).toBe(true);
    expect((err as Error).message).toContain('TXIDs 3..4');
    expect((err as Error).message).toContain('0000000000000003-0000000000000004');
    expect((err as Error).message).toContain(URL);
    // Up to the gap is still restorable.
    expect(choosePlan(URL, files, 2n).txid).toBe(2n);
  });

  it('empty → REPLICA_EMPTY naming the URL; no snapshot → REPLICA_NO_SNAPSHOT', () => {
    expect(() => choosePlan(URL, [])).toThrow(/replica file:\/\/\/r is empty/);
    try {
      choosePlan(URL, [f(0, 4, 4)]);
    } catch (e) {
      expect(isReplicaError(e, 'REPLICA_NO_SNAPSHOT')).toBe(true);
      expect((e as Error).message).toContain('TXIDs 1..3');
    }
  });

  it('targets the replica has no state for → REPLICA_TARGET', () => {
    expect(() => choosePlan(URL, [f(9, 1, 1)], 5n)).toThrow(expect.objectContaining({ code: 'REPLICA_TARGET' }));
    expect(() => choosePlan(URL, [f(9, 1, 1), f(1, 2, 9)], 5n)).toThrow(/covers TXIDs 2..9 as one step/);
    expect(() => choosePlan(URL, [f(9, 1, 4)], 2n)).toThrow(/earliest snapshot is at TXID 4/);
  });
});

describe.each(['file', 's3'] as const)('planRestore on %s', (kind) => {
  it('lists levels, ignores stray keys, honours afterTXID, and plans by timestamp', async () => {
    const store = kind === 'file' ? fileStore() : s3Store();
    const layout = layoutFor(store);
    expect(layout.fileKey(9, 1n, 1n)).toBe(kind === 'file' ? 'ltx/9/0000000000000001-0000000000000001.ltx' : '0009/0000000000000001-0000000000000001.ltx');
    const { snapshotLtx } = await import('./helpers.js');
    const base = Date.UTC(2026, 0, 1);
    // Bodies only need a header with the timestamp (file:// keeps no metadata); planning reads nothing else.
    const ltx = (ts: number) => snapshotLtx(new Uint8Array(4096), 4096, { timestamp: ts }).bytes;
    await putLtx(store, 9, 1n, 1n, ltx(base), base);
    for (let t = 2; t <= 5; t++) await putLtx(store, 0, BigInt(t), BigInt(t), ltx(base + t * 1000), base + t * 1000);
    await store.put(`${layout.levelPrefix(0)}README.txt`, new Uint8Array([1]));
    await store.put(`${layout.levelPrefix(0)}nested/0000000000000009-0000000000000009.ltx`, new Uint8Array([1]));
    const l0 = await listLevel(store, 0);
    expect(l0.map((x) => x.minTXID)).toEqual([2n, 3n, 4n, 5n]);
    expect((await listLevel(store, 0, { afterTXID: 3n })).map((x) => x.minTXID)).toEqual([4n, 5n]);
    expect((await listLevel(store, 0, { startAfter: l0[0].key })).map((x) => x.minTXID)).toEqual([3n, 4n, 5n]);
    expect((await planRestore(store)).txid).toBe(5n);
    expect((await planRestore(store, { txid: 3n })).files.length).toBe(3);
    // S3 reads the litestream-timestamp metadata (HEAD); file:// reads the LTX header timestamps.
    const before = store.stats();
    const at = await planRestore(store, { timestamp: new Date(base + 3500) });
    expect(at.txid).toBe(3n);
    const after = store.stats();
    if (kind === 's3') expect(after.head.requests - before.head.requests).toBe(5);
    else expect(after.get.requests - before.get.requests).toBe(5);
    await store.close();
  });
});

describe('formatLitestreamTimestamp', () => {
  it("matches Go's RFC3339Nano (trailing zeros trimmed)", () => {
    expect(formatLitestreamTimestamp(1700000000000)).toBe('2023-11-14T22:13:20Z');
    expect(formatLitestreamTimestamp(1700000000500)).toBe('2023-11-14T22:13:20.5Z');
    expect(formatLitestreamTimestamp(1700000000120)).toBe('2023-11-14T22:13:20.12Z');
    expect(formatLitestreamTimestamp(1700000000007)).toBe('2023-11-14T22:13:20.007Z');
  });
});

// selectDeletions on its own: L0 files go once an L1 file has covered them for
// l0RetentionMs, except the newest L0 file, which a Litestream primary taking over
// needs (it reads its position from the newest L0 file).
import { describe, expect, it } from 'vitest';
import { selectDeletions } from '../../src/compact/retention.js';
import type { LtxFileInfo } from '../../src/replica/index.js';

const file = (level: number, min: number, max: number): LtxFileInfo => ({ level, minTXID: BigInt(min), maxTXID: BigInt(max), key: `ltx/${level}/${min}-${max}.ltx`, size: 100, lastModified: new Date(0) });
const policy = { l0RetentionMs: 1000, retentionMs: 10 * 86_400_000, readerGraceMs: 0 };

describe('selectDeletions', () => {
  it('deletes covered L0 files after l0RetentionMs but keeps the newest L0 file', () => {
    const files = [file(9, 1, 1), file(0, 2, 2), file(0, 3, 3), file(0, 4, 4), file(1, 2, 4)];
    const { deletable } = selectDeletions(files, policy, 10_000, () => 0);
    expect(deletable.map((d) => d.file.key).sort()).toEqual(['ltx/0/2-2.ltx', 'ltx/0/3-3.ltx']);
    expect(deletable.every((d) => d.reason === 'l0-compacted')).toBe(true);
  });

  it('keeps every L0 file an L1 file has not covered long enough', () => {
    const files = [file(9, 1, 1), file(0, 2, 2), file(0, 3, 3), file(1, 2, 3)];
    const r = selectDeletions(files, policy, 500, () => 0);
    expect(r.deletable).toEqual([]);
    expect(r.nextAt).toBe(1000);
  });
});

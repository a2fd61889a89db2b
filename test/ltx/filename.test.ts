import { describe, expect, it } from 'vitest';
import { formatLtxFilename, formatTXID, parseLtxFilename } from '../../src/ltx/filename.js';

describe('LTX file names', () => {
  it('formats 16 lowercase hex digits per TXID', () => {
    expect(formatLtxFilename(1n, 1000n)).toBe('0000000000000001-00000000000003e8.ltx');
    expect(formatTXID(0xffffffffffffffffn)).toBe('ffffffffffffffff');
    expect(() => formatTXID(1n << 64n)).toThrow(TypeError);
    expect(() => formatLtxFilename(5n, 4n)).toThrow(/below minTXID/);
  });

  it('parses strictly and round-trips', () => {
    expect(parseLtxFilename('0000000000000001-00000000000003e8.ltx')).toEqual({ minTXID: 1n, maxTXID: 1000n });
    for (const bad of ['0000000000000001-00000000000003E8.ltx', '000000000000001-00000000000003e8.ltx', '0000000000000001-00000000000003e8.ltx.tmp', 'compacted-0000000000000001-0000000000000002.ltx', '0000000000000000-0000000000000001.ltx', '0000000000000003-0000000000000002.ltx', '']) {
      expect(parseLtxFilename(bad), bad).toBeNull();
    }
    const names = [3n, 17n, 255n, 4096n].map((t) => formatLtxFilename(t, t + 1n));
    expect([...names].sort()).toEqual(names); // lexical order = TXID order
    for (const n of names) expect(formatLtxFilename(parseLtxFilename(n)!.minTXID, parseLtxFilename(n)!.maxTXID)).toBe(n);
  });
});

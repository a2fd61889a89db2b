// decodePageFrame into a caller's buffer (a slice of a larger output): same page,
// nothing written outside the slice, and a wrong-sized buffer is refused.
import { describe, expect, it } from 'vitest';
import { decodePageFrame, encodePageFrame } from '../../src/ltx/page-frame.js';
import { prng } from './helpers.js';

describe('decodePageFrame into a given buffer', () => {
  it('decodes into a slice of a larger buffer and leaves the rest alone', () => {
    const rnd = prng(4);
    const page = new Uint8Array(4096).map((_, i) => (i % 7 === 0 ? (rnd() * 256) | 0 : i & 0x3f));
    const frame = encodePageFrame(9, page);
    const out = new Uint8Array(3 * 4096).fill(0xaa);
    const slot = out.subarray(4096, 8192);
    const r = decodePageFrame(frame, 4096, 9, slot);
    expect(r.pgno).toBe(9);
    expect(r.data).toBe(slot);
    expect(Buffer.from(slot).equals(page)).toBe(true);
    expect(out.subarray(0, 4096).every((b) => b === 0xaa) && out.subarray(8192).every((b) => b === 0xaa)).toBe(true);
    expect(Buffer.from(decodePageFrame(frame, 4096).data).equals(page)).toBe(true);
  });

  it('refuses an output buffer of the wrong size', () => {
    const frame = encodePageFrame(1, new Uint8Array(4096));
    expect(() => decodePageFrame(frame, 4096, 1, new Uint8Array(4095))).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeLtx } from '../../src/ltx/decoder.js';
import { decodePageFrame } from '../../src/ltx/page-frame.js';
import { encodePageIndex, readTailIndex } from '../../src/ltx/page-index.js';
import { encodeLtx } from '../../src/ltx/encoder.js';
import { golden, layout, prng, rel } from './helpers.js';

describe('readTailIndex', () => {
  for (const line of layout()) {
    it(`reads ${rel(line)} from its tail, asking for more when the tail is short`, () => {
      const file = golden(rel(line));
      const tooShort = readTailIndex(file.subarray(file.length - 10), file.length);
      expect(tooShort).toEqual({ ok: false, needBytes: 24 });
      const justS = readTailIndex(file.subarray(file.length - 24), file.length);
      expect(justS).toEqual({ ok: false, needBytes: line.indexSizeField + 24 });
      const short = readTailIndex(file.subarray(file.length - (line.indexSizeField + 23)), file.length);
      expect(short.ok).toBe(false);
      const exact = readTailIndex(file.subarray(file.length - (line.indexSizeField + 24)), file.length);
      expect(exact).toMatchObject({ ok: true, entries: line.index, indexOffset: line.indexOffset, indexSize: line.indexSizeField });
      const whole = readTailIndex(file, file.length);
      expect(whole).toEqual(exact);
      if (!whole.ok) throw new Error('unreachable');
      expect(whole.postApplyChecksum.toString(16).padStart(16, '0')).toBe(line.trailer.postApply);
      expect(whole.fileChecksum.toString(16).padStart(16, '0')).toBe(line.trailer.fileChecksum);
      // The read path: range-read each frame by its entry and decode it alone.
      const pages = decodeLtx(file).pages;
      whole.entries.forEach((e, i) => {
        const p = decodePageFrame(file.subarray(e.offset, e.offset + e.size), 4096, e.pgno);
        expect(Buffer.from(p.data).equals(pages[i].data)).toBe(true);
      });
    });
  }

  it('works with the 32 KiB trick on a file whose index is longer than the first tail', () => {
    const pages = Array.from({ length: 6000 }, (_, i) => ({ pgno: i + 1, data: new Uint8Array(512).fill(i & 0xff) }));
    const file = encodeLtx({ pageSize: 512, commit: 6000, minTXID: 1n, maxTXID: 1n, flags: 2 }, pages).bytes;
    const first = readTailIndex(file.subarray(file.length - 1024), file.length);
    expect(first.ok).toBe(false);
    if (first.ok) throw new Error('unreachable');
    expect(first.needBytes).toBeGreaterThan(1024);
    const second = readTailIndex(file.subarray(file.length - first.needBytes), file.length);
    expect(second.ok && second.entries.length).toBe(6000);
  });

  it('rejects an S that does not fit, frames that do not tile, and unordered entries', () => {
    const file = golden('checksum/0000000000000002-0000000000000002.ltx').slice();
    const v = new DataView(file.buffer);
    const sAt = file.length - 24;
    v.setBigUint64(sAt, 10_000n);
    expect(() => readTailIndex(file, file.length)).toThrow(expect.objectContaining({ code: 'LTX_BAD_INDEX', message: expect.stringContaining('S = 10000') }));
    v.setBigUint64(sAt, 9n);
    file[457 + 2] = 0x31; // size of page 2: 48 → 49
    expect(() => readTailIndex(file, file.length)).toThrow(expect.objectContaining({ code: 'LTX_BAD_INDEX', message: expect.stringContaining('page 4 at offset 148, expected 149') }));
    const idx = encodePageIndex([{ pgno: 4, offset: 100, size: 48 }, { pgno: 2, offset: 148, size: 303 }]);
    const swapped = file.slice();
    swapped.set(idx, 457);
    expect(() => readTailIndex(swapped, swapped.length)).toThrow(/must ascend/);
    expect(() => readTailIndex(file.subarray(0, 24), 100)).toThrow(expect.objectContaining({ code: 'LTX_TRUNCATED' }));
  });

  it('encodePageIndex round-trips large offsets (multi-byte uvarints)', () => {
    const rnd = prng(3);
    let offset = 100;
    const entries = [];
    for (let i = 1; i < 200; i++) {
      const size = 7 + ((rnd() * 2 ** 20) | 0);
      entries.push({ pgno: i * 3, offset, size });
      offset += size;
    }
    const idx = encodePageIndex(entries);
    const tail = new Uint8Array(idx.length + 16);
    tail.set(idx);
    const r = readTailIndex(tail, offset + 6 + tail.length);
    expect(r.ok && r.entries).toEqual(entries);
  });
});

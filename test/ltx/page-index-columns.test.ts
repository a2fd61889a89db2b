// The columnar page-index parse must be parsePageIndex in another shape: the same
// entries for valid indexes, and the same LtxError code and message for every bad one.
// The reference below is the object parser as it was before the columns existed.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LtxError } from '../../src/ltx/errors.js';
import { encodeLtx } from '../../src/ltx/encoder.js';
import {
  encodePageIndex,
  pageIndexColumns,
  pageIndexEntries,
  parsePageIndex,
  parsePageIndexColumns,
  readTailIndex,
  readTailIndexColumns,
  readUvarint,
  type PageIndexEntry,
} from '../../src/ltx/page-index.js';
import { GOLDEN, golden, layout, prng, rel } from './helpers.js';

// The pre-columns parsePageIndex, verbatim but for the error constructor.
function referenceParse(buf: Uint8Array, start: number, end: number, endMarkerOffset: number): PageIndexEntry[] {
  const bad = (m: string) => new LtxError('LTX_BAD_INDEX', `index: ${m}`);
  const entries: PageIndexEntry[] = [];
  let at = start;
  let expectOffset = 100;
  let prevPgno = 0;
  for (;;) {
    const p = readUvarint(buf, at, end);
    if (!p) throw bad('ends before its terminator');
    const [pgno] = p;
    at = p[1];
    if (pgno === 0) break;
    const o = readUvarint(buf, at, end);
    if (!o) throw bad(`entry for page ${pgno} is cut off`);
    const s = readUvarint(buf, o[1], end);
    if (!s) throw bad(`entry for page ${pgno} is cut off`);
    at = s[1];
    const entry = { pgno, offset: o[0], size: s[0] };
    if (pgno <= prevPgno) throw bad(`page ${pgno} follows page ${prevPgno} (must ascend)`);
    if (entry.offset !== expectOffset) throw bad(`page ${pgno} at offset ${entry.offset}, expected ${expectOffset}`);
    if (entry.size <= 6) throw bad(`page ${pgno} has frame size ${entry.size}`);
    expectOffset = entry.offset + entry.size;
    if (expectOffset > endMarkerOffset) throw bad(`page ${pgno} frame passes the end marker at ${endMarkerOffset}`);
    prevPgno = pgno;
    entries.push(entry);
  }
  if (at !== end) throw bad(`terminator at ${at - 1 - start} of ${end - start} bytes (S disagrees)`);
  if (expectOffset !== endMarkerOffset) throw bad(`frames end at ${expectOffset}, but the end marker is at ${endMarkerOffset}`);
  return entries;
}

// The pre-columns readTailIndex around referenceParse.
function referenceTail(tail: Uint8Array, fileSize: number): unknown {
  if (fileSize < 131) throw new LtxError('LTX_TRUNCATED', `file of ${fileSize} bytes is shorter than the smallest LTX file (131)`);
  if (tail.length < 24) return { ok: false, needBytes: 24 };
  const v = new DataView(tail.buffer, tail.byteOffset + tail.length - 24, 24);
  const s = v.getBigUint64(0);
  if (s < 1n || s > BigInt(fileSize - 24 - 106)) throw new LtxError('LTX_BAD_INDEX', `index: size field S = ${s} does not fit a ${fileSize}-byte file`);
  const indexSize = Number(s);
  const need = indexSize + 24;
  if (tail.length < need) return { ok: false, needBytes: need };
  const start = tail.length - need;
  const entries = referenceParse(tail, start, start + indexSize, fileSize - need - 6);
  return { ok: true, entries, indexOffset: fileSize - need, indexSize, postApplyChecksum: v.getBigUint64(8), fileChecksum: v.getBigUint64(16) };
}

type Outcome = { entries: PageIndexEntry[] } | { code: string; message: string };

function outcome(f: () => PageIndexEntry[]): Outcome {
  try {
    return { entries: f() };
  } catch (err) {
    if (!(err instanceof LtxError)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** The three parsers on one input: all must agree. Returns the common outcome. */
function agree(buf: Uint8Array, start: number, end: number, endMarkerOffset: number): Outcome {
  const ref = outcome(() => referenceParse(buf, start, end, endMarkerOffset));
  const cols = outcome(() => {
    const c = parsePageIndexColumns(buf, start, end, endMarkerOffset);
    expect([c.pgnos.length, c.offsets.length, c.sizes.length]).toEqual([c.count, c.count, c.count]);
    return pageIndexEntries(c);
  });
  const objs = outcome(() => parsePageIndex(buf, start, end, endMarkerOffset));
  expect(cols).toEqual(ref);
  expect(objs).toEqual(ref);
  return ref;
}

// An index buffer from raw uvarint bytes, parsed as if its frames ended at `endMarker`.
function rawIndex(bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

const goldenFiles = (function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.ltx') ? [path.relative(GOLDEN, p)] : [];
  });
})(GOLDEN);

describe('readTailIndexColumns', () => {
  it('covers every golden file', () => {
    expect(goldenFiles.length).toBe(28);
  });

  for (const line of layout()) {
    it(`reads ${rel(line)} like readTailIndex, at every tail length`, () => {
      const file = golden(rel(line));
      for (let k = 0; k <= file.length; k++) {
        const tail = file.subarray(file.length - k);
        const cols = readTailIndexColumns(tail, file.length);
        const objs = readTailIndex(tail, file.length);
        if (!cols.ok) {
          expect(objs).toEqual(cols);
          continue;
        }
        expect(k).toBeGreaterThanOrEqual(line.indexSizeField + 24);
        const { columns, ...rest } = cols;
        expect(objs).toEqual({ ...rest, entries: pageIndexEntries(columns) });
        expect(pageIndexEntries(columns)).toEqual(line.index);
        expect(rest.indexOffset).toBe(line.indexOffset);
      }
    });
  }

  it('answers as the pre-columns readTailIndex did for every golden file under byte damage (2,000 mutations each)', () => {
    const rnd = prng(11);
    let failures = 0;
    let successes = 0;
    for (const name of goldenFiles) {
      const file = golden(name);
      const indexAt = file.length - 24 - Number(new DataView(file.buffer).getBigUint64(file.length - 24));
      for (let m = 0; m < 2000; m++) {
        const bad = file.slice();
        // Damage the index (and sometimes S): 1-3 bytes, mostly high-bit-aware values.
        const hits = 1 + Math.floor(rnd() * 3);
        for (let h = 0; h < hits; h++) {
          const at = indexAt + Math.floor(rnd() * (file.length - 16 - indexAt));
          const r = rnd();
          bad[at] = r < 0.3 ? 0 : r < 0.5 ? 0x80 : r < 0.6 ? 0xff : Math.floor(rnd() * 256);
        }
        const k = rnd() < 0.5 ? bad.length : Math.min(bad.length, 24 + Math.floor(rnd() * 200));
        const tail = bad.subarray(bad.length - k);
        const a = outcomeTail(() => referenceTail(tail, bad.length));
        expect(outcomeTail(() => readTailIndex(tail, bad.length))).toEqual(a);
        const b = outcomeTail(() => {
          const r = readTailIndexColumns(tail, bad.length);
          if (!r.ok) return r;
          const { columns, ...rest } = r;
          return { ...rest, entries: pageIndexEntries(columns) };
        });
        expect(b).toEqual(a);
        if (typeof a === 'object' && a !== null && 'code' in a) failures++;
        else successes++;
      }
    }
    // Both kinds of outcome were exercised.
    expect(failures).toBeGreaterThan(10_000);
    expect(successes).toBeGreaterThan(1000);
  });
});

function outcomeTail(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof LtxError)) throw err;
    return { code: err.code, message: err.message };
  }
}

describe('parsePageIndexColumns', () => {
  // [what, index bytes, end marker offset, expected message (null: valid)]
  const cases: [string, number[], number, string | null][] = [
    ['empty index', [0], 100, null],
    ['two entries', [1, 100, 10, 3, 110, 0x80 | 20, 1, 0], 110 + 148, null],
    ['no terminator', [1, 100, 10], 110, 'index: ends before its terminator'],
    ['nothing at all', [], 100, 'index: ends before its terminator'],
    ['entry cut after pgno', [5], 110, 'index: entry for page 5 is cut off'],
    ['entry cut after offset', [5, 100], 110, 'index: entry for page 5 is cut off'],
    ['size uvarint cut mid-number', [5, 100, 0x80], 110, 'index: entry for page 5 is cut off'],
    ['redundant zero byte', [0x81, 0x00, 100, 10, 0], 110, 'index: uvarint has a redundant trailing zero byte'],
    ['uvarint over 10 bytes', [...Array(10).fill(0xff), 1], 110, 'index: uvarint longer than 10 bytes'],
    ['uvarint past 2^53', [...Array(9).fill(0xff), 0x01], 110, 'index: uvarint exceeds 2^53'],
    ['descending pages', [4, 100, 10, 2, 110, 10, 0], 120, 'index: page 2 follows page 4 (must ascend)'],
    ['repeated page', [4, 100, 10, 4, 110, 10, 0], 120, 'index: page 4 follows page 4 (must ascend)'],
    ['first frame not at 100', [1, 101, 10, 0], 111, 'index: page 1 at offset 101, expected 100'],
    ['gap between frames', [1, 100, 10, 2, 111, 10, 0], 121, 'index: page 2 at offset 111, expected 110'],
    ['frame too small', [1, 100, 6, 0], 106, 'index: page 1 has frame size 6'],
    ['frame past the end marker', [1, 100, 10, 0], 105, 'index: page 1 frame passes the end marker at 105'],
    ['bytes after the terminator', [1, 100, 10, 0, 7], 110, 'index: terminator at 3 of 5 bytes (S disagrees)'],
    ['frames end early', [1, 100, 10, 0], 200, 'index: frames end at 110, but the end marker is at 200'],
  ];
  for (const [what, bytes, endMarker, message] of cases) {
    it(`${what}: ${message ?? 'valid'}, as the object parser says`, () => {
      // Placed mid-buffer so start/end offsets matter.
      const buf = new Uint8Array(bytes.length + 7).fill(0x80);
      buf.set(rawIndex(bytes), 3);
      const got = agree(buf, 3, 3 + bytes.length, endMarker);
      if (message === null) expect(got).toHaveProperty('entries');
      else expect(got).toEqual({ code: 'LTX_BAD_INDEX', message });
    });
  }

  it('agrees with the object parser on random indexes, valid and shuffled', () => {
    const rnd = prng(5);
    let valid = 0;
    for (let t = 0; t < 500; t++) {
      const entries: PageIndexEntry[] = [];
      let offset = 100;
      let pgno = 0;
      const n = Math.floor(rnd() * 50);
      for (let i = 0; i < n; i++) {
        pgno += 1 + Math.floor(rnd() * (rnd() < 0.1 ? 2 ** 25 : 4)); // stays below 2^32
        const size = 7 + Math.floor(rnd() * (rnd() < 0.2 ? 2 ** 30 : 5000));
        entries.push({ pgno, offset, size });
        offset += size;
      }
      if (rnd() < 0.3 && n > 1) {
        const i = Math.floor(rnd() * (n - 1));
        [entries[i], entries[i + 1]] = [entries[i + 1], entries[i]];
      }
      const idx = encodePageIndex(entries);
      const got = agree(idx, 0, idx.length - 8, offset);
      if ('entries' in got) {
        expect(got.entries).toEqual(entries);
        valid++;
      }
    }
    expect(valid).toBeGreaterThan(200);
  });

  it('rejects a pgno or frame size a u32 column cannot hold, which the object parser used to accept', () => {
    const big = encodePageIndex([{ pgno: 2 ** 32, offset: 100, size: 10 }]);
    expect(referenceParse(big, 0, big.length - 8, 110)).toEqual([{ pgno: 2 ** 32, offset: 100, size: 10 }]);
    for (const f of [parsePageIndex, parsePageIndexColumns]) {
      expect(() => f(big, 0, big.length - 8, 110)).toThrow(expect.objectContaining({ code: 'LTX_BAD_INDEX', message: 'index: page 4294967296 is beyond the largest page number (2^32 - 1)' }));
    }
    const huge = encodePageIndex([{ pgno: 7, offset: 100, size: 2 ** 32 }]);
    expect(() => parsePageIndexColumns(huge, 0, huge.length - 8, 100 + 2 ** 32)).toThrow(
      expect.objectContaining({ code: 'LTX_BAD_INDEX', message: 'index: page 7 has frame size 4294967296, over 2^32 - 1' }),
    );
    const max = encodePageIndex([{ pgno: 2 ** 32 - 1, offset: 100, size: 2 ** 32 - 1 }]);
    const c = parsePageIndexColumns(max, 0, max.length - 8, 100 + 2 ** 32 - 1);
    expect([c.pgnos[0], c.sizes[0]]).toEqual([2 ** 32 - 1, 2 ** 32 - 1]);
  });

  it('parses a 20,000-page snapshot into exact-size columns', () => {
    const pages = Array.from({ length: 20_000 }, (_, i) => ({ pgno: i + 1, data: new Uint8Array(512).fill(i & 0xff) }));
    const { bytes, index } = encodeLtx({ pageSize: 512, commit: 20_000, minTXID: 1n, maxTXID: 1n, flags: 2 }, pages);
    const r = readTailIndexColumns(bytes, bytes.length);
    if (!r.ok) throw new Error('the whole file is a long enough tail');
    expect(r.columns.count).toBe(20_000);
    expect(r.columns.pgnos.length).toBe(20_000);
    expect(Array.from(r.columns.pgnos.subarray(0, 3))).toEqual([1, 2, 3]);
    expect(pageIndexEntries(r.columns)).toEqual(index);
    expect(pageIndexColumns(index)).toEqual(r.columns);
  });

  it('rejects what readTailIndex rejects before parsing', () => {
    const file = golden('checksum/0000000000000002-0000000000000002.ltx');
    for (const f of [readTailIndex, readTailIndexColumns]) {
      expect(() => f(file.subarray(0, 24), 100)).toThrow(expect.objectContaining({ code: 'LTX_TRUNCATED', message: 'file of 100 bytes is shorter than the smallest LTX file (131)' }));
      expect(() => f(file, file.length - 1)).toThrow(RangeError);
      const bigS = file.slice();
      new DataView(bigS.buffer).setBigUint64(bigS.length - 24, 10_000n);
      expect(() => f(bigS, bigS.length)).toThrow(expect.objectContaining({ code: 'LTX_BAD_INDEX', message: `index: size field S = 10000 does not fit a ${bigS.length}-byte file` }));
    }
  });
});

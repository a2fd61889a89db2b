// The word-copying LZ4 block decoder against a plain byte-at-a-time reference (the
// decoder as first written, same checks in the same order): on random valid blocks
// built sequence by sequence (every offset 1..8, overlapping and long matches,
// copies that end near the page end) and on damaged ones, both must give the same
// bytes or the same error, and nothing outside dst[dstStart, dstEnd) may change.
import { describe, expect, it } from 'vitest';
import { LtxError } from '../../src/ltx/errors.js';
import { lz4Compress, lz4DecompressBlock } from '../../src/ltx/lz4.js';
import { decodeLz4Frame, xxh32 } from '../../src/ltx/lz4-frame.js';
import { prng } from './helpers.js';

function refError(message: string): LtxError {
  return new LtxError('LTX_BAD_LZ4', `lz4: ${message}`);
}

function refDecompress(src: Uint8Array, srcStart: number, srcEnd: number, dst: Uint8Array, dstStart: number, dstEnd: number, windowStart = dstStart): void {
  let ip = srcStart;
  let op = dstStart;
  if (ip === srcEnd) throw refError('empty block');
  for (;;) {
    if (ip >= srcEnd) throw refError('block ends inside a sequence');
    const token = src[ip++];
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw refError('block ends inside a literal length');
        b = src[ip++];
        litLen += b;
      } while (b === 255);
    }
    if (litLen > srcEnd - ip) throw refError(`literal run of ${litLen} bytes passes the end of the block`);
    if (litLen > dstEnd - op) throw refError(`literal run of ${litLen} bytes passes the end of the page`);
    for (let k = 0; k < litLen; k++) dst[op++] = src[ip++];
    if (ip === srcEnd) break;
    if (srcEnd - ip < 2) throw refError('block ends inside a match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0) throw refError('match offset 0');
    if (offset > op - windowStart) throw refError(`match offset ${offset} reaches before the start of the output`);
    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw refError('block ends inside a match length');
        b = src[ip++];
        matchLen += b;
      } while (b === 255);
    }
    matchLen += 4;
    if (matchLen > dstEnd - op) throw refError(`match of ${matchLen} bytes passes the end of the page`);
    for (let k = 0; k < matchLen; k++, op++) dst[op] = dst[op - offset];
  }
  if (op !== dstEnd) throw refError(`block decodes to ${op - dstStart} bytes, expected ${dstEnd - dstStart}`);
}

function pushLength(out: number[], n: number): void {
  while (n >= 255) {
    out.push(255);
    n -= 255;
  }
  out.push(n);
}

/** A random valid block of exactly `size` output bytes, with `window` bytes of history before it. */
function randomBlock(rnd: () => number, size: number, window: number): number[] {
  const out: number[] = [];
  let produced = 0;
  const pick = (max: number) => {
    const r = rnd();
    const n = r < 0.5 ? (rnd() * 16) | 0 : r < 0.85 ? (rnd() * 40) | 0 : (rnd() * 400) | 0;
    return Math.min(n, max);
  };
  for (;;) {
    const room = size - produced;
    const lit = produced + window === 0 ? Math.max(1, pick(room)) : pick(room);
    const matchRoom = room - lit;
    if (matchRoom < 4 || rnd() < 0.03) {
      // Last sequence: literals only, up to the end.
      const last = room;
      out.push(Math.min(last, 15) << 4);
      if (last >= 15) pushLength(out, last - 15);
      for (let k = 0; k < last; k++) out.push((rnd() * 256) | 0);
      return out;
    }
    const match = 4 + pick(matchRoom - 4);
    const history = window + produced + lit;
    const small = rnd() < 0.4;
    const offset = small ? 1 + ((rnd() * Math.min(8, history)) | 0) : 1 + ((rnd() * Math.min(65535, history)) | 0);
    out.push((Math.min(lit, 15) << 4) | Math.min(match - 4, 15));
    if (lit >= 15) pushLength(out, lit - 15);
    for (let k = 0; k < lit; k++) out.push(rnd() < 0.5 ? 0x41 : (rnd() * 256) | 0);
    out.push(offset & 0xff, offset >>> 8);
    if (match - 4 >= 15) pushLength(out, match - 4 - 15);
    produced += lit + match;
  }
}

type Outcome = { ok: true; bytes: Buffer } | { ok: false; error: string };

// Decode into a guarded buffer: `window` history bytes, the output, 16 guard bytes.
function run(decode: typeof lz4DecompressBlock, block: Uint8Array, size: number, history: Uint8Array): Outcome {
  const buf = new Uint8Array(history.length + size + 16).fill(0xee);
  buf.set(history);
  const dstStart = history.length;
  try {
    decode(block, 0, block.length, buf, dstStart, dstStart + size, 0);
  } catch (err) {
    if (!(err instanceof LtxError)) throw err;
    expect(Buffer.from(buf.subarray(0, dstStart)).equals(history)).toBe(true);
    expect(buf.subarray(dstStart + size).every((b) => b === 0xee)).toBe(true);
    return { ok: false, error: `${err.code} ${err.message}` };
  }
  expect(Buffer.from(buf.subarray(0, dstStart)).equals(history)).toBe(true);
  expect(buf.subarray(dstStart + size).every((b) => b === 0xee)).toBe(true);
  return { ok: true, bytes: Buffer.from(buf.subarray(dstStart, dstStart + size)) };
}

describe('LZ4 block decoder against the bytewise reference', () => {
  it('random valid blocks, with and without a window before the output', () => {
    const rnd = prng(99);
    let checked = 0;
    for (let trial = 0; trial < 600; trial++) {
      const size = trial % 3 === 0 ? 4096 : 1 + ((rnd() * 3000) | 0);
      const window = trial % 4 === 0 ? (rnd() * 500) | 0 : 0;
      const history = new Uint8Array(window).map(() => (rnd() * 256) | 0);
      const block = new Uint8Array(randomBlock(rnd, size, window));
      const want = run(refDecompress, block, size, history);
      expect(want.ok).toBe(true);
      expect(run(lz4DecompressBlock, block, size, history)).toEqual(want);
      checked++;
    }
    expect(checked).toBe(600);
  });

  it('damaged blocks fail with the same error, or decode to the same bytes', () => {
    const rnd = prng(7);
    const outcomes = { same: 0, errors: 0 };
    for (let trial = 0; trial < 1500; trial++) {
      const size = 64 + ((rnd() * 2000) | 0);
      const block = randomBlock(rnd, size, 0);
      const kind = trial % 4;
      if (kind === 0) block[(rnd() * block.length) | 0] = (rnd() * 256) | 0;
      else if (kind === 1) block.length = (rnd() * block.length) | 0;
      else if (kind === 2) block.push((rnd() * 256) | 0);
      else for (let k = 0; k < 3; k++) block[(rnd() * block.length) | 0] ^= 1 << ((rnd() * 8) | 0);
      // Size off by a little as well: the block must produce exactly the page.
      const want = kind === 2 && rnd() < 0.5 ? size + 1 : size;
      const a = run(refDecompress, new Uint8Array(block), want, new Uint8Array(0));
      const b = run(lz4DecompressBlock, new Uint8Array(block), want, new Uint8Array(0));
      expect(b).toEqual(a);
      outcomes.same++;
      if (!a.ok) outcomes.errors++;
    }
    expect(outcomes.same).toBe(1500);
    expect(outcomes.errors).toBeGreaterThan(500); // the damage mostly shows
  });

  it('real compressor output: pages of text, repeats and random bytes', () => {
    const rnd = prng(3);
    for (let trial = 0; trial < 100; trial++) {
      const page = new Uint8Array(4096);
      const period = 1 + ((rnd() * 12) | 0);
      for (let i = 0; i < page.length; i++) {
        const kind = ((i / 512) | 0) % 3;
        page[i] = kind === 0 ? 'abcdefghijkl'.charCodeAt(i % period) : kind === 1 ? (rnd() < 0.2 ? (rnd() * 256) | 0 : 0) : (rnd() * 256) | 0;
      }
      const block = lz4Compress(page);
      const got = run(lz4DecompressBlock, block, 4096, new Uint8Array(0));
      expect(got).toEqual({ ok: true, bytes: Buffer.from(page) });
    }
  });
});

// The legacy frame decoder's block step as first written: measure the output from the
// sequence lengths, then decode exactly that much strictly.
function refFrameBlock(src: Uint8Array, s: number, e: number, dst: Uint8Array, at: number): number {
  const err = (m: string) => new LtxError('LTX_BAD_LZ4', `lz4 frame: ${m}`);
  let ip = s;
  let produced = 0;
  const room = dst.length - at;
  for (;;) {
    if (ip >= e) throw err('block ends inside a sequence');
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= e) throw err('block ends inside a literal length');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    ip += lit;
    produced += lit;
    if (ip > e) throw err('literal run passes the end of the block');
    if (produced > room) throw err(`content passes the page size ${dst.length}`);
    if (ip === e) break;
    ip += 2;
    let m = token & 15;
    if (m === 15) {
      let b: number;
      do {
        if (ip >= e) throw err('block ends inside a match length');
        b = src[ip++];
        m += b;
      } while (b === 255);
    }
    produced += m + 4;
    if (produced > room) throw err(`content passes the page size ${dst.length}`);
  }
  refDecompress(src, s, e, dst, at, at + produced, at);
  return produced;
}

describe('legacy LZ4 frame blocks (output length unknown) against measure-then-decode', () => {
  it('valid and damaged one-block frames give the same bytes or the same error', () => {
    const rnd = prng(21);
    let errors = 0;
    for (let trial = 0; trial < 800; trial++) {
      const size = 64 + ((rnd() * 4000) | 0);
      const block = randomBlock(rnd, size, 0);
      if (trial % 3 !== 0) {
        if (rnd() < 0.5) block[(rnd() * block.length) | 0] = (rnd() * 256) | 0;
        else block[(rnd() * block.length) | 0] ^= 1 << ((rnd() * 8) | 0);
      }
      // magic, FLG 0x60 (v1, independent blocks, no checksums), BD 64 KiB, header checksum, block, end mark
      const frame = new Uint8Array(7 + 4 + block.length + 4);
      const v = new DataView(frame.buffer);
      v.setUint32(0, 0x184d2204, true);
      frame[4] = 0x60;
      frame[5] = 0x40;
      frame[6] = (xxh32(frame, 4, 6) >>> 8) & 0xff;
      v.setUint32(7, block.length, true);
      frame.set(block, 11);
      const pageSize = trial % 5 === 0 ? size - 1 : size;
      const got = (() => {
        const page = new Uint8Array(pageSize);
        try {
          decodeLz4Frame(frame, 0, page);
          return { ok: true, bytes: Buffer.from(page) };
        } catch (err) {
          if (!(err instanceof LtxError)) throw err;
          return { ok: false, error: `${err.code} ${err.message}` };
        }
      })();
      const want = (() => {
        const page = new Uint8Array(pageSize);
        try {
          const n = refFrameBlock(new Uint8Array(block), 0, block.length, page, 0);
          if (n !== pageSize) throw new LtxError('LTX_BAD_LZ4', `lz4 frame: content is ${n} bytes, expected ${pageSize}`);
          return { ok: true, bytes: Buffer.from(page) };
        } catch (err) {
          if (!(err instanceof LtxError)) throw err;
          return { ok: false, error: `${err.code} ${err.message}` };
        }
      })();
      expect(got).toEqual(want);
      if (!want.ok) errors++;
    }
    expect(errors).toBeGreaterThan(100); // the damage often shows
  });
});

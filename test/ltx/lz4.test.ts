import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodeLz4Frame, xxh32 } from '../../src/ltx/lz4-frame.js';
import { lz4Compress, lz4CompressBound, lz4DecompressBlock } from '../../src/ltx/lz4.js';
import { golden, layout, prng, rel } from './helpers.js';

const require = createRequire(import.meta.url);

function decode(block: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  lz4DecompressBlock(block, 0, block.length, out, 0, size);
  return out;
}

function samples(seed: number): Uint8Array[] {
  const rnd = prng(seed);
  const out: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(12), new Uint8Array(13), new Uint8Array(4096)];
  for (let i = 0; i < 200; i++) {
    const n = (rnd() * 70000) | 0;
    const p = new Uint8Array(n);
    const kind = i % 4;
    for (let j = 0; j < n; j++) {
      p[j] = kind === 0 ? (rnd() * 256) | 0 : kind === 1 ? (j * 7) & 0xff : kind === 2 ? (rnd() < 0.1 ? (rnd() * 256) | 0 : 32) : 'abcabd'.charCodeAt(j % 6);
    }
    out.push(p);
  }
  return out;
}

describe('LZ4 block codec', () => {
  it('round-trips all kinds of input, within the worst-case bound', () => {
    for (const p of samples(1)) {
      const c = lz4Compress(p);
      expect(c.length).toBeLessThanOrEqual(lz4CompressBound(p.length));
      expect(Buffer.from(decode(c, p.length)).equals(p)).toBe(true);
    }
  });

  it('writes blocks an independent LZ4 implementation (lz4_flex via lz4-napi) reads', () => {
    const napi = require('lz4-napi') as { uncompressSync(b: Uint8Array): Buffer };
    for (const p of samples(2)) {
      if (p.length === 0) continue;
      const c = lz4Compress(p);
      const prefixed = Buffer.alloc(4 + c.length);
      prefixed.writeUInt32LE(p.length);
      prefixed.set(c, 4);
      expect(napi.uncompressSync(prefixed).equals(p)).toBe(true);
    }
  });

  it('reads the blocks in the golden files', () => {
    for (const line of layout()) {
      const file = golden(rel(line));
      for (const f of line.frames) {
        if (f.compressedSize === null) continue;
        const out = decode(file.subarray(f.offset + 10, f.offset + f.size), 4096);
        expect(out.length).toBe(4096);
      }
    }
  });

  it('decodes the simplest valid block (one literal-only sequence)', () => {
    const page = new Uint8Array(4096).map((_, i) => i * 13);
    const block = new Uint8Array([0xf0, ...new Array(16).fill(0xff), 0x01, ...page]);
    expect(Buffer.from(decode(block, 4096)).equals(page)).toBe(true);
  });

  it('is strict: exact output length, exact input use, offsets inside the window', () => {
    const bad = (block: number[], size: number, text: string) =>
      expect(() => decode(new Uint8Array(block), size)).toThrow(expect.objectContaining({ code: 'LTX_BAD_LZ4', message: expect.stringContaining(text) }));
    bad([0x10, 0x41], 2, 'decodes to 1 bytes, expected 2');
    bad([0x20, 0x41], 2, 'passes the end of the block');
    bad([0x30, 0x41, 0x42, 0x43], 2, 'passes the end of the page');
    bad([0x10, 0x41, 0x00, 0x00], 10, 'offset 0');
    bad([0x10, 0x41, 0x02, 0x00], 10, 'reaches before the start');
    bad([0x14, 0x41, 0x01, 0x00], 5, 'passes the end of the page');
    bad([0x10, 0x41, 0x01], 10, 'inside a match offset');
    bad([0xf0], 10, 'inside a literal length');
    bad([0x1f, 0x41, 0x01, 0x00], 100, 'inside a match length');
    bad([], 0, 'empty block');
    // A valid block followed by an extra byte: the reference ignores it; we do not.
    bad([0x10, 0x41, 0x01, 0x00], 1, 'passes the end of the page');
  });
});

describe('legacy LZ4 frames', () => {
  it('xxh32 known values', () => {
    expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
    expect(xxh32(new TextEncoder().encode('abc'))).toBe(0x32d153ff);
    expect(xxh32(new Uint8Array([0x64, 0x40])) >>> 8 & 0xff).toBe(0xa7); // FORMAT.md §4.3 header checksum
  });

  it('decodes every legacy golden frame, compressed and stored', () => {
    for (const line of layout().filter((l) => l.file.includes('legacy'))) {
      const file = golden(rel(line));
      for (const f of line.frames) {
        const page = new Uint8Array(4096);
        expect(decodeLz4Frame(file, f.offset + 6, page)).toBe(f.size - 6);
      }
    }
  });

  it('checks magic, header checksum, end mark, and content checksum', () => {
    const file = golden('legacy-v3-lz4frame-ltx-v0.5.1/nochecksum/0000000000000002-0000000000000002.ltx');
    const frame = file.slice(106, 163); // page 2's LZ4 frame (63 − 6 bytes)
    const page = new Uint8Array(4096);
    expect(decodeLz4Frame(frame, 0, page)).toBe(57);
    const mutate = (at: number, v: number) => {
      const m = frame.slice();
      m[at] = v;
      return () => decodeLz4Frame(m, 0, new Uint8Array(4096));
    };
    expect(mutate(0, 0x05)).toThrow(/bad magic/);
    expect(mutate(6, frame[6] ^ 1)).toThrow(/header checksum/);
    expect(mutate(5, 0x41)).toThrow(/reserved BD bits/);
    expect(mutate(frame.length - 1, frame[frame.length - 1] ^ 1)).toThrow(expect.objectContaining({ code: 'LTX_CHECKSUM_MISMATCH' }));
    expect(() => decodeLz4Frame(frame.subarray(0, 50), 0, new Uint8Array(4096))).toThrow(expect.objectContaining({ code: 'LTX_TRUNCATED' }));
    expect(() => decodeLz4Frame(frame, 0, new Uint8Array(2048))).toThrow(/content passes the page size/);
  });
});

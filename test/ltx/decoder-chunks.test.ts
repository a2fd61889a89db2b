// Streaming decode of a larger file in every kind of chunking (the decoder copies
// only the bytes a frame cut by a chunk boundary needs, and waits for whole frames
// without throwing): same pages, summary and errors as decoding the whole buffer.
import { describe, expect, it } from 'vitest';
import { type DecodedLtx, LtxDecoder, LtxError, decodeLtx, encodeLtx } from '../../src/ltx/index.js';
import { golden, prng } from './helpers.js';

const PAGE = 4096;

function makeFile(seed: number, flags: number): Uint8Array {
  const rnd = prng(seed);
  const commit = 300;
  const pages = Array.from({ length: commit }, (_, i) => {
    const data = new Uint8Array(PAGE);
    const kind = i % 3;
    for (let j = 0; j < PAGE; j++) data[j] = kind === 0 ? (rnd() * 256) | 0 : kind === 1 ? (j % 97) ^ i : rnd() < 0.1 ? (rnd() * 256) | 0 : 0;
    return { pgno: i + 1, data };
  });
  return encodeLtx({ pageSize: PAGE, commit, minTXID: 1n, maxTXID: 1n, flags, timestamp: 1700000000000n }, pages).bytes;
}

function decodeChunked(bytes: Uint8Array, sizes: () => number): DecodedLtx {
  const d = new LtxDecoder();
  const pages = [];
  let at = 0;
  while (at < bytes.length) {
    const n = sizes();
    pages.push(...d.write(bytes.subarray(at, at + n)));
    at += n;
  }
  return { ...d.end(), pages };
}

function outcome(f: () => DecodedLtx): { error: string } | { pages: [number, string][]; summary: unknown } {
  try {
    const r = f();
    return {
      pages: r.pages.map((p) => [p.pgno, Buffer.from(p.data).toString('base64')]),
      summary: { header: r.header, trailer: r.trailer, frames: r.frames, indexOffset: r.indexOffset, indexSize: r.indexSize, fileSize: r.fileSize, encoding: r.encoding },
    };
  } catch (err) {
    if (!(err instanceof LtxError)) throw err;
    return { error: `${err.code} ${err.message}` };
  }
}

describe('LtxDecoder chunking', () => {
  const files = [makeFile(1, 0), makeFile(2, 2)]; // checksums on, NoChecksum

  it('every chunking gives the same pages and summary as one buffer', () => {
    const rnd = prng(5);
    const chunkings: [string, () => number][] = [
      ['1 MiB', () => 1 << 20],
      ['64 KiB + 1', () => 65537],
      ['random up to 20000', () => 1 + ((rnd() * 20000) | 0)],
      ['frame-sized', () => 1 + ((rnd() * 5000) | 0)],
      ['mixed tiny, empty and large', () => [0, 1, 3, 7, 100_000][(rnd() * 5) | 0]],
    ];
    for (const bytes of files) {
      const whole = outcome(() => decodeLtx(bytes));
      expect('pages' in whole && whole.pages.length).toBe(300);
      for (const [, sizes] of chunkings) expect(outcome(() => decodeChunked(bytes, sizes))).toEqual(whole);
    }
  });

  it('the legacy golden file (LZ4 frames) in random chunkings', () => {
    const bytes = golden('legacy-v3-lz4frame-ltx-v0.5.1/checksum/0000000000000001-0000000000000001.ltx');
    const whole = outcome(() => decodeLtx(bytes));
    expect('pages' in whole).toBe(true);
    const rnd = prng(8);
    for (let trial = 0; trial < 10; trial++) expect(outcome(() => decodeChunked(bytes, () => 1 + ((rnd() * 90) | 0)))).toEqual(whole);
  });

  it('truncated and damaged files fail the same way whole and chunked', () => {
    const rnd = prng(6);
    const bytes = files[0];
    for (let trial = 0; trial < 40; trial++) {
      let bad: Uint8Array;
      if (trial % 2 === 0) {
        bad = bytes.subarray(0, (rnd() * bytes.length) | 0);
      } else {
        bad = bytes.slice();
        const at = (rnd() * bad.length) | 0;
        bad[at] ^= 1 << ((rnd() * 8) | 0);
      }
      const whole = outcome(() => decodeLtx(bad));
      expect('error' in whole).toBe(true);
      const chunk = [1, 777, 65536, 1 << 20][trial % 4];
      expect(outcome(() => decodeChunked(bad, () => chunk))).toEqual(whole);
    }
  });
});

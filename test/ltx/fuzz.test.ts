// Random mutations and truncations of valid files (seeded). Every outcome must be
// either a clean LtxError with a known code, or acceptance with exactly the
// original header and pages. Why acceptance implies identical pages, for
// checksum and NoChecksum files alike: the file checksum (always present, FORMAT.md
// §7.4) hashes the header as stored and every *decompressed* page, so a mutation
// that changes a page or header field can only pass with a CRC-64 collision. What
// is not hashed is compressed payload bytes; a mutation there may pass only if the
// block still decodes (strictly) to the same page. NoChecksum files lack the
// post-apply check, so they rely on the file checksum alone; that is enough here.
import { describe, expect, it } from 'vitest';
import { LtxDecoder, decodeLtx } from '../../src/ltx/decoder.js';
import { LtxError } from '../../src/ltx/errors.js';
import { decodePageFrame } from '../../src/ltx/page-frame.js';
import { readTailIndex } from '../../src/ltx/page-index.js';
import { isValidPageSize } from '../../src/ltx/header.js';
import { encodeLtx } from '../../src/ltx/encoder.js';
import { golden, layout, prng, rel } from './helpers.js';

const CODES = new Set([
  'LTX_BAD_MAGIC', 'LTX_UNSUPPORTED', 'LTX_BAD_HEADER', 'LTX_BAD_PAGE', 'LTX_BAD_LZ4', 'LTX_BAD_INDEX',
  'LTX_BAD_TRAILER', 'LTX_CHECKSUM_MISMATCH', 'LTX_TRUNCATED', 'LTX_TRAILING_DATA',
]);

function corpus(): Uint8Array[] {
  const files = layout().map((l) => golden(rel(l)));
  const rnd = prng(77);
  const pages = Array.from({ length: 12 }, (_, i) => ({ pgno: i + 1, data: new Uint8Array(1024).map((_, j) => (i % 3 === 0 ? (rnd() * 256) | 0 : (j * i) & 0xff)) }));
  files.push(encodeLtx({ pageSize: 1024, commit: 12, minTXID: 1n, maxTXID: 1n }, pages).bytes);
  files.push(encodeLtx({ pageSize: 1024, commit: 20, minTXID: 9n, maxTXID: 9n, flags: 2 }, pages.filter((p) => p.pgno % 2)).bytes);
  return files;
}

function mutate(file: Uint8Array, rnd: () => number): Uint8Array {
  const kind = (rnd() * 5) | 0;
  if (kind === 0) return file.subarray(0, (rnd() * file.length) | 0); // truncation
  const m = file.slice();
  const edits = kind === 4 ? 2 + ((rnd() * 6) | 0) : 1;
  for (let e = 0; e < edits; e++) {
    const at = (rnd() * m.length) | 0;
    if (kind === 1) m[at] ^= 1 << ((rnd() * 8) | 0); // bit flip
    else if (kind === 2) m[at] = (rnd() * 256) | 0; // random byte
    else m[at] = [0, 0xff, 0x80, 0x7f, 1][(rnd() * 5) | 0]; // boundary values
  }
  return m;
}

function expectLtxError(err: unknown): void {
  if (!(err instanceof LtxError) || !CODES.has(err.code)) throw new Error(`not a clean LtxError: ${String(err)}`, { cause: err });
}

describe('fuzz', () => {
  it('mutated and truncated files: clean LtxError, or identical header and pages', { timeout: 60_000 }, () => {
    const files = corpus();
    const originals = files.map((f) => decodeLtx(f));
    const rnd = prng(20261124);
    let rejected = 0;
    let accepted = 0;
    const started = performance.now();
    for (let iter = 0; iter < 4000; iter++) {
      const i = (rnd() * files.length) | 0;
      const m = mutate(files[i], rnd);
      const t0 = performance.now();
      try {
        let d;
        if (iter % 4 === 0) {
          // Streaming path with random chunking.
          const dec = new LtxDecoder();
          const pages = [];
          for (let at = 0; at < m.length; ) {
            const n = 1 + ((rnd() * 900) | 0);
            pages.push(...dec.write(m.subarray(at, at + n)));
            at += n;
          }
          d = { ...dec.end(), pages };
        } else {
          d = decodeLtx(m);
        }
        accepted++;
        const o = originals[i];
        expect(d.header).toEqual(o.header);
        expect(d.pages.length).toBe(o.pages.length);
        d.pages.forEach((p, k) => {
          expect(p.pgno).toBe(o.pages[k].pgno);
          expect(Buffer.from(p.data).equals(o.pages[k].data)).toBe(true);
        });
      } catch (err) {
        if ((err as Error).name === 'AssertionError') throw err;
        expectLtxError(err);
        rejected++;
      }
      expect(performance.now() - t0).toBeLessThan(2000); // no hangs
    }
    expect(rejected).toBeGreaterThan(3500);
    expect(accepted + rejected).toBe(4000);
    expect(performance.now() - started).toBeLessThan(50_000);
  });

  it('range-read path (tail index, single frames): clean LtxError or structurally sound output', () => {
    const files = corpus();
    const rnd = prng(4242);
    let framesDecoded = 0;
    let tailsOk = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const file = files[(rnd() * files.length) | 0];
      const m = mutate(file, rnd);
      const k = Math.min(m.length, 24 + ((rnd() * 600) | 0));
      try {
        const r = readTailIndex(m.subarray(m.length - k), m.length);
        if (r.ok) {
          tailsOk++;
          // Nothing on this path is checksummed; what the reader guarantees is structure.
          let expect100 = 100;
          for (const e of r.entries) {
            expect(e.offset).toBe(expect100);
            expect100 = e.offset + e.size;
          }
          expect(expect100).toBe(r.indexOffset - 6);
          const pageSize = m.length >= 12 && isValidPageSize(new DataView(m.buffer, m.byteOffset).getUint32(8)) ? new DataView(m.buffer, m.byteOffset).getUint32(8) : 4096;
          for (const e of r.entries.slice(0, 3)) {
            try {
              const p = decodePageFrame(m.subarray(e.offset, e.offset + e.size), pageSize, e.pgno);
              expect(p.data.length).toBe(pageSize);
              framesDecoded++;
            } catch (err) {
              expectLtxError(err);
            }
          }
        } else {
          expect(r.needBytes).toBeGreaterThan(k);
        }
      } catch (err) {
        if ((err as Error).name === 'AssertionError') throw err;
        expectLtxError(err);
      }
    }
    // Most mutations miss the tail and the first frames: the happy path is exercised too.
    expect(tailsOk).toBeGreaterThan(1000);
    expect(framesDecoded).toBeGreaterThan(1000);
  });
});

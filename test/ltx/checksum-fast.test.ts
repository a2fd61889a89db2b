// The fast CRC-64 (slicing-by-8 on int32 halves, and the one-pass updatePage that
// shifts a raw page CRC into two registers) against the plain bytewise bigint
// definition of FORMAT.md §7.1, on random offsets, lengths and alignments.
import { describe, expect, it } from 'vitest';
import { CHECKSUM_FLAG, Crc64, DatabaseChecksum, crc64, pageChecksum } from '../../src/ltx/checksum.js';
import { prng } from './helpers.js';

// FORMAT.md §7.1, literally: one table, one bigint step per byte.
const REF_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = BigInt(i);
  for (let b = 0; b < 8; b++) c = c & 1n ? (c >> 1n) ^ 0xd800000000000000n : c >> 1n;
  return c;
});
const MASK = 0xffffffffffffffffn;

function refRegister(reg: bigint, data: Uint8Array): bigint {
  for (const b of data) reg = REF_TABLE[Number((reg ^ BigInt(b)) & 0xffn)] ^ (reg >> 8n);
  return reg;
}
const refCrc = (data: Uint8Array) => refRegister(MASK, data) ^ MASK;
const refPageChecksum = (pgno: number, page: Uint8Array) => {
  const be = new Uint8Array(4);
  new DataView(be.buffer).setUint32(0, pgno);
  return CHECKSUM_FLAG | (refRegister(refRegister(MASK, be), page) ^ MASK);
};

function randomBytes(rnd: () => number, n: number): Uint8Array {
  return new Uint8Array(n).map(() => (rnd() * 256) | 0);
}

describe('fast CRC-64 against the bytewise definition', () => {
  const rnd = prng(2024);
  // One big buffer; views into it start at every alignment of the underlying ArrayBuffer.
  const pool = randomBytes(rnd, 300_000);

  it('every length 0..64 at every start offset 0..15, through subarrays and start/end', () => {
    for (let off = 0; off < 16; off++) {
      for (let len = 0; len <= 64; len++) {
        const view = pool.subarray(off, off + len);
        const want = refCrc(view);
        expect(crc64(view)).toBe(want);
        expect(new Crc64().update(pool, off, off + len).digest()).toBe(want);
      }
    }
  });

  it('random large lengths and odd offsets, whole and in random pieces', () => {
    for (let trial = 0; trial < 12; trial++) {
      const off = (rnd() * 1000) | 0;
      const len = trial === 0 ? 250_000 : (rnd() * 70_000) | 0;
      const view = pool.subarray(off, off + len);
      const want = refCrc(view);
      expect(crc64(view)).toBe(want);
      const c = new Crc64();
      let at = 0;
      while (at < len) {
        const n = Math.min(len - at, rnd() < 0.5 ? (rnd() * 20) | 0 : (rnd() * 9000) | 0);
        c.update(view, at, at + n);
        at += n;
      }
      expect(c.digest()).toBe(want);
    }
  });

  it('reads only the given range (bytes around it do not matter), and rejects ranges outside the input', () => {
    const a = pool.slice(0, 100);
    const b = a.slice();
    b[9] ^= 0xff;
    b[90] ^= 0xff;
    expect(new Crc64().update(a, 10, 90).digest()).toBe(new Crc64().update(b, 10, 90).digest());
    expect(() => new Crc64().update(a, 0, 101)).toThrow(RangeError);
    expect(() => new Crc64().update(a, 50, 40)).toThrow(RangeError);
    expect(() => new Crc64().update(a, -1, 10)).toThrow(RangeError);
  });

  it('pageChecksum and updatePage match the definition for every page size and odd page views', () => {
    for (const size of [512, 1024, 4096, 8192, 65536, 100, 7]) {
      for (let trial = 0; trial < 3; trial++) {
        const off = (rnd() * 64) | 0;
        const page = pool.subarray(off, off + size);
        const pgno = trial === 0 ? 1 : trial === 1 ? 0xffffffff : 1 + ((rnd() * 2 ** 31) | 0);
        const want = refPageChecksum(pgno, page);
        expect(pageChecksum(pgno, page)).toBe(want);
        // updatePage: same page checksum, and the running CRC equals update(page).
        const prefix = pool.subarray(0, (rnd() * 30) | 0);
        const c = new Crc64().update(prefix);
        expect(c.updatePage(pgno, page)).toBe(want);
        expect(c.digest()).toBe(refCrc(Buffer.concat([prefix, page])));
      }
    }
  });

  it('updatePage on a zero page and a fresh CRC (register shift of all-ones and of zero input)', () => {
    const zero = new Uint8Array(4096);
    const c = new Crc64();
    expect(c.updatePage(1, zero)).toBe(refPageChecksum(1, zero));
    expect(c.digest()).toBe(refCrc(zero));
    expect(pageChecksum(1, zero)).toBe(0xd9328f592d9e733dn); // FORMAT.md §7.2 vector
  });

  it('DatabaseChecksum fed by updatePage equals addPage', () => {
    const pages = Array.from({ length: 20 }, () => randomBytes(rnd, 1024));
    const a = new DatabaseChecksum();
    const b = new DatabaseChecksum();
    const c = new Crc64();
    pages.forEach((p, i) => {
      a.addPage(i + 1, p);
      b.toggle(c.updatePage(i + 1, p));
    });
    expect(b.value()).toBe(a.value());
    expect(c.digest()).toBe(refCrc(Buffer.concat(pages)));
  });
});

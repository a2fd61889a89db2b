import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_FLAG, Crc64, DatabaseChecksum, crc64, databaseChecksum, pageChecksum } from '../../src/ltx/checksum.js';
import { GOLDEN, POST, STATES, prng } from './helpers.js';

const vectors = JSON.parse(readFileSync(path.join(GOLDEN, 'checksum-vectors.json'), 'utf8')) as Record<string, string>;
const vec = (prefix: string) => {
  const key = Object.keys(vectors).find((k) => k.startsWith(prefix));
  if (!key) throw new Error(`no vector ${prefix}`);
  return BigInt(`0x${vectors[key]}`);
};
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const db = (pageSize: number, fills: number[]) => {
  const out = new Uint8Array(pageSize * fills.length);
  fills.forEach((v, i) => out.fill(v, i * pageSize, (i + 1) * pageSize));
  return out;
};

describe('CRC-64/GO-ISO', () => {
  it('matches the check value and the empty input', () => {
    expect(crc64(new TextEncoder().encode('123456789'))).toBe(vec('crc64iso("123456789")'));
    expect(crc64(new Uint8Array())).toBe(vec('crc64iso("")'));
  });

  it('gives the same result fed in random pieces as in one call (slicing-by-8 vs bytewise tails)', () => {
    const rnd = prng(7);
    const data = new Uint8Array(5000).map(() => (rnd() * 256) | 0);
    const whole = crc64(data);
    for (let trial = 0; trial < 20; trial++) {
      const c = new Crc64();
      let at = 0;
      while (at < data.length) {
        const n = Math.min(data.length - at, (rnd() * 37) | 0);
        c.update(data, at, at + n);
        at += n;
      }
      expect(c.digest()).toBe(whole);
    }
  });
});

describe('LTX checksums', () => {
  it('page checksum vectors', () => {
    expect(pageChecksum(1, fill(512, 0x31))).toBe(vec('ChecksumPage(1, 512 x 0x31)'));
    expect(pageChecksum(1, fill(4096, 0))).toBe(vec('ChecksumPage(1, 4096 x 0x00)'));
  });

  it('database checksum vectors', () => {
    expect(databaseChecksum(db(512, [1, 2, 3]), 512)).toBe(vec('DB[512: 0x01,0x02,0x03]'));
    expect(databaseChecksum(db(512, [0x31]), 512)).toBe(vec('DB[512: "1"]'));
    expect(databaseChecksum(db(1024, [0x81, 0x82, 0x83]), 1024)).toBe(vec('DB[1024: 0x81,0x82,0x83]'));
    expect(databaseChecksum(db(512, [0x32, 0x33]), 512)).toBe(vec('DB[512: "2","3"]'));
    expect(databaseChecksum(new Uint8Array(0), 4096)).toBe(CHECKSUM_FLAG);
  });

  it('golden post-apply values follow from the recipe states', () => {
    for (const tx of [1, 2, 3]) {
      const sum = new DatabaseChecksum();
      for (const [pgno, page] of STATES[tx]) sum.addPage(pgno, page);
      expect(sum.value()).toBe(POST[tx]);
    }
  });

  it('updates incrementally: replacing pages and truncating gives the recomputed value', () => {
    const sum = new DatabaseChecksum(POST[1]);
    sum.toggle(pageChecksum(2, STATES[1].get(2)!)).addPage(2, STATES[2].get(2)!).addPage(4, STATES[2].get(4)!);
    expect(sum.value()).toBe(POST[2]);
    sum.toggle(pageChecksum(4, STATES[2].get(4)!)).toggle(pageChecksum(1, STATES[2].get(1)!)).addPage(1, STATES[3].get(1)!);
    expect(sum.value()).toBe(POST[3]);
  });
});

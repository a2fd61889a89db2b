import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LtxDecoder, decodeLtx } from '../../src/ltx/decoder.js';
import { hex64 } from '../../src/ltx/errors.js';
import { GOLDEN, POST, TX_PAGES, golden, layout, prng, rel, sha256hex } from './helpers.js';

const lines = layout();

describe('golden files decode and match layout.jsonl', () => {
  it('covers all 28 golden files', () => {
    expect(lines.length).toBe(28);
  });

  for (const line of lines) {
    it(rel(line), () => {
      const bytes = golden(rel(line));
      expect(bytes.length).toBe(line.size);
      const d = decodeLtx(bytes);
      const h = d.header;
      expect(h.flags).toBe(line.header.flags);
      expect(h.pageSize).toBe(line.header.pageSize);
      expect(h.commit).toBe(line.header.commit);
      expect(h.minTXID).toBe(BigInt(line.header.minTXID));
      expect(h.maxTXID).toBe(BigInt(line.header.maxTXID));
      expect(h.timestamp).toBe(BigInt(line.header.timestamp));
      expect(hex64(h.preApplyChecksum)).toBe(line.header.preApply);
      expect(h.walOffset).toBe(BigInt(line.header.walOffset));
      expect(h.walSize).toBe(BigInt(line.header.walSize));
      expect(h.walSalt1).toBe(line.header.walSalt1);
      expect(h.walSalt2).toBe(line.header.walSalt2);
      expect(hex64(h.nodeID)).toBe(line.header.nodeID);
      expect(d.frames.map((f) => ({ offset: f.offset, size: f.size, pgno: f.pgno, compressedSize: f.compressedSize }))).toEqual(
        line.frames.map((f) => ({ offset: f.offset, size: f.size, pgno: f.pgno, compressedSize: f.compressedSize })),
      );
      expect(d.encoding).toBe(line.frames.length === 0 ? 'none' : line.frames[0].flags === 1 ? 'lz4-block' : 'lz4-frame');
      expect(d.pages.map((p) => sha256hex(p.data))).toEqual(line.frames.map((f) => f.dataSha256));
      expect(d.indexOffset).toBe(line.indexOffset);
      expect(d.indexSize).toBe(line.indexSizeField);
      expect(hex64(d.trailer.postApplyChecksum)).toBe(line.trailer.postApply);
      expect(hex64(d.trailer.fileChecksum)).toBe(line.trailer.fileChecksum);
    });
  }
});

describe('golden transactions match the recipes', () => {
  for (const folder of ['checksum', 'nochecksum', 'legacy-v3-lz4frame-ltx-v0.5.1/checksum', 'legacy-v3-lz4frame-ltx-v0.5.1/nochecksum']) {
    it(folder, () => {
      const checks = !folder.endsWith('nochecksum');
      for (const tx of checks ? [1, 2, 3, 4] : [1, 2, 3]) {
        const name = `${tx.toString(16).padStart(16, '0')}-${tx.toString(16).padStart(16, '0')}.ltx`;
        const d = decodeLtx(golden(`${folder}/${name}`));
        expect(new Map(d.pages.map((p) => [p.pgno, p.data]))).toEqual(TX_PAGES[tx]);
        expect(d.trailer.postApplyChecksum).toBe(checks ? POST[tx] : 0n);
        expect(d.header.preApplyChecksum).toBe(checks && tx > 1 ? POST[tx - 1] : 0n);
      }
    });
  }

  it('sqlite-snapshot.ltx decodes to source.db byte for byte', () => {
    const source = new Uint8Array(readFileSync(path.join(GOLDEN, 'sqlite/source.db')));
    expect(sha256hex(source)).toBe('4096b8b5acd4d4cdd46866c5ee1521fb4fa71c7a9072e6bbf8204dc9333f6799');
    for (const name of ['sqlite-snapshot.ltx', 'sqlite-snapshot-nochecksum.ltx']) {
      const d = decodeLtx(golden(`sqlite/${name}`));
      const db = new Uint8Array(d.header.commit * d.header.pageSize);
      for (const p of d.pages) db.set(p.data, (p.pgno - 1) * d.header.pageSize);
      expect(Buffer.from(db).equals(Buffer.from(source))).toBe(true);
    }
  });
});

describe('streaming', () => {
  it('gives the same pages and summary for any chunking', () => {
    const rnd = prng(11);
    for (const line of lines) {
      const bytes = golden(rel(line));
      const whole = decodeLtx(bytes);
      for (let trial = 0; trial < 5; trial++) {
        const d = new LtxDecoder();
        const pages = [];
        let at = 0;
        while (at < bytes.length) {
          const n = trial === 0 ? 1 : 1 + ((rnd() * 700) | 0);
          pages.push(...d.write(bytes.subarray(at, at + n)));
          at += n;
        }
        const s = d.end();
        expect(pages.map((p) => p.pgno)).toEqual(whole.pages.map((p) => p.pgno));
        expect(pages.every((p, i) => Buffer.from(p.data).equals(whole.pages[i].data))).toBe(true);
        expect(s.trailer).toEqual(whole.trailer);
        expect(s.fileSize).toBe(bytes.length);
      }
    }
  });

  it('end() before the trailer is LTX_TRUNCATED and names where', () => {
    const bytes = golden('checksum/0000000000000002-0000000000000002.ltx');
    const d = new LtxDecoder();
    d.write(bytes.subarray(0, 470));
    expect(() => d.end()).toThrow(expect.objectContaining({ code: 'LTX_TRUNCATED', message: expect.stringContaining('the index size field') }));
  });
});

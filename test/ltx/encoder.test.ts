import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { databaseChecksum } from '../../src/ltx/checksum.js';
import { decodeLtx } from '../../src/ltx/decoder.js';
import { LtxEncoder, encodeLtx } from '../../src/ltx/encoder.js';
import { type LtxHeader, lockPage } from '../../src/ltx/header.js';
import { readTailIndex } from '../../src/ltx/page-index.js';
import { GOLDEN, POST, TX_PAGES, golden, prng, txName } from './helpers.js';

const require = createRequire(import.meta.url);

function pagesEqual(a: { pgno: number; data: Uint8Array }[], b: Map<number, Uint8Array>): boolean {
  if (a.length !== b.size) return false;
  return a.every((p) => b.has(p.pgno) && Buffer.from(p.data).equals(b.get(p.pgno)!));
}

describe('encoder vs golden files', () => {
  for (const folder of ['checksum', 'nochecksum']) {
    it(`re-encodes ${folder}/ transactions with the same pages, checksums and index semantics`, () => {
      for (const tx of folder === 'checksum' ? [1, 2, 3, 4] : [1, 2, 3]) {
        const ref = decodeLtx(golden(`${folder}/${txName(tx)}`));
        const post = ref.trailer.postApplyChecksum;
        const ours = encodeLtx(ref.header, [...TX_PAGES[tx]].map(([pgno, data]) => ({ pgno, data })), { postApplyChecksum: post });
        const back = decodeLtx(ours.bytes);
        expect(back.header).toEqual(ref.header);
        expect(pagesEqual(back.pages, TX_PAGES[tx])).toBe(true);
        expect(back.trailer.postApplyChecksum).toBe(folder === 'checksum' ? POST[tx] : 0n);
        expect(back.frames.map((f) => f.pgno)).toEqual(ref.frames.map((f) => f.pgno));
        const tail = readTailIndex(ours.bytes, ours.bytes.length);
        expect(tail.ok && tail.entries).toEqual(back.frames.map(({ pgno, offset, size }) => ({ pgno, offset, size })));
        if (tx === 4) expect(Buffer.from(ours.bytes).equals(golden(`${folder}/${txName(tx)}`))).toBe(true); // no frames: byte-identical
      }
    });
  }

  it('computes the snapshot post-apply checksum itself (sqlite-snapshot → a81b93baf899ad49)', () => {
    const db = new Uint8Array(readFileSync(path.join(GOLDEN, 'sqlite/source.db')));
    const pages = Array.from({ length: 9 }, (_, i) => ({ pgno: i + 1, data: db.subarray(i * 4096, (i + 1) * 4096) }));
    const out = encodeLtx({ pageSize: 4096, commit: 9, minTXID: 1n, maxTXID: 1n, timestamp: 1700000000000n }, pages);
    expect(out.postApplyChecksum).toBe(0xa81b93baf899ad49n);
    const back = decodeLtx(out.bytes);
    expect(back.pages.length).toBe(9);
    // Our compressor is not pierrec/lz4's, but it should be in the same league on real pages.
    const golden9 = decodeLtx(golden('sqlite/sqlite-snapshot.ltx'));
    expect(out.bytes.length).toBeLessThan(golden9.fileSize * 1.25);
  });

  it('writes an incompressible page as a block larger than the page', () => {
    const page = TX_PAGES[1].get(3)!;
    const out = encodeLtx({ pageSize: 4096, commit: 3, minTXID: 5n, maxTXID: 5n, flags: 2 }, [{ pgno: 3, data: page }]);
    expect(out.index[0].size).toBe(4124); // 6 + 4 + 4114, as the reference writes it
    expect(Buffer.from(decodeLtx(out.bytes).pages[0].data).equals(page)).toBe(true);
  });
});

describe('encoder state machine and rules', () => {
  const snap: Partial<LtxHeader> & { pageSize: number; commit: number; minTXID: bigint; maxTXID: bigint } = { pageSize: 512, commit: 3, minTXID: 1n, maxTXID: 1n };
  const page = new Uint8Array(512);
  const err = (code: string, text: string) => expect.objectContaining({ code, message: expect.stringContaining(text) });

  it('says which step was expected', () => {
    const e = new LtxEncoder();
    expect(() => e.writePage(1, page)).toThrow(err('LTX_STATE', 'expected writeHeader()'));
    expect(() => e.finish()).toThrow(err('LTX_STATE', 'expected writeHeader()'));
    e.writeHeader(snap);
    expect(() => e.writeHeader(snap)).toThrow(err('LTX_STATE', 'expected writePage() or finish()'));
    for (let p = 1; p <= 3; p++) e.writePage(p, page);
    e.finish();
    expect(() => e.writePage(4, page)).toThrow(err('LTX_STATE', 'finished'));
  });

  it('rejects pages out of order, beyond commit, of the wrong size, the lock page, and gaps in snapshots', () => {
    const inc = { ...snap, minTXID: 2n, maxTXID: 2n, flags: 2 };
    const e = new LtxEncoder();
    e.writeHeader(inc);
    e.writePage(2, page);
    expect(() => e.writePage(2, page)).toThrow(err('LTX_BAD_PAGE', 'out of order'));
    expect(() => e.writePage(4, page)).toThrow(err('LTX_BAD_PAGE', 'beyond commit 3'));
    expect(() => e.writePage(3, new Uint8Array(100))).toThrow(err('LTX_BAD_PAGE', 'expected page size 512'));
    const big = new LtxEncoder();
    big.writeHeader({ ...inc, commit: lockPage(512) + 1 });
    expect(() => big.writePage(lockPage(512), page)).toThrow(err('LTX_BAD_PAGE', 'lock page'));
    const s = new LtxEncoder();
    s.writeHeader(snap);
    expect(() => s.writePage(2, page)).toThrow(err('LTX_BAD_PAGE', 'expected page 1'));
    s.writePage(1, page);
    expect(() => s.finish()).toThrow(err('LTX_BAD_PAGE', 'snapshot ends at page 1, commit is 3'));
  });

  it('validates the header and the post-apply checksum', () => {
    expect(() => new LtxEncoder().writeHeader({ ...snap, pageSize: 1000 })).toThrow(err('LTX_BAD_HEADER', 'page size 1000'));
    expect(() => new LtxEncoder().writeHeader({ ...snap, minTXID: 3n, maxTXID: 2n })).toThrow(err('LTX_BAD_HEADER', 'below minTXID'));
    expect(() => new LtxEncoder().writeHeader({ ...snap, flags: 1 })).toThrow(err('LTX_BAD_HEADER', 'only 0x2'));
    expect(() => new LtxEncoder().writeHeader({ ...snap, minTXID: 2n, maxTXID: 2n, preApplyChecksum: 5n })).toThrow(err('LTX_BAD_HEADER', 'bit 63'));
    const e = new LtxEncoder();
    e.writeHeader({ ...snap, minTXID: 2n, maxTXID: 2n, preApplyChecksum: POST[1] });
    e.writePage(1, page);
    expect(() => e.finish()).toThrow(/postApplyChecksum is required/);
    const s = new LtxEncoder();
    s.writeHeader({ ...snap, commit: 1 });
    s.writePage(1, page);
    expect(() => s.finish({ postApplyChecksum: POST[1] })).toThrow(err('LTX_CHECKSUM_MISMATCH', 'pages give'));
  });
});

describe('round trips', () => {
  it('random page sets in every page size (seeded)', () => {
    const rnd = prng(1234);
    for (let trial = 0; trial < 60; trial++) {
      const pageSize = 512 << ((rnd() * 8) | 0);
      const commit = 1 + ((rnd() * 40) | 0);
      const snapshot = rnd() < 0.4;
      const checks = rnd() < 0.5;
      const pages = new Map<number, Uint8Array>();
      for (let pgno = 1; pgno <= commit; pgno++) {
        if (!snapshot && rnd() < 0.6) continue;
        const p = new Uint8Array(pageSize);
        const kind = (rnd() * 4) | 0;
        if (kind === 1) for (let i = 0; i < pageSize; i++) p[i] = (rnd() * 256) | 0;
        if (kind === 2) for (let i = 0; i < pageSize; i++) p[i] = (i % 7 === 0 ? (rnd() * 256) | 0 : 65 + (i % 13));
        if (kind === 3) p.fill((rnd() * 256) | 0, (rnd() * pageSize) | 0);
        pages.set(pgno, p);
      }
      const min = snapshot ? 1n : BigInt(2 + ((rnd() * 100) | 0));
      const header = { pageSize, commit, minTXID: min, maxTXID: min + BigInt((rnd() * 3) | 0), flags: checks ? 0 : 2, preApplyChecksum: checks && !snapshot ? POST[1] : 0n };
      const out = encodeLtx(header, [...pages].map(([pgno, data]) => ({ pgno, data })), { postApplyChecksum: checks && !snapshot ? POST[2] : undefined });
      const back = decodeLtx(out.bytes);
      expect(pagesEqual(back.pages, pages)).toBe(true);
      expect(back.trailer.fileChecksum).toBe(out.fileChecksum);
      if (checks && snapshot) {
        const img = new Uint8Array(commit * pageSize);
        for (const [pgno, data] of pages) img.set(data, (pgno - 1) * pageSize);
        expect(back.trailer.postApplyChecksum).toBe(databaseChecksum(img, pageSize));
      }
    }
  });

  it('random SQLite databases made with better-sqlite3 (seeded)', () => {
    const Database = require('better-sqlite3') as new (p: string) => { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): { run(...a: unknown[]): void }; serialize(): Buffer; close(): void };
    const rnd = prng(99);
    for (const pageSize of [1024, 4096, 8192]) {
      const db = new Database(':memory:');
      db.pragma(`page_size=${pageSize}`);
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n REAL, b BLOB); CREATE INDEX t_name ON t(name)');
      const ins = db.prepare('INSERT INTO t(name, n, b) VALUES (?, ?, ?)');
      for (let i = 0; i < 1500; i++) {
        ins.run(`name-${(rnd() * 1e6) | 0}-${'x'.repeat((rnd() * 30) | 0)}`, rnd() * 1000, Buffer.from(Array.from({ length: (rnd() * 60) | 0 }, () => (rnd() * 256) | 0)));
      }
      const img = new Uint8Array(db.serialize());
      db.close();
      const commit = img.length / pageSize;
      const pages = Array.from({ length: commit }, (_, i) => ({ pgno: i + 1, data: img.subarray(i * pageSize, (i + 1) * pageSize) }));
      const out = encodeLtx({ pageSize, commit, minTXID: 1n, maxTXID: 7n, timestamp: 1n }, pages);
      expect(out.postApplyChecksum).toBe(databaseChecksum(img, pageSize));
      const back = decodeLtx(out.bytes);
      const restored = new Uint8Array(img.length);
      for (const p of back.pages) restored.set(p.data, (p.pgno - 1) * pageSize);
      expect(Buffer.from(restored).equals(img)).toBe(true);
    }
  });
});

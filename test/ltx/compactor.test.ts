import { describe, expect, it } from 'vitest';
import { compactLtx } from '../../src/ltx/compactor.js';
import { decodeLtx } from '../../src/ltx/decoder.js';
import { encodeLtx } from '../../src/ltx/encoder.js';
import { golden, prng, txName } from './helpers.js';

const LEGACY = 'legacy-v3-lz4frame-ltx-v0.5.1';

function sameAsGolden(ours: Uint8Array, goldenPath: string): void {
  const a = decodeLtx(ours);
  const b = decodeLtx(golden(goldenPath));
  expect(a.header).toEqual(b.header);
  expect(a.trailer.postApplyChecksum).toBe(b.trailer.postApplyChecksum);
  expect(a.pages.map((p) => p.pgno)).toEqual(b.pages.map((p) => p.pgno));
  a.pages.forEach((p, i) => expect(Buffer.from(p.data).equals(b.pages[i].data)).toBe(true));
  expect(a.encoding).toBe('lz4-block');
}

describe('compactor vs golden compacted-* files', () => {
  const cases: [number, number][] = [[1, 2], [2, 3], [1, 3]];
  for (const folder of ['checksum', 'nochecksum', `${LEGACY}/checksum`, `${LEGACY}/nochecksum`]) {
    for (const [lo, hi] of cases) {
      it(`${folder}: compact ${lo}..${hi}`, async () => {
        const inputs = [];
        for (let tx = lo; tx <= hi; tx++) inputs.push(golden(`${folder}/${txName(tx)}`));
        const out = await compactLtx(inputs, { flags: folder.endsWith('nochecksum') ? 2 : 0 });
        sameAsGolden(out.bytes, `${folder}/compacted-${txName(lo).replace('.ltx', '').slice(0, 16)}-${txName(hi).slice(17)}`);
        // The legacy inputs compact into the current encoding, matching the current-format golden output.
        sameAsGolden(out.bytes, `${folder.replace(`${LEGACY}/`, '')}/compacted-${txName(lo).slice(0, 16)}-${txName(hi).slice(17)}`);
      });
    }
  }

  it('mixes a legacy snapshot with a current-format incremental', async () => {
    const out = await compactLtx([golden(`${LEGACY}/nochecksum/${txName(1)}`), golden(`nochecksum/${txName(2)}`)]);
    sameAsGolden(out.bytes, 'nochecksum/compacted-0000000000000001-0000000000000002.ltx');
  });

  it('takes streamed inputs in odd chunk sizes', async () => {
    async function* chunks(b: Uint8Array) {
      for (let at = 0; at < b.length; at += 333) yield b.subarray(at, at + 333);
    }
    const out = await compactLtx([1, 2, 3].map((tx) => chunks(golden(`checksum/${txName(tx)}`))), { flags: 0 });
    sameAsGolden(out.bytes, 'checksum/compacted-0000000000000001-0000000000000003.ltx');
  });
});

describe('compactor rules', () => {
  const f = (tx: number) => golden(`nochecksum/${txName(tx)}`);
  it('refuses gaps, wrong order, mixed page sizes and no inputs', async () => {
    await expect(compactLtx([f(1), f(3)])).rejects.toMatchObject({ code: 'LTX_COMPACT', message: expect.stringContaining('gap between TXID 1 and 3') });
    await expect(compactLtx([f(2), f(1)])).rejects.toMatchObject({ code: 'LTX_COMPACT', message: expect.stringContaining('TXID order') });
    const small = encodeLtx({ pageSize: 512, commit: 1, minTXID: 3n, maxTXID: 3n, flags: 2 }, [{ pgno: 1, data: new Uint8Array(512) }]).bytes;
    await expect(compactLtx([f(2), small])).rejects.toMatchObject({ code: 'LTX_COMPACT', message: expect.stringContaining('page size 512') });
    await expect(compactLtx([])).rejects.toMatchObject({ code: 'LTX_COMPACT' });
    await expect(compactLtx([f(1), f(2)], { flags: 0 })).rejects.toMatchObject({ code: 'LTX_COMPACT', message: expect.stringContaining('needs every input to carry checksums') });
    const out = await compactLtx([f(1), f(3)], { allowGaps: true });
    expect(decodeLtx(out.bytes).header.maxTXID).toBe(3n);
  });

  it('verifies every input checksum: a corrupt last byte fails the compaction', async () => {
    const bad = f(2).slice();
    bad[bad.length - 1] ^= 1;
    await expect(compactLtx([f(1), bad])).rejects.toMatchObject({ code: 'LTX_CHECKSUM_MISMATCH', message: expect.stringMatching(/^compact input 1: /) });
  });

  it('equals applying the files one by one (random chains, seeded)', async () => {
    const rnd = prng(5);
    for (let trial = 0; trial < 25; trial++) {
      const pageSize = 512;
      let db = new Map<number, Uint8Array>();
      let commit = 1 + ((rnd() * 20) | 0);
      const files: Uint8Array[] = [];
      for (let tx = 1; tx <= 2 + ((rnd() * 5) | 0); tx++) {
        if (tx > 1) commit = Math.max(1, commit + ((rnd() * 9) | 0) - 3);
        const pages = new Map<number, Uint8Array>();
        for (let pgno = 1; pgno <= commit; pgno++) {
          // Grown pages must be written (SQLite writes every page it allocates).
          if (tx === 1 || !db.has(pgno) || rnd() < 0.3) pages.set(pgno, new Uint8Array(pageSize).fill((rnd() * 256) | 0, 0, 1 + ((rnd() * pageSize) | 0)));
        }
        files.push(encodeLtx({ pageSize, commit, minTXID: BigInt(tx), maxTXID: BigInt(tx), flags: 2 }, [...pages].map(([pgno, data]) => ({ pgno, data }))).bytes);
        const next = new Map<number, Uint8Array>();
        for (let pgno = 1; pgno <= commit; pgno++) next.set(pgno, pages.get(pgno) ?? db.get(pgno)!);
        db = next;
      }
      const start = (rnd() * files.length) | 0;
      const out = decodeLtx((await compactLtx(files.slice(start))).bytes);
      if (start === 0) {
        expect(out.pages.length).toBe(db.size);
      }
      for (const p of out.pages) expect(Buffer.from(p.data).equals(db.get(p.pgno)!)).toBe(true);
    }
  });
});


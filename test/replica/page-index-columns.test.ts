// The page index now reads columns (readTailIndexColumns) instead of entry objects:
// fetchFileIndex's columns and lazy entries, apply() with either shape, and buildPageIndex
// against a model built from the object parser.
import { afterAll, describe, expect, it } from 'vitest';
import { encodeLtx, pageIndexColumns, readTailIndex, type LtxHeader, type PageIndexEntry } from '../../src/ltx/index.js';
import { buildPageIndex, fetchFileIndex, PageIndex, planRestore, TAIL_BYTES } from '../../src/replica/index.js';
import { prng } from '../support/prng.js';
import { diffLtx, makeStore, putLtx, removeTempDirs, snapshotLtx } from './helpers.js';

afterAll(removeTempDirs);

function header(txid: bigint, commit: number, pageSize = 4096): LtxHeader {
  return { flags: 0, pageSize, commit, minTXID: txid, maxTXID: txid, timestamp: 0n, preApplyChecksum: 0n, walOffset: 0n, walSize: 0n, walSalt1: 0, walSalt2: 0, nodeID: 0n };
}

function entriesOf(bytes: Uint8Array): PageIndexEntry[] {
  const r = readTailIndex(bytes, bytes.length);
  if (!r.ok) throw new Error('a whole file is a long enough tail');
  return r.entries;
}

describe.each(['file', 's3'] as const)('fetchFileIndex on %s', (kind) => {
  it('returns columns equal to the object parser’s entries, small and large, and makes entries once on demand', async () => {
    const store = makeStore(kind);
    const small = encodeLtx({ pageSize: 512, commit: 3, minTXID: 1n, maxTXID: 1n, flags: 2 }, [1, 2, 3].map((pgno) => ({ pgno, data: new Uint8Array(512).fill(pgno) })));
    const big = encodeLtx(
      { pageSize: 512, commit: 7000, minTXID: 2n, maxTXID: 2n, flags: 2 },
      Array.from({ length: 7000 }, (_, i) => ({ pgno: i + 1, data: new Uint8Array(512).fill(i & 0xff) })),
    );
    const smallKey = await putLtx(store, 0, 1n, 1n, small.bytes);
    const bigKey = await putLtx(store, 0, 2n, 2n, big.bytes);

    const s = await fetchFileIndex(store, { key: smallKey, size: small.bytes.length });
    expect(s.whole).not.toBeNull();
    expect(Buffer.compare(s.whole!, small.bytes)).toBe(0);
    expect(s.columns).toEqual(pageIndexColumns(small.index));

    const before = store.stats().get.requests;
    const b = await fetchFileIndex(store, { key: bigKey, size: big.bytes.length });
    // ~7 index bytes an entry: more than the 32 KiB first tail, so a second GET.
    expect(store.stats().get.requests - before).toBe(2);
    expect(big.bytes.length).toBeGreaterThan(TAIL_BYTES);
    expect(b.whole).toBeNull();
    expect(b.columns.count).toBe(7000);
    expect(b.columns).toEqual(pageIndexColumns(entriesOf(big.bytes)));
    const entries = b.entries;
    expect(entries).toEqual(big.index);
    expect(b.entries).toBe(entries); // made once
    await store.close();
  });
});

describe('PageIndex.apply', () => {
  it('gives the same lookups, sizes and changed pages for entries and for columns (random chains with shrinks and growth)', () => {
    const rnd = prng(21);
    for (let run = 0; run < 20; run++) {
      const byEntries = PageIndex.empty(4096);
      const byColumns = PageIndex.empty(4096);
      const model = new Map<number, { key: string; offset: number; size: number }>();
      let commit = 0;
      let maxSeen = 0;
      for (let t = 1; t <= 30; t++) {
        const r = rnd();
        commit = r < 0.15 ? Math.floor(commit / 2) : r < 0.5 ? commit + Math.floor(rnd() * 300) : commit;
        if (t === 1) commit = Math.max(commit, 1 + Math.floor(rnd() * 100));
        maxSeen = Math.max(maxSeen, commit);
        // Ascending pages, some beyond the new commit (which apply ignores).
        const entries: PageIndexEntry[] = [];
        let offset = 100;
        for (let pgno = 1; pgno <= commit + 20; pgno++) {
          if (rnd() < (t === 1 ? 0.9 : 0.1)) {
            const size = 7 + Math.floor(rnd() * 4000);
            entries.push({ pgno, offset, size });
            offset += size;
          }
        }
        const key = `ltx/0/${t}.ltx`;
        const h = header(BigInt(t), commit);
        const a = byEntries.apply(key, h, entries);
        const b = byColumns.apply(key, h, pageIndexColumns(entries));
        expect(b).toEqual(a);
        const dropped = [...model.keys()].filter((p) => p > commit);
        const written = entries.filter((e) => e.pgno <= commit).map((e) => e.pgno);
        expect(new Set(a)).toEqual(new Set([...dropped, ...written]));
        for (const p of dropped) model.delete(p);
        for (const e of entries) if (e.pgno <= commit) model.set(e.pgno, { key, offset: e.offset, size: e.size });
        expect([byColumns.commit, byColumns.txid, byColumns.pages]).toEqual([commit, BigInt(t), model.size]);
        expect([byEntries.commit, byEntries.txid, byEntries.pages]).toEqual([commit, BigInt(t), model.size]);
        for (let p = 0; p <= maxSeen + 25; p++) {
          expect(byColumns.lookup(p)).toEqual(model.get(p));
          expect(byEntries.lookup(p)).toEqual(model.get(p));
        }
      }
    }
  });

  it('still refuses a file that does not continue its TXID, in either shape', () => {
    const idx = PageIndex.empty(4096);
    idx.apply('a', header(1n, 2), pageIndexColumns([{ pgno: 1, offset: 100, size: 50 }]));
    expect(() => idx.apply('c', header(3n, 2), pageIndexColumns([]))).toThrow(expect.objectContaining({ code: 'REPLICA_GAP' }));
    expect(() => idx.apply('c', header(3n, 2), [])).toThrow(expect.objectContaining({ code: 'REPLICA_GAP' }));
  });
});

describe('buildPageIndex', () => {
  it('equals the object-parser model over a chain with growth and a shrink, and survives toData/fromData', async () => {
    const store = makeStore('file');
    const pageSize = 1024;
    const rnd = prng(8);
    const image = (pages: number, salt: number) => {
      const img = new Uint8Array(pages * pageSize);
      for (let i = 0; i < img.length; i += 97) img[i] = (i * salt + salt) & 0xff;
      return img;
    };
    // A snapshot of 6,000 pages (index over 32 KiB), then grow, change, shrink.
    const images = [image(6000, 1)];
    images.push(image(6500, 1));
    images.push(image(6500, 3).map((b, i) => (i < 200 * pageSize ? b : images[1][i])));
    images.push(images[2].slice(0, 3000 * pageSize));
    images.push(image(3100, 1).map((b, i) => (i < 3000 * pageSize && rnd() < 0.999 ? images[3][i] : b)));
    const files = [snapshotLtx(images[0], pageSize, { checksums: false }).bytes];
    for (let t = 1; t < images.length; t++) files.push(diffLtx(images[t - 1], images[t], pageSize, BigInt(t + 1), { checksums: false }).bytes);
    await putLtx(store, 9, 1n, 1n, files[0]);
    for (let t = 1; t < files.length; t++) await putLtx(store, 0, BigInt(t + 1), BigInt(t + 1), files[t]);

    const plan = await planRestore(store);
    expect(plan.files.length).toBe(files.length);
    const built = await buildPageIndex(store, plan);
    // The model: each file's entries from the object parser, later files win, trimmed to the last commit.
    const model = new Map<number, { key: string; offset: number; size: number }>();
    plan.files.forEach((f, i) => {
      for (const e of entriesOf(files[i])) model.set(e.pgno, { key: f.key, offset: e.offset, size: e.size });
    });
    const commit = images[images.length - 1].length / pageSize;
    for (const p of [...model.keys()]) if (p > commit) model.delete(p);
    expect([built.commit, built.pages, built.txid]).toEqual([commit, model.size, BigInt(files.length)]);
    const copy = PageIndex.fromData(structuredClone(built.toData()));
    for (let p = 0; p <= 6600; p++) {
      expect(built.lookup(p)).toEqual(model.get(p));
      expect(copy.lookup(p)).toEqual(model.get(p));
    }
    await store.close();
  });
});

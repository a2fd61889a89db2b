// The page index from file tails: correctness against the database states, and the
// request count (one GET per file when its index fits in the 32 KiB tail, two when larger).
import { afterAll, describe, expect, it } from 'vitest';
import { decodePageFrame } from '../../src/ltx/index.js';
import { buildPageIndex, planRestore, TAIL_BYTES } from '../../src/replica/index.js';
import { diffLtx, fileStore, history, putLtx, s3Store, snapshotLtx, tempDir, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

describe.each(['file', 's3'] as const)('buildPageIndex on %s', (kind) => {
  it('maps every page of each state to the newest frame, dropping pages beyond commit', async () => {
    const store = kind === 'file' ? fileStore() : s3Store();
    const images = history(tempDir('pidx'), 4096, 7);
    await putLtx(store, 9, 1n, 1n, snapshotLtx(images[0], 4096).bytes);
    for (let t = 2; t <= images.length; t++) await putLtx(store, 0, BigInt(t), BigInt(t), diffLtx(images[t - 2], images[t - 1], 4096, BigInt(t)).bytes);
    for (let t = 1; t <= images.length; t++) {
      const plan = await planRestore(store, { txid: BigInt(t) });
      const before = store.stats().get.requests;
      const idx = await buildPageIndex(store, plan);
      // Every file here is under 32 KiB: one whole-file GET each, the header included.
      expect(store.stats().get.requests - before).toBe(plan.files.length);
      const image = images[t - 1];
      expect(idx.commit).toBe(image.length / 4096);
      expect(idx.pageSize).toBe(4096);
      expect(idx.txid).toBe(BigInt(t));
      expect(idx.lookup(idx.commit + 1)).toBeUndefined();
      expect(idx.lookup(0)).toBeUndefined();
      for (let pgno = 1; pgno <= idx.commit; pgno++) {
        const loc = idx.lookup(pgno)!;
        const frame = await store.get(loc.key, { range: { offset: loc.offset, length: loc.size } });
        const page = decodePageFrame(frame, 4096, pgno).data;
        expect(Buffer.compare(page, image.subarray((pgno - 1) * 4096, pgno * 4096))).toBe(0);
      }
    }
    await store.close();
  });

  it('costs two GETs for a file whose index is larger than 32 KiB (plus the last file header when large)', async () => {
    const store = kind === 'file' ? fileStore() : s3Store();
    const pageSize = 1024;
    const pages = 6000; // ~7 index bytes a page: ~42 KB index
    const image = new Uint8Array(pageSize * pages);
    for (let i = 0; i < image.length; i += 7) image[i] = (i * 31) & 0xff;
    const snap = snapshotLtx(image, pageSize, { checksums: false });
    await putLtx(store, 9, 1n, 1n, snap.bytes);
    let plan = await planRestore(store);
    let before = store.stats().get.requests;
    let idx = await buildPageIndex(store, plan);
    // Two tail GETs, and one header GET because the (only, so last) file is above 32 KiB.
    expect(store.stats().get.requests - before).toBe(3);
    expect(idx.commit).toBe(pages);
    expect(idx.pages).toBe(pages);

    const next = image.slice();
    next.fill(9, 0, pageSize);
    await putLtx(store, 0, 2n, 2n, diffLtx(image, next, pageSize, 2n, { checksums: false }).bytes);
    plan = await planRestore(store);
    before = store.stats().get.requests;
    idx = await buildPageIndex(store, plan);
    // Big snapshot: 2 GETs; small last file: 1 GET that also carries its header.
    expect(store.stats().get.requests - before).toBe(3);
    expect(idx.lookup(1)!.key).toBe(plan.files[1].key);
    expect(idx.lookup(2)!.key).toBe(plan.files[0].key);
    expect(snap.bytes.length).toBeGreaterThan(TAIL_BYTES);
    await store.close();
  });
});

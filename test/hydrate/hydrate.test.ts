// hydrate() builds a file byte-identical to restore() of the same replica, on
// file:// and S3, for checksummed and NoChecksum chains; a second call reuses it;
// newer files are applied (in hydrate() and by applyLtxFiles) instead of starting
// over; the sidecar says what the file is; a sidecar for another replica is never reused.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyLtxFiles, hydrate, hydrationTempPaths, readSidecar, sidecarPath, type HydrationProgress } from '../../src/hydrate/index.js';
import { compactLtx } from '../../src/ltx/index.js';
import { choosePlan, importDatabase, layoutFor, listReplica } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { makeDb, makeStore, removeTempDirs, tempDir } from '../replica/helpers.js';
import { addL0, bindAll, makeReplica, restored, wrapGets } from './helpers.js';

afterAll(removeTempDirs);

describe.each(['file', 's3'] as const)('hydrate on %s', (kind) => {
  for (const checksums of [true, false]) {
    it(`${checksums ? 'checksummed' : 'NoChecksum'} chain: identical to restore, reused, then caught up`, async () => {
      const dir = tempDir('hyd');
      const store = makeStore(kind);
      const { images, pageSize } = await makeReplica(store, dir, { bytes: 3 << 20, steps: 5, checksums });
      const out = path.join(dir, 'hydrated.db');
      const progress: HydrationProgress[] = [];
      const f = await hydrate({ store, path: out, chunkBytes: 256 << 10, concurrency: 4, onProgress: (p) => progress.push(p) });
      expect(f.txid).toBe(6n);
      expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
      expect(Buffer.compare(readFileSync(out), images[5])).toBe(0);
      expect(f.commit * f.pageSize).toBe(images[5].length);
      expect(f.checksum === null).toBe(!checksums);
      expect(f.stats!.mode).toBe('built');
      expect(progress.at(-1)).toMatchObject({ phase: 'done', percent: 100, txid: 6n });
      const phases = [...new Set(progress.map((p) => p.phase))];
      expect(phases).toEqual(['plan', 'fetch', 'catchup', 'verify', 'done']);
      expect(progress.filter((p) => p.phase !== 'done').every((p) => p.percent < 100 && p.bytesDone <= p.bytesTotal)).toBe(true);
      expect(existsSync(hydrationTempPaths(out).tmp)).toBe(false);
      expect(existsSync(hydrationTempPaths(out).journal)).toBe(false);
      const side = readSidecar(out, store.url)!;
      expect(side).toMatchObject({ url: store.url, txid: 6n, pageSize, commit: f.commit, applyingTo: null, identity: { key: layoutFor(store).fileKey(0, 6n, 6n) } });

      // Current: reused with a listing and one small read.
      const again = await hydrate({ store, path: out });
      expect(again.stats!.mode).toBe('reused');
      expect(again.stats!.bytesFetched).toBeLessThan(100);

      // Two more transactions: only they are applied.
      const more = [...images];
      // TXID 7: images[5] with a changed page 2 (a valid SQLite-shaped change is not needed for hydrate).
      const next = new Uint8Array(more[5]);
      next.fill(7, pageSize, pageSize + 100);
      more.push(next);
      await addL0(store, more, 7, pageSize, checksums);
      const caught = await hydrate({ store, path: out });
      expect(caught.stats!.mode).toBe('caught-up');
      expect(caught.txid).toBe(7n);
      expect(caught.stats!.bytesFetched).toBeLessThan(64 << 10);
      expect(Buffer.compare(readFileSync(out), next)).toBe(0);
      expect(readSidecar(out)!.txid).toBe(7n);
      await store.close();
    });
  }
});

describe('applyLtxFiles and identity', () => {
  it('applyLtxFiles brings a file hydrated at an older TXID to the latest, identical to restore', async () => {
    for (const checksums of [true, false]) {
      const dir = tempDir('hyd-apply');
      const store = makeStore('s3');
      await makeReplica(store, dir, { bytes: 1 << 20, steps: 6, checksums });
      const out = path.join(dir, 'h.db');
      const listing = await listReplica(store);
      const f = await hydrate({ store, path: out, plan: choosePlan(store.url, listing, 3n) });
      expect(f.txid).toBe(3n);
      expect(Buffer.compare(readFileSync(out), await restored(store, dir, 3n))).toBe(0);
      const newer = listing.filter((x) => x.minTXID > 3n).sort((a, b) => Number(a.minTXID - b.minTXID));
      const g = await applyLtxFiles(f, store, newer);
      expect(g.txid).toBe(7n);
      expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
      expect(readSidecar(out)).toMatchObject({ txid: 7n, applyingTo: null, commit: g.commit });
      if (checksums) expect(g.checksum).not.toBeNull();
      // A file that does not continue TXID 7 is refused before anything is fetched.
      await expect(applyLtxFiles(g, store, [newer[0]])).rejects.toMatchObject({ code: 'HYDRATE_GAP' });
      await store.close();
    }
  });

  it('after compaction removed the recorded file, the identity check still recognizes the replica (checksums and content)', async () => {
    for (const checksums of [true, false]) {
      const dir = tempDir('hyd-compact');
      const store = makeStore('file');
      const { images, pageSize } = await makeReplica(store, dir, { bytes: 1 << 20, steps: 4, checksums });
      const out = path.join(dir, 'h.db');
      await hydrate({ store, path: out });
      // Compact L0 2..5 into one L1 file and delete them; add TXID 6 at L0.
      const l0 = (await listReplica(store)).filter((f) => f.level === 0).sort((a, b) => Number(a.minTXID - b.minTXID));
      const l1 = await compactLtx(await Promise.all(l0.map((f) => store.get(f.key))), checksums ? { flags: 0 } : {});
      await store.put(layoutFor(store).fileKey(1, 2n, 5n), l1.bytes);
      await store.deleteMany(l0.map((f) => f.key));
      const next = new Uint8Array(images[4]);
      next.fill(9, 0 + 200, 300);
      await addL0(store, [...images, next], 6, pageSize, checksums);
      const g = await hydrate({ store, path: out });
      expect(g.stats!.mode).toBe('caught-up');
      expect(Buffer.compare(readFileSync(out), next)).toBe(0);
      await store.close();
    }
  });

  it('page size 512 (indexes larger than the 32 KiB tail read): identical to restore', async () => {
    const dir = tempDir('hyd-512');
    const store = makeStore('file');
    const { images } = await makeReplica(store, dir, { bytes: 4 << 20, steps: 2, checksums: true, pageSize: 512 });
    expect(images[0].length / 512).toBeGreaterThan(8000);
    const out = path.join(dir, 'h.db');
    await hydrate({ store, path: out, chunkBytes: 1 << 20 });
    expect(Buffer.compare(readFileSync(out), images[2])).toBe(0);
    await store.close();
  });

  it('files compacted away mid-run: re-planned onto the L1 file, identical to restore', async () => {
    const dir = tempDir('hyd-vanish');
    const store = makeStore('s3');
    await makeReplica(store, dir, { bytes: 1 << 20, steps: 4, checksums: false });
    const l0 = (await listReplica(store)).filter((f) => f.level === 0).sort((a, b) => Number(a.minTXID - b.minTXID));
    let compacted = false;
    // The first read of TXID 3's L0 file compacts L0 2..5 into L1 and deletes the L0 files first.
    const racing = wrapGets(store, async (key, read) => {
      if (!compacted && key === l0[1].key) {
        compacted = true;
        const l1 = await compactLtx(await Promise.all(l0.map((f) => store.get(f.key))));
        await store.put(layoutFor(store).fileKey(1, 2n, 5n), l1.bytes);
        await store.deleteMany(l0.map((f) => f.key));
      }
      return read();
    });
    const out = path.join(dir, 'h.db');
    const f = await hydrate({ store: racing, path: out });
    expect(compacted).toBe(true);
    expect(f.txid).toBe(5n);
    expect(f.identity.key).toBe(layoutFor(store).fileKey(1, 2n, 5n));
    expect(Buffer.compare(readFileSync(out), await restored(store, dir))).toBe(0);
    await store.close();
  });

  it('a sidecar for another replica (other URL, or the same URL re-imported) is not reused', async () => {
    const dir = tempDir('hyd-other');
    const a = makeStore('s3');
    const b = makeStore('s3');
    await makeReplica(a, dir, { bytes: 1 << 20, steps: 2, checksums: false });
    await makeReplica(b, dir, { bytes: 600 << 10, steps: 3, checksums: false });
    const out = path.join(dir, 'h.db');
    await hydrate({ store: a, path: out });
    expect(readSidecar(out, b.url)).toBeNull();
    const fb = await hydrate({ store: b, path: out });
    expect(fb.stats!.mode).toBe('built');
    expect(Buffer.compare(readFileSync(out), await restored(b, dir))).toBe(0);
    expect(readSidecar(out)!.url).toBe(b.url);

    // Same URL, different database: import another file over the replica.
    const other = path.join(dir, 'other.db');
    const otherImage = makeDb(other, 4096, (db) => db.exec("CREATE TABLE other(x); INSERT INTO other VALUES ('not the same database')"));
    await importDatabase(other, b, { force: true });
    const fc = await hydrate({ store: b, path: out });
    expect(fc.stats!.mode).toBe('built');
    expect(fc.txid).toBe(1n);
    expect(Buffer.compare(readFileSync(out), otherImage)).toBe(0);
    expect(existsSync(sidecarPath(out))).toBe(true);
    await a.close();
    await b.close();
  });
});

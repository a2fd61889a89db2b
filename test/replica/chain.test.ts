// Restore of histories made with the engine: a snapshot plus L0 page diffs, L1
// compactions standing in for deleted L0 files, earlier states by TXID and time,
// and chains whose checksums do not link up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compactLtx } from '../../src/ltx/index.js';
import { isReplicaError, layoutFor, listReplica, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { diffLtx, history, makeStore, putLtx, snapshotLtx, tempDir, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const T0 = Date.UTC(2026, 5, 1);

async function writeChain(store: ObjectStore, images: Uint8Array[], checksums: boolean): Promise<Uint8Array[]> {
  const files = [snapshotLtx(images[0], 4096, { checksums, timestamp: T0 }).bytes];
  await putLtx(store, 9, 1n, 1n, files[0], T0);
  for (let t = 2; t <= images.length; t++) {
    const ts = T0 + (t - 1) * 60_000;
    const bytes = diffLtx(images[t - 2], images[t - 1], 4096, BigInt(t), { checksums, timestamp: ts }).bytes;
    files.push(bytes);
    await putLtx(store, 0, BigInt(t), BigInt(t), bytes, ts);
  }
  return files;
}

describe.each(['file', 's3'] as const)('restore of an engine history on %s', (kind) => {
  for (const checksums of [true, false]) {
    it(`snapshot + L0 chain (${checksums ? 'checksums' : 'NoChecksum'}): every TXID restores its state byte for byte`, async () => {
      const dir = tempDir('chain');
      const images = history(dir, 4096, 7);
      expect(new Set(images.map((i) => i.length)).size).toBeGreaterThan(2); // grows and shrinks
      const store = makeStore(kind);
      await writeChain(store, images, checksums);
      for (let t = 1; t <= images.length; t++) {
        const out = path.join(dir, `out-${t}.db`);
        const r = await restore(store, { txid: BigInt(t) }, out);
        expect(r.files).toBe(t);
        expect(r.checksumVerified).toBe(checksums);
        expect(Buffer.compare(readFileSync(out), images[t - 1])).toBe(0);
      }
      // Latest by default; by time, the last file at or before the moment.
      const latest = await restore(store, {}, path.join(dir, 'latest.db'));
      expect(latest.txid).toBe(BigInt(images.length));
      const at = await restore(store, { timestamp: new Date(T0 + 3 * 60_000 + 30_000) }, path.join(dir, 'at.db'));
      expect(at.txid).toBe(4n);
      expect(Buffer.compare(readFileSync(path.join(dir, 'at.db')), images[3])).toBe(0);
      await store.close();
    });
  }

  it('a chain served by L1 after its L0 files were deleted; a gap names the TXIDs', async () => {
    const dir = tempDir('chain-l1');
    const images = history(dir, 4096, 7);
    const store = makeStore(kind);
    const files = await writeChain(store, images, true);
    const l1 = await compactLtx([files[1], files[2], files[3]], { flags: 0 }); // TXIDs 2..4
    await putLtx(store, 1, 2n, 4n, l1.bytes, T0 + 3 * 60_000);
    const layout = layoutFor(store);
    await store.deleteMany([2n, 3n, 4n].map((t) => layout.fileKey(0, t, t)));
    const out = path.join(dir, 'out.db');
    const r = await restore(store, {}, out);
    expect(r.files).toBe(1 + 1 + (images.length - 4)); // snapshot, L1, L0 5..7
    expect(Buffer.compare(readFileSync(out), images.at(-1)!)).toBe(0);
    // TXID 3 is inside the L1 file now: no state to restore.
    await expect(restore(store, { txid: 3n }, path.join(dir, 'x.db'))).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_TARGET'));
    // Delete L0 5 and 6: a gap.
    await store.deleteMany([layout.fileKey(0, 5n, 5n), layout.fileKey(0, 6n, 6n)]);
    const err = await restore(store, {}, path.join(dir, 'gap.db')).catch((e: unknown) => e);
    expect(isReplicaError(err, 'REPLICA_GAP')).toBe(true);
    expect((err as Error).message).toContain('TXIDs 5..6');
    // Empty replica.
    await store.deleteMany((await listReplica(store)).map((f) => f.key));
    await expect(restore(store, {}, path.join(dir, 'empty.db'))).rejects.toThrow(new RegExp(`replica ${store.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is empty`));
    await store.close();
  });

  it('files whose checksums do not link up are refused (REPLICA_MISMATCH)', async () => {
    const dir = tempDir('chain-link');
    const images = history(dir, 4096, 4);
    const store = makeStore(kind);
    await writeChain(store, images, true);
    // Replace TXID 3 with a diff from the wrong base state: valid file, wrong chain.
    const wrong = diffLtx(images[0], images[2], 4096, 3n);
    await putLtx(store, 0, 3n, 3n, wrong.bytes);
    const out = path.join(dir, 'out.db');
    await expect(restore(store, {}, out)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_MISMATCH') && /pre-apply checksum/.test(e.message));
    await store.close();
  });
});

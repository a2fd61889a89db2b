// mergeInto refuses a chain whose adjacent inputs carry checksums that do not link
// (inputs[i]'s pre-apply checksum is not inputs[i-1]'s post-apply one): two writers'
// histories spliced together. Nothing is written. Linked chains, and inputs without
// checksums (Litestream's), merge as before; the check reads the trailer from the
// streamed bytes, also when its last chunk is shorter than the trailer.
import { afterAll, describe, expect, it } from 'vitest';
import { CompactionError, mergeInto } from '../../src/compact/index.js';
import { HEADER_FLAG_NO_CHECKSUM, decodeLtx } from '../../src/ltx/index.js';
import { listReplica, type LtxFileInfo } from '../../src/replica/index.js';
import { parseRecord } from '../../src/replica/checksum-record.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { makeStore, putLtx, removeTempDirs, tempDir } from '../replica/helpers.js';
import { History, apply, key, putL0, spanLtx } from './helpers.js';

afterAll(removeTempDirs);

const eq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

async function l0(store: ObjectStore): Promise<LtxFileInfo[]> {
  return (await listReplica(store, [0])).sort((a, b) => Number(a.minTXID - b.minTXID));
}

describe.each(['file', 's3'] as const)('mergeInto and chain links (%s)', (kind) => {
  it('refuses inputs from two histories (B at 2, A at 3), naming both keys; writes nothing', async () => {
    const h = new History();
    h.advance(3);
    const hA = new History(tempDir('merge-a'), 'a');
    hA.advance(3);
    const store = makeStore(kind);
    await putL0(store, h, 2, 2, 0, true);
    const a3 = spanLtx(hA.images[1], hA.images[2], 3, 3, 3000);
    await putLtx(store, 0, 3n, 3n, a3);
    const inputs = await l0(store);
    // The last chunk of the first input is 5 bytes: its trailer spans two chunks.
    const chunkBytes = inputs[0].size - 5;
    const err = await mergeInto(store, 1, inputs, { chunkBytes }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(CompactionError);
    expect(err!.message).toContain(key(store, 0, 3, 3));
    expect(err!.message).toContain(key(store, 0, 2, 2));
    expect(err!.message).toMatch(/does not continue/);
    expect(await listReplica(store, [1])).toEqual([]);
    h.close();
    hA.close();
    await store.close();
  });

  it('merges a linked chain (trailer split across chunks) and inputs without checksums', async () => {
    const h = new History();
    h.advance(3);
    const store = makeStore(kind);
    await putL0(store, h, 2, 4, 0, true);
    const inputs = await l0(store);
    const m = await mergeInto(store, 1, inputs, { chunkBytes: inputs[0].size - 5 });
    expect(m).toMatchObject({ minTXID: 2n, maxTXID: 4n, inputs: 3, existed: false });
    const got = await store.getWithMetadata(key(store, 1, 2, 4));
    const merged = got.bytes;
    // The output has the NoChecksum flag (as Litestream's); the linked inputs' checksums are kept in its record.
    expect(decodeLtx(merged).header.flags).toBe(HEADER_FLAG_NO_CHECKSUM);
    const first = decodeLtx(await store.get(inputs[0].key));
    const last = decodeLtx(await store.get(inputs[2].key));
    expect(first.header.preApplyChecksum).not.toBe(0n);
    expect(parseRecord(got.metadata)).toEqual({ pre: first.header.preApplyChecksum, post: last.trailer.postApplyChecksum });
    expect(eq(apply(h.images[0], merged), h.images[3])).toBe(true);

    // Without checksums nothing can be checked: two histories merge as before (Litestream's files).
    const hA = new History(tempDir('merge-a'), 'a');
    hA.advance(3);
    const bare = makeStore(kind);
    await putL0(bare, h, 2, 2, 0, false);
    await putLtx(bare, 0, 3n, 3n, spanLtx(hA.images[1], hA.images[2], 3, 3, 3000, false));
    const m2 = await mergeInto(bare, 1, await l0(bare));
    expect(m2).toMatchObject({ minTXID: 2n, maxTXID: 3n, inputs: 2 });
    const bareGot = await bare.getWithMetadata(key(bare, 1, 2, 3));
    expect(decodeLtx(bareGot.bytes).header.commit).toBeGreaterThan(0);
    expect(parseRecord(bareGot.metadata)).toBeNull(); // no checksums in, none recorded
    h.close();
    hA.close();
    await Promise.all([store.close(), bare.close()]);
  });
});

// Two writers whose batches differ in size write different keys for the same TXIDs
// (2-2 and 2-3), so If-None-Match cannot stop either; the rival check after the put
// decides. Whatever each saw, exactly one goes on: the lower key when both saw each
// other (the higher withdraws its file), the one that saw nothing when the other
// came second (it waits for a withdrawal that never comes, then yields).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listLevel } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { SecondWriterError, Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { SqliteCommits, quiet, removeTempDirs, tempDir } from '../sync/helpers.js';

const PS = 4096;
afterAll(removeTempDirs);

/** A store whose conditional puts are held after landing until `release()`: both puts land before either writer lists. */
function gated(store: ObjectStore): { store: ObjectStore; landed: Promise<void>[]; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((ok) => (release = ok));
  const landed: Promise<void>[] = [];
  const wrapped = Object.create(store) as ObjectStore;
  wrapped.putIfAbsent = async (key, body, options) => {
    const p = store.putIfAbsent(key, body, options);
    landed.push(p.catch(() => undefined));
    await p;
    await gate;
  };
  return { store: wrapped, landed, release };
}

async function twoWriters(store: ObjectStore) {
  const seedBuf = WriteBuffer.open(tempDir('rival-seed'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
  await reconcileBuffer(store, seedBuf, quiet);
  const db = new SqliteCommits(tempDir('rival-src'), PS);
  seedBuf.append(db.step('CREATE TABLE t(x)'));
  await new Syncer({ store, buffer: seedBuf, intervalMs: 3_600_000, log: quiet }).stop({ flush: true });
  seedBuf.close();
  const open = async () => {
    const b = WriteBuffer.open(tempDir('rival-buf'), { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
    await reconcileBuffer(store, b, quiet);
    return b;
  };
  const a = await open(); // will write 2-2
  const b = await open(); // will write 2-3
  const page = (n: number) => new Uint8Array(PS).fill(n);
  a.append({ pages: [[2, page(1)]], commit: 2, checksum: null });
  b.append({ pages: [[2, page(2)]], commit: 2, checksum: null });
  b.append({ pages: [[3, page(3)]], commit: 3, checksum: null });
  db.close();
  return { a, b };
}

describe('the rival check', () => {
  it('both saw each other: the lower key goes on, the higher withdraws its file and stops', async () => {
    const base = new FileStore({ dir: path.join(tempDir('rival-rep'), 'replica') });
    const { a, b } = await twoWriters(base);
    const g = gated(base);
    const sa = new Syncer({ store: g.store, buffer: a, intervalMs: 3_600_000, log: quiet });
    const sb = new Syncer({ store: g.store, buffer: b, intervalMs: 3_600_000, log: quiet });
    const fa = sa.flush();
    const fb = sb.flush();
    while (g.landed.length < 2) await new Promise((ok) => setTimeout(ok, 5));
    await Promise.all(g.landed);
    g.release();
    const [ra, rb] = await Promise.allSettled([fa, fb]);
    expect(ra.status).toBe('fulfilled');
    expect(rb.status).toBe('rejected');
    expect((rb as PromiseRejectedResult).reason).toBeInstanceOf(SecondWriterError);
    expect(String((rb as PromiseRejectedResult).reason.message)).toMatch(/0000000000000002-0000000000000002\.ltx.*our .*0000000000000002-0000000000000003\.ltx was removed/);
    expect(sa.state).not.toBe('fenced');
    expect(sa.lastError).toBeNull();
    expect(sb.state).toBe('fenced');
    expect(b.unsynced().commits).toBe(2); // kept, not dropped
    expect(a.unsynced().commits).toBe(0);
    expect((await listLevel(base, 0)).map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(['1-1', '2-2']);
    await Promise.all([sa.stop(), sb.stop()]);
    a.close();
    b.close();
    await base.close();
  });

  it('the higher key listed first and saw nothing: it goes on; the lower waits for a withdrawal, then yields', async () => {
    const base = new FileStore({ dir: path.join(tempDir('rival-rep'), 'replica') });
    const { a, b } = await twoWriters(base);
    const sb = new Syncer({ store: base, buffer: b, intervalMs: 3_600_000, log: quiet });
    await sb.flush(); // 2-3 lands and its check sees no rival
    const sa = new Syncer({ store: base, buffer: a, intervalMs: 3_600_000, log: quiet });
    const err = await sa.flush().then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(SecondWriterError);
    expect(err!.message).toMatch(/0000000000000002-0000000000000003\.ltx.*a higher key than ours.*not withdrawn/);
    expect(sa.state).toBe('fenced');
    expect(sb.state).not.toBe('fenced');
    expect(a.unsynced().commits).toBe(1);
    expect((await listLevel(base, 0)).map((f) => `${f.minTXID}-${f.maxTXID}`)).toEqual(['1-1', '2-3']);
    await Promise.all([sa.stop(), sb.stop()]);
    a.close();
    b.close();
    await base.close();
  });
});

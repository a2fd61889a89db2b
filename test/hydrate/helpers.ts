// Shared by the hydrator tests: replicas with a snapshot and a chain of L0 files
// (checksummed or NoChecksum, as Litestream writes), and restore() as the reference.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { Database } from '../../src/engine/index.js';
import { diffLtx, fillTo, putLtx, snapshotLtx } from '../replica/helpers.js';

export interface Replica {
  images: Uint8Array[]; // images[i] = the database at TXID i + 1
  pageSize: number;
}

/**
 * A database grown to about `bytes`, then `steps` small transactions: TXID 1 is a
 * snapshot at L9, each later TXID an L0 file. `checksums` false = NoChecksum files.
 */
export async function makeReplica(store: ObjectStore, dir: string, options: { bytes: number; steps: number; checksums: boolean; pageSize?: number }): Promise<Replica> {
  const pageSize = options.pageSize ?? 4096;
  const file = path.join(dir, `src-${Math.random().toString(36).slice(2)}.db`);
  const db = new Database(file);
  db.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = DELETE;`);
  fillTo(db, options.bytes);
  const images = [new Uint8Array(readFileSync(file))];
  for (let s = 1; s <= options.steps; s++) {
    db.exec('BEGIN');
    if (s % 3 === 0) db.run('DELETE FROM blobs WHERE id % 7 = ?', [s % 7]);
    else for (let i = 0; i < 20; i++) db.run('INSERT INTO blobs(tag, body) VALUES (?, ?)', [`step-${s}-${i}`, new Uint8Array(1500).fill(s)]);
    db.exec('COMMIT');
    images.push(new Uint8Array(readFileSync(file)));
  }
  db.close();
  await putLtx(store, 9, 1n, 1n, snapshotLtx(images[0], pageSize, { checksums: options.checksums }).bytes);
  for (let t = 2; t <= images.length; t++) await addL0(store, images, t, pageSize, options.checksums);
  return { images, pageSize };
}

/** Put the L0 file of TXID t (images[t-1] against images[t-2]). */
export async function addL0(store: ObjectStore, images: Uint8Array[], t: number, pageSize: number, checksums: boolean): Promise<string> {
  return putLtx(store, 0, BigInt(t), BigInt(t), diffLtx(images[t - 2], images[t - 1], pageSize, BigInt(t), { checksums }).bytes);
}

/** The bytes restore() produces for the replica at `txid` (default latest). */
export async function restored(store: ObjectStore, dir: string, txid?: bigint): Promise<Buffer> {
  const out = path.join(dir, `restore-${Math.random().toString(36).slice(2)}.db`);
  await restore(store, txid === undefined ? {} : { txid }, out, { integrityCheck: false });
  return readFileSync(out);
}

export function writeImage(file: string, image: Uint8Array): void {
  writeFileSync(file, image);
}

/** `bindAll(store)` with every GET (get and getWithMetadata) passed through `wrap`: its body may be changed, or work done first. */
export function wrapGets(store: ObjectStore, wrap: (key: string, read: () => Promise<Uint8Array>) => Promise<Uint8Array>): ObjectStore {
  return {
    ...bindAll(store),
    get: (key, options) => wrap(key, () => store.get(key, options)),
    getWithMetadata: async (key, options) => {
      let metadata: Record<string, string> = {};
      const bytes = await wrap(key, async () => {
        const got = await store.getWithMetadata(key, options);
        metadata = got.metadata;
        return got.bytes;
      });
      return { bytes, metadata };
    },
  };
}

/** The store's methods bound to it, without the optional getStream (so reads go through get, which tests can wrap). */
export function bindAll(store: ObjectStore): ObjectStore {
  return {
    url: store.url,
    listPage: store.listPage.bind(store),
    list: store.list.bind(store),
    get: store.get.bind(store),
    getWithMetadata: store.getWithMetadata.bind(store),
    head: store.head.bind(store),
    put: store.put.bind(store),
    putIfAbsent: store.putIfAbsent.bind(store),
    deleteMany: store.deleteMany.bind(store),
    stats: store.stats.bind(store),
    close: store.close.bind(store),
  };
}

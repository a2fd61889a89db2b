// Shared helpers for the replica tests: stores on temp dirs and on the run's S3
// server, databases made with our engine, and L0 chains built from page diffs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Database } from '../../src/engine/index.js';
import { HEADER_FLAG_NO_CHECKSUM, databaseChecksum, encodeLtx, lockPage, type EncodedLtx } from '../../src/ltx/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { layoutFor } from '../../src/replica/index.js';
import { testS3StoreOptions, uniquePrefix } from '../support/s3.js';

export const GOLDEN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/golden');

const made: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs()` (call it in afterAll). */
export function tempDir(label = 'replica'): string {
  const dir = mkdtempSync(path.join(tmpdir(), `ltxvfs-${label}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function fileStore(dir = path.join(tempDir(), 'replica')): FileStore {
  return new FileStore({ dir });
}

export function fileUrl(dir: string): string {
  return pathToFileURL(dir).href;
}

export function s3Store(prefix = uniquePrefix('replica')): S3Store {
  return new S3Store(testS3StoreOptions(prefix));
}

export type StoreKind = 'file' | 's3';
export function makeStore(kind: StoreKind): ObjectStore {
  return kind === 'file' ? fileStore() : s3Store();
}

/** Put bytes at a level under the store's layout. */
export async function putLtx(store: ObjectStore, level: number, min: bigint, max: bigint, bytes: Uint8Array, timestampMs?: number): Promise<string> {
  const key = layoutFor(store).fileKey(level, min, max);
  const metadata = timestampMs === undefined ? undefined : { 'litestream-timestamp': new Date(timestampMs).toISOString() };
  await store.put(key, bytes, { metadata });
  return key;
}

/** The file checksum a stored LTX file ends with (its last 8 bytes): which file holds a key. */
export async function storedFileChecksum(store: ObjectStore, key: string): Promise<bigint> {
  const t = await store.get(key, { range: { suffix: 8 } });
  return new DataView(t.buffer, t.byteOffset, 8).getBigUint64(0);
}

export function golden(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(GOLDEN, rel)));
}

/** Make a database with the engine; `fill` runs SQL on it; returns the file's bytes. */
export function makeDb(file: string, pageSize: number, fill: (db: Database) => void): Uint8Array {
  const db = new Database(file);
  db.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = DELETE;`);
  fill(db);
  db.close();
  return new Uint8Array(readFileSync(file));
}

/** Insert rows of roughly `bytes` total so the database reaches about that size. */
export function fillTo(db: Database, bytes: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, tag TEXT, body BLOB)');
  db.exec('BEGIN');
  const stmt = db.prepare('INSERT INTO blobs(tag, body) VALUES (?, ?)');
  const row = 3000;
  let seed = 12345;
  for (let done = 0; done < bytes; done += row) {
    const body = new Uint8Array(row);
    // Half random, half repetitive: compressible like real data, but not trivially.
    for (let i = 0; i < row / 2; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      body[i] = seed >>> 24;
    }
    stmt.run([`tag-${done}`, body]);
  }
  stmt.finalize();
  db.exec('COMMIT');
}

/** An incremental LTX file holding the pages that differ between two database images: TXID `txid`, or `minTXID`..`txid` as one step. */
export function diffLtx(prev: Uint8Array, next: Uint8Array, pageSize: number, txid: bigint, options: { checksums?: boolean; timestamp?: number; minTXID?: bigint } = {}): EncodedLtx {
  const checksums = options.checksums ?? true;
  const commit = next.length / pageSize;
  const lock = lockPage(pageSize);
  const pages = [];
  for (let pgno = 1; pgno <= commit; pgno++) {
    if (pgno === lock) continue;
    const a = prev.subarray((pgno - 1) * pageSize, pgno * pageSize);
    const b = next.subarray((pgno - 1) * pageSize, pgno * pageSize);
    if (a.length !== b.length || Buffer.compare(a, b) !== 0) pages.push({ pgno, data: b });
  }
  return encodeLtx(
    {
      pageSize,
      commit,
      minTXID: options.minTXID ?? txid,
      maxTXID: txid,
      timestamp: BigInt(options.timestamp ?? 0),
      flags: checksums ? 0 : HEADER_FLAG_NO_CHECKSUM,
      preApplyChecksum: checksums ? databaseChecksum(prev, pageSize) : 0n,
    },
    pages,
    checksums ? { postApplyChecksum: databaseChecksum(next, pageSize) } : {},
  );
}

/** A snapshot LTX file of a whole image. */
export function snapshotLtx(image: Uint8Array, pageSize: number, options: { checksums?: boolean; maxTXID?: bigint; timestamp?: number } = {}): EncodedLtx {
  const commit = image.length / pageSize;
  const lock = lockPage(pageSize);
  const pages = [];
  for (let pgno = 1; pgno <= commit; pgno++) if (pgno !== lock) pages.push({ pgno, data: image.subarray((pgno - 1) * pageSize, pgno * pageSize) });
  return encodeLtx(
    { pageSize, commit, minTXID: 1n, maxTXID: options.maxTXID ?? 1n, timestamp: BigInt(options.timestamp ?? 0), flags: options.checksums === false ? HEADER_FLAG_NO_CHECKSUM : 0 },
    pages,
  );
}

/**
 * A database history: image[0] after the first transaction (TXID 1), then one image per
 * further transaction. Each transaction is a small change (insert, update, delete, grow, shrink).
 */
export function history(dir: string, pageSize = 4096, steps = 6): Uint8Array[] {
  const file = path.join(dir, 'history.db');
  const db = new Database(file);
  db.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = DELETE; PRAGMA auto_vacuum = FULL;`);
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
  const images = [new Uint8Array(readFileSync(file))];
  for (let s = 1; s < steps; s++) {
    if (s % 3 === 0) db.run('DELETE FROM t WHERE id % 2 = 0');
    else {
      db.exec('BEGIN');
      for (let i = 0; i < 40 * s; i++) db.run('INSERT INTO t(v) VALUES (?)', [`step-${s}-${i}-${'x'.repeat(200)}`]);
      db.exec('COMMIT');
    }
    images.push(new Uint8Array(readFileSync(file)));
  }
  db.close();
  return images;
}

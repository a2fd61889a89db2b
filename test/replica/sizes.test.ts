// Import then restore at real sizes (1 MB to 300 MB) and page sizes (1 KiB to 64 KiB):
// the restored file is byte-identical to the source (sha256), on file:// and on the
// run's S3 server, and open() answers a row count equal to the source's. Databases are
// made with better-sqlite3 (fast), with random payloads that LZ4 cannot shrink much,
// so the LTX files are as large as the databases. S3 cases are smaller (time).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open } from '../../src/open.js';
import { importDatabase, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { prng } from '../support/prng.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from '../support/s3.js';
import { fileStore, fileUrl, removeTempDirs, s3Store, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const MB = 1_000_000;

// better-sqlite3 (an optional dependency, installed here) ships no types: the calls used.
type BetterStmt = { run(...args: unknown[]): unknown; get(): unknown; pluck(): BetterStmt };
type BetterDb = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): BetterStmt; transaction<A>(fn: (a: A) => void): (a: A) => void; close(): void };
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => BetterDb;

// Row bodies are slices of one random pool: cheap to make, and LZ4 (one block per page)
// finds nothing to shrink in them.
const pool = (() => {
  const random = prng(7);
  const buf = Buffer.alloc(1 << 20);
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((random() * 2 ** 32) >>> 0, i);
  return buf;
})();

/** A database of at least `bytes` with `pageSize` pages: a table with an index, random text. Returns its row count. */
function makeDatabase(file: string, pageSize: number, bytes: number, seed: number): number {
  const db = new BetterSqlite3(file);
  db.pragma(`page_size = ${pageSize}`);
  db.pragma('journal_mode = DELETE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -131072');
  db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, k TEXT NOT NULL, body TEXT NOT NULL); CREATE INDEX items_k ON items(k);');
  const insert = db.prepare('INSERT INTO items(id, k, body) VALUES (?, ?, ?)');
  const pageCount = db.prepare('PRAGMA page_count').pluck();
  let rows = 0;
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) {
      rows++;
      // 200 to 3,060 random bytes as base64: at 1 KiB and 4 KiB pages some rows spill onto
      // overflow pages, which must round-trip too.
      const length = 200 + ((rows * 13 + seed) % 23) * 130;
      const at = (rows * 7919 + seed) % (pool.length - length);
      insert.run(rows, pool.toString('hex', (at + 17) % (pool.length - 8), ((at + 17) % (pool.length - 8)) + 8), pool.toString('base64', at, at + length));
    }
  });
  while ((pageCount.get() as number) * pageSize < bytes) batch(1000);
  db.close();
  return rows;
}

function sha256(file: string): Promise<string> {
  return new Promise((ok, fail) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => ok(hash.digest('hex')))
      .on('error', fail);
  });
}

async function roundTrip(kind: 'file' | 's3', pageSize: number, bytes: number, seed: number, integrityCheck = true): Promise<void> {
  const dir = tempDir(`sizes-${kind}`);
  const src = path.join(dir, 'src.db');
  const rows = makeDatabase(src, pageSize, bytes, seed);
  let store: ObjectStore;
  let url: string;
  let s3: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (kind === 'file') {
    const replicaDir = path.join(dir, 'replica');
    store = fileStore(replicaDir);
    url = fileUrl(replicaDir);
  } else {
    const prefix = uniquePrefix('sizes');
    store = s3Store(prefix);
    url = testReplicaUrl(prefix);
    const c = testS3Config();
    s3 = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
  }
  try {
    const imp = await importDatabase(src, store);
    expect(imp.pageSize).toBe(pageSize);
    expect(imp.dbBytes).toBeGreaterThanOrEqual(bytes);
    // Random payloads: the snapshot is not much smaller than the database.
    expect(imp.ltxBytes).toBeGreaterThan(imp.dbBytes * 0.5);

    const out = path.join(dir, 'restored.db');
    const r = await restore(store, {}, out, { integrityCheck });
    expect(r.dbBytes).toBe(imp.dbBytes);
    expect(r.checksumVerified).toBe(true);
    expect(r.integrityChecked).toBe(integrityCheck);
    expect(await sha256(out)).toBe(await sha256(src));
  } finally {
    await store.close();
  }

  const db = await open({ replicaUrl: url, s3 });
  try {
    expect(db.get('SELECT count(*) AS n FROM items')).toEqual({ n: rows });
    expect(db.get('SELECT max(id) AS m FROM items')).toEqual({ m: rows });
    expect(db.get('PRAGMA page_size')).toEqual({ page_size: pageSize });
  } finally {
    await db.close();
  }
}

describe('import → restore at real sizes on file://', () => {
  it.each([
    [1024, 1 * MB],
    [4096, 20 * MB],
    [65536, 50 * MB],
  ])('page size %i, %i bytes: byte-identical, same row count through open()', async (pageSize, bytes) => {
    await roundTrip('file', pageSize, bytes, pageSize + bytes);
  }, 60_000);

  // Without restore's PRAGMA integrity_check (~25 s at this size on 2 cores): the sha256
  // equality with the source is the stronger check, and the smaller cases run it.
  it('page size 4096, 300 MB: byte-identical, same row count through open()', async () => {
    await roundTrip('file', 4096, 300 * MB, 300, false);
  }, 90_000);
});

describe('import → restore at real sizes on S3', () => {
  it.each([
    [1024, 1 * MB],
    [65536, 8 * MB],
    [4096, 24 * MB],
  ])('page size %i, %i bytes: byte-identical, same row count through open()', async (pageSize, bytes) => {
    await roundTrip('s3', pageSize, bytes, pageSize + bytes + 1);
  }, 60_000);
});

// open() as a follower: new transactions appear between read transactions (never
// inside one), a reader whose L0 files were compacted away catches up from L1,
// PRAGMA litestream_time moves reads to the past and back, litestream_lag reports
// how far the served state is behind the newest remote transaction.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../src/engine/index.js';
import { open } from '../src/open.js';
import { layoutFor } from '../src/replica/index.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { diffLtx, fileStore, fileUrl, history, putLtx, removeTempDirs, s3Store, snapshotLtx, tempDir } from './replica/helpers.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from './support/s3.js';

afterAll(removeTempDirs);

const PAGE = 4096;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (txid: number) => T0 + txid * 60_000; // TXID k was written at 00:0k:00

/** The pages that differ between two images, as one file covering TXIDs min..max (NoChecksum, as Litestream writes). */
const rangeLtx = (prev: Uint8Array, next: Uint8Array, min: bigint, max: bigint) => diffLtx(prev, next, PAGE, max, { minTXID: min, checksums: false, timestamp: at(Number(max)) });

/** What a plain local copy of an image answers. */
function rowsOf(image: Uint8Array): unknown[] {
  const file = path.join(tempDir('follow-image'), 'image.db');
  writeFileSync(file, image);
  const db = new Database(file, { readOnly: true });
  try {
    return db.all('SELECT id, v FROM t ORDER BY id');
  } finally {
    db.close();
  }
}

function one(db: Database, sql: string): unknown {
  return Object.values(db.get(sql)!)[0];
}

const kinds = [
  ['file', () => {
    const store = fileStore();
    return { store, url: fileUrl(store.url.replace(/^file:\/\//, '')) };
  }],
  ['s3', () => {
    const prefix = uniquePrefix('follow');
    const c = testS3Config();
    return { store: s3Store(prefix), url: testReplicaUrl(prefix), s3: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } };
  }],
] as const;

describe.each(kinds)('open() follows a replica on %s', (_kind, make) => {
  it('applies new transactions between read transactions, catches up from L1, travels in time', async () => {
    const images = history(tempDir('follow-history'), PAGE, 6);
    const { store, url, ...rest } = make() as { store: ObjectStore; url: string; s3?: { accessKeyId: string; secretAccessKey: string } };
    await putLtx(store, 9, 1n, 1n, snapshotLtx(images[0], PAGE, { checksums: false, timestamp: at(1) }).bytes, at(1));
    const db = await open({ replicaUrl: url, s3: rest.s3, pollInterval: 3_600_000 }); // polls only when asked
    try {
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[0]));

      // A read transaction keeps its version while TXID 2 arrives.
      db.exec('BEGIN');
      const before = db.all('SELECT id, v FROM t ORDER BY id');
      await putLtx(store, 0, 2n, 2n, diffLtx(images[0], images[1], PAGE, 2n, { checksums: false, timestamp: at(2) }).bytes, at(2));
      await db.refresh();
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(before);
      expect(one(db, 'PRAGMA litestream_txid')).toBe('1');
      expect(Number(one(db, 'PRAGMA litestream_lag'))).toBe(60); // TXID 2 is a minute newer
      db.exec('COMMIT');
      // The next transaction sees it.
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[1]));
      expect(one(db, 'PRAGMA litestream_txid')).toBe('2');
      expect(Number(one(db, 'PRAGMA litestream_lag'))).toBe(0);

      // TXIDs 3..4 land in L0, get compacted into L1 and pruned before this reader polls.
      await putLtx(store, 1, 3n, 4n, rangeLtx(images[1], images[3], 3n, 4n).bytes, at(4));
      await putLtx(store, 0, 5n, 5n, diffLtx(images[3], images[4], PAGE, 5n, { checksums: false, timestamp: at(5) }).bytes, at(5));
      await db.refresh();
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[4]));
      expect(one(db, 'PRAGMA litestream_txid')).toBe('5');
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });

      // Time travel: 00:02:30 is TXID 2's state; 'latest' comes back.
      expect(one(db, "PRAGMA litestream_time = '2026-01-01T00:02:30Z'")).toBe('2026-01-01T00:02:30.000Z');
      expect(one(db, 'PRAGMA litestream_txid')).toBe('2');
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[1]));
      // New transactions do not move a pinned connection.
      await putLtx(store, 0, 6n, 6n, diffLtx(images[4], images[5], PAGE, 6n, { checksums: false, timestamp: at(6) }).bytes, at(6));
      await db.refresh();
      expect(one(db, 'PRAGMA litestream_txid')).toBe('2');
      expect(one(db, "PRAGMA litestream_time = 'latest'")).toBe('latest');
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[5]));
      expect(one(db, 'PRAGMA litestream_txid')).toBe('6');
      // Polling resumes from there.
      const last = layoutFor(store).fileKey(0, 7n, 7n);
      expect(last).toContain('0000000000000007-0000000000000007.ltx');
      await putLtx(store, 0, 7n, 7n, diffLtx(images[5], images[5], PAGE, 7n, { checksums: false, timestamp: at(7) }).bytes, at(7));
      await db.refresh();
      expect(one(db, 'PRAGMA litestream_txid')).toBe('7');
      expect(db.all('SELECT id, v FROM t ORDER BY id')).toEqual(rowsOf(images[5]));
    } finally {
      await db.close();
      await store.close();
    }
  });
});

describe('PRAGMA litestream_time values', () => {
  it('rejects what it cannot read, with the forms it accepts', async () => {
    const images = history(tempDir('follow-bad'), PAGE, 2);
    const store = fileStore();
    await putLtx(store, 9, 1n, 1n, snapshotLtx(images[0], PAGE, { checksums: false, timestamp: at(1) }).bytes, at(1));
    const db = await open({ replicaUrl: store.url, pollInterval: 3_600_000 });
    try {
      expect(() => db.get("PRAGMA litestream_time = 'yesterday-ish'")).toThrow(/expected 'latest', an RFC 3339 time .* or '<N> <unit> ago'/);
      expect(() => db.get("PRAGMA litestream_time = '3 fortnights ago'")).toThrow(/unknown unit 'fortnight'/);
      expect(() => db.get("PRAGMA litestream_time = '2025-01-01T00:00:00Z'")).toThrow(/no state at or before 2025-01-01T00:00:00.000Z/);
      expect(one(db, "PRAGMA litestream_time = '10 minutes ago'")).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(one(db, 'PRAGMA litestream_txid')).toBe('1');
      expect(() => db.get('PRAGMA litestream_lag = 3')).toThrow(/read-only/);
      expect(() => db.get('PRAGMA litestream_nonsense')).toThrow(/unknown pragma litestream_nonsense/);
      expect(one(db, 'PRAGMA litestream_write_enabled')).toBe('false');
    } finally {
      await db.close();
      await store.close();
    }
  });
});

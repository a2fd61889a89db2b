// Import: put a local SQLite database into a replica as an L9 snapshot at TXID 1,
// the state Litestream's restore starts from. Like Litestream, refuse a replica
// that already holds LTX files unless `force`, which deletes them first.
// The file must be at rest: a hot rollback journal or a non-empty -wal beside it
// means the file alone is not the database, so it is refused with what to do.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HEADER_FLAG_NO_CHECKSUM, LtxEncoder, lockPage } from '../ltx/index.js';
import { recordMetadata } from './checksum-record.js';
import type { ObjectStore } from '../storage/object-store.js';
import { totalOf } from '../storage/stats.js';
import { ReplicaError } from './errors.js';
import { memorySource, writeBootPack } from '../boot/build.js';
import { BOOT_PACK_KEY } from '../boot/read.js';
import { SNAPSHOT_LEVEL, layoutFor } from './layout.js';
import { formatLitestreamTimestamp, listReplica } from './listing.js';

const MAGIC = 'SQLite format 3\0';
const READ_BYTES = 4 << 20; // read the database in 4 MiB pieces

export interface ImportOptions {
  /** Delete the replica's existing LTX files first (default: refuse a non-empty replica). */
  force?: boolean;
  /** Snapshot timestamp in ms (default: now). */
  timestamp?: number;
}

export interface ImportResult {
  url: string;
  key: string;
  pageSize: number;
  pages: number; // commit
  dbBytes: number;
  ltxBytes: number;
  deleted: number; // LTX files removed by force
  requests: number;
  ms: number;
}

/** Page size from a SQLite header (offset 16, big-endian; 1 means 65536), or throws. */
export function sqlitePageSize(header: Uint8Array, path: string): number {
  const bad = (m: string) => new ReplicaError('REPLICA_BAD_DATABASE', `${path}: ${m}`);
  if (header.length < 100 || Buffer.from(header.subarray(0, 16)).toString('latin1') !== MAGIC) throw bad('not a SQLite database (no "SQLite format 3" header)');
  const raw = (header[16] << 8) | header[17];
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw bad(`page size ${raw} in the header is not a power of two in 512..65536`);
  return pageSize;
}

function checkAtRest(path: string, header: Uint8Array): void {
  const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  if (size(`${path}-journal`) > 0) {
    throw new ReplicaError('REPLICA_BAD_DATABASE', `${path}: a rollback journal (${path}-journal) is beside it: a write is in progress or was interrupted; open the database with SQLite once (it rolls back) and close it, then import`);
  }
  const wal = header[18] === 2 || header[19] === 2;
  if (wal && size(`${path}-wal`) > 0) {
    throw new ReplicaError('REPLICA_BAD_DATABASE', `${path}: in WAL mode with a non-empty ${path}-wal: run PRAGMA wal_checkpoint(TRUNCATE) or close every connection, then import`);
  }
}

export async function importDatabase(dbPath: string, store: ObjectStore, options: ImportOptions = {}): Promise<ImportResult> {
  const t0 = performance.now();
  const before = totalOf(store.stats(), 'requests');
  const path = resolve(dbPath);
  // Check the replica before reading the database: refusing is cheap.
  const existing = await listReplica(store);
  if (existing.length > 0 && !options.force) {
    const max = existing.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
    throw new ReplicaError('REPLICA_NOT_EMPTY', `replica ${store.url} already holds ${existing.length} LTX file${existing.length === 1 ? '' : 's'} (up to TXID ${max}); pass force (--force) to replace them`);
  }
  const fd = openSync(path, 'r');
  let encoded;
  let pageSize: number;
  let pages: number;
  const timestamp = options.timestamp ?? Date.now();
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw new ReplicaError('REPLICA_BAD_DATABASE', `${path}: empty file: nothing to import`);
    const header = new Uint8Array(100);
    readSync(fd, header, 0, 100, 0);
    pageSize = sqlitePageSize(header, path);
    if (size % pageSize !== 0) throw new ReplicaError('REPLICA_BAD_DATABASE', `${path}: size ${size} is not a multiple of the page size ${pageSize}`);
    checkAtRest(path, header);
    pages = size / pageSize;
    // Pages are compressed as they are read, so memory holds the LTX output (~0.3-0.7x
    // the database) rather than the database; finish() joins it into one buffer.
    const enc = new LtxEncoder();
    // NoChecksum, as Litestream writes (it refuses inline checksums); ours go beside the file.
    enc.writeHeader({ pageSize, commit: pages, minTXID: 1n, maxTXID: 1n, timestamp: BigInt(timestamp), flags: HEADER_FLAG_NO_CHECKSUM });
    const lock = lockPage(pageSize);
    const per = Math.max(1, Math.floor(READ_BYTES / pageSize));
    const buf = new Uint8Array(per * pageSize);
    for (let first = 1; first <= pages; first += per) {
      const n = Math.min(per, pages - first + 1);
      const want = n * pageSize;
      for (let got = 0; got < want; ) {
        const r = readSync(fd, buf, got, want - got, (first - 1) * pageSize + got);
        if (r === 0) throw new ReplicaError('REPLICA_BAD_DATABASE', `${path}: file shrank while it was read; is something writing it?`);
        got += r;
      }
      for (let k = 0; k < n; k++) {
        if (first + k !== lock) enc.writePage(first + k, buf.subarray(k * pageSize, (k + 1) * pageSize));
      }
    }
    encoded = enc.finish();
  } finally {
    closeSync(fd);
  }

  // The old database's boot pack goes first, so that it never describes the new files;
  // then its files newest first: what is left at any moment (or after a crash) is a
  // prefix of the old chain, so a follower reading mid-replacement finds the replica
  // behind its TXID (REPLICA_REPLACED) rather than a gap before it (REPLICA_EXPIRED).
  const newestFirst = [...existing].sort((a, b) => (a.maxTXID === b.maxTXID ? b.level - a.level : a.maxTXID > b.maxTXID ? -1 : 1));
  await store.deleteMany([BOOT_PACK_KEY, ...newestFirst.map((f) => f.key)]);
  const key = layoutFor(store).fileKey(SNAPSHOT_LEVEL, 1n, 1n);
  const record = recordMetadata({ pre: 0n, post: encoded.snapshotChecksum! });
  const metadata = { 'litestream-timestamp': formatLitestreamTimestamp(timestamp), ...record };
  await store.putIfAbsent(key, encoded.bytes, { metadata });
  const plan = { url: store.url, txid: 1n, files: [{ level: SNAPSHOT_LEVEL, minTXID: 1n, maxTXID: 1n, key, size: encoded.bytes.length, lastModified: new Date(timestamp) }] };
  await writeBootPack(store, plan, { source: memorySource(store.url, key, encoded.bytes, metadata) }).catch(() => undefined); // best effort: opens read the tail instead
  return {
    url: store.url,
    key,
    pageSize,
    pages,
    dbBytes: pages * pageSize,
    ltxBytes: encoded.bytes.length,
    deleted: existing.length,
    requests: totalOf(store.stats(), 'requests') - before,
    ms: performance.now() - t0,
  };
}

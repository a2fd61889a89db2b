// The database's pages at one TXID as the replica holds them: the page index
// (pgno → LTX file, frame offset, size), an LRU cache of decoded pages, and the
// synchronous store that fills it. A miss is one range request for the page's
// frame plus the frames of the following pages that sit right after it in the
// same file (read-ahead), all decoded strictly and cached. `apply` moves the
// pages to a newer TXID; the VFS calls it only between read transactions.
import { decodePageFrame, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import type { PageIndex } from '../replica/page-index.js';
import type { ByteRange } from '../storage/object-store.js';
import type { StoreStats } from '../storage/stats.js';
import { SQLITE_IOERR_READ } from './codes.js';
import { PageCache } from './page-cache.js';
import { VfsError } from './vfs.js';

// 256 KiB a miss at most: 64 uncompressed 4 KiB pages, more once LZ4 has shrunk
// the frames. On S3 a GET costs 20-50 ms to first byte and then streams at tens of
// MB/s, so 256 KiB adds a few ms to a request that a B-tree scan would otherwise
// repeat for every page; on loopback it adds well under a millisecond. SQLite
// walks leaves in page order, and a snapshot stores its frames in page order.
export const READ_AHEAD_BYTES = 256 * 1024;

/** What the VFS needs from the store: synchronous ranged reads (a SyncStore). */
export interface PageSource {
  getSync(key: string, range?: ByteRange): Uint8Array;
  storeStats?(): StoreStats;
}

/** One newer LTX file of the chain: its header and page index (from its tail). */
export interface ChainFile {
  key: string;
  header: LtxHeader;
  entries: readonly PageIndexEntry[];
}

export class RemotePages {
  readonly cache: PageCache;
  index: PageIndex;
  /** Bumped by every apply/reset: the "file change counter" SQLite sees in page 1. */
  epoch = 1;
  reads = 0;
  fetches = 0;
  fetchedBytes = 0;
  fetchedPages = 0;

  constructor(
    index: PageIndex,
    private readonly source: PageSource,
    cacheSize: number,
    private readonly readAheadBytes: number,
    /** Follower mode: stamp page 1 with `epoch` so SQLite notices a new version. */
    private readonly stampVersion: boolean,
  ) {
    this.index = index;
    this.cache = new PageCache(cacheSize);
  }

  get pageSize(): number {
    return this.index.pageSize;
  }

  /** Database size in pages. */
  get commit(): number {
    return this.index.commit;
  }

  /** Overlay newer files (in chain order) and forget the cached pages they change. */
  apply(files: readonly ChainFile[]): void {
    for (const f of files) for (const pgno of this.index.apply(f.key, f.header, f.entries)) this.cache.delete(pgno);
    this.cache.delete(1);
    this.epoch++;
  }

  /** Replace the whole index (time travel, or no contiguous path to the new state). */
  reset(index: PageIndex): void {
    this.index = index;
    this.cache.clear();
    this.epoch++;
  }

  /** Page `pgno` (1 ≤ pgno ≤ commit), from the cache or the store. Do not change it. */
  page(pgno: number): Uint8Array {
    const hit = this.cache.get(pgno);
    if (hit !== undefined) return hit;
    const { index } = this;
    const loc = index.lookup(pgno);
    // The lock page and pages never written within the database size read as zeroes.
    if (loc === undefined) return new Uint8Array(index.pageSize);
    // Extend the range over the frames of the next pages when they follow in the same file.
    const pgnos = [pgno];
    const sizes = [loc.size];
    let end = loc.offset + loc.size;
    for (let p = pgno + 1; p <= index.commit; p++) {
      if (this.cache.has(p)) break;
      const next = index.lookup(p);
      if (next === undefined || next.key !== loc.key || next.offset !== end || end + next.size - loc.offset > this.readAheadBytes) break;
      pgnos.push(p);
      sizes.push(next.size);
      end += next.size;
    }
    let bytes: Uint8Array;
    try {
      bytes = this.source.getSync(loc.key, { offset: loc.offset, length: end - loc.offset });
    } catch (err) {
      throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} from ${loc.key}: ${(err as Error).message}`, { cause: err });
    }
    this.fetches++;
    this.fetchedBytes += bytes.length;
    if (bytes.length !== end - loc.offset) {
      throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} from ${loc.key}: asked for ${end - loc.offset} bytes at ${loc.offset}, got ${bytes.length}`);
    }
    let result: Uint8Array | undefined;
    let at = 0;
    for (let i = 0; i < pgnos.length; i++) {
      let data: Uint8Array;
      try {
        data = decodePageFrame(bytes.subarray(at, at + sizes[i]), index.pageSize, pgnos[i]).data;
      } catch (err) {
        throw new VfsError(SQLITE_IOERR_READ, `decode page ${pgnos[i]} of ${loc.key}: ${(err as Error).message}`, { cause: err });
      }
      at += sizes[i];
      if (pgnos[i] === 1) this.patchPage1(data);
      this.fetchedPages++;
      this.cache.set(pgnos[i], data);
      if (i === 0) result = data;
    }
    return result!;
  }

  /** Put pages we already hold (the writer's own upload) into the cache. */
  warm(pages: ReadonlyMap<number, Uint8Array>): void {
    for (const [pgno, data] of pages) {
      if (pgno > this.index.commit) continue;
      const copy = data.slice();
      if (pgno === 1) this.patchPage1(copy);
      this.cache.set(pgno, copy);
    }
  }

  private patchPage1(page1: Uint8Array): void {
    forceRollbackJournal(page1);
    if (this.stampVersion && page1.length >= 100) {
      // SQLite compares the change counter (24..27) at the start of every read
      // transaction and drops its own cache when it moved; a WAL-mode database never
      // bumps it, so a follower stamps its own version. 92..95 ("version-valid-for")
      // must match it for the header's page count to be trusted.
      const v = new DataView(page1.buffer, page1.byteOffset, page1.byteLength);
      v.setUint32(24, this.epoch);
      v.setUint32(92, this.epoch);
    }
  }
}

/**
 * Bytes 18-19 of the header are the file format write/read versions: 2 means WAL.
 * A WAL-mode database would make SQLite look for a -wal and -shm beside a file that
 * has none; 1 (rollback journal) reads the same pages. Litestream's VFS does the same.
 */
export function forceRollbackJournal(page1: Uint8Array): void {
  if (page1.length >= 20 && page1[18] === 2 && page1[19] === 2) {
    page1[18] = 1;
    page1[19] = 1;
  }
}

// A read-only VFS whose main database file is a replica in object storage. A read
// at (offset, length) becomes the pages it covers; each comes from the page cache
// or, on a miss, from one range request for its LTX frame plus the frames of the
// following pages that sit right after it in the same file (read-ahead), all
// decoded strictly and cached. Nothing else touches the store: the page index
// (pgno → file, offset, size) was built from the files' tails before the VFS was
// made (src/replica/page-index.ts). Journals and temp files, which a read-only
// database rarely needs, go to a private memory VFS (named files) or to local
// temp files (SQLite's nameless temp files, which sorts can make large).
//
// Not built yet: polling for new transactions (the index is fixed at open),
// litestream_time / lag pragmas, writes (SQLITE_READONLY), hydration.
import { decodePageFrame } from '../ltx/index.js';
import type { ReplicaPageIndex } from '../replica/page-index.js';
import type { ByteRange } from '../storage/object-store.js';
import type { StoreStats } from '../storage/stats.js';
import {
  SQLITE_ERROR,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_READONLY,
} from './codes.js';
import { processLockTable, type FileLock, type LockTable } from './lock-table.js';
import { LocalFileVfs } from './local-file-vfs.js';
import { MemoryVfs } from './memory-vfs.js';
import { PageCache, type PageCacheStats } from './page-cache.js';
import { VfsError, type LockLevel, type OpenResult, type ResultCode, type Vfs, type VfsFile } from './vfs.js';

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

export interface ReplicaVfsOptions {
  /** The name to register under; unique per open database. */
  name: string;
  /** The replica URL, for messages and the lock key. */
  url: string;
  index: ReplicaPageIndex;
  source: PageSource;
  /** Page cache budget in bytes. */
  cacheSize: number;
  /** Range request limit for read-ahead, in bytes. Default READ_AHEAD_BYTES; 0 turns read-ahead off. */
  readAheadBytes?: number;
  lockTable?: LockTable;
}

export interface ReplicaVfsStats {
  cache: PageCacheStats;
  /** xRead calls on the main database. */
  reads: number;
  /** Range requests made for pages (each a single GET). */
  fetches: number;
  /** Bytes those requests returned. */
  fetchedBytes: number;
  /** Pages decoded from them (the missed page plus read-ahead). */
  fetchedPages: number;
  /** The TXID served. */
  txid: bigint;
}

/** The shared state of one replica: index, cache, store. Files of the main db share it. */
class ReplicaPages {
  readonly cache: PageCache;
  reads = 0;
  fetches = 0;
  fetchedBytes = 0;
  fetchedPages = 0;

  constructor(
    readonly index: ReplicaPageIndex,
    private readonly source: PageSource,
    cacheSize: number,
    private readonly readAheadBytes: number,
  ) {
    this.cache = new PageCache(cacheSize);
  }

  /** Page `pgno` (1 ≤ pgno ≤ commit), from the cache or the store. */
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
      if (pgnos[i] === 1) forceRollbackJournal(data);
      this.fetchedPages++;
      this.cache.set(pgnos[i], data);
      if (i === 0) result = data;
    }
    return result!;
  }
}

/**
 * Bytes 18-19 of the header are the file format write/read versions: 2 means WAL.
 * A WAL-mode database would make SQLite look for a -wal and -shm beside a file that
 * has none; 1 (rollback journal) reads the same pages. Litestream's VFS does the same.
 */
function forceRollbackJournal(page1: Uint8Array): void {
  if (page1.length >= 20 && page1[18] === 2 && page1[19] === 2) {
    page1[18] = 1;
    page1[19] = 1;
  }
}

class ReplicaFile implements VfsFile {
  #lock: FileLock | null;

  constructor(
    private readonly pages: ReplicaPages,
    lock: FileLock,
    private readonly url: string,
  ) {
    this.#lock = lock;
  }

  read(buf: Uint8Array, offset: number): ResultCode {
    const { pages } = this;
    const { pageSize, commit } = pages.index;
    pages.reads++;
    const size = commit * pageSize;
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      if (pos >= size) {
        buf.fill(0, done);
        return SQLITE_IOERR_SHORT_READ;
      }
      const pgno = Math.floor(pos / pageSize) + 1;
      const within = pos - (pgno - 1) * pageSize;
      const n = Math.min(pageSize - within, buf.length - done);
      buf.set(pages.page(pgno).subarray(within, within + n), done);
      done += n;
    }
    return SQLITE_OK;
  }

  write(): ResultCode {
    throw new VfsError(SQLITE_READONLY, `${this.url} is opened read-only (writes are not built yet)`);
  }

  truncate(): ResultCode {
    throw new VfsError(SQLITE_READONLY, `${this.url} is opened read-only`);
  }

  sync(): ResultCode {
    throw new VfsError(SQLITE_READONLY, `${this.url} is opened read-only`);
  }

  fileSize(): number {
    return this.pages.index.commit * this.pages.index.pageSize;
  }

  lock(level: LockLevel): ResultCode {
    return this.fileLock().lock(level);
  }

  unlock(level: LockLevel): ResultCode {
    return this.fileLock().unlock(level);
  }

  checkReservedLock(): boolean {
    return this.fileLock().checkReserved();
  }

  pragma(name: string, value: string | null): string | null | undefined {
    switch (name.toLowerCase()) {
      case 'litestream_txid':
        if (value !== null) throw new VfsError(SQLITE_ERROR, 'litestream_txid is read-only: it reports the TXID this connection reads');
        return this.pages.index.txid.toString();
      default:
        return undefined;
    }
  }

  close(): ResultCode {
    this.#lock?.close();
    this.#lock = null;
    return SQLITE_OK;
  }

  private fileLock(): FileLock {
    if (this.#lock === null) throw new VfsError(SQLITE_ERROR, `${this.url}: file is closed`);
    return this.#lock;
  }
}

export class ReplicaVfs implements Vfs {
  readonly name: string;
  readonly url: string;
  readonly #pages: ReplicaPages;
  readonly #source: PageSource;
  readonly #lockTable: LockTable;
  readonly #memory: MemoryVfs;
  readonly #temp: LocalFileVfs;

  constructor(options: ReplicaVfsOptions) {
    const readAhead = options.readAheadBytes ?? READ_AHEAD_BYTES;
    if (!Number.isFinite(readAhead) || readAhead < 0) throw new TypeError(`readAheadBytes: expected a number of bytes ≥ 0, got ${String(readAhead)}`);
    this.name = options.name;
    this.url = options.url;
    this.#source = options.source;
    this.#pages = new ReplicaPages(options.index, options.source, options.cacheSize, readAhead);
    this.#lockTable = options.lockTable ?? processLockTable;
    this.#memory = new MemoryVfs(`${options.name}-memory`);
    this.#temp = new LocalFileVfs({ name: `${options.name}-temp`, lockTable: this.#lockTable });
  }

  open(path: string | null, flags: number): OpenResult {
    if (path === null) return this.#temp.open(null, flags);
    if (!(flags & SQLITE_OPEN_MAIN_DB)) return this.#memory.open(path, flags);
    const file = new ReplicaFile(this.#pages, this.#lockTable.acquire(`replica:${this.url}`), this.url);
    return { file, outFlags: (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY };
  }

  delete(path: string): ResultCode {
    const rc = this.#memory.delete(path);
    return rc === SQLITE_IOERR_DELETE_NOENT ? SQLITE_OK : rc;
  }

  access(path: string): boolean {
    return this.#memory.access(path);
  }

  fullPathname(path: string): string {
    return path;
  }

  /** Counters for the demo, the CLI and benchmarks. */
  stats(): ReplicaVfsStats {
    const p = this.#pages;
    return { cache: p.cache.stats(), reads: p.reads, fetches: p.fetches, fetchedBytes: p.fetchedBytes, fetchedPages: p.fetchedPages, txid: p.index.txid };
  }

  /** The store's own request counters, when the source keeps them. */
  storeStats(): StoreStats | undefined {
    return this.#source.storeStats?.();
  }

  /** Drop the cached pages (for cold-read measurements). */
  clearCache(): void {
    this.#pages.cache.clear();
  }
}

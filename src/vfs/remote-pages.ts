// The database's pages at one TXID as the replica holds them: the page index
// (pgno → LTX file, frame offset, size), an LRU cache of decoded pages, and the
// synchronous store that fills it. A miss is one range request for the page's
// frame plus the frames of the following pages that sit right after it in the
// same file (read-ahead), all decoded strictly and cached. `apply` moves the
// pages to a newer TXID; the VFS calls it only between read transactions.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { decodePageFrame, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import type { PageIndex } from '../replica/page-index.js';
import type { ByteRange } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { isReplicaError } from '../replica/errors.js';
import type { StoreStats } from '../storage/stats.js';
import { log } from '../log.js';
import { interiorChildren } from './btree-page.js';
import { SQLITE_IOERR_READ } from './codes.js';
import { PageCache } from './page-cache.js';
import { VfsError } from './vfs.js';

// 256 KiB a miss at most: 64 uncompressed 4 KiB pages, more once LZ4 has shrunk
// the frames. On S3 a GET costs 20-50 ms to first byte and then streams at tens of
// MB/s, so 256 KiB adds a few ms to a request that a B-tree scan would otherwise
// repeat for every page; on loopback it adds well under a millisecond. SQLite
// walks leaves in page order, and a snapshot stores its frames in page order.
export const READ_AHEAD_BYTES = 256 * 1024;

// A prefetch asks for at most 16 ranges: one wave at the S3 store's default of 16 sockets.
const PREFETCH_RANGES = 16;

/** What the VFS needs from the store: synchronous ranged reads (a SyncStore). */
export interface PageSource {
  getSync(key: string, range?: ByteRange): Uint8Array;
  /**
   * A fresh plan and page index at `txid` (list, tails): when a page's file is gone
   * (compaction and retention moved it to a higher level), the same state from the
   * files that hold it now. Without it, a removed file is a read error.
   */
  planSync?(target: { txid?: bigint }): { index: PageIndex };
  /** Start several reads now, take them later (prefetching); without it, prefetchBelow() does nothing. */
  getManyLater?(items: readonly { key: string; range?: ByteRange }[]): () => Uint8Array[];
  storeStats?(): StoreStats;
}

/** Frames of consecutive pages in one range of one file. */
interface FrameRun {
  key: string;
  offset: number;
  end: number;
  pgnos: number[];
  sizes: number[];
}

/** One newer LTX file of the chain: its header and page index (from its tail). */
export interface ChainFile {
  key: string;
  header: LtxHeader;
  entries: readonly PageIndexEntry[];
  /** The trailer's post-apply checksum (0 or absent: none), for the next file's link. */
  postApplyChecksum?: bigint;
}

// The writer's own uploads since the last re-point, so that an index rebuilt at an
// older TXID (after a compaction pass) can be brought up to date before the swap.
const APPLIED_LOG_MAX = 4096;

/** A frame that came with a read-ahead, kept as fetched and decoded on first use. */
class RawFrame {
  constructor(
    readonly key: string,
    readonly frame: Uint8Array,
  ) {}

  get length(): number {
    return this.frame.length;
  }
}

export class RemotePages {
  readonly cache: PageCache<Uint8Array | RawFrame>;
  index: PageIndex;
  /** Bumped by every apply/reset: the "file change counter" SQLite sees in page 1. */
  epoch = 1;
  fetches = 0;
  localReads = 0;
  /** The hydrated local copy, once switched to: pages not changed since its TXID are read from it. */
  #local: { fd: number; path: string; txid: bigint } | null = null;
  /** Pages changed since the local copy's TXID (→ the TXID that changed them): read remotely until it catches up. */
  readonly #stale = new Map<number, bigint>();
  fetchedBytes = 0;
  fetchedPages = 0;
  /** Pages a prefetch brought in (counted when taken). */
  prefetchedPages = 0;
  /** A prefetch on its way: taken (its frames cached) at the next miss. */
  #prefetch: { runs: FrameRun[]; take: () => Uint8Array[] } | null = null;
  /** Times a read found its file gone and the index was rebuilt at the same TXID. */
  replans = 0;
  /** Times the index was moved to other files holding the same state (re-point, re-plan). */
  repoints = 0;
  readonly #applied: ChainFile[] = [];
  /** A read transaction has begun and read no page yet: the version may still change under it. */
  #untouched = false;
  /** Times a reader whose state was compacted away moved to the latest state at the start of a transaction. */
  caughtUp = 0;

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
    for (const f of files) this.overlay(f);
    this.cache.delete(1);
    this.epoch++;
  }

  /** One file into the index: its pages leave the cache and, until the local copy catches up, the copy. */
  private overlay(f: ChainFile): void {
    for (const pgno of this.index.apply(f.key, f.header, f.entries, f.postApplyChecksum)) {
      this.cache.delete(pgno);
      if (this.#local !== null) this.#stale.set(pgno, f.header.maxTXID);
    }
  }

  /**
   * The writer's own upload: overlay it at once (what readers see does not change:
   * the buffer held these pages until now) and cache the pages we already hold.
   */
  applySynced(file: ChainFile, pages: ReadonlyMap<number, Uint8Array>): void {
    this.overlay(file);
    this.#applied.push(file);
    if (this.#applied.length > APPLIED_LOG_MAX) this.#applied.splice(0, this.#applied.length - APPLIED_LOG_MAX);
    this.warm(pages);
  }

  /**
   * Point the index at other files that hold the same state: `index` is a fresh plan's
   * (after a compaction pass) at our TXID or, for the writer, an earlier one that its
   * own uploads since then bring up to ours. Pages and the cache do not change, so this
   * is safe at any time. False (nothing changed) when it cannot be brought to our TXID.
   */
  repoint(index: PageIndex): boolean {
    if (index.pageSize !== this.index.pageSize || index.txid > this.index.txid) return false;
    if (index.txid < this.index.txid) {
      const after = this.#applied.filter((f) => f.header.maxTXID > index.txid);
      if (after.length === 0 || after[0].header.minTXID > index.txid + 1n) return false;
      try {
        for (const f of after) index.apply(f.key, f.header, f.entries, f.postApplyChecksum);
      } catch (err) {
        log.warn({ err }, 're-point: the writer\'s own uploads do not continue the rebuilt index; keeping the current one');
        return false;
      }
    }
    if (index.txid !== this.index.txid || index.commit !== this.index.commit) return false;
    this.index = index;
    this.#applied.length = 0;
    this.repoints++;
    return true;
  }

  /** Replace the whole index (time travel, or no contiguous path to the new state). The local copy no longer applies. */
  reset(index: PageIndex): void {
    this.index = index;
    this.cache.clear();
    this.detachLocal();
    this.epoch++;
  }

  /** The local copy's TXID, or null when reads are remote. */
  get localTxid(): bigint | null {
    return this.#local?.txid ?? null;
  }

  get localPath(): string | null {
    return this.#local?.path ?? null;
  }

  /**
   * Read from a complete local copy of the database at `txid` from now on. Only at
   * the index's own TXID (the caller waits until they meet); call between transactions.
   */
  attachLocal(path: string, txid: bigint): void {
    if (txid !== this.index.txid) throw new Error(`attachLocal: the local copy is at TXID ${txid}, reads are at ${this.index.txid}`);
    this.detachLocal();
    const fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    if (size < this.index.commit * this.index.pageSize) {
      closeSync(fd);
      throw new Error(`attachLocal: ${path} has ${size} bytes, the database at TXID ${txid} has ${this.index.commit} pages of ${this.index.pageSize}`);
    }
    this.#local = { fd, path, txid };
    this.#stale.clear();
    // The cache holds pages of this same TXID: still good, and a hit is cheaper than a pread.
  }

  /** The local copy now reflects `txid`: pages changed up to it are local again. */
  localCaughtUp(txid: bigint): void {
    if (this.#local === null || txid <= this.#local.txid) return;
    this.#local.txid = txid;
    for (const [pgno, t] of this.#stale) if (t <= txid) this.#stale.delete(pgno);
  }

  detachLocal(): void {
    if (this.#local === null) return;
    closeSync(this.#local.fd);
    this.#local = null;
    this.#stale.clear();
  }

  /**
   * A read found `key` gone: rebuild the index at the same TXID from a fresh listing
   * (any level that holds that state) and use it. Throws SQLITE_IOERR_READ naming
   * REPLICA_EXPIRED when no file holds that state any more: the transaction outlived
   * the reader grace period (LITESTREAM_READER_GRACE) and the state was compacted away.
   */
  private replan(pgno: number, key: string, cause: Error): void {
    const txid = this.index.txid;
    if (this.source.planSync === undefined) throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} from ${key}: ${cause.message}`, { cause });
    let index: PageIndex;
    try {
      index = this.source.planSync({ txid }).index;
    } catch (err) {
      if (this.#untouched && isReplicaError(err, 'REPLICA_TARGET') && !/its latest is/.test(err.message)) {
        // A follower that fell behind by more than the readers' grace, at the first read of
        // a transaction: nothing of this version was read yet, so it may begin at the
        // latest state instead (as a poll's update would have made it).
        const latest = this.source.planSync({}).index;
        log.warn({ key, txid: String(txid), latest: String(latest.txid) }, 'reader fell behind: the files of its state were compacted away; this transaction reads the latest state');
        this.reset(latest);
        this.caughtUp++;
        return;
      }
      const latest = isReplicaError(err, 'REPLICA_TARGET') ? /its latest is (\d+)/.exec(err.message) : null;
      if (isReplicaError(err, 'REPLICA_EMPTY') || (latest !== null && BigInt(latest[1]) < txid)) {
        throw new VfsError(
          SQLITE_IOERR_READ,
          `REPLICA_REPLACED: page ${pgno} of TXID ${txid} was in ${key}, which is gone, and the replica now holds another database (${(err as Error).message}); ` +
            'this query fails, and the next ones read the new database once the follower has moved to it',
          { cause: err },
        );
      }
      throw new VfsError(
        SQLITE_IOERR_READ,
        `REPLICA_EXPIRED: page ${pgno} of TXID ${txid} was in ${key}, which compaction removed, and no file of the replica holds that state any more ` +
          `(${(err as Error).message}); a read transaction lasted longer than the reader grace period (LITESTREAM_READER_GRACE): retry it`,
        { cause: err },
      );
    }
    if (index.txid !== txid || index.commit !== this.index.commit) {
      throw new VfsError(SQLITE_IOERR_READ, `REPLICA_EXPIRED: page ${pgno} was in ${key}, which is gone, and a fresh plan for TXID ${txid} has ${index.commit} pages at TXID ${index.txid} instead of ${this.index.commit}`);
    }
    log.info({ key, txid: String(txid) }, 'a page file was removed by compaction; reading the same state from the files that hold it now');
    this.index = index;
    this.#applied.length = 0;
    this.replans++;
    this.repoints++;
  }

  /** The VFS calls this when a read transaction begins (no connection was reading). */
  transactionStarts(): void {
    this.#untouched = this.stampVersion; // followers only: a writer's index is always the latest
  }

  /** Page `pgno` (1 ≤ pgno ≤ commit), from the local copy, the cache or the store. Do not change it. */
  page(pgno: number, replanned = false): Uint8Array {
    const data = this.pageOf(pgno, replanned);
    this.#untouched = false;
    return data;
  }

  private pageOf(pgno: number, replanned: boolean): Uint8Array {
    const hit = this.cache.get(pgno);
    if (hit !== undefined) return hit instanceof RawFrame ? this.decodeAndCache(pgno, hit.key, hit.frame) : hit;
    if (this.#local !== null && !this.#stale.has(pgno)) return this.localPage(pgno);
    if (this.#prefetch !== null) {
      // Its answer may hold this page: take it before asking the store again.
      this.takePrefetch();
      const got = this.cache.get(pgno);
      if (got !== undefined) return got instanceof RawFrame ? this.decodeAndCache(pgno, got.key, got.frame) : got;
    }
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
      // Compaction and retention removed the file: the same state lives on at a higher level.
      if (isStoreError(err, 'NOT_FOUND') && !replanned) {
        this.replan(pgno, loc.key, err);
        return this.page(pgno, true);
      }
      throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} from ${loc.key}: ${(err as Error).message}`, { cause: err });
    }
    this.fetches++;
    this.fetchedBytes += bytes.length;
    if (bytes.length !== end - loc.offset) {
      throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} from ${loc.key}: asked for ${end - loc.offset} bytes at ${loc.offset}, got ${bytes.length}`);
    }
    // Only the page asked for is decoded now: a point lookup needs one page of the
    // read-ahead, and decoding the rest (LZ4, up to 256 KiB) would delay its answer.
    const result = this.decodeAndCache(pgno, loc.key, bytes.subarray(0, sizes[0]));
    this.fetchedPages++;
    let at = sizes[0];
    for (let i = 1; i < pgnos.length; i++) {
      this.cache.set(pgnos[i], new RawFrame(loc.key, bytes.slice(at, at + sizes[i])));
      this.fetchedPages++;
      at += sizes[i];
    }
    return result;
  }

  private decodeAndCache(pgno: number, key: string, frame: Uint8Array): Uint8Array {
    let data: Uint8Array;
    try {
      data = decodePageFrame(frame, this.index.pageSize, pgno).data;
    } catch (err) {
      throw new VfsError(SQLITE_IOERR_READ, `decode page ${pgno} of ${key}: ${(err as Error).message}`, { cause: err });
    }
    if (pgno === 1) this.patchPage1(data);
    this.cache.set(pgno, data);
    return data;
  }

  /**
   * The hydrated copy's fast path: a read of whole pages that are all local and not
   * cached goes straight from the file into SQLite's buffer. False: use page().
   */
  readLocal(buf: Uint8Array, offset: number): boolean {
    const local = this.#local;
    if (local === null) return false;
    const { pageSize } = this.index;
    if (offset % pageSize !== 0 || buf.length % pageSize !== 0 || offset === 0) return false; // page 1 is patched
    const first = offset / pageSize + 1;
    const last = first + buf.length / pageSize - 1;
    if (last > this.index.commit) return false;
    for (let p = first; p <= last; p++) if (this.#stale.has(p) || this.cache.has(p)) return false;
    const n = readSync(local.fd, buf, 0, buf.length, offset);
    if (n !== buf.length) throw new VfsError(SQLITE_IOERR_READ, `read ${buf.length} bytes at ${offset} of the hydrated copy ${local.path}: got ${n}`);
    this.localReads += last - first + 1;
    this.#untouched = false; // this transaction has read a version now: it may not change under it
    return true;
  }

  private localPage(pgno: number): Uint8Array {
    const { pageSize } = this.index;
    const out = new Uint8Array(pageSize);
    const n = readSync(this.#local!.fd, out, 0, pageSize, (pgno - 1) * pageSize);
    if (n !== pageSize) throw new VfsError(SQLITE_IOERR_READ, `read page ${pgno} of the hydrated copy ${this.#local!.path}: got ${n} of ${pageSize} bytes`);
    this.localReads++;
    if (pgno === 1) this.patchPage1(out);
    return out;
  }

  /**
   * Cache the frames that lie wholly in `bytes`, the first bytes of file `key` (the
   * snapshot's head, fetched with the page index): page 1 and the low pages that hold
   * the schema and early B-tree roots then cost no round trip. Frames are decoded on use.
   */
  seed(key: string, bytes: Uint8Array): number {
    let seeded = 0;
    for (let p = 1; p <= this.index.commit; p++) {
      const loc = this.index.lookup(p);
      if (loc === undefined || loc.key !== key) continue; // a later file holds it (or no file: the lock page)
      if (loc.offset + loc.size > bytes.length) break; // a snapshot's frames are in page order
      this.cache.set(p, new RawFrame(key, bytes.slice(loc.offset, loc.offset + loc.size)));
      seeded++;
    }
    return seeded;
  }

  /**
   * Boot pack hook (issue 14): cache frames that came from elsewhere than a range read
   * (src/boot), each only when the index places its page at that very frame; decoded on use.
   */
  seedFrames(frames: readonly { pgno: number; key: string; offset: number; bytes: Uint8Array }[]): number {
    let seeded = 0;
    for (const f of frames) {
      const loc = this.index.lookup(f.pgno);
      if (loc === undefined || loc.key !== f.key || loc.offset !== f.offset || loc.size !== f.bytes.length || this.cache.has(f.pgno)) continue;
      this.cache.set(f.pgno, new RawFrame(f.key, f.bytes));
      seeded++;
    }
    return seeded;
  }

  /**
   * Start fetching the children of the interior B-tree pages among `roots` (those in
   * the cache: a root that would cost a round trip is skipped), without waiting: one
   * parallel batch of range requests, taken at the next miss. A cold lookup then
   * finds the level below the root cached. A root's children come all or not at all:
   * with more than the batch holds (a wide root), a lookup would pick one of many, and
   * a part of them would rarely be the one. Returns the pages asked for.
   */
  prefetchBelow(roots: readonly number[]): number {
    if (this.#prefetch !== null || this.#local !== null || this.source.getManyLater === undefined) return 0;
    const runs: FrameRun[] = [];
    for (const root of new Set(roots)) {
      if (root < 1 || root > this.index.commit || !this.cache.has(root)) continue;
      const own = this.runsOf(interiorChildren(this.page(root), root, this.index.commit));
      if (runs.length + own.length <= PREFETCH_RANGES) runs.push(...own);
    }
    return this.prefetchRuns(runs);
  }

  /** The uncached pages among `pgnos` as ranges: adjacent frames of one file share one (up to the read-ahead size). */
  private runsOf(pgnos: readonly number[]): FrameRun[] {
    const runs: FrameRun[] = [];
    for (const p of [...new Set(pgnos)].sort((a, b) => a - b)) {
      if (this.cache.has(p)) continue;
      const loc = this.index.lookup(p);
      if (loc === undefined) continue;
      const last = runs[runs.length - 1];
      if (last !== undefined && last.key === loc.key && last.end === loc.offset && last.end + loc.size - last.offset <= this.readAheadBytes) {
        last.pgnos.push(p);
        last.sizes.push(loc.size);
        last.end += loc.size;
      } else {
        runs.push({ key: loc.key, offset: loc.offset, end: loc.offset + loc.size, pgnos: [p], sizes: [loc.size] });
      }
    }
    return runs;
  }

  private prefetchRuns(runs: FrameRun[]): number {
    if (runs.length === 0) return 0;
    const take = this.source.getManyLater!(runs.map((r) => ({ key: r.key, range: { offset: r.offset, length: r.end - r.offset } })));
    this.#prefetch = { runs, take };
    return runs.reduce((n, r) => n + r.pgnos.length, 0);
  }

  /**
   * Cache a prefetch's frames, those whose location the index still names (a version
   * may have moved on meanwhile). A failure only costs the prefetch: the page is read
   * again when asked for, and that read reports its own error.
   */
  private takePrefetch(): void {
    const pf = this.#prefetch;
    if (pf === null) return;
    this.#prefetch = null;
    let parts: Uint8Array[];
    try {
      parts = pf.take();
    } catch (err) {
      log.debug({ err }, 'prefetch failed; its pages will be read when needed');
      return;
    }
    pf.runs.forEach((r, i) => {
      const bytes = parts[i];
      if (bytes.length !== r.end - r.offset) return;
      this.fetches++;
      this.fetchedBytes += bytes.length;
      let at = 0;
      r.pgnos.forEach((p, j) => {
        const loc = this.index.lookup(p);
        if (loc !== undefined && loc.key === r.key && loc.offset === r.offset + at && !this.cache.has(p)) {
          this.cache.set(p, new RawFrame(r.key, r.pgnos.length === 1 ? bytes : bytes.slice(at, at + r.sizes[j])));
          this.prefetchedPages++;
        }
        at += r.sizes[j];
      });
    });
  }

  /** Forget a prefetch not taken yet (its answer is dropped when it comes). */
  dropPrefetch(): void {
    this.#prefetch = null;
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

// The writable main database: what SQLite writes in a transaction is held here in
// memory and becomes one durable commit in the write buffer (`WriteTarget`) at the
// commit point; reads see this transaction's pages, then the buffer's, then the
// replica's. Commit points, in the order SQLite reaches them:
// - SQLITE_FCNTL_COMMIT_ATOMIC_WRITE: the batch-atomic path (we report
//   SQLITE_IOCAP_BATCH_ATOMIC), where SQLite writes no journal at all;
// - xSync of the main database: the journal path (transactions larger than the
//   page cache), after SQLite has written every page of the transaction;
// - xUnlock below RESERVED with pages still held (synchronous=OFF never syncs).
// A crash before the commit point loses only an unacknowledged transaction: the
// pages were never anywhere but here. Journals live in memory for the same reason.
import { CHECKSUM_FLAG, lockPage, pageChecksum } from '../ltx/index.js';
import { SQLITE_IOERR_WRITE, SQLITE_READONLY } from './codes.js';
import { VfsError } from './vfs.js';

/** Where commits go: the durable write buffer (src/sync), wrapped by open(). */
export interface WriteTarget {
  /** The newest committed-but-unsynced content of a page, if any. */
  page(pgno: number): Uint8Array | undefined;
  /** Database size in pages after the newest buffered commit, if any. */
  readonly commitSize: number | undefined;
  /** The LTX database checksum after the newest buffered commit (else of the replica's state); null when unknown. */
  readonly checksum: bigint | null;
  /** Throw (with a message for the user) when writes are not allowed now: a second writer, a full buffer. */
  checkWritable(): void;
  /** Make one transaction durable before returning (fsync). `pages` are owned by the callee; `checksum` is the state's after it. */
  commit(pages: Map<number, Uint8Array>, commit: number, checksum: bigint | null): void;
}

/** The committed state below the buffer: page size, size in pages, and page content. */
export interface BasePages {
  readonly pageSize: number;
  readonly commit: number;
  page(pgno: number): Uint8Array;
}

export class WriteLayer {
  #pages = new Map<number, Uint8Array>();
  #size: number | undefined; // pages, when this transaction changed the size
  #inBatch = false;
  #pageSize: number | null = null; // a new database's, from its first write
  commits = 0;
  /** Set while time travel is on: writes are refused. */
  readOnlyReason: string | null = null;

  constructor(
    private readonly target: WriteTarget,
    private readonly base: BasePages,
  ) {}

  get dirty(): boolean {
    return this.#pages.size > 0 || this.#size !== undefined;
  }

  /** Page size: the base's, or, for a new database, the size of the first page SQLite writes. */
  pageSize(): number {
    return this.#pageSize ?? this.base.pageSize;
  }

  /** Committed size in pages (buffer, else replica). */
  committedSize(): number {
    return this.target.commitSize ?? this.base.commit;
  }

  /** Size in pages as this transaction sees it. */
  size(): number {
    if (this.#size !== undefined) return this.#size;
    let n = this.committedSize();
    for (const pgno of this.#pages.keys()) if (pgno > n) n = pgno;
    return n;
  }

  /** The committed content of a page (buffer, else replica), ignoring this transaction. */
  committedPage(pgno: number): Uint8Array {
    if (pgno > this.committedSize()) return new Uint8Array(this.pageSize());
    return this.target.page(pgno) ?? this.base.page(pgno);
  }

  /** The page as this transaction sees it. */
  page(pgno: number): Uint8Array {
    return this.#pages.get(pgno) ?? this.committedPage(pgno);
  }

  write(buf: Uint8Array, offset: number): void {
    if (this.readOnlyReason !== null) throw new VfsError(SQLITE_READONLY, this.readOnlyReason);
    this.target.checkWritable();
    // A new database: SQLite's first write is page 1 at the page size it chose (PRAGMA page_size).
    if (offset === 0 && this.committedSize() === 0 && this.#pages.size === 0 && isPageSize(buf.length)) this.#pageSize = buf.length;
    const pageSize = this.pageSize();
    if (offset % pageSize !== 0 || buf.length !== pageSize) {
      throw new VfsError(SQLITE_IOERR_WRITE, `write of ${buf.length} bytes at ${offset}: the database's page size is ${pageSize}; only whole pages can be written`);
    }
    const pgno = offset / pageSize + 1;
    this.#pages.set(pgno, buf.slice());
    if (this.#size !== undefined && pgno > this.#size) this.#size = pgno;
  }

  truncate(bytes: number): void {
    if (this.readOnlyReason !== null) throw new VfsError(SQLITE_READONLY, this.readOnlyReason);
    const pageSize = this.pageSize();
    const pages = Math.ceil(bytes / pageSize);
    for (const pgno of this.#pages.keys()) if (pgno > pages) this.#pages.delete(pgno);
    this.#size = pages;
  }

  beginBatch(): void {
    this.#inBatch = true;
  }

  commitBatch(): void {
    this.#inBatch = false;
    this.commit();
  }

  rollbackBatch(): void {
    this.#inBatch = false;
    this.discard();
  }

  /** xSync / xUnlock: the journal path's commit point (not inside a batch). */
  commitIfDirty(): void {
    if (!this.#inBatch && this.dirty) this.commit();
  }

  discard(): void {
    this.#pages.clear();
    this.#size = undefined;
  }

  /** One commit: the pages that differ from the committed state (a rolled-back journal writes the old ones back). */
  private commit(): void {
    const size = this.size();
    const old = this.committedSize();
    const changed = new Map<number, Uint8Array>();
    for (const [pgno, data] of this.#pages) {
      if (pgno > size) continue;
      if (pgno <= old && equal(data, this.committedPage(pgno))) continue;
      changed.set(pgno, data);
    }
    if (changed.size === 0 && size === old) {
      this.discard();
      return;
    }
    const checksum = this.checksumAfter(changed, old, size);
    this.discard();
    this.target.commit(changed, size, checksum);
    this.commits++;
  }

  /**
   * The database checksum after this commit, updated from the one before it (LTX
   * §7.3: the XOR of every page's checksum, so a page's old checksum goes out and its
   * new one comes in; pages past a shrink go out; pages a growth did not write are
   * zeroes). Shipped as the L0 files' pre/post-apply checksums, so that restores and
   * hydration can check what the writer captured. Null when the state before is unknown
   * (a replica Litestream wrote without checksums).
   */
  private checksumAfter(changed: ReadonlyMap<number, Uint8Array>, old: number, size: number): bigint | null {
    const before = this.target.checksum;
    if (before === null) return null;
    const pageSize = this.pageSize();
    const lock = lockPage(pageSize);
    let sum = before;
    for (const [pgno, data] of changed) {
      if (pgno === lock) continue;
      if (pgno <= old) sum ^= pageChecksum(pgno, this.committedPage(pgno));
      sum ^= pageChecksum(pgno, data);
    }
    const zero = new Uint8Array(pageSize);
    for (let p = old + 1; p <= size; p++) if (p !== lock && !changed.has(p)) sum ^= pageChecksum(p, zero);
    for (let p = size + 1; p <= old; p++) if (p !== lock) sum ^= pageChecksum(p, this.committedPage(p));
    return sum | CHECKSUM_FLAG;
  }
}

function isPageSize(n: number): boolean {
  return n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

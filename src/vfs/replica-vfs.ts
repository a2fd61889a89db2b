// The VFS whose main database file is a replica in object storage. Reads go to
// the transaction's own pages and the write buffer (write mode, ./write-layer.ts),
// then to the replica's pages (./remote-pages.ts: page cache, then range requests).
// Journals and temp files go to a private memory VFS (named files) or to local temp
// files (SQLite's nameless temp files, which sorts can make large).
//
// Versions: a follower's new transactions (found by the poller) and time travel
// (`PRAGMA litestream_time`) change the pages the file serves. They are queued and
// applied only when no connection of this VFS is inside a read transaction (at the
// next xLock(SHARED)), so a transaction sees one version.
import { PageIndex, postChecksumOf } from '../replica/page-index.js';
import type { StoreStats } from '../storage/stats.js';
import {
  SQLITE_ERROR,
  SQLITE_FCNTL_BEGIN_ATOMIC_WRITE,
  SQLITE_FCNTL_COMMIT_ATOMIC_WRITE,
  SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE,
  SQLITE_IOCAP_BATCH_ATOMIC,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_NOTFOUND,
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
import type { PageCacheStats } from './page-cache.js';
import { READ_AHEAD_BYTES, RemotePages, type ChainFile, type PageSource } from './remote-pages.js';
import { VfsError, LockLevel, type OpenResult, type ResultCode, type Vfs, type VfsFile } from './vfs.js';
import { WriteLayer, type WriteTarget } from './write-layer.js';

export { READ_AHEAD_BYTES, type PageSource, type ChainFile } from './remote-pages.js';

/** A version change, applied between read transactions. */
export type VersionUpdate =
  | { kind: 'files'; files: ChainFile[] }
  | { kind: 'reset'; index: PageIndex }
  // Hydration: switch reads to a complete local copy at the served TXID / it caught up to `txid`.
  | { kind: 'local'; path: string; txid: bigint; onSwitched?: (ok: boolean) => void }
  | { kind: 'local-txid'; txid: bigint };

/** `PRAGMA litestream_*` that need more than the VFS knows: time travel, lag, sync. */
export interface PragmaHooks {
  /** Build the index for a time (ms) or the latest state (null); synchronous (the store bridge). */
  planAt?(timestampMs: number | null): PageIndex;
  /** Told after time travel moved the version (null: back to following the latest). */
  onPinned?(pinned: string | null, txid: bigint): void;
  /** Seconds behind the newest remote transaction known. */
  lag?(): number;
  /** Any other litestream_* pragma (write mode: litestream_sync, ...). */
  pragma?(name: string, value: string | null): string | null | undefined;
}

export interface ReplicaVfsOptions {
  /** The name to register under; unique per open database. */
  name: string;
  /** The replica URL, for messages and the lock key. */
  url: string;
  index: PageIndex;
  source: PageSource;
  /** Page cache budget in bytes. */
  cacheSize: number;
  /** Range request limit for read-ahead, in bytes. Default READ_AHEAD_BYTES; 0 turns read-ahead off. */
  readAheadBytes?: number;
  lockTable?: LockTable;
  /** Write mode: commits go here (the write buffer). Absent: read-only. */
  writer?: WriteTarget;
  /** Follower mode (read-only, polling): stamp a version into page 1 so SQLite sees changes. */
  follow?: boolean;
  hooks?: PragmaHooks;
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
  /** Pages cached by a prefetch (the level below the roots, at open). */
  prefetchedPages: number;
  /** The replica TXID served (write mode: the last synced one). */
  txid: bigint;
  /** Version updates applied (polling, time travel). */
  updates: number;
  /** Commits made through this VFS (write mode). */
  commits: number;
  /** Pages read from the hydrated local copy. */
  localReads: number;
  /** The hydrated local copy reads come from, or null. */
  localPath: string | null;
  /** Reads that found their file removed (compaction, retention) and re-planned at the same TXID. */
  replans: number;
  /** Times the index moved to other files holding the same state (re-plans, the writer's re-points). */
  repoints: number;
  /** Transactions of a reader that fell behind by more than the readers' grace, begun at the latest state instead. */
  caughtUp: number;
}

/** What the files of one VFS share: the pages, the write layer, the version queue. */
class ReplicaState {
  readonly remote: RemotePages;
  readonly writer: WriteLayer | null;
  readonly #queue: VersionUpdate[] = [];
  /** Connections inside a read transaction (lock ≥ SHARED). */
  readers = 0;
  reads = 0;
  updates = 0;
  /** The time travel target, or null when following the latest. */
  pinned: string | null = null;

  constructor(remote: RemotePages, writer: WriteTarget | undefined) {
    this.remote = remote;
    this.writer = writer === undefined ? null : new WriteLayer(writer, remote);
  }

  /** Queue a version change; it takes effect now if nobody is reading. */
  enqueue(update: VersionUpdate): void {
    this.#queue.push(update);
    if (this.readers === 0) this.applyPending();
  }

  /** The database checksum once every queued update is applied (null: unknown). */
  get queuedChecksum(): bigint | null {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const u = this.#queue[i];
      if (u.kind === 'reset') return u.index.checksum;
      if (u.kind === 'files') {
        const last = u.files[u.files.length - 1];
        return last.postApplyChecksum === undefined ? null : postChecksumOf(last.header, last.postApplyChecksum);
      }
    }
    return this.remote.index.checksum;
  }

  /** The TXID once every queued update is applied. */
  get queuedTxid(): bigint {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const u = this.#queue[i];
      if (u.kind === 'reset') return u.index.txid;
      if (u.kind === 'files') return u.files[u.files.length - 1].header.maxTXID;
    }
    return this.remote.index.txid;
  }

  applyPending(): void {
    while (this.#queue.length > 0) {
      const u = this.#queue.shift()!;
      switch (u.kind) {
        case 'reset':
          this.remote.reset(u.index);
          break;
        case 'files':
          // Stale when the reads moved past it meanwhile (a reader that fell behind jumped to the latest state).
          if (u.files[u.files.length - 1].header.maxTXID > this.remote.index.txid) this.remote.apply(u.files);
          break;
        case 'local': {
          // The copy may have fallen behind (or ahead) while queued: then the switch waits for another try.
          const ok = u.txid === this.remote.index.txid && this.pinned === null;
          if (ok) this.remote.attachLocal(u.path, u.txid);
          u.onSwitched?.(ok);
          break;
        }
        case 'local-txid':
          this.remote.localCaughtUp(u.txid);
          break;
      }
      this.updates++;
    }
  }

  get pageSize(): number {
    return this.writer !== null ? this.writer.pageSize() : this.remote.pageSize;
  }

  page(pgno: number): Uint8Array {
    return this.writer !== null ? this.writer.page(pgno) : this.remote.page(pgno);
  }

  sizeInPages(): number {
    return this.writer !== null ? this.writer.size() : this.remote.index.commit;
  }
}

class ReplicaFile implements VfsFile {
  #lock: FileLock | null;
  #level = LockLevel.NONE;

  constructor(
    private readonly state: ReplicaState,
    lock: FileLock,
    private readonly url: string,
    private readonly hooks: PragmaHooks,
  ) {
    this.#lock = lock;
  }

  read(buf: Uint8Array, offset: number): ResultCode {
    const { state } = this;
    const pageSize = state.pageSize;
    state.reads++;
    const size = state.sizeInPages() * pageSize;
    if (state.writer === null && offset + buf.length <= size && state.remote.readLocal(buf, offset)) return SQLITE_OK;
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
      buf.set(state.page(pgno).subarray(within, within + n), done);
      done += n;
    }
    return SQLITE_OK;
  }

  write(buf: Uint8Array, offset: number): ResultCode {
    this.writer('write').write(buf, offset);
    return SQLITE_OK;
  }

  truncate(size: number): ResultCode {
    this.writer('truncate').truncate(size);
    return SQLITE_OK;
  }

  sync(): ResultCode {
    this.state.writer?.commitIfDirty();
    return SQLITE_OK;
  }

  fileSize(): number {
    return this.state.sizeInPages() * this.state.pageSize;
  }

  lock(level: LockLevel): ResultCode {
    const rc = this.fileLock().lock(level);
    if (rc === SQLITE_OK && this.#level === LockLevel.NONE && level >= LockLevel.SHARED) {
      // The start of a read transaction: the moment a queued version may take effect.
      if (this.state.readers === 0) {
        this.state.applyPending();
        this.state.remote.transactionStarts();
      }
      this.state.readers++;
    }
    if (rc === SQLITE_OK && level > this.#level) this.#level = level;
    return rc;
  }

  unlock(level: LockLevel): ResultCode {
    // Leaving a write transaction with pages still held: the commit point when
    // SQLite never synced (synchronous=OFF).
    if (level < LockLevel.RESERVED && this.#level >= LockLevel.RESERVED) this.state.writer?.commitIfDirty();
    const rc = this.fileLock().unlock(level);
    if (rc === SQLITE_OK) {
      if (level === LockLevel.NONE && this.#level >= LockLevel.SHARED) this.state.readers--;
      this.#level = level;
    }
    return rc;
  }

  checkReservedLock(): boolean {
    return this.fileLock().checkReserved();
  }

  fileControl(op: number): ResultCode {
    const w = this.state.writer;
    if (w === null) return SQLITE_NOTFOUND;
    switch (op) {
      case SQLITE_FCNTL_BEGIN_ATOMIC_WRITE:
        w.beginBatch();
        return SQLITE_OK;
      case SQLITE_FCNTL_COMMIT_ATOMIC_WRITE:
        w.commitBatch();
        return SQLITE_OK;
      case SQLITE_FCNTL_ROLLBACK_ATOMIC_WRITE:
        w.rollbackBatch();
        return SQLITE_OK;
      default:
        return SQLITE_NOTFOUND;
    }
  }

  deviceCharacteristics(): number {
    // Batch atomic: SQLite hands a whole transaction over between BEGIN and COMMIT_ATOMIC_WRITE, with no journal.
    return this.state.writer !== null ? SQLITE_IOCAP_BATCH_ATOMIC | SQLITE_IOCAP_POWERSAFE_OVERWRITE : 0;
  }

  pragma(name: string, value: string | null): string | null | undefined {
    const lower = name.toLowerCase();
    if (lower === 'journal_mode' && value !== null && value.trim().toLowerCase() === 'wal') {
      // The WAL would live in memory beside a file we ship at commit points: commits in
      // it would be neither durable nor synced until a checkpoint. Refuse it plainly.
      throw new VfsError(SQLITE_ERROR, 'journal_mode=WAL is not supported on an ltxvfs replica: commits are made durable in the write buffer and shipped as LTX files; keep the default rollback journal (DELETE)');
    }
    if (!lower.startsWith('litestream_')) return undefined;
    const { state, hooks } = this;
    switch (lower) {
      case 'litestream_txid':
        if (value !== null) throw new VfsError(SQLITE_ERROR, 'litestream_txid is read-only: it reports the TXID this connection reads');
        return state.remote.index.txid.toString();
      case 'litestream_time':
        if (value === null) return state.pinned ?? 'latest';
        this.timeTravel(value);
        return state.pinned ?? 'latest';
      case 'litestream_lag':
        if (value !== null) throw new VfsError(SQLITE_ERROR, 'litestream_lag is read-only');
        return String(hooks.lag?.() ?? 0);
      case 'litestream_write_enabled':
        if (value !== null) throw new VfsError(SQLITE_ERROR, 'litestream_write_enabled is read-only: set LITESTREAM_WRITE_ENABLED (or the writeEnabled option) when opening');
        return state.writer !== null ? 'true' : 'false';
      default: {
        const answer = hooks.pragma?.(lower, value);
        if (answer === undefined) throw new VfsError(SQLITE_ERROR, `unknown pragma ${name}: ltxvfs knows litestream_txid, litestream_time, litestream_lag, litestream_write_enabled, litestream_sync, litestream_hydration_progress, litestream_hydration_file`);
        return answer;
      }
    }
  }

  private timeTravel(value: string): void {
    const { state, hooks } = this;
    if (state.writer !== null) {
      throw new VfsError(SQLITE_ERROR, 'litestream_time is not available in write mode: open a second, read-only connection (open() without writeEnabled) to read the past');
    }
    if (hooks.planAt === undefined) throw new VfsError(SQLITE_ERROR, 'litestream_time: time travel needs a replica opened with open()');
    const target = parseTimeTarget(value, Date.now());
    let index: PageIndex;
    try {
      index = hooks.planAt(target);
    } catch (err) {
      throw new VfsError(SQLITE_ERROR, `litestream_time = '${value}': ${(err as Error).message}`, { cause: err });
    }
    state.pinned = target === null ? null : new Date(target).toISOString();
    state.enqueue({ kind: 'reset', index });
    hooks.onPinned?.(state.pinned, index.txid);
  }

  close(): ResultCode {
    if (this.#level >= LockLevel.SHARED) this.state.readers--;
    this.#level = LockLevel.NONE;
    this.#lock?.close();
    this.#lock = null;
    return SQLITE_OK;
  }

  private writer(what: string): WriteLayer {
    const w = this.state.writer;
    if (w === null) throw new VfsError(SQLITE_READONLY, `${this.url} is opened read-only (${what}); open it with writeEnabled (LITESTREAM_WRITE_ENABLED=true) to write`);
    return w;
  }

  private fileLock(): FileLock {
    if (this.#lock === null) throw new VfsError(SQLITE_ERROR, `${this.url}: file is closed`);
    return this.#lock;
  }
}

const UNITS: Record<string, number> = { ms: 1, millisecond: 1, s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000, d: 86_400_000, day: 86_400_000, w: 604_800_000, week: 604_800_000 };

/**
 * `'latest'` → null; `'<N> <unit> ago'` (seconds, minutes, hours, days, weeks; `5m ago` too)
 * and RFC 3339 timestamps → ms since the epoch.
 */
export function parseTimeTarget(value: string, now: number): number | null {
  const v = value.trim();
  if (v.toLowerCase() === 'latest') return null;
  const ago = /^(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s+ago$/i.exec(v);
  if (ago) {
    const unit = UNITS[ago[2].toLowerCase()];
    if (unit === undefined) throw new VfsError(SQLITE_ERROR, `litestream_time = '${value}': unknown unit '${ago[2]}' (use seconds, minutes, hours, days or weeks)`);
    return now - Number(ago[1]) * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new VfsError(SQLITE_ERROR, `litestream_time = '${value}': expected 'latest', an RFC 3339 time such as '2026-11-24T10:00:00Z', or '<N> <unit> ago' such as '5 minutes ago'`);
}

export class ReplicaVfs implements Vfs {
  readonly name: string;
  readonly url: string;
  readonly #state: ReplicaState;
  readonly #source: PageSource;
  readonly #lockTable: LockTable;
  readonly #memory: MemoryVfs;
  readonly #temp: LocalFileVfs;
  readonly #hooks: PragmaHooks;

  constructor(options: ReplicaVfsOptions) {
    const readAhead = options.readAheadBytes ?? READ_AHEAD_BYTES;
    if (!Number.isFinite(readAhead) || readAhead < 0) throw new TypeError(`readAheadBytes: expected a number of bytes ≥ 0, got ${String(readAhead)}`);
    this.name = options.name;
    this.url = options.url;
    this.#source = options.source;
    const remote = new RemotePages(options.index, options.source, options.cacheSize, readAhead, options.follow ?? false);
    this.#state = new ReplicaState(remote, options.writer);
    this.#hooks = options.hooks ?? {};
    this.#lockTable = options.lockTable ?? processLockTable;
    this.#memory = new MemoryVfs(`${options.name}-memory`);
    this.#temp = new LocalFileVfs({ name: `${options.name}-temp`, lockTable: this.#lockTable });
  }

  open(path: string | null, flags: number): OpenResult {
    if (path === null) return this.#temp.open(null, flags);
    if (!(flags & SQLITE_OPEN_MAIN_DB)) return this.#memory.open(path, flags);
    const file = new ReplicaFile(this.#state, this.#lockTable.acquire(`replica:${this.url}`), this.url, this.#hooks);
    const outFlags = this.#state.writer !== null ? flags : (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    return { file, outFlags };
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

  /** The TXID of the replica state the pages come from. */
  get txid(): bigint {
    return this.#state.remote.index.txid;
  }

  /** The header timestamp (ms) of the newest file of the served state. */
  get timestampMs(): number {
    return Number(this.#state.remote.index.header.timestamp);
  }

  /** The time travel target, or null when following the latest. */
  get pinned(): string | null {
    return this.#state.pinned;
  }

  /** The TXID of the hydrated local copy reads use, or null while they are remote. */
  get localTxid(): bigint | null {
    return this.#state.remote.localTxid;
  }

  /** The database checksum once the queued updates are applied (what a poller checks new files against). */
  get queuedChecksum(): bigint | null {
    return this.#state.queuedChecksum;
  }

  /** States the served index passed through (TXID → checksum), for a poller's follower. */
  get boundaries(): ReadonlyMap<bigint, bigint | null> {
    return this.#state.remote.index.boundaries;
  }

  /** The TXID once the queued updates are applied (what a poller continues from). */
  get queuedTxid(): bigint {
    return this.#state.queuedTxid;
  }

  /** Cache the frames held in the first bytes of `key` (see RemotePages.seed); returns how many. */
  seed(key: string, bytes: Uint8Array): number {
    return this.#state.remote.seed(key, bytes);
  }

  /** Boot pack hook (issue 14): cache frames whose location the index names exactly (see RemotePages.seedFrames). */
  seedFrames(frames: readonly { pgno: number; key: string; offset: number; bytes: Uint8Array }[]): number {
    return this.#state.remote.seedFrames(frames);
  }

  /**
   * Start fetching the level below these B-tree roots (those already cached) in the
   * background; a cold lookup then starts two levels down. Returns the pages asked for.
   */
  prefetchBelow(roots: readonly number[]): number {
    return this.#state.remote.prefetchBelow(roots);
  }

  /** Queue a new version (polling); applied between read transactions. */
  update(update: VersionUpdate): void {
    this.#state.enqueue(update);
  }

  /**
   * Write mode: a file the writer uploaded. Its pages move from the buffer to the
   * replica's index (and the cache, since we hold them); what readers see does not
   * change, because the buffer held the same pages until now.
   */
  synced(file: ChainFile, pages: ReadonlyMap<number, Uint8Array>): void {
    this.#state.remote.applySynced(file, pages);
  }

  /**
   * Write mode, after a compaction pass: read from the files that hold the same state
   * now (`index`, a fresh plan's, at or before the synced TXID), so reads never reach
   * for a file retention is about to delete. False when it no longer fits (a later pass retries).
   */
  repoint(index: PageIndex): boolean {
    return this.#state.remote.repoint(index);
  }

  /** Counters for the demo, the CLI and benchmarks. */
  stats(): ReplicaVfsStats {
    const s = this.#state;
    const r = s.remote;
    return {
      cache: r.cache.stats(),
      reads: s.reads,
      fetches: r.fetches,
      fetchedBytes: r.fetchedBytes,
      fetchedPages: r.fetchedPages,
      prefetchedPages: r.prefetchedPages,
      txid: r.index.txid,
      updates: s.updates,
      commits: s.writer?.commits ?? 0,
      localReads: r.localReads,
      localPath: r.localPath,
      replans: r.replans,
      repoints: r.repoints,
      caughtUp: r.caughtUp,
    };
  }

  /** The store's own request counters, when the source keeps them. */
  storeStats(): StoreStats | undefined {
    return this.#source.storeStats?.();
  }

  /** Drop the cached pages (for cold-read measurements). */
  clearCache(): void {
    this.#state.remote.dropPrefetch();
    this.#state.remote.cache.clear();
  }

  /** After the last connection closed: release the local copy's descriptor and the cache. */
  dispose(): void {
    this.#state.remote.detachLocal();
    this.#state.remote.dropPrefetch();
    this.#state.remote.cache.clear();
  }
}

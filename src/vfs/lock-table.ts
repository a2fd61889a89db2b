// SQLite's five-level file locks, kept in a table in this process's memory.
//
// The rules are those of os_unix.c's unixLock, for connections of one process:
// - SHARED: any number of holders; refused while another connection holds
//   PENDING or EXCLUSIVE (so a waiting writer is not starved by new readers).
// - RESERVED: one holder at a time, and only from SHARED; readers carry on.
// - PENDING: never requested directly; taken on the way from SHARED or
//   RESERVED to EXCLUSIVE, and kept when EXCLUSIVE is refused, so no new
//   reader gets in while the writer waits for the current ones to leave.
// - EXCLUSIVE: granted once no other connection holds SHARED.
// - Unlock goes down to SHARED or NONE only.
// At most one connection is ever above SHARED: that one is `writer` below.
//
// The table lives in process memory only. A crashed process takes its locks
// with it, so nothing can stay wedged, and the next opener sees an unlocked
// file with a hot journal and rolls it back. The price: other processes (and
// other worker threads, each with its own copy of this module) do not see
// these locks at all. See docs/vfs.md.

import { SQLITE_BUSY, SQLITE_MISUSE, SQLITE_OK } from './codes.js';
import { LockLevel, VfsError, type ResultCode } from './vfs.js';

const LEVEL_NAMES = ['NONE', 'SHARED', 'RESERVED', 'PENDING', 'EXCLUSIVE'];

/** The name of a lock level, for messages. */
export function lockLevelName(level: LockLevel): string {
  return LEVEL_NAMES[level] ?? `level ${String(level)}`;
}

/** The shared state of one file: how many hold SHARED or more, and who is above SHARED. */
interface Entry {
  readonly key: string;
  /** Connections holding SHARED or higher (the writer included). */
  readers: number;
  /** The one connection above SHARED (RESERVED, PENDING or EXCLUSIVE), if any. */
  writer: FileLock | null;
  /** Open FileLocks on this entry; the entry is dropped when it reaches 0. */
  refs: number;
  /**
   * The file's size in bytes as last measured or written through this process,
   * or undefined when unknown. Kept here, beside the locks, because it is valid
   * on the same assumption: every writer of the file is in this process.
   */
  size: number | undefined;
}

/** One connection's lock on one file. Call `close()` when the file closes. */
export class FileLock {
  #level: LockLevel = LockLevel.NONE;
  #entry: Entry | null;
  readonly #table: LockTable;

  /** @internal Use LockTable.acquire. */
  constructor(table: LockTable, entry: Entry) {
    this.#table = table;
    this.#entry = entry;
  }

  /** The file's size as last measured or written in this process (see Entry.size); undefined once closed. */
  get knownSize(): number | undefined {
    return this.#entry?.size;
  }

  set knownSize(size: number | undefined) {
    if (this.#entry !== null) this.#entry.size = size;
  }

  /** The level this connection holds. */
  get level(): LockLevel {
    return this.#level;
  }

  /** Raise to `level` (SHARED, RESERVED or EXCLUSIVE), or return SQLITE_BUSY. */
  lock(level: LockLevel): ResultCode {
    const e = this.#open('lock');
    const from = this.#level;
    if (from >= level) return SQLITE_OK;
    // SQLite never asks for these (os_unix.c asserts the same); a request is a bug upstream.
    if (level === LockLevel.PENDING || level > LockLevel.EXCLUSIVE || (from === LockLevel.NONE && level !== LockLevel.SHARED)) {
      throw new VfsError(SQLITE_MISUSE, `lock: ${lockLevelName(from)} -> ${lockLevelName(level)} is not a legal transition`);
    }
    if (level === LockLevel.SHARED) {
      if (e.writer !== null && e.writer.#level >= LockLevel.PENDING) return SQLITE_BUSY;
      e.readers++;
      this.#level = LockLevel.SHARED;
      return SQLITE_OK;
    }
    if (e.writer !== null && e.writer !== this) return SQLITE_BUSY;
    if (level === LockLevel.RESERVED) {
      e.writer = this;
      this.#level = LockLevel.RESERVED;
      return SQLITE_OK;
    }
    // EXCLUSIVE: hold PENDING first, keep it if readers remain.
    e.writer = this;
    if (e.readers > 1) {
      this.#level = LockLevel.PENDING;
      return SQLITE_BUSY;
    }
    this.#level = LockLevel.EXCLUSIVE;
    return SQLITE_OK;
  }

  /** Lower to `level` (SHARED or NONE). */
  unlock(level: LockLevel): ResultCode {
    const e = this.#open('unlock');
    if (level !== LockLevel.SHARED && level !== LockLevel.NONE) {
      throw new VfsError(SQLITE_MISUSE, `unlock: to ${lockLevelName(level)} is not allowed (SHARED or NONE only)`);
    }
    const from = this.#level;
    if (from <= level) return SQLITE_OK;
    if (e.writer === this) e.writer = null;
    if (level === LockLevel.NONE) e.readers--;
    this.#level = level;
    return SQLITE_OK;
  }

  /** True if any connection, this one included, holds RESERVED or higher. */
  checkReserved(): boolean {
    return this.#open('checkReserved').writer !== null;
  }

  /** Drop whatever this connection holds and leave the table. Idempotent. */
  close(): void {
    const e = this.#entry;
    if (e === null) return;
    this.unlock(LockLevel.NONE);
    this.#entry = null;
    this.#table.release(e);
  }

  #open(op: string): Entry {
    if (this.#entry === null) throw new VfsError(SQLITE_MISUSE, `${op}: lock is closed`);
    return this.#entry;
  }
}

/** Locks by file key. Files with the same key share one entry. */
export class LockTable {
  readonly #entries = new Map<string, Entry>();

  /** A new connection's lock on the file named by `key`, starting at NONE. */
  acquire(key: string): FileLock {
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { key, readers: 0, writer: null, refs: 0, size: undefined };
      this.#entries.set(key, e);
    }
    e.refs++;
    return new FileLock(this, e);
  }

  /** Number of files with at least one open FileLock (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }

  /** @internal Called by FileLock.close. */
  release(e: Entry): void {
    if (--e.refs === 0 && this.#entries.get(e.key) === e) this.#entries.delete(e.key);
  }
}

/** The table every VFS of this process shares, so that they see each other's locks. */
export const processLockTable = new LockTable();

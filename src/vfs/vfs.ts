// The TypeScript side of a SQLite VFS. native/ forwards every sqlite3_vfs and
// sqlite3_io_methods call to a `Vfs` registered with the engine; the facade in
// src/engine is the only code that touches WASM heap pointers and the only
// place that catches, so a VFS may simply throw.
//
// Calling convention (all of it synchronous, because SQLite is):
// - Every method runs to completion before returning. Anything asynchronous
//   (object storage) must be bridged (src/io), never awaited here.
// - A `Uint8Array` argument is a view of the WASM heap, valid only for the
//   duration of the call: copy out of it / into it, never keep it. The heap can
//   grow (and move) on the next allocation.
// - Return values are SQLite result codes where the method returns `number`
//   (see ./codes.ts). To fail, either return a code or throw: a thrown
//   `VfsError` carries its code, anything else becomes the method's default
//   I/O error code; the facade logs it and reports it through xGetLastError.

/** A SQLite result code (primary or extended). */
export type ResultCode = number;

/** The five SQLite lock levels, as SQLite numbers them. */
export enum LockLevel {
  NONE = 0,
  SHARED = 1,
  RESERVED = 2,
  PENDING = 3,
  EXCLUSIVE = 4,
}

/** An error with the SQLite result code a VFS method should return. */
export class VfsError extends Error {
  readonly code: ResultCode;
  constructor(code: ResultCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VfsError';
    this.code = code;
  }
}

/** One open file: the main database, a journal, a WAL or a temp file. */
export interface VfsFile {
  /**
   * Fill `buf` from `offset`. Past end of file: zero-fill the rest of `buf`
   * and return SQLITE_IOERR_SHORT_READ (SQLite relies on the zeroes).
   */
  read(buf: Uint8Array, offset: number): ResultCode;
  write(buf: Uint8Array, offset: number): ResultCode;
  truncate(size: number): ResultCode;
  /** `flags` is SQLITE_SYNC_NORMAL or SQLITE_SYNC_FULL, maybe | SQLITE_SYNC_DATAONLY. */
  sync(flags: number): ResultCode;
  /** Size in bytes. */
  fileSize(): number;
  /** Raise this file's lock to `level` or return SQLITE_BUSY. */
  lock(level: LockLevel): ResultCode;
  /** Lower this file's lock to `level` (SHARED or NONE). */
  unlock(level: LockLevel): ResultCode;
  /** True if any connection holds RESERVED or higher on this file. */
  checkReservedLock(): boolean;
  /**
   * `PRAGMA name = value` (value null for `PRAGMA name`) on this database,
   * delivered through SQLITE_FCNTL_PRAGMA. Return `undefined` to let SQLite
   * handle the pragma; a string (or null) to answer it with that one-row
   * result; throw a VfsError to fail it with that message.
   */
  pragma?(name: string, value: string | null): string | null | undefined;
  /** Other file controls; the default is SQLITE_NOTFOUND. `arg` is a raw heap pointer. */
  fileControl?(op: number, arg: number): ResultCode;
  sectorSize?(): number;
  deviceCharacteristics?(): number;
  close(): ResultCode;
}

/** What `Vfs.open` returns. */
export interface OpenResult {
  file: VfsFile;
  /** Flags to report back to SQLite (usually the flags passed in, READONLY when downgraded). */
  outFlags: number;
}

/** A named VFS. Register it with the engine, then open databases with `{ vfs: name }` or `?vfs=name`. */
export interface Vfs {
  readonly name: string;
  /**
   * Open `path` (null: a temp file the VFS names itself) with SQLITE_OPEN_* `flags`.
   * Throw a VfsError (SQLITE_CANTOPEN, SQLITE_READONLY, ...) to refuse.
   */
  open(path: string | null, flags: number): OpenResult;
  delete(path: string, syncDir: boolean): ResultCode;
  /** `flags`: SQLITE_ACCESS_EXISTS, _READWRITE or _READ. */
  access(path: string, flags: number): boolean;
  /** The canonical name of `path`; SQLite uses it as the key for locks and journals. */
  fullPathname(path: string): string;
}

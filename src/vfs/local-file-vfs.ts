// The default VFS: plain files through synchronous node:fs, the same on-disk
// behaviour as SQLite's os_unix.c minus its fcntl locks.
//
// Locks are SQLite's five levels kept in ./lock-table.ts, shared by every
// connection of this process (keyed by device and inode, so symlinks and hard
// links to one file share them). Node has no fcntl/flock, so another process
// does not see these locks. Two processes (or two worker threads, which each
// load their own lock table) on one database file are NOT safe: each may
// write at once, and a reader may take a writer's live journal for a hot
// journal and roll it back. One process at a time per file. We deliberately
// do not fake cross-process locks with a lock file: after a crash it would
// stay behind and wedge the database, which is the failure this VFS exists to
// avoid. In exchange, a killed process leaves nothing locked: the next open
// sees the hot journal and rolls it back.

import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants as fsc,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  SQLITE_ACCESS_EXISTS,
  SQLITE_ACCESS_READ,
  SQLITE_ACCESS_READWRITE,
  SQLITE_CANTOPEN,
  SQLITE_FULL,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR_ACCESS,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_DELETE,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_DIR_FSYNC,
  SQLITE_IOERR_FSTAT,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_WRITE,
  SQLITE_MISUSE,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_EXCLUSIVE,
  SQLITE_OPEN_MAIN_JOURNAL,
  SQLITE_OPEN_NOFOLLOW,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_OPEN_SUPER_JOURNAL,
  SQLITE_OPEN_WAL,
  SQLITE_SYNC_DATAONLY,
} from './codes.js';
import { processLockTable, type FileLock, type LockTable } from './lock-table.js';
import { VfsError, type LockLevel, type OpenResult, type ResultCode, type Vfs, type VfsFile } from './vfs.js';

export interface LocalFileVfsOptions {
  /** The name to register under. Default `local`. */
  name?: string;
  /** Where locks are kept. Default: the one table of this process, shared with every other VFS. */
  lockTable?: LockTable;
}

const isWindows = process.platform === 'win32';
/** Mode of files we create: what SQLite uses (SQLITE_DEFAULT_FILE_PERMISSIONS), before umask. */
const FILE_MODE = 0o644;
/** SQLITE_DEFAULT_SECTOR_SIZE, what os_unix.c reports too. */
const SECTOR_SIZE = 4096;
/** Journals whose directory entry must be durable before SQLite relies on them (os_unix.c's UNIXFILE_DIRSYNC). */
const DIRSYNC_TYPES = SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** A VfsError for a failed fs call: out-of-space is SQLITE_FULL wherever it happens, the rest `code`. */
function fsError(err: unknown, code: ResultCode, what: string): VfsError {
  const errno = errnoOf(err);
  const rc = errno === 'ENOSPC' || errno === 'EDQUOT' ? SQLITE_FULL : code;
  return new VfsError(rc, `${what}: ${(err as Error).message ?? String(err)}`, { cause: err });
}

/** fsync a directory so that a file created or deleted in it survives power loss. */
function syncDirectory(dir: string): void {
  // Windows cannot open a directory as a file; NTFS journals its metadata instead.
  if (isWindows) return;
  let fd: number;
  try {
    fd = openSync(dir, fsc.O_RDONLY);
  } catch (err) {
    throw fsError(err, SQLITE_IOERR_DIR_FSYNC, `open directory ${dir}`);
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    throw fsError(err, SQLITE_IOERR_DIR_FSYNC, `fsync directory ${dir}`);
  } finally {
    closeSync(fd);
  }
}

class LocalFile implements VfsFile {
  readonly #fd: number;
  /** The path, for messages; the file may already be unlinked. */
  readonly #path: string;
  /** Unlink at close (when it could not be unlinked at open). */
  #deleteOnClose: boolean;
  /** Directory to fsync at the first sync, for a newly created journal. */
  #dirToSync: string | null;
  readonly #table: LockTable;
  /** Taken at the first lock call: SQLite locks only main databases, so journals never pay for it. */
  #lock: FileLock | null = null;
  #closed = false;

  constructor(fd: number, filePath: string, deleteOnClose: boolean, dirToSync: string | null, table: LockTable) {
    this.#fd = fd;
    this.#path = filePath;
    this.#deleteOnClose = deleteOnClose;
    this.#dirToSync = dirToSync;
    this.#table = table;
  }

  read(buf: Uint8Array, offset: number): ResultCode {
    const want = buf.length;
    let got = 0;
    try {
      // One call almost always; loop because read(2) may legally return less.
      while (got < want) {
        const n = readSync(this.#fd, buf, got, want - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      throw fsError(err, SQLITE_IOERR_READ, `read ${this.#path} at ${offset}`);
    }
    if (got === want) return SQLITE_OK;
    buf.fill(0, got);
    return SQLITE_IOERR_SHORT_READ;
  }

  write(buf: Uint8Array, offset: number): ResultCode {
    const want = buf.length;
    let done = 0;
    try {
      while (done < want) done += writeSync(this.#fd, buf, done, want - done, offset + done);
    } catch (err) {
      this.#forgetSize();
      throw fsError(err, SQLITE_IOERR_WRITE, `write ${this.#path} at ${offset}`);
    }
    const lock = this.#lock;
    if (lock !== null) {
      const size = lock.knownSize;
      if (size !== undefined && offset + want > size) lock.knownSize = offset + want;
    }
    return SQLITE_OK;
  }

  truncate(size: number): ResultCode {
    try {
      ftruncateSync(this.#fd, size);
    } catch (err) {
      this.#forgetSize();
      throw fsError(err, SQLITE_IOERR_TRUNCATE, `truncate ${this.#path} to ${size}`);
    }
    if (this.#lock !== null) this.#lock.knownSize = size;
    return SQLITE_OK;
  }

  sync(flags: number): ResultCode {
    try {
      if (flags & SQLITE_SYNC_DATAONLY) fdatasyncSync(this.#fd);
      else fsyncSync(this.#fd);
    } catch (err) {
      throw fsError(err, SQLITE_IOERR_FSYNC, `fsync ${this.#path}`);
    }
    if (this.#dirToSync !== null) {
      // Once is enough: the entry is durable from then on (os_unix.c does the same).
      const dir = this.#dirToSync;
      this.#dirToSync = null;
      syncDirectory(dir);
    }
    return SQLITE_OK;
  }

  fileSize(): number {
    // SQLite asks for the main database's size at every read transaction. For a
    // file with locks (a main database) the size is kept in the lock table and
    // updated by every write and truncate of this process, which are all its
    // writers (the locking model above): fstat measured 3.8 µs a call here.
    const lock = this.#lock;
    const known = lock?.knownSize;
    if (known !== undefined) return known;
    let size: number;
    try {
      size = fstatSync(this.#fd).size;
    } catch (err) {
      throw fsError(err, SQLITE_IOERR_FSTAT, `fstat ${this.#path}`);
    }
    if (lock !== null) lock.knownSize = size;
    return size;
  }

  /** After a failed write or truncate the size is unknown: measure it next time. */
  #forgetSize(): void {
    if (this.#lock !== null) this.#lock.knownSize = undefined;
  }

  lock(level: LockLevel): ResultCode {
    return this.#fileLock().lock(level);
  }

  unlock(level: LockLevel): ResultCode {
    return this.#fileLock().unlock(level);
  }

  checkReservedLock(): boolean {
    return this.#fileLock().checkReserved();
  }

  sectorSize(): number {
    return SECTOR_SIZE;
  }

  deviceCharacteristics(): number {
    // POWERSAFE_OVERWRITE: a write does not damage bytes outside its range on
    // power loss. os_unix.c claims it by default on the same file systems
    // (SQLITE_POWERSAFE_OVERWRITE=1); without it SQLite pads WAL frames and
    // journals whole sectors. Nothing else is true of a plain file: appends
    // and sector writes are not atomic, and SQLite must not assume they are.
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
  }

  close(): ResultCode {
    if (this.#closed) return SQLITE_OK;
    this.#closed = true;
    this.#lock?.close();
    this.#lock = null;
    try {
      closeSync(this.#fd);
    } catch (err) {
      throw fsError(err, SQLITE_IOERR_CLOSE, `close ${this.#path}`);
    } finally {
      if (this.#deleteOnClose) {
        this.#deleteOnClose = false;
        try {
          unlinkSync(this.#path);
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw fsError(err, SQLITE_IOERR_DELETE, `delete ${this.#path} on close`);
        }
      }
    }
    return SQLITE_OK;
  }

  #fileLock(): FileLock {
    if (this.#lock !== null) return this.#lock;
    if (this.#closed) throw new VfsError(SQLITE_MISUSE, `lock ${this.#path}: file is closed`);
    let key: string;
    try {
      // The file's identity, as os_unix.c's inodeInfo: every name of one file shares its locks.
      const st = fstatSync(this.#fd, { bigint: true });
      key = st.ino !== 0n ? `file:${st.dev}:${st.ino}` : `path:${this.#path}`;
    } catch (err) {
      throw fsError(err, SQLITE_IOERR_FSTAT, `fstat ${this.#path}`);
    }
    this.#lock = this.#table.acquire(key);
    return this.#lock;
  }
}

let tempCounter = 0;

/** A name for an anonymous temp file: pid + counter make it unique here, random bytes across processes. */
function tempName(): string {
  return path.join(tmpdir(), `ltxvfs-${process.pid}-${++tempCounter}-${randomBytes(6).toString('hex')}.tmp`);
}

/** Files on the local file system through node:fs. See the top of this file for what locking covers. */
export class LocalFileVfs implements Vfs {
  readonly name: string;
  readonly #table: LockTable;

  constructor(options: LocalFileVfsOptions = {}) {
    this.name = options.name ?? 'local';
    this.#table = options.lockTable ?? processLockTable;
  }

  open(filePath: string | null, flags: number): OpenResult {
    // No name: SQLite wants a private temp file (temp tables, sort spills, statement journals).
    if (filePath === null) flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE | SQLITE_OPEN_DELETEONCLOSE;
    const name = filePath ?? tempName();
    const readWrite = (flags & SQLITE_OPEN_READWRITE) !== 0;
    let osFlags = readWrite ? fsc.O_RDWR : fsc.O_RDONLY;
    if (flags & SQLITE_OPEN_CREATE) osFlags |= fsc.O_CREAT;
    if (flags & SQLITE_OPEN_EXCLUSIVE) osFlags |= fsc.O_EXCL;
    if (flags & SQLITE_OPEN_NOFOLLOW && !isWindows) osFlags |= fsc.O_NOFOLLOW;

    let fd: number;
    let outFlags = flags;
    try {
      fd = openSync(name, osFlags, FILE_MODE);
    } catch (err) {
      const errno = errnoOf(err);
      // As os_unix.c: a file we may not write is opened read-only and SQLite told so.
      if (!readWrite || (errno !== 'EACCES' && errno !== 'EPERM' && errno !== 'EROFS')) {
        throw fsError(err, SQLITE_CANTOPEN, `open ${name}`);
      }
      try {
        fd = openSync(name, fsc.O_RDONLY);
      } catch (err2) {
        throw fsError(err2, SQLITE_CANTOPEN, `open ${name} (read-only, after: ${(err as Error).message})`);
      }
      outFlags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    }

    let deleteOnClose = (flags & SQLITE_OPEN_DELETEONCLOSE) !== 0;
    if (deleteOnClose && !isWindows) {
      // Unlink now, as os_unix.c does: the data lives until close, and a crash leaves nothing behind.
      try {
        unlinkSync(name);
        deleteOnClose = false;
      } catch {
        // Still deleted at close.
      }
    }
    const isNewJournal = (flags & SQLITE_OPEN_CREATE) !== 0 && (flags & DIRSYNC_TYPES) !== 0 && !deleteOnClose;
    const dirToSync = isNewJournal && outFlags === flags ? path.dirname(name) : null;
    return { file: new LocalFile(fd, name, deleteOnClose, dirToSync, this.#table), outFlags };
  }

  delete(filePath: string, syncDir: boolean): ResultCode {
    try {
      unlinkSync(filePath);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return SQLITE_IOERR_DELETE_NOENT;
      throw fsError(err, SQLITE_IOERR_DELETE, `delete ${filePath}`);
    }
    if (syncDir) syncDirectory(path.dirname(filePath));
    return SQLITE_OK;
  }

  access(filePath: string, flags: number): boolean {
    if (flags === SQLITE_ACCESS_EXISTS) {
      // SQLite asks for the journal and the WAL on every read transaction, and they
      // are almost always absent: existsSync (access(2), no Stats object) measured
      // 3.2 µs here against 6.0 µs for statSync, so stat only what exists.
      if (!existsSync(filePath)) return false;
      let st;
      try {
        st = statSync(filePath, { throwIfNoEntry: false });
      } catch (err) {
        // A file where a directory should be: nothing there (as os_unix.c, where any failed stat is "absent").
        if (errnoOf(err) === 'ENOTDIR') return false;
        throw fsError(err, SQLITE_IOERR_ACCESS, `stat ${filePath}`);
      }
      // An empty file counts as absent, as in os_unix.c: an empty journal is never hot.
      return st !== undefined && (!st.isFile() || st.size > 0);
    }
    const mode = flags === SQLITE_ACCESS_READWRITE ? fsc.R_OK | fsc.W_OK : flags === SQLITE_ACCESS_READ ? fsc.R_OK : -1;
    if (mode === -1) throw new VfsError(SQLITE_MISUSE, `access ${filePath}: unknown flags ${flags}`);
    try {
      accessSync(filePath, mode);
      return true;
    } catch {
      return false;
    }
  }

  fullPathname(filePath: string): string {
    // Resolve symlinks too (os_unix.c does since 3.28): journals must sit next
    // to the real file, or a second name for it would miss a hot journal.
    const abs = path.resolve(filePath);
    try {
      return realpathSync.native(abs);
    } catch {
      // Not created yet: resolve the directory, keep the name.
      try {
        return path.join(realpathSync.native(path.dirname(abs)), path.basename(abs));
      } catch {
        return abs;
      }
    }
  }
}

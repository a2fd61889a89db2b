// The JavaScript side of native/src/jsvfs.c: the only code that turns the
// shim's heap pointers into arguments for a TypeScript `Vfs`, and the one place
// that catches what a VFS throws. Nothing is thrown back into WASM: a failure
// is logged, kept for xGetLastError (and for the engine to attach to the
// SqliteError it raises), and returned as the method's SQLITE_IOERR_* code.
import { randomFillSync } from 'node:crypto';
import { log } from '../log.js';
import {
  SQLITE_CANTOPEN,
  SQLITE_CANTOPEN_FULLPATH,
  SQLITE_ERROR,
  SQLITE_FCNTL_PRAGMA,
  SQLITE_IOERR,
  SQLITE_IOERR_ACCESS,
  SQLITE_IOERR_CHECKRESERVEDLOCK,
  SQLITE_IOERR_CLOSE,
  SQLITE_IOERR_DELETE,
  SQLITE_IOERR_FSTAT,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_LOCK,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_TRUNCATE,
  SQLITE_IOERR_UNLOCK,
  SQLITE_IOERR_WRITE,
  SQLITE_NOTFOUND,
  SQLITE_OK,
} from '../vfs/codes.js';
import { VfsError, type Vfs, type VfsFile } from '../vfs/vfs.js';
import { cString, i32At, mallocUtf8, setI32, sqliteMallocUtf8, viewAt, writeUtf8 } from './heap.js';
import { codeName, SqliteError } from './sqlite-error.js';
import { sqliteModule } from './wasm.js';

/** The most recent failure of a VFS method. */
export interface VfsFailure {
  readonly vfs: string;
  readonly method: string;
  readonly code: number;
  readonly error: unknown;
  /** Increases with every failure, so a caller can tell whether one happened during its call. */
  readonly seq: number;
}

const DEFAULT_SECTOR_SIZE = 4096;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

class VfsFacade {
  private readonly vfses: Vfs[] = [];
  private readonly ids = new Map<string, number>();
  private readonly files: (VfsFile | undefined)[] = [];
  private readonly fileVfs: number[] = [];
  private readonly freeIds: number[] = [];
  /** Count of failures so far; the engine reads it before a call to know whether the call had one. */
  failures = 0;
  latest: VfsFailure | undefined;

  register(vfs: Vfs, makeDefault: boolean): void {
    let id = this.ids.get(vfs.name);
    if (id === undefined) {
      id = this.vfses.length;
      this.ids.set(vfs.name, id);
    }
    this.vfses[id] = vfs;
    const m = sqliteModule();
    const z = mallocUtf8(vfs.name);
    try {
      const rc = m._jsvfs_register(z, id, makeDefault ? 1 : 0);
      if (rc !== SQLITE_OK) throw new SqliteError(rc, `registerVfs ${vfs.name}: ${codeName(rc)}`);
    } finally {
      m._free(z);
    }
  }

  has(name: string): boolean {
    return this.ids.has(name);
  }

  names(): string[] {
    return [...this.ids.keys()];
  }

  /** Number of files currently open through any VFS (for leak checks). */
  openFileCount(): number {
    return this.files.length - this.freeIds.length;
  }

  private fail(vfsId: number, method: string, error: unknown, fallback: number): number {
    const code = error instanceof VfsError ? error.code : fallback;
    const vfs = this.vfses[vfsId]?.name ?? '?';
    this.latest = { vfs, method, code, error, seq: ++this.failures };
    // A VfsError is a refusal the VFS chose (CANTOPEN, BUSY, ...); anything else is a bug or an I/O failure.
    const level = error instanceof VfsError ? 'debug' : 'warn';
    log[level]({ vfs, method, code: codeName(code), err: error }, `vfs ${vfs}: ${method} failed`);
    return code;
  }

  private failFile(id: number, method: string, error: unknown, fallback: number): number {
    return this.fail(this.fileVfs[id] ?? -1, method, error, fallback);
  }

  // ---- sqlite3_vfs methods (called from jsvfs-lib.js) ----

  open(vfsId: number, zName: number, flags: number, pOutFlags: number): number {
    try {
      const { file, outFlags } = this.vfses[vfsId].open(zName === 0 ? null : cString(zName), flags);
      if (pOutFlags !== 0) setI32(pOutFlags, outFlags);
      const id = this.freeIds.pop() ?? this.files.length;
      this.files[id] = file;
      this.fileVfs[id] = vfsId;
      return id;
    } catch (e) {
      return -this.fail(vfsId, 'open', e, SQLITE_CANTOPEN);
    }
  }

  delete(vfsId: number, zName: number, syncDir: number): number {
    try {
      return this.vfses[vfsId].delete(cString(zName), syncDir !== 0);
    } catch (e) {
      return this.fail(vfsId, 'delete', e, SQLITE_IOERR_DELETE);
    }
  }

  access(vfsId: number, zName: number, flags: number): number {
    try {
      return this.vfses[vfsId].access(cString(zName), flags) ? 1 : 0;
    } catch (e) {
      return -this.fail(vfsId, 'access', e, SQLITE_IOERR_ACCESS);
    }
  }

  fullPathname(vfsId: number, zName: number, nOut: number, zOut: number): number {
    try {
      const full = this.vfses[vfsId].fullPathname(cString(zName));
      if (!writeUtf8(full, zOut, nOut)) {
        throw new VfsError(SQLITE_CANTOPEN_FULLPATH, `path longer than ${nOut - 1} bytes: ${full}`);
      }
      return SQLITE_OK;
    } catch (e) {
      return this.fail(vfsId, 'fullPathname', e, SQLITE_CANTOPEN_FULLPATH);
    }
  }

  /** xGetLastError: the message of this VFS's latest failure; returns its errno if it had one. */
  lastError(vfsId: number, nBuf: number, zBuf: number): number {
    const f = this.latest;
    if (f === undefined || f.vfs !== this.vfses[vfsId]?.name) {
      if (nBuf > 0) writeUtf8('', zBuf, nBuf);
      return 0;
    }
    if (nBuf > 0) writeUtf8(describe(f), zBuf, nBuf, true);
    const errno = (f.error as { errno?: unknown } | null)?.errno;
    return typeof errno === 'number' ? Math.abs(errno) : f.code;
  }

  randomness(n: number, zOut: number): number {
    randomFillSync(viewAt(zOut, n));
    return n;
  }

  sleep(micros: number): number {
    Atomics.wait(sleepCell, 0, 0, Math.max(1, micros / 1000));
    return micros;
  }

  // ---- sqlite3_io_methods ----

  close(id: number): number {
    const file = this.files[id];
    this.files[id] = undefined;
    this.freeIds.push(id);
    try {
      return file!.close();
    } catch (e) {
      return this.failFile(id, 'close', e, SQLITE_IOERR_CLOSE);
    }
  }

  read(id: number, buf: number, n: number, offset: number): number {
    try {
      return this.files[id]!.read(viewAt(buf, n), offset);
    } catch (e) {
      return this.failFile(id, 'read', e, SQLITE_IOERR_READ);
    }
  }

  write(id: number, buf: number, n: number, offset: number): number {
    try {
      return this.files[id]!.write(viewAt(buf, n), offset);
    } catch (e) {
      return this.failFile(id, 'write', e, SQLITE_IOERR_WRITE);
    }
  }

  truncate(id: number, size: number): number {
    try {
      return this.files[id]!.truncate(size);
    } catch (e) {
      return this.failFile(id, 'truncate', e, SQLITE_IOERR_TRUNCATE);
    }
  }

  sync(id: number, flags: number): number {
    try {
      return this.files[id]!.sync(flags);
    } catch (e) {
      return this.failFile(id, 'sync', e, SQLITE_IOERR_FSYNC);
    }
  }

  /** The size, or a negated result code. */
  fileSize(id: number): number {
    try {
      const size = this.files[id]!.fileSize();
      // Checked here: a NaN or negative size must not reach the C cast to sqlite3_int64.
      if (!(size >= 0)) throw new TypeError(`fileSize returned ${String(size)}`);
      return size;
    } catch (e) {
      return -this.failFile(id, 'fileSize', e, SQLITE_IOERR_FSTAT);
    }
  }

  lock(id: number, level: number): number {
    try {
      return this.files[id]!.lock(level);
    } catch (e) {
      return this.failFile(id, 'lock', e, SQLITE_IOERR_LOCK);
    }
  }

  unlock(id: number, level: number): number {
    try {
      return this.files[id]!.unlock(level);
    } catch (e) {
      return this.failFile(id, 'unlock', e, SQLITE_IOERR_UNLOCK);
    }
  }

  checkReservedLock(id: number): number {
    try {
      return this.files[id]!.checkReservedLock() ? 1 : 0;
    } catch (e) {
      return -this.failFile(id, 'checkReservedLock', e, SQLITE_IOERR_CHECKRESERVEDLOCK);
    }
  }

  fileControl(id: number, op: number, pArg: number): number {
    const file = this.files[id]!;
    if (op === SQLITE_FCNTL_PRAGMA) return this.pragma(id, file, pArg);
    if (file.fileControl === undefined) return SQLITE_NOTFOUND;
    try {
      return file.fileControl(op, pArg);
    } catch (e) {
      return this.failFile(id, 'fileControl', e, SQLITE_IOERR);
    }
  }

  // SQLITE_FCNTL_PRAGMA: pArg is char*[3] = { out: result or error (sqlite3_malloc'd), name, value or NULL }.
  private pragma(id: number, file: VfsFile, pArg: number): number {
    if (file.pragma === undefined) return SQLITE_NOTFOUND;
    pArg >>>= 0;
    const name = cString(i32At(pArg + 4));
    const pValue = i32At(pArg + 8);
    let result: string | null | undefined;
    try {
      result = file.pragma(name, pValue === 0 ? null : cString(pValue));
    } catch (e) {
      const code = this.failFile(id, `pragma ${name}`, e, SQLITE_ERROR);
      setI32(pArg, sqliteMallocUtf8(e instanceof Error ? e.message : String(e)));
      return code;
    }
    if (result === undefined) return SQLITE_NOTFOUND;
    if (result !== null) setI32(pArg, sqliteMallocUtf8(result));
    return SQLITE_OK;
  }

  sectorSize(id: number): number {
    const file = this.files[id]!;
    if (file.sectorSize === undefined) return DEFAULT_SECTOR_SIZE;
    try {
      return file.sectorSize();
    } catch (e) {
      this.failFile(id, 'sectorSize', e, SQLITE_IOERR);
      return DEFAULT_SECTOR_SIZE;
    }
  }

  deviceCharacteristics(id: number): number {
    const file = this.files[id]!;
    if (file.deviceCharacteristics === undefined) return 0;
    try {
      return file.deviceCharacteristics();
    } catch (e) {
      this.failFile(id, 'deviceCharacteristics', e, SQLITE_IOERR);
      return 0;
    }
  }
}

/** 'vfs memory: read: <message>' */
export function describe(f: VfsFailure): string {
  const msg = f.error instanceof Error ? f.error.message : String(f.error);
  return `vfs ${f.vfs}: ${f.method}: ${msg}`;
}

/** The process's one facade, installed as Module.jsvfsHost. */
export const facade = new VfsFacade();
sqliteModule().jsvfsHost = facade;

/** The process's SQLite must be initialized before the first VFS is registered. */
sqliteModule()._sqlite3_initialize();

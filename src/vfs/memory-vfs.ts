// A VFS that keeps every file in memory, for tests and temporary databases.
// Files outlive their handles (reopen by name sees the data) until deleted;
// locks follow SQLite's five-level protocol so several connections in one
// process behave as they would on disk.
import {
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOCAP_SAFE_APPEND,
  SQLITE_IOCAP_SEQUENTIAL,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_EXCLUSIVE,
} from './codes.js';
import { LockLevel, VfsError, type OpenResult, type Vfs, type VfsFile } from './vfs.js';

// Module-local copies of the codes returned on every call: under tsx/vitest an
// imported binding is a getter call, measurable on the per-query path.
const OK = SQLITE_OK;
const BUSY = SQLITE_BUSY;
const SHORT_READ = SQLITE_IOERR_SHORT_READ;

class MemoryNode {
  data = new Uint8Array(0);
  size = 0;
  shared = 0;
  reserved: MemoryFile | null = null;
  pending: MemoryFile | null = null;
  exclusive: MemoryFile | null = null;

  ensure(capacity: number): void {
    if (capacity <= this.data.length) return;
    const next = new Uint8Array(Math.max(capacity, this.data.length * 2, 4096));
    next.set(this.data.subarray(0, this.size));
    this.data = next;
  }
}

class MemoryFile implements VfsFile {
  private level: LockLevel = LockLevel.NONE;

  constructor(
    private readonly vfs: MemoryVfs,
    private readonly path: string,
    private readonly node: MemoryNode,
    private readonly deleteOnClose: boolean,
  ) {}

  read(buf: Uint8Array, offset: number): number {
    const { data, size } = this.node;
    const n = Math.max(0, Math.min(buf.length, size - offset));
    if (n > 0) buf.set(data.subarray(offset, offset + n));
    if (n === buf.length) return OK;
    buf.fill(0, n);
    return SHORT_READ;
  }

  write(buf: Uint8Array, offset: number): number {
    const node = this.node;
    const end = offset + buf.length;
    node.ensure(end);
    node.data.set(buf, offset);
    if (end > node.size) node.size = end;
    return OK;
  }

  truncate(size: number): number {
    const node = this.node;
    if (size < node.size) node.data.fill(0, size, node.size); // later growth must read zeroes
    else node.ensure(size);
    node.size = size;
    return OK;
  }

  sync(): number {
    return OK;
  }

  fileSize(): number {
    return this.node.size;
  }

  lock(level: LockLevel): number {
    const node = this.node;
    if (level <= this.level) return OK;
    if (level === LockLevel.SHARED) {
      if (node.pending !== null || node.exclusive !== null) return BUSY;
      node.shared++;
      this.level = LockLevel.SHARED;
      return OK;
    }
    const other = (holder: MemoryFile | null) => holder !== null && holder !== this;
    if (other(node.reserved) || other(node.pending) || other(node.exclusive)) return BUSY;
    if (level === LockLevel.RESERVED) {
      node.reserved = this;
      this.level = LockLevel.RESERVED;
      return OK;
    }
    // PENDING keeps new readers out while we wait for the current ones to leave.
    node.pending = this;
    this.level = LockLevel.PENDING;
    if (level === LockLevel.PENDING) return OK;
    if (node.shared > 1) return BUSY;
    node.exclusive = this;
    this.level = LockLevel.EXCLUSIVE;
    return OK;
  }

  unlock(level: LockLevel): number {
    const node = this.node;
    if (level >= this.level) return OK;
    if (level < LockLevel.PENDING) {
      if (node.exclusive === this) node.exclusive = null;
      if (node.pending === this) node.pending = null;
    }
    if (level < LockLevel.RESERVED && node.reserved === this) node.reserved = null;
    if (level < LockLevel.SHARED && this.level >= LockLevel.SHARED) node.shared--;
    this.level = level;
    return OK;
  }

  checkReservedLock(): boolean {
    const node = this.node;
    return node.reserved !== null || node.pending !== null || node.exclusive !== null;
  }

  deviceCharacteristics(): number {
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL;
  }

  close(): number {
    this.unlock(LockLevel.NONE);
    if (this.deleteOnClose) this.vfs.remove(this.path, this.node);
    return OK;
  }
}

/** Files in memory, by name. Registered by the engine as `memory`. */
export class MemoryVfs implements Vfs {
  private readonly nodes = new Map<string, MemoryNode>();
  private tempCounter = 0;

  constructor(readonly name = 'memory') {}

  open(path: string | null, flags: number): OpenResult {
    // A NUL can never occur in a name SQLite passes, so temp names cannot collide with real ones.
    const name = path ?? `\0temp-${++this.tempCounter}`;
    let node = this.nodes.get(name);
    if (node !== undefined && flags & SQLITE_OPEN_EXCLUSIVE && flags & SQLITE_OPEN_CREATE) {
      throw new VfsError(SQLITE_CANTOPEN, `${name} already exists`);
    }
    if (node === undefined) {
      if (path !== null && !(flags & SQLITE_OPEN_CREATE)) throw new VfsError(SQLITE_CANTOPEN, `no such file: ${name}`);
      node = new MemoryNode();
      this.nodes.set(name, node);
    }
    const file = new MemoryFile(this, name, node, path === null || (flags & SQLITE_OPEN_DELETEONCLOSE) !== 0);
    return { file, outFlags: flags };
  }

  delete(path: string): number {
    return this.nodes.delete(path) ? OK : SQLITE_IOERR_DELETE_NOENT;
  }

  access(path: string): boolean {
    return this.nodes.has(path);
  }

  fullPathname(path: string): string {
    return path;
  }

  /** Size in bytes of `path`, or undefined if there is no such file (for tests and tools). */
  sizeOf(path: string): number | undefined {
    return this.nodes.get(path)?.size;
  }

  /** @internal Drop `path` if it still names `node`. */
  remove(path: string, node: object): void {
    if (this.nodes.get(path) === node) this.nodes.delete(path);
  }
}

// The facade between SQLite's C VFS calls and a TypeScript Vfs: errors never
// escape into WASM, become the right SQLite codes, and reach the SqliteError;
// PRAGMAs reach VfsFile.pragma; other file controls reach fileControl.
import { afterEach, describe, expect, it } from 'vitest';
import { Database, engineStats, registerVfs, registeredVfsNames } from '../../src/engine/index.js';
import { facade } from '../../src/engine/vfs-facade.js';
import { cString } from '../../src/engine/heap.js';
import { sqliteModule } from '../../src/engine/wasm.js';
import {
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_ERROR,
  SQLITE_FCNTL_COMMIT_PHASETWO,
  SQLITE_FCNTL_PRAGMA,
  SQLITE_FCNTL_SYNC,
  SQLITE_FULL,
  SQLITE_IOERR_FSYNC,
  SQLITE_IOERR_READ,
  SQLITE_IOERR_WRITE,
  SQLITE_NOTFOUND,
} from '../../src/vfs/codes.js';
import { LocalFileVfs } from '../../src/vfs/local-file-vfs.js';
import { MemoryVfs } from '../../src/vfs/memory-vfs.js';
import { VfsError, type OpenResult, type Vfs, type VfsFile } from '../../src/vfs/vfs.js';
import { memoryPath, sqliteErrorOf } from '../support/engine-helpers.js';

type Hooks = Partial<Record<'read' | 'write' | 'sync' | 'open', () => never>> & {
  pragma?: (name: string, value: string | null) => string | null | undefined;
  fileControl?: (op: number) => number;
};

/** A memory VFS whose main-database methods can be made to fail on demand. */
class FaultyVfs implements Vfs {
  readonly inner: MemoryVfs;
  hooks: Hooks = {};
  constructor(readonly name: string) {
    this.inner = new MemoryVfs(name);
  }
  open(path: string | null, flags: number): OpenResult {
    this.hooks.open?.();
    const { file, outFlags } = this.inner.open(path, flags);
    const hooks = () => this.hooks;
    const wrapped: VfsFile = {
      read: (buf, off) => (hooks().read?.(), file.read(buf, off)),
      write: (buf, off) => (hooks().write?.(), file.write(buf, off)),
      sync: (flags) => (hooks().sync?.(), file.sync(flags)),
      truncate: (size) => file.truncate(size),
      fileSize: () => file.fileSize(),
      lock: (level) => file.lock(level),
      unlock: (level) => file.unlock(level),
      checkReservedLock: () => file.checkReservedLock(),
      close: () => file.close(),
      pragma: (name, value) => hooks().pragma?.(name, value),
      fileControl: (op) => hooks().fileControl?.(op) ?? SQLITE_NOTFOUND,
    };
    return { file: wrapped, outFlags };
  }
  delete(path: string, syncDir: boolean) {
    return this.inner.delete(path);
  }
  access(path: string, flags: number) {
    return this.inner.access(path);
  }
  fullPathname(path: string) {
    return path;
  }
}

const faulty = new FaultyVfs('faulty');
registerVfs(faulty);
afterEach(() => {
  faulty.hooks = {};
});

let lastSeeded = '';
/** A new database on the faulty VFS holding one row. */
function seeded(): Database {
  lastSeeded = memoryPath('faulty');
  const db = new Database(lastSeeded, { vfs: 'faulty' });
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  return db;
}

describe('errors thrown by a VFS', () => {
  it('a plain Error in read becomes SQLITE_IOERR_READ with the VFS message and cause', () => {
    seeded().close();
    const again = new Database(lastSeeded, { vfs: 'faulty' }); // nothing cached: the first query reads
    const boom = new Error('disk on fire');
    faulty.hooks.read = () => {
      throw boom;
    };
    const e = sqliteErrorOf(() => again.get('SELECT x FROM t'));
    expect(e.code).toBe(SQLITE_IOERR_READ);
    expect(e.codeName).toBe('SQLITE_IOERR_READ');
    expect(e.message).toMatch(/disk I\/O error \(vfs faulty: read: disk on fire\)/);
    expect(e.cause).toBe(boom);
    faulty.hooks = {};
    expect(again.get('SELECT x FROM t')).toEqual({ x: 1 }); // the connection is still usable
    again.close();
  });

  it('a VfsError carries its own code (SQLITE_FULL on write)', () => {
    const db = seeded();
    faulty.hooks.write = () => {
      throw new VfsError(SQLITE_FULL, 'quota exceeded');
    };
    const e = sqliteErrorOf(() => db.exec('INSERT INTO t VALUES (2)'));
    expect(e.code).toBe(SQLITE_FULL);
    expect(e.message).toMatch(/quota exceeded/);
    faulty.hooks = {};
    expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });
    db.close();
  });

  it('sync and open have their own defaults', () => {
    const db = seeded();
    faulty.hooks.sync = () => {
      throw new Error('fsync failed');
    };
    expect(sqliteErrorOf(() => db.exec('INSERT INTO t VALUES (2)')).code).toBe(SQLITE_IOERR_FSYNC);
    faulty.hooks = {};
    db.close();
    faulty.hooks.open = () => {
      throw new Error('no');
    };
    const e = sqliteErrorOf(() => new Database(memoryPath('faulty'), { vfs: 'faulty' }));
    expect(e.code).toBe(SQLITE_CANTOPEN);
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('xGetLastError reports the latest failure of that VFS', () => {
    const db = seeded();
    faulty.hooks.write = () => {
      throw new Error('write exploded');
    };
    expect(sqliteErrorOf(() => db.exec('INSERT INTO t VALUES (2)')).code).toBe(SQLITE_IOERR_WRITE);
    faulty.hooks = {};
    db.close();
    const m = sqliteModule();
    const buf = m._malloc(200);
    const vfsId = registeredVfsNames().indexOf('faulty');
    const rc = facade.lastError(vfsId, 200, buf);
    expect(rc).toBe(SQLITE_IOERR_WRITE);
    expect(cString(buf)).toBe('vfs faulty: write: write exploded');
    facade.lastError(vfsId, 10, buf); // truncated to fit
    expect(cString(buf)).toBe('vfs fault');
    m._free(buf);
  });
});

describe('PRAGMA through SQLITE_FCNTL_PRAGMA', () => {
  it('undefined lets SQLite answer; a string answers; null answers with no row', () => {
    const db = seeded();
    const seen: [string, string | null][] = [];
    faulty.hooks.pragma = (name, value) => {
      seen.push([name, value]);
      if (name === 'faulty_echo') return `echo:${value}`;
      if (name === 'faulty_quiet') return null;
      return undefined;
    };
    expect(db.get('PRAGMA user_version')).toEqual({ user_version: 0 });
    // SQLite names the one result column after the value itself.
    expect(db.get("PRAGMA faulty_echo = 'hi'")).toEqual({ 'echo:hi': 'echo:hi' });
    expect(db.all('PRAGMA faulty_quiet')).toEqual([]);
    expect(seen).toContainEqual(['user_version', null]);
    expect(seen).toContainEqual(['faulty_echo', 'hi']);
    db.close();
  });

  it('a thrown VfsError fails the PRAGMA with its code and message', () => {
    const db = seeded();
    faulty.hooks.pragma = () => {
      throw new VfsError(SQLITE_BUSY, 'replica is busy');
    };
    const e = sqliteErrorOf(() => db.get('PRAGMA faulty_thing = 1'));
    expect(e.code).toBe(SQLITE_BUSY);
    expect(e.message).toBe('replica is busy');
    expect(e.cause).toBeInstanceOf(VfsError);
    faulty.hooks.pragma = () => {
      throw new Error('plain');
    };
    const e2 = sqliteErrorOf(() => db.get('PRAGMA faulty_thing'));
    expect(e2.code).toBe(SQLITE_ERROR);
    expect(e2.message).toMatch(/plain/);
    db.close();
  });

  it('other file controls reach fileControl; the PRAGMA op does not', () => {
    const db = seeded();
    const ops: number[] = [];
    faulty.hooks.fileControl = (op) => {
      ops.push(op);
      return SQLITE_NOTFOUND;
    };
    db.exec('INSERT INTO t VALUES (2); PRAGMA user_version = 3');
    expect(ops).toContain(SQLITE_FCNTL_SYNC);
    expect(ops).toContain(SQLITE_FCNTL_COMMIT_PHASETWO);
    expect(ops).not.toContain(SQLITE_FCNTL_PRAGMA);
    db.close();
  });
});

describe('heap growth', () => {
  it('VFS calls keep working while the WASM heap grows under them', () => {
    const before = engineStats().heapSize;
    const db = new Database(memoryPath('grow'), { vfs: 'faulty' });
    db.exec('PRAGMA cache_size = -65536; CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB)');
    const chunk = (i: number) => new Uint8Array(6 * 1024 * 1024).fill(i + 1);
    db.exec('BEGIN');
    for (let i = 0; i < 6; i++) db.run('INSERT INTO b (data) VALUES (?)', chunk(i));
    db.exec('COMMIT');
    expect(engineStats().heapSize).toBeGreaterThan(before);
    for (let i = 0; i < 6; i++) {
      const { data } = db.get('SELECT data FROM b WHERE id = ?', i + 1) as { data: Uint8Array };
      expect(data.length).toBe(6 * 1024 * 1024);
      expect(data[0]).toBe(i + 1);
      expect(data[data.length - 1]).toBe(i + 1);
    }
    expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    db.close();
  });
});

describe('registerVfs', () => {
  it('rejects what is not a Vfs, naming the part', () => {
    expect(() => registerVfs({} as never)).toThrow(/vfs.name: expected a non-empty string/);
    expect(() => registerVfs({ name: 'x', open: 1 } as never)).toThrow(/vfs.open: expected a function/);
    expect(() => registerVfs(new MemoryVfs('y'), { makeDefault: 'no' as never })).toThrow(/makeDefault/);
  });

  it('makeDefault routes `new Database(path)` without a vfs option; re-registering replaces', () => {
    const a = new MemoryVfs('default-test');
    registerVfs(a, { makeDefault: true });
    try {
      const db = new Database('/default.db');
      db.exec('CREATE TABLE t (x)');
      db.close();
      expect(a.sizeOf('/default.db')).toBeGreaterThan(0);
      const b = new MemoryVfs('default-test');
      registerVfs(b);
      new Database('/default.db').close();
      expect(b.sizeOf('/default.db')).toBe(0); // a new, empty file in the new VFS
      expect(registeredVfsNames().filter((n) => n === 'default-test')).toHaveLength(1);
    } finally {
      registerVfs(new LocalFileVfs(), { makeDefault: true }); // `local` back as the default
    }
  });
});

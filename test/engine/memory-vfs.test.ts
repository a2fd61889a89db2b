// The shared VFS conformance suite on the in-memory VFS, plus what is particular to it.
import { describe, expect, it } from 'vitest';
import { Database, registerVfs } from '../../src/engine/index.js';
import {
  SQLITE_BUSY,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_READWRITE,
} from '../../src/vfs/codes.js';
import { MemoryVfs } from '../../src/vfs/memory-vfs.js';
import { LockLevel } from '../../src/vfs/vfs.js';
import { runVfsConformance } from '../support/vfs-conformance.js';

let n = 0;
runVfsConformance(() => `/conformance/db${++n}.db`, 'memory');

describe('memory VFS', () => {
  it('opens file: URIs with ?vfs=memory and keeps files until deleted', () => {
    const db = new Database('file:/uri/a.db?vfs=memory');
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (42)');
    db.close();
    const again = new Database('/uri/a.db', { vfs: 'memory' });
    expect(again.get('SELECT x FROM t')).toEqual({ x: 42 });
    again.close();
  });

  it('journal files appear and go as each journal mode says', () => {
    const vfs = new MemoryVfs('memory-journals');
    registerVfs(vfs);
    const sizes: Record<string, number | undefined> = {};
    for (const mode of ['delete', 'truncate', 'persist']) {
      const db = new Database(`/j/${mode}.db`, { vfs: vfs.name });
      db.exec(`PRAGMA journal_mode = ${mode}; CREATE TABLE t (x); INSERT INTO t VALUES (1)`);
      sizes[mode] = vfs.sizeOf(`/j/${mode}.db-journal`);
      db.close();
    }
    expect(sizes.delete).toBeUndefined();
    expect(sizes.truncate).toBe(0);
    expect(sizes.persist).toBeGreaterThan(0);
    expect(vfs.sizeOf('/j/delete.db')).toBe(8192);
  });

  it('WAL files: the -wal file exists while open, and is removed by the last close', () => {
    const vfs = new MemoryVfs('memory-wal');
    registerVfs(vfs);
    const db = new Database('/w.db', { vfs: vfs.name });
    db.exec('PRAGMA journal_mode = wal; CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(vfs.sizeOf('/w.db-wal')).toBeGreaterThan(0);
    db.close();
    expect(vfs.sizeOf('/w.db-wal')).toBeUndefined();
    expect(vfs.sizeOf('/w.db')).toBeGreaterThan(0);
  });

  it(':memory: databases work and are private to their connection', () => {
    const a = new Database(':memory:');
    const b = new Database(':memory:');
    a.exec('CREATE TABLE t (x)');
    expect(() => b.exec('SELECT * FROM t')).toThrow(/no such table/);
    a.close();
    b.close();
  });
});

describe('memory VFS, called directly', () => {
  const RW = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB;

  it('reads past the end zero-fill and report a short read; truncate then grow reads zeroes', () => {
    const vfs = new MemoryVfs('direct');
    const { file } = vfs.open('/f', RW);
    expect(file.write(new Uint8Array([1, 2, 3, 4]), 0)).toBe(SQLITE_OK);
    const buf = new Uint8Array(6).fill(9);
    expect(file.read(buf, 2)).toBe(SQLITE_IOERR_SHORT_READ);
    expect([...buf]).toEqual([3, 4, 0, 0, 0, 0]);
    file.truncate(1);
    file.write(new Uint8Array([7]), 3);
    const all = new Uint8Array(4);
    expect(file.read(all, 0)).toBe(SQLITE_OK);
    expect([...all]).toEqual([1, 0, 0, 7]);
    expect(file.fileSize()).toBe(4);
    file.close();
  });

  it('anonymous temp files are private and gone at close', () => {
    const vfs = new MemoryVfs('direct-temp');
    const a = vfs.open(null, RW).file;
    const b = vfs.open(null, RW).file;
    a.write(new Uint8Array([1]), 0);
    expect(b.fileSize()).toBe(0);
    a.close();
    b.close();
    expect(vfs.access('\0temp-1')).toBe(false);
  });

  it('locks: shared readers, one reserved writer, pending keeps new readers out', () => {
    const vfs = new MemoryVfs('direct-locks');
    const [a, b, c] = [0, 1, 2].map(() => vfs.open('/l', RW).file);
    expect(a.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(b.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(a.lock(LockLevel.RESERVED)).toBe(SQLITE_OK);
    expect(b.checkReservedLock()).toBe(true);
    expect(b.lock(LockLevel.RESERVED)).toBe(SQLITE_BUSY);
    expect(a.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_BUSY); // b still reads; a is now PENDING
    expect(c.lock(LockLevel.SHARED)).toBe(SQLITE_BUSY); // no new readers while pending
    expect(b.unlock(LockLevel.NONE)).toBe(SQLITE_OK);
    expect(a.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_OK);
    expect(a.unlock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(c.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(a.checkReservedLock()).toBe(false);
    for (const f of [a, b, c]) f.close();
  });
});

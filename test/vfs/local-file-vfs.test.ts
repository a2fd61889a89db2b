// The local-file VFS called directly, method by method, as the WASM facade would.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SQLITE_ACCESS_EXISTS,
  SQLITE_ACCESS_READ,
  SQLITE_ACCESS_READWRITE,
  SQLITE_BUSY,
  SQLITE_CANTOPEN,
  SQLITE_FULL,
  SQLITE_IOCAP_POWERSAFE_OVERWRITE,
  SQLITE_IOERR_DELETE_NOENT,
  SQLITE_IOERR_SHORT_READ,
  SQLITE_IOERR_WRITE,
  SQLITE_OK,
  SQLITE_OPEN_CREATE,
  SQLITE_OPEN_DELETEONCLOSE,
  SQLITE_OPEN_EXCLUSIVE,
  SQLITE_OPEN_MAIN_DB,
  SQLITE_OPEN_MAIN_JOURNAL,
  SQLITE_OPEN_READONLY,
  SQLITE_OPEN_READWRITE,
  SQLITE_SYNC_DATAONLY,
  SQLITE_SYNC_FULL,
  SQLITE_SYNC_NORMAL,
} from '../../src/vfs/codes.js';
import { LocalFileVfs } from '../../src/vfs/local-file-vfs.js';
import { LockTable } from '../../src/vfs/lock-table.js';
import { LockLevel, VfsError, type VfsFile } from '../../src/vfs/vfs.js';

const RWC = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB;
const RW = SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB;
const RO = SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB;

let dir: string;
const vfs = new LocalFileVfs();

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-local-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function fresh(): string {
  return path.join(dir, `f${++n}.db`);
}

function bytes(...v: number[]): Uint8Array {
  return Uint8Array.from(v);
}

function vfsError(fn: () => unknown): VfsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VfsError);
    return err as VfsError;
  }
  throw new Error('expected a VfsError');
}

function openRwc(p: string): VfsFile {
  const { file, outFlags } = vfs.open(p, RWC);
  expect(outFlags).toBe(RWC);
  return file;
}

describe('LocalFileVfs: reading and writing', () => {
  it('writes, reads back, reports size, truncates', () => {
    const p = fresh();
    const f = openRwc(p);
    expect(f.fileSize()).toBe(0);
    expect(f.write(bytes(1, 2, 3, 4), 0)).toBe(SQLITE_OK);
    expect(f.write(bytes(9, 9), 8192)).toBe(SQLITE_OK);
    expect(f.fileSize()).toBe(8194);
    const buf = new Uint8Array(4);
    expect(f.read(buf, 0)).toBe(SQLITE_OK);
    expect([...buf]).toEqual([1, 2, 3, 4]);
    expect(f.read(buf, 8190)).toBe(SQLITE_OK);
    expect([...buf]).toEqual([0, 0, 9, 9]); // the hole reads as zeroes
    expect(f.truncate(2)).toBe(SQLITE_OK);
    expect(f.fileSize()).toBe(2);
    expect(f.truncate(4096)).toBe(SQLITE_OK); // extends
    expect(f.fileSize()).toBe(4096);
    expect(f.close()).toBe(SQLITE_OK);
    const disk = readFileSync(p);
    expect(disk.length).toBe(4096);
    expect([...disk.subarray(0, 3)]).toEqual([1, 2, 0]);
  });

  it('zero-fills a short read and returns SQLITE_IOERR_SHORT_READ', () => {
    const f = openRwc(fresh());
    f.write(bytes(7, 7, 7), 0);
    const buf = new Uint8Array(8).fill(0xff);
    expect(f.read(buf, 1)).toBe(SQLITE_IOERR_SHORT_READ);
    expect([...buf]).toEqual([7, 7, 0, 0, 0, 0, 0, 0]);
    buf.fill(0xff);
    expect(f.read(buf, 100)).toBe(SQLITE_IOERR_SHORT_READ);
    expect([...buf]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    f.close();
  });

  it('reads into and writes from views with a byte offset (as WASM heap views are)', () => {
    const f = openRwc(fresh());
    const heap = new Uint8Array(64);
    heap.set([5, 6, 7, 8], 40);
    expect(f.write(heap.subarray(40, 44), 10)).toBe(SQLITE_OK);
    const out = new Uint8Array(64).fill(1);
    expect(f.read(out.subarray(20, 24), 10)).toBe(SQLITE_OK);
    expect([...out.subarray(18, 26)]).toEqual([1, 1, 5, 6, 7, 8, 1, 1]);
    // A short read must zero only inside the view.
    expect(f.read(out.subarray(30, 36), 12)).toBe(SQLITE_IOERR_SHORT_READ);
    expect([...out.subarray(29, 37)]).toEqual([1, 7, 8, 0, 0, 0, 0, 1]);
    f.close();
  });

  it('syncs with every flag combination, including a new journal (directory fsync)', () => {
    const f = openRwc(fresh());
    f.write(bytes(1), 0);
    expect(f.sync(SQLITE_SYNC_NORMAL)).toBe(SQLITE_OK);
    expect(f.sync(SQLITE_SYNC_FULL)).toBe(SQLITE_OK);
    expect(f.sync(SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY)).toBe(SQLITE_OK);
    f.close();
    const j = fresh() + '-journal';
    const { file } = vfs.open(j, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_JOURNAL);
    file.write(bytes(1, 2), 0);
    expect(file.sync(SQLITE_SYNC_FULL)).toBe(SQLITE_OK);
    expect(file.sync(SQLITE_SYNC_FULL)).toBe(SQLITE_OK);
    file.close();
    expect(readFileSync(j).length).toBe(2);
  });

  it('reports 4096-byte sectors and only power-safe overwrite', () => {
    const f = openRwc(fresh());
    expect(f.sectorSize?.()).toBe(4096);
    expect(f.deviceCharacteristics?.()).toBe(SQLITE_IOCAP_POWERSAFE_OVERWRITE);
    f.close();
  });

  it('maps ENOSPC to SQLITE_FULL and keeps the errno message', () => {
    // /dev/full fails every write with ENOSPC.
    const { file } = vfs.open('/dev/full', RW);
    const err = vfsError(() => file.write(bytes(1, 2, 3), 0));
    expect(err.code).toBe(SQLITE_FULL);
    expect(err.message).toMatch(/ENOSPC/);
    expect(err.message).toContain('/dev/full');
    file.close();
  });

  it('fails a write to a read-only file with SQLITE_IOERR_WRITE', () => {
    const p = fresh();
    writeFileSync(p, 'abc');
    const { file, outFlags } = vfs.open(p, RO);
    expect(outFlags).toBe(RO);
    const err = vfsError(() => file.write(bytes(1), 0));
    expect(err.code).toBe(SQLITE_IOERR_WRITE);
    expect(err.message).toMatch(/EBADF/);
    const buf = new Uint8Array(3);
    expect(file.read(buf, 0)).toBe(SQLITE_OK);
    expect(Buffer.from(buf).toString()).toBe('abc');
    file.close();
  });
});

describe('LocalFileVfs: opening', () => {
  it('fails to open a missing file without CREATE, read-write or read-only, with SQLITE_CANTOPEN', () => {
    const p = fresh();
    for (const flags of [RW, RO]) {
      const err = vfsError(() => vfs.open(p, flags));
      expect(err.code).toBe(SQLITE_CANTOPEN);
      expect(err.message).toMatch(/ENOENT/);
      expect(err.message).toContain(p);
    }
    expect(existsSync(p)).toBe(false);
  });

  it('fails with SQLITE_CANTOPEN in a missing directory, on a directory, and on EXCLUSIVE over an existing file', () => {
    expect(vfsError(() => vfs.open(path.join(dir, 'nope', 'x.db'), RWC)).code).toBe(SQLITE_CANTOPEN);
    const isDir = vfsError(() => vfs.open(dir, RWC));
    expect(isDir.code).toBe(SQLITE_CANTOPEN);
    expect(isDir.message).toMatch(/EISDIR/);
    const p = fresh();
    writeFileSync(p, 'x');
    const excl = vfsError(() => vfs.open(p, RWC | SQLITE_OPEN_EXCLUSIVE));
    expect(excl.code).toBe(SQLITE_CANTOPEN);
    expect(excl.message).toMatch(/EEXIST/);
  });

  it('opens a file it may not write read-only and says so in outFlags', () => {
    // sysfs refuses O_RDWR on this read-only attribute with EACCES, even to root.
    const { file, outFlags } = vfs.open('/sys/kernel/uevent_seqnum', RW | SQLITE_OPEN_CREATE);
    expect(outFlags & SQLITE_OPEN_READONLY).toBe(SQLITE_OPEN_READONLY);
    expect(outFlags & (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)).toBe(0);
    expect(outFlags & SQLITE_OPEN_MAIN_DB).toBe(SQLITE_OPEN_MAIN_DB);
    const buf = new Uint8Array(1);
    file.read(buf, 0);
    expect(buf[0]).toBeGreaterThanOrEqual(0x30); // an ASCII digit
    file.close();
  });

  function tempFiles(): string[] {
    return readdirSync(tmpdir()).filter((f) => f.startsWith(`ltxvfs-${process.pid}-`));
  }

  it('gives a null path a private temp file that leaves nothing behind', () => {
    const before = tempFiles();
    const { file, outFlags } = vfs.open(null, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    expect(outFlags & SQLITE_OPEN_DELETEONCLOSE).toBe(SQLITE_OPEN_DELETEONCLOSE);
    const other = vfs.open(null, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE).file;
    file.write(bytes(4, 2), 100);
    other.write(bytes(1), 0);
    expect(file.fileSize()).toBe(102);
    expect(other.fileSize()).toBe(1);
    const buf = new Uint8Array(2);
    expect(file.read(buf, 100)).toBe(SQLITE_OK);
    expect([...buf]).toEqual([4, 2]);
    file.close();
    other.close();
    expect(tempFiles()).toEqual(before);
  });

  it('deletes a named DELETEONCLOSE file, and keeps its data readable until close', () => {
    const p = fresh();
    const { file } = vfs.open(p, RWC | SQLITE_OPEN_DELETEONCLOSE);
    file.write(bytes(1, 2, 3), 0);
    const buf = new Uint8Array(3);
    expect(file.read(buf, 0)).toBe(SQLITE_OK);
    expect([...buf]).toEqual([1, 2, 3]);
    file.close();
    expect(existsSync(p)).toBe(false);
  });

  it('closes once; a second close is harmless', () => {
    const f = openRwc(fresh());
    expect(f.close()).toBe(SQLITE_OK);
    expect(f.close()).toBe(SQLITE_OK);
  });
});

describe('LocalFileVfs: delete, access, fullPathname', () => {
  it('deletes, reports a missing file as SQLITE_IOERR_DELETE_NOENT, syncs the directory on request', () => {
    const p = fresh();
    writeFileSync(p, 'x');
    expect(vfs.delete(p, true)).toBe(SQLITE_OK);
    expect(existsSync(p)).toBe(false);
    expect(vfs.delete(p, false)).toBe(SQLITE_IOERR_DELETE_NOENT);
    writeFileSync(p, 'x');
    expect(vfs.delete(p, false)).toBe(SQLITE_OK);
    expect(existsSync(p)).toBe(false);
  });

  it('treats an empty file as absent (an empty journal is never hot)', () => {
    const p = fresh();
    expect(vfs.access(p, SQLITE_ACCESS_EXISTS)).toBe(false);
    writeFileSync(p, '');
    expect(vfs.access(p, SQLITE_ACCESS_EXISTS)).toBe(false);
    writeFileSync(p, 'j');
    expect(vfs.access(p, SQLITE_ACCESS_EXISTS)).toBe(true);
    expect(vfs.access(dir, SQLITE_ACCESS_EXISTS)).toBe(true);
    expect(vfs.access(path.join(p, 'under-a-file'), SQLITE_ACCESS_EXISTS)).toBe(false);
  });

  it('answers READ and READWRITE', () => {
    const p = fresh();
    expect(vfs.access(p, SQLITE_ACCESS_READ)).toBe(false);
    expect(vfs.access(p, SQLITE_ACCESS_READWRITE)).toBe(false);
    writeFileSync(p, 'x');
    expect(vfs.access(p, SQLITE_ACCESS_READ)).toBe(true);
    expect(vfs.access(p, SQLITE_ACCESS_READWRITE)).toBe(true);
    expect(vfs.access(path.join(dir, 'nope', 'x'), SQLITE_ACCESS_READ)).toBe(false);
  });

  it('makes paths absolute and resolves symlinks, even before the file exists', () => {
    const real = path.join(dir, 'real');
    mkdirSync(real);
    const alias = path.join(dir, 'alias');
    symlinkSync(real, alias);
    const realDir = vfs.fullPathname(real);
    expect(path.isAbsolute(realDir)).toBe(true);
    expect(vfs.fullPathname(path.join(alias, 'new.db'))).toBe(path.join(realDir, 'new.db'));
    writeFileSync(path.join(real, 'a.db'), 'x');
    symlinkSync(path.join(real, 'a.db'), path.join(dir, 'link.db'));
    expect(vfs.fullPathname(path.join(dir, 'link.db'))).toBe(path.join(realDir, 'a.db'));
    const rel = path.relative(process.cwd(), path.join(real, 'a.db'));
    expect(vfs.fullPathname(rel)).toBe(path.join(realDir, 'a.db'));
    expect(vfs.fullPathname('/no/such/dir/x.db')).toBe('/no/such/dir/x.db');
  });
});

describe('LocalFileVfs: locks', () => {
  it('shares one lock entry between two opens of one file: one writer, many readers', () => {
    const p = fresh();
    const a = openRwc(p);
    const b = vfs.open(p, RW).file;
    const c = vfs.open(p, RO).file;
    expect(a.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(b.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(c.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(a.lock(LockLevel.RESERVED)).toBe(SQLITE_OK);
    expect(b.checkReservedLock()).toBe(true);
    expect(b.lock(LockLevel.RESERVED)).toBe(SQLITE_BUSY);
    expect(a.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_BUSY); // b and c still read
    b.unlock(LockLevel.NONE);
    c.close(); // closing releases c's SHARED lock
    expect(b.lock(LockLevel.SHARED)).toBe(SQLITE_BUSY); // a holds PENDING
    expect(a.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_OK);
    a.close();
    expect(b.checkReservedLock()).toBe(false);
    expect(b.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(b.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_OK);
    b.close();
  });

  it('shares locks across a symlink and a hard link, and not between different files', () => {
    const p = fresh();
    const sym = p + '.sym';
    const hard = p + '.hard';
    writeFileSync(p, '');
    symlinkSync(p, sym);
    linkSync(p, hard);
    const a = vfs.open(p, RW).file;
    const s = vfs.open(sym, RW).file;
    const h = vfs.open(hard, RW).file;
    const other = openRwc(fresh());
    a.lock(LockLevel.SHARED);
    a.lock(LockLevel.EXCLUSIVE);
    expect(s.lock(LockLevel.SHARED)).toBe(SQLITE_BUSY);
    expect(h.lock(LockLevel.SHARED)).toBe(SQLITE_BUSY);
    expect(other.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    expect(other.lock(LockLevel.EXCLUSIVE)).toBe(SQLITE_OK);
    for (const f of [a, s, h, other]) f.close();
  });

  it('shares the process lock table between VFS instances, unless given its own', () => {
    const p = fresh();
    const a = openRwc(p);
    const b = new LocalFileVfs({ name: 'local2' }).open(p, RW).file;
    const isolated = new LocalFileVfs({ name: 'isolated', lockTable: new LockTable() }).open(p, RW).file;
    a.lock(LockLevel.SHARED);
    a.lock(LockLevel.EXCLUSIVE);
    expect(b.lock(LockLevel.SHARED)).toBe(SQLITE_BUSY);
    // A separate table is what another process amounts to: it sees nothing.
    expect(isolated.checkReservedLock()).toBe(false);
    expect(isolated.lock(LockLevel.SHARED)).toBe(SQLITE_OK);
    for (const f of [a, b, isolated]) f.close();
  });

  it('names itself local by default', () => {
    expect(vfs.name).toBe('local');
    expect(new LocalFileVfs({ name: 'x' }).name).toBe('x');
  });
});

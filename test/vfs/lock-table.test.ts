import { describe, expect, it } from 'vitest';
import { SQLITE_BUSY, SQLITE_MISUSE, SQLITE_OK } from '../../src/vfs/codes.js';
import { LockTable, lockLevelName } from '../../src/vfs/lock-table.js';
import { LockLevel, VfsError } from '../../src/vfs/vfs.js';

const { NONE, SHARED, RESERVED, PENDING, EXCLUSIVE } = LockLevel;

function misuse(fn: () => unknown): VfsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VfsError);
    expect((err as VfsError).code).toBe(SQLITE_MISUSE);
    return err as VfsError;
  }
  throw new Error('expected a VfsError');
}

describe('LockTable: one connection', () => {
  it('climbs NONE -> SHARED -> RESERVED -> EXCLUSIVE and back down', () => {
    const a = new LockTable().acquire('f');
    expect(a.level).toBe(NONE);
    expect(a.lock(SHARED)).toBe(SQLITE_OK);
    expect(a.level).toBe(SHARED);
    expect(a.checkReserved()).toBe(false);
    expect(a.lock(RESERVED)).toBe(SQLITE_OK);
    expect(a.level).toBe(RESERVED);
    expect(a.checkReserved()).toBe(true);
    expect(a.lock(EXCLUSIVE)).toBe(SQLITE_OK);
    expect(a.level).toBe(EXCLUSIVE);
    expect(a.unlock(SHARED)).toBe(SQLITE_OK);
    expect(a.level).toBe(SHARED);
    expect(a.checkReserved()).toBe(false);
    expect(a.unlock(NONE)).toBe(SQLITE_OK);
    expect(a.level).toBe(NONE);
  });

  it('goes SHARED -> EXCLUSIVE directly (hot-journal rollback does this)', () => {
    const a = new LockTable().acquire('f');
    a.lock(SHARED);
    expect(a.lock(EXCLUSIVE)).toBe(SQLITE_OK);
    expect(a.level).toBe(EXCLUSIVE);
    expect(a.unlock(NONE)).toBe(SQLITE_OK);
    expect(a.level).toBe(NONE);
  });

  it('treats a request at or below the held level as a no-op', () => {
    const a = new LockTable().acquire('f');
    a.lock(SHARED);
    a.lock(RESERVED);
    expect(a.lock(SHARED)).toBe(SQLITE_OK);
    expect(a.lock(RESERVED)).toBe(SQLITE_OK);
    expect(a.level).toBe(RESERVED);
    expect(a.unlock(NONE)).toBe(SQLITE_OK);
    expect(a.unlock(NONE)).toBe(SQLITE_OK);
    expect(a.unlock(SHARED)).toBe(SQLITE_OK);
    expect(a.level).toBe(NONE);
  });

  it('refuses illegal transitions with SQLITE_MISUSE and keeps its level', () => {
    const a = new LockTable().acquire('f');
    expect(misuse(() => a.lock(RESERVED)).message).toMatch(/NONE -> RESERVED/);
    misuse(() => a.lock(EXCLUSIVE));
    misuse(() => a.lock(PENDING));
    expect(a.level).toBe(NONE);
    a.lock(SHARED);
    expect(misuse(() => a.lock(PENDING)).message).toMatch(/SHARED -> PENDING/);
    misuse(() => a.lock(5 as LockLevel));
    a.lock(RESERVED);
    expect(misuse(() => a.unlock(RESERVED)).message).toMatch(/SHARED or NONE/);
    misuse(() => a.unlock(EXCLUSIVE));
    misuse(() => a.unlock(PENDING));
    expect(a.level).toBe(RESERVED);
  });

  it('refuses calls after close and closes idempotently', () => {
    const t = new LockTable();
    const a = t.acquire('f');
    a.lock(SHARED);
    a.close();
    a.close();
    expect(t.size).toBe(0);
    misuse(() => a.lock(SHARED));
    misuse(() => a.unlock(NONE));
    misuse(() => a.checkReserved());
  });

  it('names levels', () => {
    expect([NONE, SHARED, RESERVED, PENDING, EXCLUSIVE].map(lockLevelName)).toEqual([
      'NONE', 'SHARED', 'RESERVED', 'PENDING', 'EXCLUSIVE',
    ]);
  });
});

describe('LockTable: many connections', () => {
  it('lets many readers share, and a reserved writer does not stop them', () => {
    const t = new LockTable();
    const readers = Array.from({ length: 10 }, () => t.acquire('f'));
    for (const r of readers) expect(r.lock(SHARED)).toBe(SQLITE_OK);
    expect(readers[0].lock(RESERVED)).toBe(SQLITE_OK);
    const late = t.acquire('f');
    expect(late.lock(SHARED)).toBe(SQLITE_OK);
    for (const r of readers) expect(r.checkReserved()).toBe(true);
    expect(late.checkReserved()).toBe(true);
  });

  it('allows one RESERVED holder only', () => {
    const t = new LockTable();
    const a = t.acquire('f');
    const b = t.acquire('f');
    a.lock(SHARED);
    b.lock(SHARED);
    expect(a.lock(RESERVED)).toBe(SQLITE_OK);
    expect(b.lock(RESERVED)).toBe(SQLITE_BUSY);
    expect(b.lock(EXCLUSIVE)).toBe(SQLITE_BUSY);
    expect(b.level).toBe(SHARED);
    a.unlock(SHARED);
    expect(b.lock(RESERVED)).toBe(SQLITE_OK);
  });

  it('holds PENDING while readers remain, blocks new readers, then gets EXCLUSIVE', () => {
    const t = new LockTable();
    const w = t.acquire('f');
    const r = t.acquire('f');
    const newcomer = t.acquire('f');
    w.lock(SHARED);
    r.lock(SHARED);
    w.lock(RESERVED);
    expect(w.lock(EXCLUSIVE)).toBe(SQLITE_BUSY);
    expect(w.level).toBe(PENDING);
    expect(newcomer.lock(SHARED)).toBe(SQLITE_BUSY);
    expect(newcomer.level).toBe(NONE);
    // The reader already in can finish but not climb.
    expect(r.lock(RESERVED)).toBe(SQLITE_BUSY);
    expect(r.level).toBe(SHARED);
    r.unlock(NONE);
    expect(w.lock(EXCLUSIVE)).toBe(SQLITE_OK);
    expect(w.level).toBe(EXCLUSIVE);
    expect(newcomer.lock(SHARED)).toBe(SQLITE_BUSY);
    w.unlock(SHARED);
    expect(newcomer.lock(SHARED)).toBe(SQLITE_OK);
  });

  it('lets new readers in again when a PENDING writer gives up', () => {
    const t = new LockTable();
    const w = t.acquire('f');
    const r = t.acquire('f');
    w.lock(SHARED);
    r.lock(SHARED);
    expect(w.lock(EXCLUSIVE)).toBe(SQLITE_BUSY);
    expect(w.level).toBe(PENDING);
    expect(w.checkReserved()).toBe(true);
    w.unlock(SHARED);
    expect(w.checkReserved()).toBe(false);
    const n = t.acquire('f');
    expect(n.lock(SHARED)).toBe(SQLITE_OK);
    // A PENDING writer that drops to NONE frees its SHARED slot too.
    expect(w.lock(EXCLUSIVE)).toBe(SQLITE_BUSY);
    w.unlock(NONE);
    r.unlock(NONE);
    expect(n.lock(EXCLUSIVE)).toBe(SQLITE_OK);
  });

  it('refuses SHARED to others while one holds EXCLUSIVE', () => {
    const t = new LockTable();
    const a = t.acquire('f');
    const b = t.acquire('f');
    a.lock(SHARED);
    a.lock(EXCLUSIVE);
    expect(b.lock(SHARED)).toBe(SQLITE_BUSY);
    expect(b.checkReserved()).toBe(true);
    a.unlock(NONE);
    expect(b.lock(SHARED)).toBe(SQLITE_OK);
    expect(b.checkReserved()).toBe(false);
  });

  it('keeps different keys and different tables independent', () => {
    const t = new LockTable();
    const a = t.acquire('one');
    const b = t.acquire('two');
    const c = new LockTable().acquire('one');
    a.lock(SHARED);
    a.lock(EXCLUSIVE);
    expect(b.lock(SHARED)).toBe(SQLITE_OK);
    expect(b.lock(EXCLUSIVE)).toBe(SQLITE_OK);
    expect(c.lock(SHARED)).toBe(SQLITE_OK);
    expect(c.checkReserved()).toBe(false);
  });

  it('releases every level on close, and drops the entry with the last lock', () => {
    const t = new LockTable();
    const w = t.acquire('f');
    const r = t.acquire('f');
    w.lock(SHARED);
    w.lock(EXCLUSIVE);
    expect(t.size).toBe(1);
    w.close();
    expect(t.size).toBe(1);
    expect(r.checkReserved()).toBe(false);
    expect(r.lock(SHARED)).toBe(SQLITE_OK);
    expect(r.lock(EXCLUSIVE)).toBe(SQLITE_OK);
    r.close();
    expect(t.size).toBe(0);
    // A reader's close frees its SHARED slot so a writer can go EXCLUSIVE.
    const x = t.acquire('f');
    const y = t.acquire('f');
    x.lock(SHARED);
    y.lock(SHARED);
    expect(x.lock(EXCLUSIVE)).toBe(SQLITE_BUSY);
    y.close();
    expect(x.lock(EXCLUSIVE)).toBe(SQLITE_OK);
  });
});

// One suite for every VFS the engine can host: journal modes, crash-free
// rollback with a spilled cache, savepoints, reopen, and several connections
// on one file. Call it from a test file:
//
//   runVfsConformance(() => path.join(dir, `db${++n}.db`), 'local');
//
// `makeDbPath` returns a new, unused database path on that VFS each call.
import { describe, expect, it } from 'vitest';
import { Database } from '../../src/engine/index.js';
import { SqliteError } from '../../src/engine/sqlite-error.js';
import { SQLITE_BUSY, primaryCode } from '../../src/vfs/codes.js';

interface Mode {
  journal: 'delete' | 'truncate' | 'persist' | 'memory' | 'wal';
  exclusive: boolean;
}

const MODES: Mode[] = [
  { journal: 'delete', exclusive: false },
  { journal: 'truncate', exclusive: false },
  { journal: 'persist', exclusive: false },
  { journal: 'memory', exclusive: false },
  { journal: 'wal', exclusive: false },
  { journal: 'wal', exclusive: true },
  { journal: 'delete', exclusive: true },
];

const ROWS = 2000;

function expectBusy(fn: () => unknown): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SqliteError);
  expect(primaryCode((error as SqliteError).code)).toBe(SQLITE_BUSY);
}

export function runVfsConformance(makeDbPath: () => string, vfsName: string): void {
  const open = (file: string) => new Database(file, { vfs: vfsName });

  function configure(db: Database, mode: Mode): void {
    if (mode.exclusive) db.exec('PRAGMA locking_mode = EXCLUSIVE');
    expect(db.get(`PRAGMA journal_mode = ${mode.journal}`)).toEqual({ journal_mode: mode.journal });
  }

  function fill(db: Database): void {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, b BLOB)');
    const ins = db.prepare('INSERT INTO t (v, b) VALUES (?, zeroblob(200))');
    db.exec('BEGIN');
    for (let i = 0; i < ROWS; i++) ins.run(`row ${i}`);
    db.exec('COMMIT');
    ins.finalize();
  }

  describe(`VFS conformance: ${vfsName}`, () => {
    for (const mode of MODES) {
      const label = `journal_mode=${mode.journal}${mode.exclusive ? ', locking_mode=EXCLUSIVE' : ''}`;

      it(`${label}: commit, rollback with a spilled cache, savepoints, reopen`, () => {
        const file = makeDbPath();
        const db = open(file);
        configure(db, mode);
        fill(db);
        expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: ROWS });

        // A tiny cache makes SQLite write changed pages to the file before COMMIT,
        // so this ROLLBACK has to restore them from the journal (or forget the WAL frames).
        db.exec('PRAGMA cache_size = 10');
        db.exec('BEGIN');
        db.exec("UPDATE t SET v = 'changed', b = randomblob(300)");
        db.exec('DELETE FROM t WHERE id % 3 = 0');
        expect(db.inTransaction).toBe(true);
        db.exec('ROLLBACK');
        expect(db.inTransaction).toBe(false);
        expect(db.get("SELECT count(*) AS n FROM t WHERE v LIKE 'row %'")).toEqual({ n: ROWS });

        db.exec('SAVEPOINT a');
        db.run('INSERT INTO t (v) VALUES (?)', 'kept');
        db.exec('SAVEPOINT b');
        db.run('INSERT INTO t (v) VALUES (?)', 'dropped');
        db.exec('ROLLBACK TO b');
        db.exec('RELEASE a');
        expect(db.all("SELECT v FROM t WHERE v IN ('kept', 'dropped')")).toEqual([{ v: 'kept' }]);
        db.close();

        const again = open(file);
        expect(again.get('PRAGMA journal_mode')).toEqual({
          journal_mode: mode.journal === 'wal' ? 'wal' : 'delete', // only WAL is persistent
        });
        expect(again.get('SELECT count(*) AS n FROM t')).toEqual({ n: ROWS + 1 });
        expect(again.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
        again.close();
      });
    }

    it('two connections, rollback journal: one writer at a time, readers see commits', () => {
      const file = makeDbPath();
      const a = open(file);
      const b = open(file);
      try {
        a.exec('CREATE TABLE t (x INTEGER)');
        a.exec('BEGIN IMMEDIATE; INSERT INTO t VALUES (1)');
        expectBusy(() => b.exec('BEGIN IMMEDIATE'));
        expect(b.get('SELECT count(*) AS n FROM t')).toEqual({ n: 0 }); // uncommitted work is invisible
        a.exec('COMMIT');
        expect(b.get('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });

        // A reader in the middle of a statement keeps a writer from committing.
        b.exec('INSERT INTO t VALUES (2)');
        const rows = a.prepare('SELECT x FROM t').iterate();
        expect(rows.next().value).toEqual({ x: 1 });
        expectBusy(() => b.exec('INSERT INTO t VALUES (3)'));
        rows.return?.(undefined);
        b.exec('INSERT INTO t VALUES (3)');
        expect(a.get('SELECT sum(x) AS s FROM t')).toEqual({ s: 6 });
      } finally {
        a.close();
        b.close();
      }
    });

    it('two connections, WAL: a reader keeps its snapshot while the writer commits', () => {
      const file = makeDbPath();
      const a = open(file);
      a.exec('PRAGMA journal_mode = wal; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)');
      const b = open(file);
      try {
        b.exec('BEGIN');
        expect(b.get('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });
        a.exec('INSERT INTO t VALUES (2)');
        expect(b.get('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });
        b.exec('COMMIT');
        expect(b.get('SELECT count(*) AS n FROM t')).toEqual({ n: 2 });
        expect(a.get('PRAGMA wal_checkpoint(TRUNCATE)')).toEqual({ busy: 0, log: 0, checkpointed: 0 });
      } finally {
        b.close();
        a.close();
      }
      const c = open(file);
      expect(c.get('SELECT sum(x) AS s FROM t')).toEqual({ s: 3 });
      c.close();
    });

    it('readOnly refuses writes; fileMustExist refuses a missing file', () => {
      const file = makeDbPath();
      const w = open(file);
      w.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      w.close();
      const r = new Database(file, { vfs: vfsName, readOnly: true });
      expect(r.get('SELECT x FROM t')).toEqual({ x: 1 });
      expect(() => r.exec('INSERT INTO t VALUES (2)')).toThrow(/readonly/);
      r.close();
      expect(() => new Database(makeDbPath(), { vfs: vfsName, fileMustExist: true })).toThrow(SqliteError);
    });
  });
}

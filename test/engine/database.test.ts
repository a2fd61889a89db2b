// SQL semantics through the Database/Statement API (node-sqlite3-wasm's shape).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database, SqliteError, SQLite3Error } from '../../src/engine/index.js';
import { SQLITE_CONSTRAINT, SQLITE_MISUSE, SQLITE_RANGE } from '../../src/vfs/codes.js';
import { memoryPath, sqliteErrorOf } from '../support/engine-helpers.js';

// Extended constraint codes, from sqlite3.h (src/vfs/codes.ts lists only what the VFS layer needs).
const SQLITE_CONSTRAINT_CHECK = SQLITE_CONSTRAINT | (1 << 8);
const SQLITE_CONSTRAINT_FOREIGNKEY = SQLITE_CONSTRAINT | (3 << 8);
const SQLITE_CONSTRAINT_NOTNULL = SQLITE_CONSTRAINT | (5 << 8);
const SQLITE_CONSTRAINT_PRIMARYKEY = SQLITE_CONSTRAINT | (6 << 8);
const SQLITE_CONSTRAINT_UNIQUE = SQLITE_CONSTRAINT | (8 << 8);

let db: Database;
beforeEach(() => {
  db = new Database(memoryPath('db'), { vfs: 'memory' });
  db.exec('CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, year INTEGER CHECK (year > 0))');
});
afterEach(() => {
  if (db.isOpen) db.close();
});

describe('CRUD', () => {
  it('run reports changes and lastInsertRowid; get/all read back', () => {
    expect(db.run('INSERT INTO book (title, year) VALUES (?, ?)', ['Dune', 1965])).toEqual({ changes: 1, lastInsertRowid: 1 });
    expect(db.run('INSERT INTO book (title, year) VALUES (?, ?)', ['Emma', 1815])).toEqual({ changes: 1, lastInsertRowid: 2 });
    expect(db.all('SELECT title, year FROM book ORDER BY id')).toEqual([
      { title: 'Dune', year: 1965 },
      { title: 'Emma', year: 1815 },
    ]);
    expect(db.run('UPDATE book SET year = year + 1')).toMatchObject({ changes: 2 });
    expect(db.get('SELECT year FROM book WHERE title = ?', 'Emma')).toEqual({ year: 1816 });
    expect(db.run('DELETE FROM book WHERE id = ?', 1)).toMatchObject({ changes: 1 });
    expect(db.get('SELECT * FROM book WHERE id = ?', 1)).toBeNull();
    expect(db.all('SELECT * FROM book WHERE id > 100')).toEqual([]);
  });

  it('exec runs several statements', () => {
    db.exec("INSERT INTO book (title) VALUES ('a'); INSERT INTO book (title) VALUES ('b');");
    expect(db.get('SELECT count(*) AS n FROM book')).toEqual({ n: 2 });
  });
});

describe('transactions', () => {
  it('commit, rollback, inTransaction', () => {
    expect(db.inTransaction).toBe(false);
    db.exec('BEGIN');
    expect(db.inTransaction).toBe(true);
    db.run("INSERT INTO book (title) VALUES ('x')");
    db.exec('ROLLBACK');
    expect(db.inTransaction).toBe(false);
    expect(db.get('SELECT count(*) AS n FROM book')).toEqual({ n: 0 });
    db.exec("BEGIN; INSERT INTO book (title) VALUES ('y'); COMMIT");
    expect(db.get('SELECT title FROM book')).toEqual({ title: 'y' });
  });

  it('savepoints roll back only their part', () => {
    db.exec("SAVEPOINT outer_sp; INSERT INTO book (title) VALUES ('kept')");
    db.exec("SAVEPOINT inner_sp; INSERT INTO book (title) VALUES ('gone')");
    db.exec('ROLLBACK TO inner_sp; RELEASE outer_sp');
    expect(db.all('SELECT title FROM book')).toEqual([{ title: 'kept' }]);
    expect(db.inTransaction).toBe(false);
  });

  it('a failed statement inside a transaction leaves the transaction open', () => {
    db.exec("BEGIN; INSERT INTO book (title) VALUES ('a')");
    expect(() => db.run("INSERT INTO book (title) VALUES ('a')")).toThrow(SqliteError);
    expect(db.inTransaction).toBe(true);
    db.exec('COMMIT');
    expect(db.get('SELECT count(*) AS n FROM book')).toEqual({ n: 1 });
  });
});

describe('constraint errors carry extended codes', () => {
  it.each([
    ["INSERT INTO book (title) VALUES ('t'), ('t')", SQLITE_CONSTRAINT_UNIQUE, 'SQLITE_CONSTRAINT_UNIQUE', /UNIQUE constraint failed: book.title/],
    ['INSERT INTO book (title) VALUES (NULL)', SQLITE_CONSTRAINT_NOTNULL, 'SQLITE_CONSTRAINT_NOTNULL', /NOT NULL constraint failed/],
    ["INSERT INTO book (title, year) VALUES ('t', -1)", SQLITE_CONSTRAINT_CHECK, 'SQLITE_CONSTRAINT_CHECK', /CHECK constraint failed/],
    ["INSERT INTO book (id, title) VALUES (1, 'a'), (1, 'b')", SQLITE_CONSTRAINT_PRIMARYKEY, 'SQLITE_CONSTRAINT_PRIMARYKEY', /UNIQUE constraint failed: book.id/],
  ])('%s', (sql, code, name, message) => {
    const e = sqliteErrorOf(() => db.exec(sql));
    expect(e.code).toBe(code);
    expect(e.codeName).toBe(name);
    expect(e.message).toMatch(message);
    expect(e).toBeInstanceOf(SQLite3Error); // the alias node-sqlite3-wasm users catch
  });

  it('foreign keys are enforced by default (as in node-sqlite3-wasm)', () => {
    db.exec('CREATE TABLE review (book_id INTEGER REFERENCES book (id))');
    const e = sqliteErrorOf(() => db.run('INSERT INTO review VALUES (99)'));
    expect(e.code).toBe(SQLITE_CONSTRAINT_FOREIGNKEY);
  });

  it('syntax errors are SQLITE_ERROR with SQLite\'s message', () => {
    const e = sqliteErrorOf(() => db.prepare('SELEC 1'));
    expect(e.codeName).toBe('SQLITE_ERROR');
    expect(e.message).toMatch(/near "SELEC": syntax error/);
  });
});

describe('parameters', () => {
  it('positional: one value, an array, ?NNN', () => {
    expect(db.get('SELECT ? AS a', 5)).toEqual({ a: 5 });
    expect(db.get('SELECT ? AS a, ? AS b', [1, 'x'])).toEqual({ a: 1, b: 'x' });
    expect(db.get('SELECT ?2 AS a, ?1 AS b', ['first', 'second'])).toEqual({ a: 'second', b: 'first' });
  });

  it('named with :a, @a and $a, with or without the prefix in the key', () => {
    expect(db.get('SELECT :a AS a, @b AS b, $c AS c', { ':a': 1, '@b': 2, $c: 3 })).toEqual({ a: 1, b: 2, c: 3 });
    expect(db.get('SELECT :a AS a, @b AS b, $c AS c', { a: 1, b: 2, c: 3 })).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('unknown names and out-of-range positions are errors; missing ones are NULL', () => {
    expect(sqliteErrorOf(() => db.get('SELECT :a', { ':zz': 1 })).code).toBe(SQLITE_RANGE);
    expect(sqliteErrorOf(() => db.get('SELECT ?', [1, 2])).code).toBe(SQLITE_RANGE);
    expect(db.get('SELECT :a AS a, :b AS b', { ':a': 1 })).toEqual({ a: 1, b: null });
  });

  it('bindings do not leak from one execution to the next', () => {
    const stmt = db.prepare('SELECT ? AS a');
    expect(stmt.get([7])).toEqual({ a: 7 });
    expect(stmt.get()).toEqual({ a: null });
    stmt.finalize();
    const two = db.prepare('SELECT :x AS x, :y AS y');
    expect(two.get([1, 2])).toEqual({ x: 1, y: 2 });
    expect(two.get([3])).toEqual({ x: 3, y: null });
    expect(two.get({ y: 4 })).toEqual({ x: null, y: 4 });
    two.finalize();
  });

  it('unsupported values are a TypeError naming the parameter', () => {
    expect(() => db.get('SELECT ?', [{}] as never)).toThrow(/bind parameter 1: unsupported value of type object/);
    expect(() => db.get('SELECT :x', { ':x': undefined } as never)).toThrow(TypeError);
  });
});

describe('statements', () => {
  it('prepare once, run many; iterate; all; finalize', () => {
    const ins = db.prepare('INSERT INTO book (title, year) VALUES (?, ?)');
    for (let i = 1; i <= 5; i++) ins.run([`t${i}`, 2000 + i]);
    ins.finalize();
    expect(ins.isFinalized).toBe(true);
    expect(() => ins.run(['x', 1])).toThrow(/Statement already finalized/);
    expect(() => ins.finalize()).toThrow(SqliteError);

    const sel = db.prepare('SELECT year FROM book WHERE year > ? ORDER BY year');
    expect(sel.database).toBe(db);
    expect([...sel.iterate(2002)].map((r) => r.year)).toEqual([2003, 2004, 2005]);
    expect(sel.all(2003)).toEqual([{ year: 2004 }, { year: 2005 }]);
    expect(sel.get(2004)).toEqual({ year: 2005 });
    sel.finalize();
  });

  it('an iterator stopped early releases the statement; re-executing ends an old iterator', () => {
    db.exec("INSERT INTO book (title) VALUES ('a'), ('b'), ('c')");
    const sel = db.prepare('SELECT title FROM book ORDER BY id');
    for (const row of sel.iterate()) {
      expect(row).toEqual({ title: 'a' });
      break;
    }
    const it1 = sel.iterate();
    expect(it1.next().value).toEqual({ title: 'a' });
    expect(sel.get()).toEqual({ title: 'a' });
    expect(() => it1.next()).toThrow(/re-executed/);
    sel.finalize();
  });

  it('statements left open are finalized by close, and then say so', () => {
    const stmt = db.prepare('SELECT 1 AS one');
    expect(stmt.get()).toEqual({ one: 1 });
    db.close();
    expect(db.isOpen).toBe(false);
    expect(stmt.isFinalized).toBe(true);
    const e = sqliteErrorOf(() => stmt.get());
    expect(e.code).toBe(SQLITE_MISUSE);
    expect(e.message).toBe('statement used after its database was closed');
    expect(() => db.exec('SELECT 1')).toThrow(/Database is closed/);
    expect(() => db.inTransaction).toThrow(/Database is closed/);
    expect(() => db.close()).toThrow(/Database is closed/);
  });

  it('empty SQL cannot be prepared', () => {
    expect(() => db.prepare('  -- nothing ')).toThrow(/Nothing to prepare/);
  });

  it('SELECT * picks up columns added after prepare', () => {
    db.exec("INSERT INTO book (title) VALUES ('a')");
    const sel = db.prepare('SELECT * FROM book');
    expect(Object.keys(sel.get()!)).toEqual(['id', 'title', 'year']);
    db.exec('ALTER TABLE book ADD COLUMN isbn TEXT');
    expect(Object.keys(sel.get()!)).toEqual(['id', 'title', 'year', 'isbn']);
    sel.finalize();
  });

  it('expand: true groups columns by table', () => {
    db.exec("INSERT INTO book (title, year) VALUES ('a', 1)");
    expect(db.get('SELECT title, year + 1 AS next FROM book', undefined, { expand: true })).toEqual({
      book: { title: 'a' },
      $: { next: 2 },
    });
  });
});

describe('user-defined functions', () => {
  it('calls JavaScript with SQL values and returns its result', () => {
    db.function('twice', (x) => (typeof x === 'number' ? x * 2 : null), { deterministic: true });
    db.function('concat_all', (...args) => args.join('+'));
    expect(db.get("SELECT twice(21) AS a, concat_all('x', 1, NULL) AS b")).toEqual({ a: 42, b: 'x+1+' });
  });

  it('a throwing function fails the statement with its message', () => {
    db.function('boom', () => {
      throw new Error('kaboom');
    });
    expect(() => db.get('SELECT boom()')).toThrow(/kaboom/);
  });
});

describe('options', () => {
  it('misuse is a TypeError naming the option', () => {
    expect(() => new Database('/x.db', { vfs: 'nope' })).toThrow(/vfs: no VFS named "nope" is registered/);
    expect(() => new Database('/x.db', { vfs: 'memory', readOnly: 'yes' as never })).toThrow(/readOnly: expected a boolean/);
    expect(() => new Database('/x.db', { vfs: 'memory', fileMustExist: 1 as never })).toThrow(/fileMustExist/);
    expect(() => new Database(42 as never)).toThrow(/filename/);
  });

  it('opening a missing file with fileMustExist fails with SQLITE_CANTOPEN', () => {
    const e = sqliteErrorOf(() => new Database('/missing.db', { vfs: 'memory', fileMustExist: true }));
    expect(e.codeName).toBe('SQLITE_CANTOPEN');
    expect(e.message).toMatch(/open "\/missing.db": unable to open database file/);
  });
});

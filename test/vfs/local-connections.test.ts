// Several SQLite connections of one process on one file through the local VFS:
// readers share, one writer at a time, a committing writer waits for readers
// and keeps new ones out meanwhile.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Database, registeredVfsNames, registerVfs } from '../../src/engine/index.js';
import { LocalFileVfs } from '../../src/vfs/local-file-vfs.js';
import { SqliteError } from '../../src/engine/sqlite-error.js';
import { SQLITE_BUSY, primaryCode } from '../../src/vfs/codes.js';

// The engine registers `local` as its default; make sure of it here either way.
if (!registeredVfsNames().includes('local')) registerVfs(new LocalFileVfs(), { makeDefault: true });

let dir: string;
let open: Database[] = [];
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-conn-'));
});
afterEach(() => {
  for (const db of open) db.close();
  open = [];
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** `count` connections on one new database holding rows 1..3. */
function connections(count: number): Database[] {
  const file = path.join(dir, `c${++n}.db`);
  const dbs = Array.from({ length: count }, () => new Database(file, { vfs: 'local' }));
  open.push(...dbs);
  dbs[0].exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);');
  return dbs;
}

function count(db: Database): number {
  return Number(Object.values(db.get('SELECT count(*) FROM t') ?? {})[0]);
}

function busy(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SqliteError);
    expect(primaryCode((err as SqliteError).code)).toBe(SQLITE_BUSY);
    return;
  }
  throw new Error('expected SQLITE_BUSY');
}

describe('local VFS: connections in one process', () => {
  it('sees the file grow and shrink through another connection (the size kept in the lock table)', () => {
    const file = path.join(dir, `size${++n}.db`);
    const [writer, reader] = [new Database(file, { vfs: 'local' }), new Database(file, { vfs: 'local' })];
    open.push(writer, reader);
    const scalar = (db: Database, sql: string) => Object.values(db.get(sql) ?? {})[0];
    writer.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);');
    expect(scalar(reader, 'SELECT count(*) FROM t')).toBe(3);
    writer.exec(`CREATE TABLE big (b BLOB);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO big SELECT randomblob(3000) FROM n;`);
    const grown = Number(scalar(reader, 'PRAGMA page_count'));
    expect(grown).toBeGreaterThan(300);
    expect(statSync(file).size).toBe(grown * 4096);
    writer.exec('DROP TABLE big; VACUUM;');
    const shrunk = Number(scalar(reader, 'PRAGMA page_count'));
    expect(shrunk).toBeLessThan(10);
    expect(statSync(file).size).toBe(shrunk * 4096);
    expect(scalar(reader, 'PRAGMA integrity_check')).toBe('ok');
    expect(scalar(reader, 'SELECT count(*) FROM t')).toBe(3);
  });

  it('lets readers read at the same time', () => {
    const dbs = connections(4);
    for (const db of dbs) db.exec('BEGIN');
    for (const db of dbs) expect(count(db)).toBe(3); // each now holds SHARED
    for (const db of dbs) db.exec('COMMIT');
  });

  it('refuses a second writer with SQLITE_BUSY while readers still read the committed data', () => {
    const [w, w2, r] = connections(3);
    w.exec('BEGIN IMMEDIATE; INSERT INTO t VALUES (4);');
    busy(() => w2.exec('BEGIN IMMEDIATE'));
    busy(() => w2.exec('INSERT INTO t VALUES (5)'));
    expect(count(r)).toBe(3); // RESERVED does not stop readers; the insert is not visible
    expect(count(w)).toBe(4);
    w.exec('COMMIT');
    expect(count(r)).toBe(4);
    w2.exec('INSERT INTO t VALUES (5)');
    expect(count(w)).toBe(5);
  });

  it('makes a committing writer wait for open readers and keeps new readers out meanwhile', () => {
    const [w, r, late] = connections(3);
    r.exec('BEGIN');
    expect(count(r)).toBe(3); // r holds SHARED until COMMIT
    w.exec('BEGIN; INSERT INTO t VALUES (4);');
    busy(() => w.exec('COMMIT')); // needs EXCLUSIVE; gets PENDING
    busy(() => count(late)); // PENDING keeps new readers out
    expect(count(r)).toBe(3); // the reader already in carries on
    r.exec('COMMIT');
    w.exec('COMMIT'); // the retry succeeds now
    expect(count(late)).toBe(4);
    expect(count(r)).toBe(4);
  });

  it('keeps interleaved transfers between accounts consistent (randomized, seeded)', () => {
    const dbs = connections(4);
    dbs[0].exec(`
      CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL);
      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20)
        INSERT INTO acct SELECT x, 100 FROM c;
    `);
    let seed = 42;
    const rand = (k: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff; // an LCG: the same interleaving every run
      return seed % k;
    };
    const total = (db: Database): number => Number(Object.values(db.get('SELECT sum(bal) FROM acct') ?? {})[0]);
    // Each connection steps through: BEGIN, read the total, move money, COMMIT; any BUSY rolls it back.
    const step = dbs.map(() => 0);
    let commits = 0;
    let busies = 0;
    for (let i = 0; i < 2000; i++) {
      const k = rand(dbs.length);
      const db = dbs[k];
      try {
        if (step[k] === 0) db.exec('BEGIN');
        else if (step[k] === 1) expect(total(db)).toBe(2000);
        else if (step[k] === 2) {
          const [from, to, amount] = [1 + rand(20), 1 + rand(20), rand(10)];
          db.exec(`UPDATE acct SET bal = bal - ${amount} WHERE id = ${from}; UPDATE acct SET bal = bal + ${amount} WHERE id = ${to};`);
        } else {
          db.exec('COMMIT');
          commits++;
        }
        step[k] = (step[k] + 1) % 4;
      } catch (err) {
        expect(primaryCode((err as SqliteError).code)).toBe(SQLITE_BUSY);
        busies++;
        if (db.inTransaction) db.exec('ROLLBACK');
        step[k] = 0;
      }
    }
    for (const db of dbs) if (db.inTransaction) db.exec('ROLLBACK');
    expect(commits).toBeGreaterThan(50);
    expect(busies).toBeGreaterThan(50);
    for (const db of dbs) expect(total(db)).toBe(2000);
    expect(Object.values(dbs[0].get('PRAGMA integrity_check') ?? {})[0]).toBe('ok');
  });

  it('releases the locks of a connection that closes mid-transaction', () => {
    const [w, other] = connections(2);
    w.exec('BEGIN IMMEDIATE; INSERT INTO t VALUES (4);');
    busy(() => other.exec('BEGIN IMMEDIATE'));
    w.close();
    open = open.filter((db) => db !== w);
    other.exec('BEGIN IMMEDIATE; INSERT INTO t VALUES (5); COMMIT;');
    expect(count(other)).toBe(4); // w's insert was rolled back with its close
  });
});

// The boot pack tests' database: a table with an indexed text column, deep enough
// (1 KiB pages) that both B-trees have interior levels, built with better-sqlite3 so
// the answers come from an engine other than ours. `grow` adds rows and returns the
// file's new image, for L0 files made from page diffs.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

type BetterStmt = { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[] };
export type BetterDb = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): BetterStmt; transaction(fn: () => void): () => void; close(): void };
export const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options?: { readonly?: boolean }) => BetterDb;

export const PAGE_SIZE = 1024;
export const LOOKUP = 'SELECT id, a, hex(pad) AS pad FROM t WHERE a = ?';

/** Key of row `i`: spread over the index so lookups land on different leaves. */
export const keyOf = (i: number): string => `k${String((i * 7919) % 1_000_003).padStart(7, '0')}`;

export function makeDatabase(file: string, rows: number): Uint8Array {
  const db = new BetterSqlite3(file);
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT NOT NULL, pad BLOB); CREATE INDEX t_a ON t(a)');
  insert(db, 0, rows);
  db.close();
  return new Uint8Array(readFileSync(file));
}

/** Add rows from..to-1; the file's image after. */
export function grow(file: string, from: number, to: number): Uint8Array {
  const db = new BetterSqlite3(file);
  insert(db, from, to);
  db.close();
  return new Uint8Array(readFileSync(file));
}

function insert(db: BetterDb, from: number, to: number): void {
  const stmt = db.prepare('INSERT INTO t(id, a, pad) VALUES (?, ?, randomblob(100))');
  db.transaction(() => {
    for (let i = from; i < to; i++) stmt.run(i + 1, keyOf(i));
  })();
}

/** The answer better-sqlite3 gives from the file. */
export function expected(file: string, key: string): unknown {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare(LOOKUP).get(key);
  } finally {
    db.close();
  }
}

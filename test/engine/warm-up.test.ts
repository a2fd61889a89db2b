// The engine warm-up open() runs while the I/O worker plans: its hand-written database
// must be one SQLite itself accepts (checked by better-sqlite3, an independent build),
// and running it must leave nothing behind.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/engine/index.js';
import { facade } from '../../src/engine/vfs-facade.js';
import { WARM_UP_ROWS, warmUpEngine, warmUpImage } from '../../src/engine/warm-up.js';

// better-sqlite3 (an optional dependency, installed here) ships no types: the calls used.
type BetterStmt = { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown; all(...args: unknown[]): unknown[]; raw(): BetterStmt };
type BetterDb = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): BetterStmt; transaction(fn: () => void): () => void; close(): void };
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options?: { readonly?: boolean }) => BetterDb;

const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-warm-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('engine warm-up', () => {
  it('writes a database that passes integrity_check, with the rows and the index it declares', () => {
    const file = path.join(dir, 'warm.db');
    writeFileSync(file, warmUpImage());
    const db = new BetterSqlite3(file, { readonly: true });
    try {
      expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      expect(db.prepare('SELECT id, a, b FROM t ORDER BY id').raw().all()).toEqual(WARM_UP_ROWS.map((r) => [...r]));
      expect(db.prepare("SELECT id FROM t INDEXED BY t_a WHERE a = 'y'").all()).toEqual([{ id: 2 }]);
      expect(db.prepare('SELECT type, name, rootpage FROM sqlite_schema ORDER BY rootpage').raw().all()).toEqual([
        ['table', 't', 2],
        ['index', 't_a', 3],
      ]);
    } finally {
      db.close();
    }
    // Our own engine reads it the same way.
    const ours = new Database(file, { readOnly: true });
    try {
      expect(ours.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(ours.all('SELECT id, a, b FROM t ORDER BY id')).toEqual(WARM_UP_ROWS.map(([id, a, b]) => ({ id, a, b })));
    } finally {
      ours.close();
    }
  });

  it('runs once per process and leaves no file open', () => {
    const open = facade.openFileCount();
    warmUpEngine(); // the queries check their own answers and throw if they are wrong
    expect(facade.openFileCount()).toBe(open);
    expect(facade.names()).toContain('ltxvfs-warm-up');
    const count = facade.names().length;
    warmUpEngine();
    expect(facade.names().length).toBe(count);
  });
});

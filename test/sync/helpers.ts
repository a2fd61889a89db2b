// Helpers for the write-path tests: temp dirs, commits made by real SQLite (better-sqlite3
// writes a rollback-journal database; each transaction's changed pages become one commit),
// and stores on file:// and on the run's S3 server.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { databaseChecksum } from '../../src/ltx/index.js';
import type { CommitInput } from '../../src/sync/index.js';

interface SqliteDb {
  pragma(s: string): unknown;
  exec(s: string): void;
  close(): void;
}
// better-sqlite3 ships no types here (optional dev dependency): the few calls we use.
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (p: string) => SqliteDb;

const made: string[] = [];

export function tempDir(label = 'sync'): string {
  const dir = mkdtempSync(path.join(tmpdir(), `ltxvfs-${label}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A SQLite database whose transactions are turned into buffer commits by diffing the file. */
export class SqliteCommits {
  readonly path: string;
  readonly pageSize: number;
  private readonly db: SqliteDb;
  private image: Uint8Array = new Uint8Array(0);

  constructor(dir: string, pageSize = 4096) {
    this.path = path.join(dir, 'source.db');
    this.pageSize = pageSize;
    this.db = new Sqlite(this.path);
    this.db.pragma(`page_size = ${pageSize}`);
    this.db.pragma('journal_mode = DELETE');
  }

  /** Run `sql` (one transaction, or VACUUM); return the commit that carries its page changes. */
  step(sql: string, checksums = true): CommitInput {
    if (/^\s*vacuum/i.test(sql)) this.db.exec(sql);
    else this.db.exec(`BEGIN; ${sql}; COMMIT;`);
    return this.diff(checksums);
  }

  /** The current file as SQLite left it. */
  current(): Uint8Array {
    return new Uint8Array(readFileSync(this.path));
  }

  close(): void {
    this.db.close();
  }

  private diff(checksums: boolean): CommitInput {
    const next = this.current();
    const ps = this.pageSize;
    const pages: [number, Uint8Array][] = [];
    for (let pgno = 1; pgno * ps <= next.length; pgno++) {
      const a = next.subarray((pgno - 1) * ps, pgno * ps);
      const b = this.image.length >= pgno * ps ? this.image.subarray((pgno - 1) * ps, pgno * ps) : null;
      if (!b || Buffer.compare(a, b) !== 0) pages.push([pgno, a.slice()]);
    }
    this.image = next;
    return { pages, commit: next.length / ps, checksum: checksums ? databaseChecksum(next, ps) : null };
  }
}

/** Deterministic page bytes for (txid, pgno): what the crash child writes and the parent checks. */
export function pageBytes(txid: bigint, pgno: number, pageSize: number): Uint8Array {
  const out = new Uint8Array(pageSize);
  let x = (Number(txid % 1_000_003n) * 2654435761 + pgno * 40503) >>> 0;
  for (let i = 0; i < pageSize; i += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    out[i] = x & 0xff;
    out[i + 1] = (x >>> 8) & 0xff;
    out[i + 2] = (x >>> 16) & 0xff;
    out[i + 3] = x >>> 24;
  }
  return out;
}

/** Which pages the crash child's commit `txid` writes (1..3 pages of a 1..40 page db). */
export function pagesOf(txid: bigint): number[] {
  const n = Number(txid % 3n) + 1;
  const start = Number((txid * 7n) % 38n) + 1;
  return Array.from({ length: n }, (_, i) => start + i);
}

import { pino } from 'pino';
/** A logger that prints nothing (tests assert on state, not on logs). */
export const quiet = pino({ level: 'silent' });

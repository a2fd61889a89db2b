// Hot-journal recovery on the local VFS: a writer is SIGKILLed at chosen points
// of a large transaction and of its COMMIT (./fixtures/crash-writer.ts), then
// this process opens the file and must find it intact, with the baseline and
// either all of the transaction or none of it, and no journal left behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, registeredVfsNames, registerVfs } from '../../src/engine/index.js';
import { LocalFileVfs } from '../../src/vfs/local-file-vfs.js';

// The engine registers `local` as its default; make sure of it here either way.
if (!registeredVfsNames().includes('local')) registerVfs(new LocalFileVfs(), { makeDefault: true });

const FIXTURE = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TXN_ROWS = 12 * 1000; // CHUNKS * CHUNK_ROWS in the fixture

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-crash-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Killed {
  /** The signal the writer died of (SIGKILL, or null if it exited by itself). */
  signal: NodeJS.Signals | null;
  code: number | null;
  /** Whether the journal was there when the writer was dead: a hot journal. */
  journalAtDeath: boolean;
  stderr: string;
}

/** Run the writer until it prints `at <stop>`, wait `delayMs`, SIGKILL it. */
function killWriterAt(db: string, stop: string, delayMs: number): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, db, stop], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer never reached ${stop}; stdout: ${out}; stderr: ${stderr}`));
    }, 40_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes(`at ${stop}\n`)) {
        if (delayMs === 0) child.kill('SIGKILL');
        else setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ signal, code, journalAtDeath: existsSync(`${db}-journal`), stderr });
    });
  });
}

interface State {
  integrity: unknown;
  baseIntact: number;
  baseChanged: number;
  txn: number;
  after: number;
}

function inspect(db: string): State {
  const conn = new Database(db, { vfs: 'local' });
  try {
    const one = (sql: string): unknown => Object.values(conn.get(sql) ?? {})[0];
    return {
      integrity: one('PRAGMA integrity_check'),
      baseIntact: Number(one(`SELECT count(*) FROM t WHERE batch = 'base' AND v = printf('%0400d', n)`)),
      baseChanged: Number(one(`SELECT count(*) FROM t WHERE batch = 'base' AND v = 'changed'`)),
      txn: Number(one(`SELECT count(*) FROM t WHERE batch = 'txn'`)),
      after: Number(one(`SELECT count(*) FROM t WHERE batch = 'after'`)),
    };
  } finally {
    conn.close();
  }
}

const BASELINE: Omit<State, 'integrity'> = { baseIntact: 1000, baseChanged: 0, txn: 0, after: 0 };
const COMMITTED: Omit<State, 'integrity'> = { baseIntact: 0, baseChanged: 667, txn: TXN_ROWS, after: 0 };

/**
 * What the dead writer leaves, and what the next open must make of it:
 * - hot: a synced journal (valid header); the next reader rolls it back and deletes it.
 * - cold: a journal whose header is still zero (SQLite writes the magic only
 *   when it syncs the journal, before touching the database file): not hot,
 *   ignored, and replaced by the next write transaction.
 * - none: COMMIT deleted the journal; the transaction is durable.
 */
type Outcome = 'hot' | 'cold' | 'none';

describe('local VFS: SIGKILL during a write transaction', () => {
  const cases: Array<{ stop: string; delayMs: number; journal: Outcome }> = [
    { stop: 'mid', delayMs: 0, journal: 'hot' },
    { stop: 'mid', delayMs: 40, journal: 'hot' },
    { stop: 'journal-write', delayMs: 0, journal: 'cold' },
    { stop: 'db-write', delayMs: 0, journal: 'hot' },
    { stop: 'journal-delete', delayMs: 0, journal: 'hot' },
    { stop: 'committed', delayMs: 0, journal: 'none' },
  ];

  for (const c of cases) {
    const outcome = c.journal === 'none' ? 'no journal, committed' : `${c.journal} journal, rolled back`;
    it(`killed at ${c.stop}${c.delayMs ? ` + ${c.delayMs} ms` : ''}: ${outcome}`, async () => {
      const db = path.join(dir, `${c.stop}-${c.delayMs}.db`);
      const journal = `${db}-journal`;
      const killed = await killWriterAt(db, c.stop, c.delayMs);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect(killed.journalAtDeath).toBe(c.journal !== 'none');
      if (c.journal !== 'none') {
        const header = readFileSync(journal).subarray(0, 8);
        // The journal magic d9d505f920a163d7, or zeroes before the first sync.
        expect(header.toString('hex')).toBe(c.journal === 'hot' ? 'd9d505f920a163d7' : '0000000000000000');
      }

      const state = inspect(db);
      expect(state.integrity).toBe('ok');
      const { integrity: _, ...rows } = state;
      expect(rows).toEqual(c.journal === 'none' ? COMMITTED : BASELINE);
      // Rollback deletes a hot journal; a cold one stays until the next write.
      expect(existsSync(journal)).toBe(c.journal === 'cold');
      // A second open finds the same, with nothing left to recover.
      expect(inspect(db)).toEqual(state);

      // And the database takes writes again, which clears any leftover journal.
      const conn = new Database(db, { vfs: 'local' });
      conn.exec(`INSERT INTO t (n, batch, v) VALUES (0, 'after', x'00')`);
      conn.close();
      expect(existsSync(journal)).toBe(false);
      expect(inspect(db)).toEqual({ ...state, after: 1 });
    });
  }
});

// Shared by the hydration acceptance tests: a seeded database (better-sqlite3, random
// and barely compressible, so LTX sizes are close to the database's), child processes
// driven by lines, and waiting for conditions.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testS3Config } from '../support/s3.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'test/hydration/fixtures');

type Stmt = { run(...args: unknown[]): unknown };
type Db = { pragma(s: string): unknown; exec(s: string): void; prepare(s: string): Stmt; transaction<A>(fn: (a: A) => void): (a: A) => void; close(): void };

/** A database of about `bytes`: t(id, v, pad) with 5000+ rows of random blobs. */
export function seedDatabase(file: string, bytes: number): void {
  const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => Db;
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL, pad BLOB); CREATE INDEX t_v ON t(v);');
  const insert = db.prepare('INSERT INTO t(v, pad) VALUES (?, ?)');
  const rows = Math.max(5000, Math.ceil(bytes / 1100));
  db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(`seed-${i}`, randomBytes(1000));
  })(rows);
  db.close();
}

/** Environment for a child that reaches the run's S3 server with AWS_* credentials. */
export function s3Env(): NodeJS.ProcessEnv {
  const c = testS3Config();
  return { ...process.env, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_REGION: c.region, LITESTREAM_LOG_LEVEL: 'warn' };
}

/** The s3:// URL of `prefix` on the run's bucket through `endpoint` (a proxy, or the server). */
export function replicaUrlVia(prefix: string, endpoint: string): string {
  const c = testS3Config();
  return `s3://${c.bucket}/${prefix}?${new URLSearchParams({ endpoint, region: c.region, forcePathStyle: 'true' })}`;
}

/** A child running a fixture (TypeScript through tsx, or plain .mjs), with its stdout as lines to wait for. */
export class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: (() => void)[] = [];

  constructor(fixture: string, args: string[], env: NodeJS.ProcessEnv) {
    const loader = fixture.endsWith('.ts') ? ['--import', 'tsx'] : [];
    this.proc = spawn(process.execPath, [...loader, path.join(FIXTURES, fixture), ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let partial = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const parts = (partial + s).split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        resolve({ code, signal });
        for (const w of this.#waiters.splice(0)) w();
      }),
    );
  }

  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  /** The first line (from index `from`) matching `re`; fails when the child exits first or after `ms`. */
  async line(re: RegExp, ms = 60_000, from = 0): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.lines.length; i++) {
        const m = re.exec(this.lines[i]);
        if (m) return m;
      }
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`child exited (${this.proc.exitCode ?? this.proc.signalCode}) before printing ${re}; stderr:\n${this.stderr.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`no line ${re} from the child in ${ms} ms; stdout:\n${this.lines.slice(-20).join('\n')}\nstderr:\n${this.stderr.slice(-3000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.#waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

export async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

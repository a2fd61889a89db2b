// What the writer tests share: running ./writer-child.mjs (the built package in a
// plain node process) and reading its event lines, killing it at a chosen moment,
// the ledger of what it acknowledged, and replicas on file:// or the run's S3 server.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ROOT } from '../support/cli.js';
import { fileUrl, tempDir } from '../replica/helpers.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

export const CHILD = path.join(ROOT, 'test/writer/writer-child.mjs');
export const DIST = path.join(ROOT, 'dist');

export interface ChildTask {
  url: string;
  bufferPath: string;
  syncInterval: number;
  seed: number;
  writer?: string;
  maxTx?: number;
  durationMs?: number;
  statusEveryMs?: number;
  /** Wait after opening (printing `ready`) until this file exists. */
  gate?: string;
  /** No transactions of hundreds of pages (keeps the database small). */
  noLarge?: boolean;
  /** db.sync() after every commit: one L0 file per commit. */
  syncEach?: boolean;
  /** After the last commit print `held`, then wait until this file exists (the test may SIGSTOP the child meanwhile). */
  hold?: string;
  pauseMs?: number;
  final?: boolean;
  pragmaSync?: boolean;
  logLevel?: string;
}

export interface ChildResult {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Replica {
  kind: 'file' | 's3';
  url: string;
  env: NodeJS.ProcessEnv;
  store(): ObjectStore;
}

export function fileReplica(label: string): Replica {
  const dir = path.join(tempDir(label), 'replica');
  return { kind: 'file', url: fileUrl(dir), env: {}, store: () => new FileStore({ dir }) };
}

export function s3Replica(label: string, endpoint?: string): Replica {
  const prefix = uniquePrefix(label);
  const c = testS3Config();
  let url = testReplicaUrl(prefix);
  if (endpoint !== undefined) url = url.replace(encodeURIComponent(c.endpoint), encodeURIComponent(endpoint));
  return {
    kind: 's3',
    url,
    env: { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_REGION: c.region },
    store: () => new S3Store(testS3StoreOptions(prefix)),
  };
}

const live = new Set<import('node:child_process').ChildProcess>();

/** SIGKILL children still running (a test that timed out): call in afterAll. */
export function killChildren(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

/**
 * Run the child. `kill`: SIGKILL it `afterMs` after its `after`-th ack (or when it
 * printed `open`, for after = 0). `onLine` sees every line as it arrives.
 */
export function runChild(
  task: ChildTask,
  env: NodeJS.ProcessEnv,
  options: { kill?: { after: number; afterMs: number }; onLine?: (line: string) => void; onSpawn?: (child: import('node:child_process').ChildProcess) => void; guardMs?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify({ dist: DIST, ...task })], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    live.add(child);
    options.onSpawn?.(child);
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    let acks = 0;
    let armed = false;
    const arm = () => {
      if (armed || !options.kill) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), options.kill.afterMs);
    };
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`writer child ran past ${options.guardMs ?? 60_000} ms; stdout tail ${lines.slice(-5).join(' | ')}; stderr ${stderr.slice(-2000)}`));
    }, options.guardMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      partial += s;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        options.onLine?.(line);
        if (line.startsWith('ack ')) acks++;
        if (options.kill && (options.kill.after === 0 ? line.startsWith('open ') : acks >= options.kill.after)) arm();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      live.delete(child);
      clearTimeout(guard);
      if (partial) lines.push(partial);
      resolve({ lines, stderr, code, signal });
    });
  });
}

/** What a child's run told: every transaction it meant and which ones it acknowledged, across runs. */
export class Ledger {
  /** seq → "seq tag kind" of the transaction that may hold that seq. */
  private intents = new Map<number, string>();
  /** Highest seq whose COMMIT returned, over every run. */
  acked = 0;
  /** TXID of each acknowledged seq. */
  readonly ackTxid = new Map<number, bigint>();

  /** A run opened and found its log at `maxSeq`: intents past it never landed. */
  opened(maxSeq: number): void {
    for (const s of [...this.intents.keys()]) if (s > maxSeq) this.intents.delete(s);
  }

  line(line: string): void {
    const f = line.split(' ');
    if (f[0] === 'intent') this.intents.set(Number(f[1]), `${f[1]} ${f[2]} ${f[3]}`);
    if (f[0] === 'ack') {
      const seq = Number(f[1]);
      this.acked = Math.max(this.acked, seq);
      this.ackTxid.set(seq, BigInt(f[2]));
    }
  }

  /** The digest the child prints for a log of seqs 1..maxSeq, from what the child said it would write. */
  digest(maxSeq: number): string {
    const h = createHash('sha256');
    for (let s = 1; s <= maxSeq; s++) {
      const i = this.intents.get(s);
      if (i === undefined) throw new Error(`no intent recorded for seq ${s}`);
      h.update(`${i}\n`);
    }
    return h.digest('hex');
  }

  get maxIntent(): number {
    return Math.max(0, ...this.intents.keys());
  }
}

/** The `check ok <maxSeq> <digest>` of a run, or an error naming what the child said. */
export function checkOf(r: ChildResult): { maxSeq: number; digest: string } {
  const fail = r.lines.find((l) => l.startsWith('check FAIL'));
  if (fail) throw new Error(`${fail}; stderr ${r.stderr.slice(-2000)}`);
  const ok = r.lines.find((l) => l.startsWith('check ok '));
  if (!ok) throw new Error(`the child printed no check (exit ${r.code}, signal ${r.signal}); stdout ${r.lines.slice(0, 5).join(' | ')}; stderr ${r.stderr.slice(-2000)}`);
  const [, , max, digest] = ok.split(' ');
  return { maxSeq: Number(max), digest };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

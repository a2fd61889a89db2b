// The caller's side of the hydrator's worker thread (worker.ts): `build()` runs
// hydrate(), `forward()` applies the files after a copy's TXID; progress comes back
// as it happens. A worker that dies fails the calls in flight and is started again
// on the next call (the hydrator resumes from its journal). While no call is in
// flight the worker does not keep the process alive, as a socket left idle would not.
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../io/spawn.js';
import { log } from '../log.js';
import type { OpenStoreOptions } from '../storage/open-store.js';
import { HydrationError, type HydrationErrorCode } from './errors.js';
import type { HydratedFile, HydrationProgress } from './types.js';

export interface ThreadWorkerData {
  url: string;
  store: OpenStoreOptions;
  path: string;
  logLevel: string;
}

export type ThreadRequest = { seq: number; op: 'build' } | { seq: number; op: 'forward'; file: HydratedFile; target: bigint | null };

export type ThreadReply =
  | { seq: number; ok: true; value: HydratedFile }
  | { seq: number; ok: false; error: { name: string; message: string; code?: string; stack?: string } }
  | { type: 'progress'; progress: HydrationProgress };

const ENTRY = new URL('./worker.js', import.meta.url);
// After stop(): how long the download gets to notice the abort and close its files.
const CLOSE_GRACE_MS = 5_000;

export class HydrateThread {
  #worker: Worker | null = null;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (f: HydratedFile) => void; reject: (e: Error) => void }>();
  #closed = false;

  constructor(
    private readonly data: ThreadWorkerData,
    private readonly onProgress: (p: HydrationProgress) => void,
  ) {}

  /** hydrate() in the worker: build, resume or reuse the local copy. */
  build(): Promise<HydratedFile> {
    return this.call({ seq: ++this.#seq, op: 'build' });
  }

  /** Apply the files from `file`'s TXID to `target`, or to the latest when null. */
  forward(file: HydratedFile, target: bigint | null): Promise<HydratedFile> {
    return this.call({ seq: ++this.#seq, op: 'forward', file: { ...file, stats: undefined }, target });
  }

  /** Abort what runs (it keeps its progress for the next start), then end the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#worker;
    if (w === null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage('abort');
    w.postMessage('close');
    const timer = setTimeout(() => void w.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  private call(req: ThreadRequest): Promise<HydratedFile> {
    if (this.#closed) return Promise.reject(new HydrationError('HYDRATE_ABORTED', `hydration of ${this.data.url} is stopped`));
    const w = (this.#worker ??= this.spawn());
    return new Promise<HydratedFile>((resolve, reject) => {
      this.#pending.set(req.seq, { resolve, reject });
      w.ref();
      w.postMessage(req);
    });
  }

  private spawn(): Worker {
    const w = spawnWorker({ workerData: this.data }, ENTRY);
    w.unref();
    w.on('message', (msg: ThreadReply) => {
      if ('type' in msg) return this.onProgress(msg.progress);
      const p = this.#pending.get(msg.seq);
      if (!p) return;
      this.#pending.delete(msg.seq);
      if (this.#pending.size === 0) w.unref();
      if (msg.ok) p.resolve(msg.value);
      else p.reject(toError(msg.error));
    });
    w.on('error', (err) => this.fail(w, err));
    w.on('exit', (code) => this.fail(w, new Error(`the hydration worker exited (code ${code})`)));
    return w;
  }

  /** The worker is gone: fail what was asked of it; the next call starts a new one. */
  private fail(w: Worker, err: Error): void {
    if (this.#worker !== w) return;
    this.#worker = null;
    if (!this.#closed) log.warn({ err: err.message }, 'hydration worker ended; a new one starts with the next attempt');
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

function toError(e: { name: string; message: string; code?: string; stack?: string }): Error {
  const err = e.name === 'HydrationError' && e.code ? new HydrationError(e.code as HydrationErrorCode, e.message) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

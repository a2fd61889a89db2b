// The process's one I/O worker thread. Every SyncStore (one per open database, or
// more) gets a channel on it, its own port, control words and store, rather than a
// thread of its own: a thread's start (~40 ms of module loading, more on a loaded
// machine) is paid once, and a second database opens on a warm worker. A worker that
// hangs or dies is replaced for all: the host marks every channel on it EXITED (their
// callers may be blocked in Atomics.wait, and the thread may never run its exit hook
// after terminate()), and the next call on each opens a channel on the new worker.
import type { MessagePort, Worker } from 'node:worker_threads';
import { log } from '../log.js';
import { EVENT, EXIT_CODE, EXITED, STATE } from './protocol.js';
import { spawnWorker, workerEntry } from './spawn.js';

/** What the worker needs to open a channel (posted to it, the port transferred). */
export interface ChannelData {
  url: string;
  store: import('../storage/open-store.js').OpenStoreOptions;
  control: SharedArrayBuffer;
  port: MessagePort;
  testHooks: boolean;
}

/** A worker's fate as the host saw it: set from its 'exit' and 'error' events (when the event loop runs). */
export interface WorkerFate {
  worker: Worker;
  /** When it was spawned (absolute ms, timeOrigin + now). */
  spawnedAt: number;
  exitCode: number | null;
  error: unknown;
}

interface Host extends WorkerFate {
  channels: Set<Int32Array>;
}

let current: Host | null = null;
let spawned = 0;

/** Start the worker now if it is not running (compiled code only: from source, under tsx, a start costs ~0.5 s a test may not need). */
export function prestartIoWorker(): void {
  if (current === null && workerEntry().kind === 'compiled') host();
}

/** Open a channel for `data` on the process's worker (started if need be). */
export function attach(data: ChannelData): WorkerFate {
  const h = host();
  const control = new Int32Array(data.control);
  h.channels.add(control);
  h.worker.postMessage(data, [data.port]);
  return h;
}

/** The channel's caller is done with it (it closed its port; the worker closes the store). */
export function detach(fate: WorkerFate, control: SharedArrayBuffer): void {
  for (const c of (fate as Host).channels) if (c.buffer === control) (fate as Host).channels.delete(c);
}

/** End `fate`'s worker (hung, or broken) for every channel on it; the next attach starts another. */
export function replace(fate: WorkerFate): void {
  const h = fate as Host;
  markExited(h, 1);
  if (current === h) current = null;
  void h.worker.terminate().catch(() => undefined);
}

/** Workers started in this process (the first counts). */
export function workersSpawned(): number {
  return spawned;
}

function host(): Host {
  if (current !== null && current.exitCode === null) return current;
  const spawnedAt = performance.timeOrigin + performance.now();
  const worker = spawnWorker({});
  spawned++;
  worker.unref(); // a forgotten SyncStore, or none at all, must not keep the process alive
  const h: Host = { worker, spawnedAt, exitCode: null, error: undefined, channels: new Set() };
  worker.on('exit', (code) => {
    h.exitCode = code;
    markExited(h, code);
    if (current === h) current = null;
  });
  worker.on('error', (err) => {
    // Without a listener an 'error' event would crash the process. It arrives when the
    // event loop runs, after the call that saw the worker die: logged for the cause.
    h.error = err;
    log.warn({ err }, 'io worker failed');
  });
  current = h;
  return h;
}

/** Tell every caller on `h` that its worker is gone (as the worker's exit hook would). */
function markExited(h: Host, code: number): void {
  for (const c of h.channels) {
    if (Atomics.load(c, STATE) === EXITED) continue;
    Atomics.store(c, EXIT_CODE, code);
    Atomics.store(c, STATE, EXITED);
    Atomics.add(c, EVENT, 1);
    Atomics.notify(c, EVENT);
  }
  h.channels.clear();
}

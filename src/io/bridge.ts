// The synchronous half of the bridge: post a request to the I/O worker and block the
// calling thread until its answer is on the port, with a deadline, a heartbeat check
// and worker replacement. Only one request is outstanding at a time (the caller is
// blocked, or holds the PendingCall of `post`), and every answer carries the
// request's sequence number: anything else found on the port (a forged or late
// answer) is dropped, never returned.
//
// Waiting: a bounded spin on the EVENT word first (an answer from a warm worker comes
// back in tens of µs, and Atomics.wait's wake-up costs more than that: see
// docs/io.md), then Atomics.wait in slices of SLICE_MS, checking between slices that
// the worker has not exited, that its heartbeat still moves, and the deadline.
// The main thread's event loop does not run while it waits, so the worker's 'exit'
// event cannot be seen then: the worker's own exit hook sets STATE = EXITED instead
// (or the host, ./host.ts, when it ends a worker).
// The worker is the process's one I/O worker, shared: this bridge talks to it over a
// channel of its own (port, control words, store). A timed-out request retires the
// channel only (the worker is alive: the store was slow); a hung or dead worker is
// replaced for every channel on it.
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { log } from '../log.js';
import type { OpenStoreOptions } from '../storage/open-store.js';
import type { StoreStats } from '../storage/stats.js';
import { IoError, type IoErrorCode } from './io-error.js';
import { CONTROL_BYTES, EVENT, EXIT_CODE, EXITED, HEARTBEAT, STARTING, STATE, readStats, readyAtView, statsView, type Envelope, type Request, type Response } from './protocol.js';
import { attach, detach, replace, type WorkerFate } from './host.js';

// 500 ms slices: a dead or hung worker is noticed within half a second of its limit;
// waking twice a second costs nothing.
const SLICE_MS = 500;
// A worker gets at least this long to start (load its modules) before it counts as
// hung, whatever hangMs says: a short hangMs is for a stuck event loop, and a start
// on a loaded 2-core machine (tsx in development) can take seconds.
const START_MS = 10_000;
// Closing waits this long for the worker to finish requests in flight and close the store.
const CLOSE_WAIT_MS = 5_000;

export interface BridgeOptions {
  url: string;
  store: OpenStoreOptions;
  /** Deadline of one round (see SyncStore) from when the worker is running, in ms. */
  timeoutMs: number;
  /** A worker whose heartbeat stands still this long (or that has not started) is replaced. */
  hangMs: number;
  /** Spin this long on the answer word before Atomics.wait, in µs; 0: wait at once. */
  spinUs: number;
  testHooks: boolean;
}

export interface BridgeStats {
  calls: number;
  /** Workers started after the first. */
  restarts: number;
  failures: Record<Exclude<IoErrorCode, 'IO_WORKER_ERROR' | 'IO_CLOSED'>, number>;
  /** Answers dropped because their sequence number was not the one awaited. */
  dropped: number;
}

/** A request on its way: `wait()` blocks until its answer (and returns it again when called again). */
export interface PendingCall {
  wait(): Response;
  /** True once the answer is here (taken off the port, kept for `wait()`); never blocks. */
  ready(): boolean;
}

interface Handle {
  fate: WorkerFate; // the shared worker: its exit code and error, once seen
  sab: SharedArrayBuffer;
  port: MessagePort;
  control: Int32Array;
  stats: Float64Array;
  beat: number;
  beatAt: number; // performance.now() when `beat` was last seen to change
}

/** The worker this handle's channel is on has exited (seen in an event, or in STATE). */
function exited(h: Handle): boolean {
  return h.fate.exitCode !== null || Atomics.load(h.control, STATE) === EXITED;
}

/** One channel's start (absolute ms, timeOrigin + now): the worker's spawn, the channel's request, the channel up (0 while starting). */
export interface WorkerStart {
  spawnedAt: number;
  attachedAt: number;
  readyAt: number;
}

// The first channels of this process, for start-up measurements (bench:boot); bounded, restarts are rare.
const MAX_STARTS = 16;
const starts: { fate: WorkerFate; attachedAt: number; readyAt: Float64Array }[] = [];

/** The I/O worker channels opened in this process so far (the first 16). */
export function workerStarts(): WorkerStart[] {
  return starts.map((s) => ({ spawnedAt: s.fate.spawnedAt, attachedAt: s.attachedAt, readyAt: s.readyAt[0] }));
}

export class Bridge {
  private readonly options: BridgeOptions;
  private handle: Handle | null;
  private seq = 0;
  private inFlight: { settle(): void } | null = null; // the posted request whose answer is not taken yet
  private base: StoreStats | undefined; // counters of replaced workers
  private closed = false;
  private readonly counts: BridgeStats = { calls: 0, restarts: 0, failures: { IO_TIMEOUT: 0, IO_WORKER_HUNG: 0, IO_WORKER_DIED: 0 }, dropped: 0 };

  constructor(options: BridgeOptions) {
    this.options = options;
    this.handle = this.spawn(); // start now: the first request needs it warm
  }

  /** Send one request and block until its answer; `rounds` multiplies the deadline (`timeoutMs`, default the bridge's). */
  call(request: Request, rounds = 1, timeoutMs = this.options.timeoutMs): Response {
    return this.post(request, rounds, timeoutMs).wait();
  }

  /**
   * Send one request now and take its answer later: the caller's thread works
   * meanwhile (open() warms the engine up while the worker plans; a prefetch lands
   * while the application starts its first query). Sending another request first
   * waits for this one's answer and keeps it for `wait()`. The deadline runs from now.
   */
  post(request: Request, rounds = 1, timeoutMs = this.options.timeoutMs): PendingCall {
    if (this.closed) throw new IoError('IO_CLOSED', `io: ${this.options.url} is closed`);
    this.inFlight?.settle(); // one outstanding request at a time
    this.counts.calls++;
    const h = this.current();
    const seq = ++this.seq;
    h.port.postMessage({ ...request, seq } satisfies Envelope);
    const started = performance.now();
    let outcome: { answer: Response } | { error: unknown } | undefined;
    const settle = (): void => {
      if (outcome !== undefined) return;
      try {
        outcome = { answer: this.waitFor(h, seq, describe(request), started, timeoutMs * rounds) };
      } catch (error) {
        outcome = { error };
      } finally {
        if (this.inFlight === call) this.inFlight = null;
      }
    };
    const call = { settle };
    this.inFlight = call;
    return {
      wait: () => {
        settle();
        if ('error' in outcome!) throw outcome.error;
        return outcome!.answer;
      },
      ready: () => {
        if (outcome === undefined && this.handle === h) {
          const answer = this.drain(h, seq);
          if (answer !== null) {
            outcome = { answer };
            if (this.inFlight === call) this.inFlight = null;
          }
        }
        return outcome !== undefined;
      },
    };
  }

  private waitFor(h: Handle, seq: number, what: string, started: number, limitMs: number): Response {
    let deadline = started + limitMs;
    let spun = false;
    for (;;) {
      const event = Atomics.load(h.control, EVENT); // read before draining: no lost wake-up
      const answer = this.drain(h, seq);
      if (answer) return answer;
      const now = performance.now();
      const state = Atomics.load(h.control, STATE);
      // The deadline runs from when the worker is up; starting is bounded by hangMs.
      if (state === STARTING) deadline = now + limitMs;
      if (state === EXITED) {
        const code = Atomics.load(h.control, EXIT_CODE);
        throw this.fail(h, 'IO_WORKER_DIED', `io worker exited with code ${code} during ${what} (request ${seq})`, started);
      }
      if (now >= deadline) {
        throw this.fail(h, 'IO_TIMEOUT', `io ${what} timed out after ${Math.round(now - started)} ms (request ${seq})`, started);
      }
      const beat = Atomics.load(h.control, HEARTBEAT);
      if (beat !== h.beat) {
        h.beat = beat;
        h.beatAt = now;
      } else if (now - h.beatAt > (state === STARTING ? Math.max(this.options.hangMs, START_MS) : this.options.hangMs)) {
        const how = state === STARTING ? 'did not start' : 'stopped its heartbeat';
        throw this.fail(h, 'IO_WORKER_HUNG', `io worker ${how} for ${Math.round(now - h.beatAt)} ms during ${what} (request ${seq})`, started);
      }
      if (!spun) {
        spun = true;
        if (spin(h.control, event, this.options.spinUs)) continue;
      }
      Atomics.wait(h.control, EVENT, event, Math.max(1, Math.min(deadline - now, SLICE_MS)));
    }
  }

  /** Store counters summed over every worker this bridge has run. */
  storeStats(): StoreStats {
    return readStats(this.handle ? this.handle.stats : statsView(new SharedArrayBuffer(CONTROL_BYTES)), this.base);
  }

  stats(): BridgeStats {
    return { ...this.counts, failures: { ...this.counts.failures } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const h = this.handle;
    if (!h) return;
    this.retire(h);
    if (exited(h)) return;
    // The worker closes the store after the requests in flight, then its end of the port.
    const closed = new Promise<void>((ok) => h.port.once('close', () => ok()));
    h.port.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((ok) => (timer = setTimeout(() => ok('late'), CLOSE_WAIT_MS)));
    await Promise.race([closed, late]);
    clearTimeout(timer);
    h.port.close();
  }

  private spawn(): Handle {
    const sab = new SharedArrayBuffer(CONTROL_BYTES);
    const { port1, port2 } = new MessageChannel();
    const attachedAt = performance.timeOrigin + performance.now();
    const fate = attach({ url: this.options.url, store: this.options.store, control: sab, port: port2, testHooks: this.options.testHooks });
    if (starts.length < MAX_STARTS) starts.push({ fate, attachedAt, readyAt: readyAtView(sab) });
    port1.unref(); // an unclosed SyncStore must not keep the process alive
    return { fate, sab, port: port1, control: new Int32Array(sab), stats: statsView(sab), beat: 0, beatAt: performance.now() };
  }

  /** The live worker; one that exited while nobody waited is replaced first. */
  private current(): Handle {
    let h = this.handle;
    if (h && exited(h)) {
      log.warn({ url: this.options.url, exitCode: h.fate.exitCode ?? Atomics.load(h.control, EXIT_CODE), err: h.fate.error }, 'io worker had exited; replaced');
      replace(h.fate); // the host may not have seen its 'exit' event yet
      this.retire(h);
      h = null;
    }
    if (!h) {
      h = this.spawn();
      this.handle = h;
      this.counts.restarts++;
    }
    return h;
  }

  private drain(h: Handle, seq: number): Response | null {
    for (;;) {
      const got = receiveMessageOnPort(h.port);
      if (!got) return null;
      const answer = got.message as Response;
      if (answer.seq === seq) return answer;
      this.counts.dropped++;
      log.debug({ url: this.options.url, seq: answer.seq, awaiting: seq }, 'io: dropped an answer for another request');
    }
  }

  /**
   * Count and log the failure, start a replacement channel; the error to throw. A hung
   * worker is ended (for every channel on it); after a timeout only this channel is
   * dropped, its late answer going to a closed port.
   */
  private fail(h: Handle, code: Exclude<IoErrorCode, 'IO_WORKER_ERROR' | 'IO_CLOSED'>, message: string, started: number): IoError {
    this.counts.failures[code]++;
    const cause = h.fate.error ?? (h.fate.exitCode !== null ? new Error(`worker exit code ${h.fate.exitCode}`) : undefined);
    const err = new IoError(code, message, cause === undefined ? undefined : { cause });
    log.warn({ err, url: this.options.url, waitedMs: Math.round(performance.now() - started) }, code === 'IO_TIMEOUT' ? 'io channel replaced' : 'io worker replaced');
    if (code !== 'IO_TIMEOUT') replace(h.fate);
    else if (!exited(h)) h.port.postMessage('close'); // the worker closes that store
    this.retire(h);
    this.handle = this.spawn();
    this.counts.restarts++;
    return err;
  }

  /** Keep the channel's counters, stop reading its port. */
  private retire(h: Handle): void {
    detach(h.fate, h.sab);
    this.base = readStats(h.stats, this.base);
    h.stats = new Float64Array(h.stats.length); // counted once
    if (this.handle === h) this.handle = null;
    if (!this.closed) h.port.close();
  }
}

/** For messages: `get "key"` (`+ 3 more`), `head "key"`, `list "prefix"`, `put "key"`, `test sleep`. */
function describe(request: Request): string {
  switch (request.op) {
    case 'get':
      return `get ${JSON.stringify(request.items[0]?.key)}${request.items.length > 1 ? ` + ${request.items.length - 1} more` : ''}`;
    case 'head':
      return `head ${JSON.stringify(request.key)}`;
    case 'list':
      return `list ${JSON.stringify(request.prefix)}`;
    case 'plan':
      return `plan ${request.target.timestampMs === undefined ? `txid ${request.target.txid ?? 'latest'}` : new Date(request.target.timestampMs).toISOString()}`;
    case 'put':
      return `put${request.ifAbsent ? ' (if absent)' : ''} ${JSON.stringify(request.key)}`;
    case 'delete':
      return `delete ${JSON.stringify(request.keys[0])}${request.keys.length > 1 ? ` + ${request.keys.length - 1} more` : ''}`;
    case 'test':
      return `test ${request.action.kind}`;
  }
}

/** Spin on `control[EVENT]` for at most `us` µs; true when it changed. */
function spin(control: Int32Array, event: number, us: number): boolean {
  if (us <= 0) return false;
  const end = performance.now() + us / 1000;
  for (let i = 0; ; i++) {
    if (Atomics.load(control, EVENT) !== event) return true;
    if ((i & 63) === 0 && performance.now() >= end) return false;
  }
}

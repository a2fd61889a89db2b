// Hydration beside an open database (LITESTREAM_HYDRATION_PATH): queries are served
// remotely from the start while `hydrate()` (src/hydrate), in a worker thread of its
// own (hydrate-thread.ts), builds a verified local copy; the copy is then brought to the exact TXID the VFS serves and reads switch
// to it at a transaction boundary (the VFS's version queue). After the switch, every
// transaction the VFS applies (polling, or the writer's own uploads) is applied to
// the copy too; until then the pages it changed are read remotely, so a transaction
// never mixes versions. Failures are retried with backoff, never given up on.
import { isHydrationError, type HydratedFile, type HydrationProgress } from './hydrate/index.js';
import { HydrateThread } from './hydrate/hydrate-thread.js';
import { log } from './log.js';
import type { OpenStoreOptions } from './storage/open-store.js';
import type { ReplicaVfs } from './vfs/replica-vfs.js';

export type HydrationState = 'hydrating' | 'catching-up' | 'local' | 'retrying' | 'stopped';

/** What `onHydration` receives. */
export type HydrationEvent =
  | { type: 'progress'; progress: HydrationProgress }
  | { type: 'switched'; txid: bigint; path: string; ms: number }
  | { type: 'error'; error: Error; retryInMs: number };

export interface HydrationStatus {
  state: HydrationState;
  path: string;
  /** 0..100; 100 once reads are local. */
  percent: number;
  /** The TXID the local copy reflects, or null before it exists. */
  txid: bigint | null;
  /** Milliseconds from start to the switch, once switched. */
  switchedAfterMs: number | null;
  lastError: string | null;
  bytesFetched: number;
}

export interface HydrationOptions {
  /** The replica, opened again (with these options) by the hydrator's thread. */
  url: string;
  storeOptions: OpenStoreOptions;
  vfs: ReplicaVfs;
  path: string;
  /** How often to bring the local copy forward after the switch (ms). */
  followMs: number;
  /** Ask the poller for news when the copy is ahead of the VFS (read-only mode). */
  poll?: () => Promise<void>;
  onEvent?: (e: HydrationEvent) => void;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

export class Hydration {
  #state: HydrationState = 'hydrating';
  #percent = 0;
  #file: HydratedFile | null = null;
  #lastError: string | null = null;
  #bytes = 0;
  #switchedAfter: number | null = null;
  #stopped = false;
  #abort = new AbortController();
  readonly #thread: HydrateThread;
  #wake: (() => void) | null = null;
  #run: Promise<void> | null = null;
  #switched: { promise: Promise<void>; resolve: () => void };
  readonly #t0 = performance.now();

  constructor(private readonly o: HydrationOptions) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#switched = { promise, resolve };
    this.#thread = new HydrateThread({ url: o.url, store: o.storeOptions, path: o.path, logLevel: String(log.level) }, (p) => {
      // 99 at most until the switch: 100 means reads are local. Never backwards
      // (the catch-up rounds start their own phases at 0).
      this.#percent = Math.max(this.#percent, Math.min(99, p.percent));
      this.o.onEvent?.({ type: 'progress', progress: p });
    });
  }

  start(): void {
    this.#run ??= this.loop();
  }

  /** Resolves when reads are local (never rejects; stop() leaves it pending). */
  switched(): Promise<void> {
    return this.#switched.promise;
  }

  status(): HydrationStatus {
    return {
      state: this.#state,
      path: this.o.path,
      percent: this.#percent,
      txid: this.#file?.txid ?? null,
      switchedAfterMs: this.#switchedAfter,
      lastError: this.#lastError,
      bytesFetched: this.#bytes,
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#state = 'stopped';
    this.#abort.abort();
    this.#wake?.();
    await this.#thread.close(); // aborts the call the loop waits on
    await this.#run?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (this.o.vfs.localTxid === null) await this.buildAndSwitch();
        else await this.keepUp();
        failures = 0;
        if (this.o.vfs.localTxid !== null) await this.sleep(this.o.followMs);
      } catch (err) {
        if (this.#stopped) return;
        failures++;
        const retryInMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures - 1, 16));
        const error = err as Error;
        this.#lastError = error.message;
        this.#state = 'retrying';
        log.warn({ err: error, path: this.o.path, retryInMs, code: isHydrationError(err) ? err.code : undefined }, 'hydration failed; reads stay remote and it tries again');
        this.o.onEvent?.({ type: 'error', error, retryInMs });
        await this.sleep(retryInMs);
      }
    }
  }

  /** Build (or resume, or reuse) the copy, bring it to the VFS's TXID, switch. */
  private async buildAndSwitch(): Promise<void> {
    const { vfs } = this.o;
    if (vfs.pinned !== null) return this.sleep(this.o.followMs); // time travel: reads are not at the latest
    this.#state = 'hydrating';
    let file = await this.#thread.build();
    this.#file = file;
    this.#bytes += file.stats?.bytesFetched ?? 0;
    this.#state = 'catching-up';
    let waits = 0;
    while (!this.#stopped) {
      const target = vfs.txid;
      if (file.txid < target) {
        // To the latest rather than to `target`: the VFS keeps moving while a writer
        // commits, and a poll (below) meets the copy sooner than the copy meets the VFS.
        file = await this.bringForward(file, null);
        continue;
      }
      if (file.txid > target) {
        // The copy saw newer transactions than the VFS has applied yet: ask for them,
        // then look again at once; wait (longer each time) only while they stay queued
        // behind a read transaction, or in write mode until the writer's sync lands.
        if (waits === 0 && this.o.poll) await this.o.poll();
        else await this.sleep(Math.min(1000, 20 * waits));
        waits++;
        continue;
      }
      waits = 0;
      // Applied at the next transaction boundary (at once when nobody is reading).
      const switching = new Promise<boolean>((resolve) => vfs.update({ kind: 'local', path: file.path, txid: file.txid, onSwitched: resolve }));
      const ok = await Promise.race([switching, this.aborted()]);
      if (ok) {
        this.#state = 'local';
        this.#percent = 100;
        this.#switchedAfter = performance.now() - this.#t0;
        log.info({ path: file.path, txid: String(file.txid), ms: Math.round(this.#switchedAfter) }, 'hydrated: reads are local now');
        this.o.onEvent?.({ type: 'switched', txid: file.txid, path: file.path, ms: this.#switchedAfter });
        this.#switched.resolve();
        return;
      }
      // The VFS moved on between the check and the switch: catch up again.
    }
  }

  /** After the switch: apply what the VFS has applied since the copy's TXID. */
  private async keepUp(): Promise<void> {
    const { vfs } = this.o;
    const file = this.#file!;
    const target = vfs.txid;
    if (vfs.localTxid === null || file.txid >= target) return;
    const next = await this.bringForward(file, target);
    vfs.update({ kind: 'local-txid', txid: next.txid });
  }

  /**
   * Apply the files from the copy's TXID up to `target`, or to the latest when null
   * (only before the switch: once reads are local the copy must never pass the VFS,
   * whose readers would otherwise see pages of a version they have not reached).
   */
  private async bringForward(file: HydratedFile, target: bigint | null): Promise<HydratedFile> {
    const next = await this.#thread.forward(file, target);
    this.#file = next;
    return next;
  }

  private aborted(): Promise<false> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => (signal.aborted ? resolve(false) : signal.addEventListener('abort', () => resolve(false), { once: true })));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      t.unref();
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
    });
  }
}

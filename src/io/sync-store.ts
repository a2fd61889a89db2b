// Synchronous calls to an ObjectStore, for the VFS (SQLite calls it synchronously):
// reads, and the puts and deletes of the writer's synchronous flush (PRAGMA litestream_sync).
// The store lives in a worker thread that opens its own with `openStore(url, store)`,
// so every option must be plain data (credentials included: config.ts reads the
// environment, nothing here does). Store failures arrive as the same `StoreError`
// (code, op, key and message kept); failures of the bridge itself are `IoError`s.
import { DEFAULT_RETRY_POLICY } from '../storage/retry.js';
import type { ByteRange, ListOptions, ListPage, ObjectBytes, ObjectHead } from '../storage/object-store.js';
import type { OpenStoreOptions } from '../storage/open-store.js';
import { DEFAULT_CONCURRENCY } from '../storage/s3-store.js';
import type { StoreStats } from '../storage/stats.js';
import { Bridge, type BridgeStats } from './bridge.js';
import { IoError } from './io-error.js';
import { PageIndex, type PageIndexData } from '../replica/page-index.js';
import type { RestorePlan } from '../replica/plan.js';
import type { PackUse } from '../boot/cold-plan.js';
import type { SeedFrame } from '../boot/read.js';
import { errorFromData, type ErrorData, type GetItem, type GetResult, type PlanTarget, type Response, type TestAction } from './protocol.js';

export interface SyncStoreOptions {
  /** Options for `openStore` in the worker; `timeoutMs` (per attempt) defaults to IO_ATTEMPT_TIMEOUT_MS here. */
  store?: OpenStoreOptions;
  /** Deadline of one call, in ms (a batch gets one per `concurrency` items). Default: the store's worst case + 5 s. */
  timeoutMs?: number;
  /** A worker whose heartbeat stands still this long (or that has not started yet) is replaced. Default 10 s. */
  hangMs?: number;
  /** Bounded spin before blocking, in µs. Default 50. */
  spinUs?: number;
  /** Accept `testSync` requests (tests only). */
  testHooks?: boolean;
}

// 10 s per attempt (the store's own default is 30 s): what crosses the bridge is small,
// page frames, LTX tails and list pages, ~2 ms on loopback and 20-50 ms to first byte
// on S3, so 10 s is already hundreds of times the norm, and SQLite is blocked meanwhile.
export const IO_ATTEMPT_TIMEOUT_MS = 10_000;
// Over the store's worst case: the bridge's deadline is for a stuck worker, not for a
// slow store, which answers first with its own StoreError TIMEOUT.
const DEADLINE_MARGIN_MS = 5_000;
// 10 s without a heartbeat: 40 missed beats. Covers a cold start under tsx (~0.5 s
// idle, a few s on a loaded 2-core machine) and GC pauses with room to spare.
const DEFAULT_HANG_MS = 10_000;
// 50 µs: on a 2-core VM it brought the bridge's own round trip from ~52 µs (bare
// Atomics.wait/notify) to ~32 µs; 100-200 µs bought nothing more, and a real read
// (~300 µs from a file, milliseconds from S3) only burns a core meanwhile (docs/io.md).
const DEFAULT_SPIN_US = 50;

/** Longest a store call can take with these options: every attempt timing out, every backoff at its cap. */
export function worstCaseMs(store: OpenStoreOptions): number {
  const policy = { ...DEFAULT_RETRY_POLICY, ...store.retry };
  const attempt = store.timeoutMs ?? IO_ATTEMPT_TIMEOUT_MS;
  let backoff = 0;
  for (let retry = 1; retry < policy.maxAttempts; retry++) backoff += Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return policy.maxAttempts * attempt + backoff;
}

/** Per call: a deadline other than the store's (ms), e.g. a short one for a read that may be skipped. */
export interface CallOptions {
  timeoutMs?: number;
}

/** A plan built by the worker: the files, their page index, and the snapshot's first bytes when asked for. */
export interface PlanAnswer {
  plan: RestorePlan;
  index: PageIndex;
  head: { key: string; bytes: Uint8Array } | null;
  /** With `bootPack`: the pack's frames still valid in `index`, and what the pack did (src/boot). */
  frames?: SeedFrame[];
  pack?: PackUse;
}

export class SyncStore {
  readonly url: string;
  private readonly bridge: Bridge;
  private readonly concurrency: number;

  constructor(url: string, options: SyncStoreOptions = {}) {
    const store: OpenStoreOptions = { ...options.store, timeoutMs: options.store?.timeoutMs ?? IO_ATTEMPT_TIMEOUT_MS };
    for (const [name, value] of Object.entries({ timeoutMs: options.timeoutMs, hangMs: options.hangMs, spinUs: options.spinUs })) {
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new TypeError(`SyncStore: ${name} must be a number ≥ 0, got ${String(value)}`);
    }
    this.url = url;
    this.concurrency = Math.max(1, store.concurrency ?? DEFAULT_CONCURRENCY);
    this.bridge = new Bridge({
      url,
      store,
      timeoutMs: options.timeoutMs ?? worstCaseMs(store) + DEADLINE_MARGIN_MS,
      hangMs: options.hangMs ?? DEFAULT_HANG_MS,
      spinUs: options.spinUs ?? DEFAULT_SPIN_US,
      testHooks: options.testHooks ?? false,
    });
  }

  /** The object's bytes or a range of them; StoreError `NOT_FOUND`, `RANGE_NOT_SATISFIABLE`, … */
  getSync(key: string, range?: ByteRange, options?: CallOptions): Uint8Array {
    return this.getManySync([{ key, range }], options)[0];
  }

  /** Several gets run in parallel by the worker, one wait; throws the first failure (by position). */
  getManySync(items: readonly GetItem[], options: CallOptions = {}): Uint8Array[] {
    return this.getManyLater(items, options)();
  }

  /**
   * `getManySync` started now, taken later: the function returned blocks until the
   * bytes are there (throwing the first failure). Any other call meanwhile first waits
   * for these answers and keeps them, so a prefetch never gets in the way of a read.
   */
  getManyLater(items: readonly GetItem[], options: CallOptions = {}): () => Uint8Array[] {
    if (items.length === 0) return () => [];
    const request = { op: 'get' as const, items: items.map(({ key, range }) => ({ key, range })) };
    const pending = this.bridge.post(request, Math.ceil(items.length / this.concurrency), options.timeoutMs);
    return () =>
      (this.value(pending.wait()) as GetResult[]).map((r) => {
        if (!r.ok) throw revive(r.error);
        return r.bytes;
      });
  }

  /** `getSync` with the object's user metadata from the same response. */
  getWithMetadataSync(key: string, range?: ByteRange, options: CallOptions = {}): ObjectBytes {
    const pending = this.bridge.post({ op: 'get', items: [{ key, range, metadata: true }] }, 1, options.timeoutMs);
    const [r] = this.value(pending.wait()) as GetResult[];
    if (!r.ok) throw revive(r.error);
    return { bytes: r.bytes, metadata: r.metadata ?? {} };
  }

  /** Size, ETag and metadata, or null when the key does not exist. */
  headSync(key: string): ObjectHead | null {
    return this.value(this.bridge.call({ op: 'head', key })) as ObjectHead | null;
  }

  /** One page of keys starting with `prefix`, in byte order. */
  listPageSync(prefix: string, options?: ListOptions): ListPage {
    return this.value(this.bridge.call({ op: 'list', prefix, options })) as ListPage;
  }

  /** A restore plan and its page index for `target`, built by the worker (list, tails): time travel from inside a VFS call. */
  planSync(target: PlanTarget, options?: CallOptions): PlanAnswer {
    return this.planLater(target, options).take();
  }

  /**
   * Start `planSync` in the worker and return at once: `take()` blocks until the plan
   * is there (and throws its failure), `ready()` tells without blocking. open() warms
   * the engine up in between.
   */
  planLater(target: PlanTarget, options?: CallOptions): { ready(): boolean; take(): PlanAnswer } {
    const pending = this.bridge.post({ op: 'plan', target }, 1, options?.timeoutMs);
    return {
      ready: () => pending.ready(),
      take: () => {
        const value = this.value(pending.wait()) as { plan: RestorePlan; index: PageIndexData; head?: { key: string; bytes: Uint8Array } | null; frames?: SeedFrame[]; pack?: PackUse };
        return { plan: value.plan, index: PageIndex.fromData(value.index), head: value.head ?? null, frames: value.frames, pack: value.pack };
      },
    };
  }

  /** Create `key` (replace it unless `ifAbsent`: then StoreError `PRECONDITION_FAILED` when it exists). */
  putSync(key: string, bytes: Uint8Array, options: { ifAbsent?: boolean; metadata?: Record<string, string> } = {}): void {
    this.value(this.bridge.call({ op: 'put', key, bytes, ifAbsent: options.ifAbsent ?? false, metadata: options.metadata }));
  }

  /** Delete these keys; missing keys are not an error. */
  deleteManySync(keys: readonly string[]): void {
    if (keys.length === 0) return;
    this.value(this.bridge.call({ op: 'delete', keys: [...keys] }));
  }

  /** The worker's store counters, summed over replaced workers; no round trip. */
  storeStats(): StoreStats {
    return this.bridge.storeStats();
  }

  /** Calls, worker restarts, failures by code, dropped answers. */
  ioStats(): BridgeStats {
    return this.bridge.stats();
  }

  /** For tests (needs `testHooks`): make the worker sleep, block, exit or forge an answer. */
  testSync(action: TestAction, options: CallOptions = {}): unknown {
    return this.value(this.bridge.call({ op: 'test', action }, 1, options.timeoutMs));
  }

  /** Wait for requests in flight in the worker, close its store, stop it. */
  close(): Promise<void> {
    return this.bridge.close();
  }

  private value(answer: Response): unknown {
    if (!answer.ok) throw revive(answer.error);
    return answer.value;
  }
}

function revive(data: ErrorData): Error {
  return errorFromData(data) ?? new IoError('IO_WORKER_ERROR', `io worker: ${data.name}: ${data.message}`, data.cause === undefined ? undefined : { cause: new Error(data.cause) });
}

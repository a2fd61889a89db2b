// Range GETs with the hydrator's retry policy, on top of the store's own retries:
// a store call that still fails (outage, timeouts) is retried with backoff for as
// long as it takes, logged each time, because giving up would throw away a long
// download; a body that fails validation (a byte flipped in transit) is fetched
// again, and only a body that fails the same way on every fetch is called corrupt.
// Errors no retry can fix (access denied, no bucket) end the run at once; a key
// that vanished (compaction deleted it) is reported as `Vanished` so the caller
// can re-plan. Streamed reads (`open`) are not retried here: their caller keeps
// what arrived, reports the failure (`storeFailed`: the same policy) and asks again
// for the rest.
import type { Logger } from 'pino';
import { backoffDelay, type RetryPolicy } from '../storage/retry.js';
import type { ByteRange, ObjectBytes, ObjectStore, ObjectStream } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { HydrationError } from './errors.js';

/** Validation failures of one request before its object is called corrupt. */
export const CORRUPT_ATTEMPTS = 3;
// Waits of up to 0.2, 0.4, … 30 s (full jitter), then 30 s on every further attempt.
const POLICY: RetryPolicy = { maxAttempts: Infinity, baseDelayMs: 200, maxDelayMs: 30_000 };

/** A key of the plan is gone (compacted away, or the replica changed): re-plan. */
export class Vanished extends Error {
  override name = 'Vanished';
  constructor(readonly key: string, options?: { cause?: unknown }) {
    super(`${key} is no longer in the replica`, options);
  }
}

export interface FetchStats {
  requests: number;
  bytes: number;
  retries: number; // failed store calls retried
  corruptFetches: number; // bodies that failed validation and were fetched again
}

export class Fetcher {
  readonly stats: FetchStats = { requests: 0, bytes: 0, retries: 0, corruptFetches: 0 };
  constructor(
    private readonly store: ObjectStore,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {}

  get url(): string {
    return this.store.url;
  }

  throwIfAborted(): void {
    if (this.signal?.aborted) {
      throw new HydrationError('HYDRATE_ABORTED', `hydration of ${this.store.url} aborted; the next hydrate() resumes from what is done`, { cause: this.signal.reason });
    }
  }

  /**
   * GET `key` (or a range of it) and pass the body to `validate`, which returns the
   * result or throws when the bytes are damaged. Retries as described above;
   * `corrupt` counts damaged fetches of these bytes the caller already made.
   */
  async get<T>(key: string, range: ByteRange | undefined, validate: (bytes: Uint8Array, metadata: Record<string, string>) => T, corrupt = 0): Promise<T> {
    let storeFailures = 0;
    for (;;) {
      this.throwIfAborted();
      let got: ObjectBytes;
      try {
        this.stats.requests++;
        got = await this.store.getWithMetadata(key, range ? { range } : undefined);
        this.stats.bytes += got.bytes.length;
      } catch (err) {
        await this.storeFailed(key, err, ++storeFailures);
        continue;
      }
      try {
        return validate(got.bytes, got.metadata);
      } catch (err) {
        if (err instanceof HydrationError && err.code !== 'HYDRATE_CORRUPT') throw err;
        await this.corrupted(key, range, err, ++corrupt);
      }
    }
  }

  /**
   * One streamed read of a range (a single `get` when the store cannot stream), not
   * retried: a caller that loses it midway keeps what it has, calls `storeFailed` and
   * asks again for the rest. Store errors are thrown as they are.
   */
  async open(key: string, range: { offset: number; length: number }): Promise<ObjectStream> {
    this.throwIfAborted();
    this.stats.requests++;
    const stats = this.stats;
    if (!this.store.getStream) {
      const bytes = await this.store.get(key, { range });
      stats.bytes += bytes.length;
      return { length: bytes.length, metadata: {}, body: once(bytes) };
    }
    const s = await this.store.getStream(key, { range });
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of s.body) {
        stats.bytes += chunk.length;
        yield chunk;
      }
    }
    return { length: s.length, metadata: s.metadata, body: counted() };
  }

  /**
   * A store call failed (the `attempt`th time in a row for these bytes): throw what
   * retrying cannot fix, else count, log and wait before the caller tries again.
   */
  async storeFailed(key: string, err: unknown, attempt: number): Promise<void> {
    if (isStoreError(err, 'NOT_FOUND') || isStoreError(err, 'RANGE_NOT_SATISFIABLE')) throw new Vanished(key, { cause: err });
    if (isStoreError(err, 'ACCESS_DENIED') || isStoreError(err, 'NO_SUCH_BUCKET') || isStoreError(err, 'CLOSED')) {
      throw new HydrationError('HYDRATE_STORE', `hydration of ${this.store.url}: ${(err as Error).message}`, { cause: err });
    }
    this.stats.retries++;
    const delay = backoffDelay(POLICY, Math.min(attempt, 20));
    this.log.warn({ key, attempt, delayMs: delay, err: (err as Error).message }, 'hydrate: fetch failed, retrying');
    await this.sleep(delay);
  }

  /**
   * Fetched bytes failed validation (the `attempt`th fetch of them in a row): after
   * CORRUPT_ATTEMPTS the object is called corrupt, before that count, log and wait.
   */
  async corrupted(key: string, range: ByteRange | undefined, err: unknown, attempt: number): Promise<void> {
    this.stats.corruptFetches++;
    const where = range ? ` (${describe(range)})` : '';
    if (attempt >= CORRUPT_ATTEMPTS) {
      throw new HydrationError(
        'HYDRATE_CORRUPT',
        `${this.store.url}: ${key}${where} is corrupt: ${(err as Error).message} on ${attempt} fetches in a row; the replica object is damaged (restore from another replica or re-import)`,
        { cause: err },
      );
    }
    this.log.warn({ key, range, attempt, err: (err as Error).message }, 'hydrate: fetched bytes fail verification, fetching again');
    await this.sleep(backoffDelay(POLICY, attempt));
  }

  /** Wait, but wake (and throw) as soon as the signal fires. */
  async sleep(ms: number): Promise<void> {
    this.throwIfAborted();
    const signal = this.signal;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
    this.throwIfAborted();
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function describe(range: ByteRange): string {
  return 'suffix' in range ? `last ${range.suffix} bytes` : `bytes ${range.offset}..${range.offset + range.length - 1}`;
}

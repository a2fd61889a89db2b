// The syncer: about once an interval, when no write transaction is open, every
// commit since the last sync becomes ONE L0 LTX file, uploaded with If-None-Match: *.
// Only after the store confirms does the buffer drop those commits. The batch is
// taken and encoded synchronously, so appends go on while the PUT is in flight.
//
// Fencing: a conditional put that finds the key taken by a different file means a
// second writer: state 'fenced' at once, the buffer refuses appends, commits stay.
// If-None-Match guards one key only, and two writers with different batches write
// different keys (5-6 vs 5-7), so after each put the syncer lists L0 past its base
// (and every level on the first sync and after a quiet spell): any file but ours
// that reaches past our base is a rival; we then delete our file (nothing was built
// on it) and stop. Two writers racing that way may both stop: safe, nothing is lost.
//
// A failed upload is retried with the same bytes until it lands, so a PUT whose
// response was lost is recognised (same key, same file checksum) instead of
// leaving overlapping files behind.
import type { Logger } from 'pino';
import { formatTXID, hex64, type EncodedLtx } from '../ltx/index.js';
import { log as rootLog } from '../log.js';
import { formatLitestreamTimestamp, layoutFor, listLevel, listReplica } from '../replica/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { encodeBatch } from './batch-ltx.js';
import { SecondWriterError } from './errors.js';
import type { WriteBuffer } from './write-buffer.js';

export type SyncState = 'idle' | 'syncing' | 'failing' | 'fenced';

export interface SyncedFile {
  key: string;
  encoded: EncodedLtx;
  minTXID: bigint;
  maxTXID: bigint;
}

export interface SyncerRetryOptions {
  /** First wait after a failed sync (doubles each time, full jitter). Default 250 ms. */
  baseDelayMs?: number;
  /** Cap on one wait. Default 5 s. */
  maxDelayMs?: number;
  /** flush() rejects once it has waited this long while syncs keep failing. Default 30 s. */
  flushDeadlineMs?: number;
}

export interface SyncerOptions {
  store: ObjectStore;
  buffer: WriteBuffer;
  intervalMs: number;
  /** False while a write transaction is open: the sync waits (re-checked every few ms). */
  canSync?: () => boolean;
  onSynced?: (f: SyncedFile) => void;
  log?: Logger;
  retry?: SyncerRetryOptions;
  /** List L0 after each put to catch a rival that wrote a different key (default true). */
  checkRivals?: boolean;
  /** List every level (not just L0) when the last check is older than this (default 60 s). */
  fullCheckAfterMs?: number;
}

export interface SyncerStats {
  syncs: number;
  puts: number;
  failures: number;
  /** Wall-clock time (ms since the epoch) of the last successful sync. */
  lastSyncMs: number | null;
  unsyncedBytes: number;
  oldestUnsyncedAgeMs: number | null;
  /** Commit (append) to confirmed in object storage, over the last 1000 synced commits. */
  syncLagMs: { p50: number; p99: number };
}

interface Pending extends SyncedFile {
  commit: number;
  post: bigint | null;
  timestampMs: number;
  commitTimes: number[];
}

interface Waiter {
  target: bigint;
  since: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const BLOCKED_RETRY_MS = 10; // a write transaction is open: look again soon
const LAG_SAMPLES = 1000;

export class Syncer {
  private readonly store: ObjectStore;
  private readonly buffer: WriteBuffer;
  private readonly intervalMs: number;
  private readonly canSync: () => boolean;
  private readonly onSynced?: (f: SyncedFile) => void;
  private readonly log: Logger;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly flushDeadlineMs: number;
  private readonly checkRivals: boolean;
  private readonly fullCheckAfterMs: number;
  private readonly layout;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending: Pending | null = null;
  private waiters: Waiter[] = [];
  private stopped = false;
  private started = false;
  private failStreak = 0;
  private lastFullCheck = 0;
  private fencedError: SecondWriterError | null = null;
  private st: SyncState = 'idle';
  private err: Error | null = null;
  private counts = { syncs: 0, puts: 0, failures: 0, lastSyncMs: null as number | null };
  private lags: number[] = [];

  constructor(options: SyncerOptions) {
    if (!(options.intervalMs > 0)) throw new TypeError(`syncer: intervalMs ${options.intervalMs} must be positive`);
    this.store = options.store;
    this.buffer = options.buffer;
    this.intervalMs = options.intervalMs;
    this.canSync = options.canSync ?? (() => true);
    this.onSynced = options.onSynced;
    this.log = (options.log ?? rootLog).child({ component: 'syncer' });
    this.baseDelayMs = options.retry?.baseDelayMs ?? 250;
    this.maxDelayMs = options.retry?.maxDelayMs ?? 5_000;
    this.flushDeadlineMs = options.retry?.flushDeadlineMs ?? 30_000;
    this.checkRivals = options.checkRivals ?? true;
    this.fullCheckAfterMs = options.fullCheckAfterMs ?? 60_000;
    this.layout = layoutFor(this.store);
    if (this.buffer.fenced) this.fence(this.buffer.fenced);
  }

  get state(): SyncState {
    return this.st;
  }

  get lastError(): Error | null {
    return this.err;
  }

  /** Start the interval timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.stopped) throw new Error('syncer: start after stop');
    if (this.started) return;
    this.started = true;
    this.schedule(this.intervalMs);
  }

  /** Resolves when everything appended before the call is in object storage. */
  flush(): Promise<void> {
    if (this.fencedError) return Promise.reject(this.fencedError);
    if (this.stopped) return Promise.reject(new Error(`syncer for ${this.store.url} is stopped; unsynced commits stay in the write buffer ${this.buffer.dir}`));
    const target = this.buffer.lastTXID;
    if ((this.buffer.base?.txid ?? 0n) >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ target, since: Date.now(), resolve, reject });
      if (!this.running) this.schedule(0);
    });
  }

  /** Stop the timer and wait for an upload in flight; with `flush`, first wait until everything is uploaded. */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    try {
      if (options.flush) await this.flush();
    } finally {
      this.stopped = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.running?.catch(() => undefined);
      for (const w of this.waiters.splice(0)) w.reject(new Error(`syncer stopped before TXID ${w.target} reached object storage (it stays in the write buffer ${this.buffer.dir})`));
    }
  }

  stats(): SyncerStats {
    const u = this.buffer.unsynced();
    const sorted = [...this.lags].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
    return {
      ...this.counts,
      unsyncedBytes: u.bytes,
      oldestUnsyncedAgeMs: u.oldestCommitMs === null ? null : Math.max(0, Date.now() - u.oldestCommitMs),
      syncLagMs: { p50: pct(50), p99: pct(99) },
    };
  }

  // ---- loop ----

  private schedule(delayMs: number): void {
    if (this.stopped || this.fencedError) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), delayMs);
    if (this.waiters.length === 0) this.timer.unref(); // a flush() waiting keeps the process alive
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped || this.fencedError || this.running) return;
    if (!this.canSync()) {
      this.schedule(BLOCKED_RETRY_MS);
      return;
    }
    this.running = this.syncOnce()
      .then((did) => {
        // Cleared here, not in a finally: a flush() arriving between this handler and a
        // finally would see a sync still running, schedule nothing, and wait an interval.
        this.running = null;
        this.failStreak = 0;
        if (this.st !== 'fenced') this.st = 'idle';
        this.err = null;
        this.buffer.setSyncError(null);
        // Someone waits for TXIDs past what just landed: go again now; else one PUT per interval.
        const base = this.buffer.base?.txid ?? 0n;
        this.schedule(did && this.waiters.some((w) => w.target > base) ? 0 : this.intervalMs);
      })
      .catch((err: Error) => {
        this.running = null;
        if (err instanceof SecondWriterError) return; // fence() did the rest
        this.failStreak++;
        this.counts.failures++;
        this.st = 'failing';
        this.err = err;
        this.buffer.setSyncError(err);
        const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(this.failStreak - 1, 20));
        const delay = Math.floor(Math.random() * ceiling) + 1;
        this.log.warn({ err: err.message, failures: this.failStreak, retryInMs: delay, unsynced: this.buffer.unsynced().bytes }, 'sync failed; retrying');
        this.expireWaiters();
        this.schedule(delay);
      });
  }

  /** One upload (the pending one, or a new batch). Resolves false when there was nothing to do. */
  private async syncOnce(): Promise<boolean> {
    if (!this.pending) {
      const batch = this.buffer.batch();
      if (!batch) {
        this.resolveWaiters();
        return false;
      }
      const encoded = encodeBatch(batch, this.buffer.pageSize);
      const key = this.layout.fileKey(0, batch.minTXID, batch.maxTXID);
      const commitTimes = this.buffer
        .commits()
        .filter((c) => c.txid <= batch.maxTXID)
        .map((c) => c.timestampMs);
      const post = encoded.header.flags === 0 ? encoded.postApplyChecksum : null;
      this.pending = { key, encoded, minTXID: batch.minTXID, maxTXID: batch.maxTXID, commit: batch.commit, post, timestampMs: batch.timestampMs, commitTimes };
      this.buffer.recordUpload({ key, minTXID: batch.minTXID, maxTXID: batch.maxTXID, commit: batch.commit, postApplyChecksum: post, fileChecksum: encoded.fileChecksum });
    }
    const p = this.pending;
    if (this.failStreak === 0) this.st = 'syncing'; // while retrying after failures it stays 'failing'
    const metadata = this.layout.scheme === 's3' ? { 'litestream-timestamp': formatLitestreamTimestamp(p.timestampMs) } : undefined;
    this.counts.puts++;
    try {
      await this.store.putIfAbsent(p.key, p.encoded.bytes, { metadata });
    } catch (err) {
      if (!isStoreError(err, 'PRECONDITION_FAILED')) throw err;
      // Ours from an earlier attempt whose answer was lost, or another writer's?
      const theirs = await this.store.get(p.key, { range: { suffix: 8 } });
      const sum = new DataView(theirs.buffer, theirs.byteOffset, 8).getBigUint64(0);
      if (sum !== p.encoded.fileChecksum) {
        this.fence(this.secondWriter(p.key, `the conditional put of TXIDs ${p.minTXID}..${p.maxTXID} failed; the stored file's checksum is ${hex64(sum)}, ours ${hex64(p.encoded.fileChecksum)}`));
        throw this.fencedError!;
      }
      this.log.info({ key: p.key }, 'upload had landed on an earlier attempt');
    }
    if (this.checkRivals) await this.checkForRivals(p);
    this.buffer.markSynced(p.maxTXID, p.post, p.commit);
    this.pending = null;
    const now = Date.now();
    this.counts.syncs++;
    this.counts.lastSyncMs = now;
    for (const t of p.commitTimes) this.lags.push(now - t);
    if (this.lags.length > LAG_SAMPLES) this.lags.splice(0, this.lags.length - LAG_SAMPLES);
    this.log.debug({ key: p.key, bytes: p.encoded.bytes.length, txids: `${p.minTXID}..${p.maxTXID}` }, 'synced');
    this.onSynced?.({ key: p.key, encoded: p.encoded, minTXID: p.minTXID, maxTXID: p.maxTXID });
    this.resolveWaiters();
    return true;
  }

  /** After our put: is there another file past our base? Then we lost a race we could not see in the key. */
  private async checkForRivals(p: Pending): Promise<void> {
    const base = p.minTXID - 1n;
    const full = Date.now() - this.lastFullCheck > this.fullCheckAfterMs;
    const files = full ? await listReplica(this.store) : await listLevel(this.store, 0, { afterTXID: base });
    if (full) this.lastFullCheck = Date.now();
    const rival = files.find((f) => f.key !== p.key && f.maxTXID > base);
    if (!rival) return;
    // Nothing can have been built on our file yet by us; remove it so the replica keeps one history.
    await this.store.deleteMany([p.key]).catch((err: Error) => this.log.error({ key: p.key, err: err.message }, 'could not delete our file after finding a rival'));
    this.fence(this.secondWriter(rival.key, `it holds TXIDs ${rival.minTXID}..${rival.maxTXID} past our base ${base}; our ${p.key} was removed`));
    throw this.fencedError!;
  }

  private secondWriter(key: string, detail: string): SecondWriterError {
    const u = this.buffer.unsynced();
    return new SecondWriterError({ key, storeUrl: this.store.url, kept: u.commits > 0 ? { fromTXID: u.fromTXID, toTXID: u.toTXID } : null, bufferDir: this.buffer.dir, detail });
  }

  private fence(err: SecondWriterError): void {
    this.fencedError = err;
    this.st = 'fenced';
    this.err = err;
    this.pending = null;
    this.buffer.fence(err);
    this.buffer.setSyncError(err);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.log.error({ key: err.key, kept: err.kept && `${formatTXID(err.kept.fromTXID)}..${formatTXID(err.kept.toTXID)}` }, err.message);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private resolveWaiters(): void {
    const base = this.buffer.base?.txid ?? 0n;
    this.waiters = this.waiters.filter((w) => {
      if (w.target > base) return true;
      w.resolve();
      return false;
    });
  }

  /** While syncs fail, a flush that has waited past the deadline gives up (the commits stay buffered). */
  private expireWaiters(): void {
    const now = Date.now();
    this.waiters = this.waiters.filter((w) => {
      if (now - w.since < this.flushDeadlineMs) return true;
      const u = this.buffer.unsynced();
      w.reject(
        new Error(
          `flush: TXID ${w.target} is not in object storage ${this.store.url} after ${Math.round((now - w.since) / 1000)} s of failing syncs ` +
            `(${u.commits} commits, ${u.bytes} bytes kept in the write buffer ${this.buffer.dir}; syncs go on): ${this.err?.message}`,
          { cause: this.err },
        ),
      );
      return false;
    });
  }
}

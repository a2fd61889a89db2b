// The syncer: about once an interval, when no write transaction is open, the commits
// of the oldest unsynced TXID (./write-buffer.ts: commits share a TXID until a batch
// freezes it) become ONE L0 LTX file N-N, uploaded with If-None-Match: *.
// Only after the store confirms does the buffer drop those commits. The batch is
// taken and encoded synchronously, so appends go on while the PUT is in flight.
//
// One upload is a sequence of store steps (put, read a tail, list, delete, wait),
// written once as a generator (`uploadSteps`) and driven either asynchronously (the
// timer) or synchronously through the I/O worker (`flushSync`, for PRAGMA
// litestream_sync, which runs inside SQLite on this thread and cannot await). Both
// work on the same pending batch; an async upload whose batch the sync path finished
// meanwhile notices at its next step and stops.
//
// Fencing: a conditional put that finds the key taken by a different file means a
// second writer: state 'fenced' at once, the buffer refuses appends, commits stay.
// If-None-Match guards one key only. Two of our writers on one base race for the same
// key (N-N), but files of older writers or other tools may cover the same TXIDs under
// other keys (5-6 vs 5-7), so after each put the syncer lists L0 past its base
// (and every level on the first sync and after a quiet spell). Rivals that start at
// our minTXID and end later (a higher key) lose to us, if their writer saw us: it
// then deletes its file, and we wait up to RIVAL_WAIT_MS for that. A rival that does
// not go away (its writer listed before our file landed and thinks it won), a lower
// key, or anything else past our base: we lost; we delete our file unless a file
// starting right after it really continues it (its header's pre-apply checksum is our
// post-apply one: a writer opened on top of ours), and stop. Adjacency alone is not
// enough: a paused writer's file ends where the winner's next file starts by chance,
// and kept, it would be the shortest plan to a state that never existed. Without
// checksums on either side that cannot be told: we keep it, as before, and warn.
// So in a race exactly one writer goes on; nothing is lost.
//
// A failed upload is retried with the same bytes until it lands, so a PUT whose
// response was lost is recognised (same key, same file checksum) instead of
// leaving overlapping files behind.
import type { Logger } from 'pino';
import type { SyncStore } from '../io/sync-store.js';
import { HEADER_SIZE, TRAILER_SIZE, decodeHeader, formatTXID, hasChecksums, hex64, parseLtxFilename, type EncodedLtx } from '../ltx/index.js';
import { log as rootLog } from '../log.js';
import { LEVELS, formatLitestreamTimestamp, layoutFor, listLevel, listReplica, trailerPostApply, type LtxFileInfo } from '../replica/index.js';
import { parseRecord, postWithRecord, recordMetadata, withRecord, type ChecksumRecord } from '../replica/checksum-record.js';
import type { ObjectBytes, ObjectStore } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { encodeBatch } from './batch-ltx.js';
import { SecondWriterError } from './errors.js';
import type { WriteBuffer } from './write-buffer.js';

export type SyncState = 'idle' | 'syncing' | 'failing' | 'fenced';

export interface SyncedFile {
  key: string;
  encoded: EncodedLtx;
  /** The database checksums kept beside the file (NoChecksum in it); null when unknown. */
  record: ChecksumRecord | null;
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
// A rival writer that saw our lower key deletes its file right after its listing:
// tens of ms, seconds with store retries. One that does not within this time thinks it won.
const RIVAL_WAIT_MS = 3_000;
const RIVAL_POLL_MS = 100;

/** One store step of an upload; the driver runs it and feeds the result back. */
type Step =
  | { kind: 'put'; key: string; bytes: Uint8Array; metadata?: Record<string, string> }
  | { kind: 'tail'; key: string } // the last 8 bytes: the file checksum
  | { kind: 'trailer'; key: string } // the last 16 bytes (post-apply checksum, file checksum), with the metadata
  | { kind: 'header'; key: string } // the first HEADER_SIZE bytes, with the metadata (the checksum record)
  | { kind: 'list'; full: boolean; afterTXID: bigint } // L0 files with minTXID > afterTXID, or every level
  | { kind: 'delete'; key: string }
  | { kind: 'sleep'; ms: number };

/** Thrown inside a driver when the batch it works on was finished (or dropped) by the other path. */
class Superseded extends Error {}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

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
    const started = Date.now();
    this.running = this.syncOnce()
      .then((did) => {
        // Cleared here, not in a finally: a flush() arriving between this handler and a
        // finally would see a sync still running, schedule nothing, and wait an interval.
        this.running = null;
        this.failStreak = 0;
        if (this.st !== 'fenced') this.st = 'idle';
        this.err = null;
        this.buffer.setSyncError(null);
        // Someone waits for TXIDs past what just landed: go again now; else one PUT per
        // interval, counted start to start, so that the upload's own time does not add
        // to the next commit's wait (sync lag ≤ interval + one upload).
        const base = this.buffer.base?.txid ?? 0n;
        this.schedule(did && this.waiters.some((w) => w.target > base) ? 0 : Math.max(0, this.intervalMs - (Date.now() - started)));
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

  /**
   * Synchronously, through the I/O worker: upload everything committed so far (the
   * pending batch again, same bytes, then newer ones) and return the TXID now durable.
   * For `PRAGMA litestream_sync`, which runs on this thread inside SQLite. Throws the
   * second-writer error when fenced, or an error naming what is kept when syncs keep
   * failing past the flush deadline.
   */
  flushSync(sync: SyncStore): bigint {
    if (this.fencedError) throw this.fencedError;
    if (this.stopped) throw new Error(`syncer for ${this.store.url} is stopped; unsynced commits stay in the write buffer ${this.buffer.dir}`);
    const target = this.buffer.lastTXID;
    const started = Date.now();
    let failures = 0;
    while ((this.buffer.base?.txid ?? 0n) < target) {
      try {
        this.driveSync(sync, this.prepare()!);
        failures = 0;
      } catch (err) {
        if (err instanceof SecondWriterError) throw err;
        failures++;
        this.counts.failures++;
        const waited = Date.now() - started;
        if (waited >= this.flushDeadlineMs) {
          const u = this.buffer.unsynced();
          throw new Error(
            `litestream_sync: TXID ${target} is not in object storage ${this.store.url} after ${Math.round(waited / 1000)} s of failing uploads ` +
              `(${u.commits} commits, ${u.bytes} bytes kept in the write buffer ${this.buffer.dir}; syncs go on): ${(err as Error).message}`,
            { cause: err },
          );
        }
        const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures - 1, 20), this.flushDeadlineMs - waited);
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'synchronous flush: upload failed; retrying');
        Atomics.wait(sleepCell, 0, 0, Math.max(1, delay));
      }
    }
    this.resolveWaiters();
    return this.buffer.base?.txid ?? 0n;
  }

  /** One upload (the pending one, or a new batch). Resolves false when there was nothing to do. */
  private async syncOnce(): Promise<boolean> {
    const p = this.prepare();
    if (!p) {
      this.resolveWaiters();
      return false;
    }
    if (this.failStreak === 0) this.st = 'syncing'; // while retrying after failures it stays 'failing'
    try {
      await this.driveAsync(p);
    } catch (err) {
      if (err instanceof Superseded) return true; // flushSync finished this batch meanwhile
      throw err;
    }
    return true;
  }

  /** The pending upload, or a new one from the buffer's unsynced commits (recorded durably first); null when nothing is unsynced. */
  private prepare(): Pending | null {
    if (this.pending) return this.pending;
    const batch = this.buffer.batch();
    if (!batch) return null;
    const { encoded, record } = encodeBatch(batch, this.buffer.pageSize);
    const key = this.layout.fileKey(0, batch.minTXID, batch.maxTXID);
    const commitTimes = this.buffer
      .commits()
      .filter((c) => c.txid <= batch.maxTXID)
      .map((c) => c.timestampMs);
    const post = record?.post ?? null;
    this.pending = { key, encoded, record, minTXID: batch.minTXID, maxTXID: batch.maxTXID, commit: batch.commit, post, timestampMs: batch.timestampMs, commitTimes };
    this.buffer.recordUpload({ key, minTXID: batch.minTXID, maxTXID: batch.maxTXID, commit: batch.commit, postApplyChecksum: post, fileChecksum: encoded.fileChecksum });
    return this.pending;
  }

  private async driveAsync(p: Pending): Promise<void> {
    const steps = this.uploadSteps(p);
    let next = steps.next();
    while (!next.done) {
      let result: unknown;
      let failed = false;
      try {
        result = await this.runAsync(next.value);
      } catch (err) {
        failed = true;
        result = err;
      }
      if (this.pending !== p) throw new Superseded();
      next = failed ? steps.throw(result) : steps.next(result);
    }
  }

  private driveSync(sync: SyncStore, p: Pending): void {
    const steps = this.uploadSteps(p);
    let next = steps.next();
    while (!next.done) {
      let result: unknown;
      let failed = false;
      try {
        result = this.runSync(sync, next.value);
      } catch (err) {
        failed = true;
        result = err;
      }
      next = failed ? steps.throw(result) : steps.next(result);
    }
  }

  private async runAsync(step: Step): Promise<unknown> {
    switch (step.kind) {
      case 'put':
        return this.store.putIfAbsent(step.key, step.bytes, { metadata: step.metadata });
      case 'tail':
        return this.store.get(step.key, { range: { suffix: 8 } });
      case 'trailer':
        return this.store.getWithMetadata(step.key, { range: { suffix: TRAILER_SIZE } });
      case 'header':
        return this.store.getWithMetadata(step.key, { range: { offset: 0, length: HEADER_SIZE } });
      case 'list':
        return step.full ? listReplica(this.store) : listLevel(this.store, 0, { afterTXID: step.afterTXID });
      case 'delete':
        return this.store.deleteMany([step.key]);
      case 'sleep':
        return new Promise((ok) => setTimeout(ok, step.ms));
    }
  }

  private runSync(sync: SyncStore, step: Step): unknown {
    switch (step.kind) {
      case 'put':
        return sync.putSync(step.key, step.bytes, { ifAbsent: true, metadata: step.metadata });
      case 'tail':
        return sync.getSync(step.key, { suffix: 8 });
      case 'trailer':
        return sync.getWithMetadataSync(step.key, { suffix: TRAILER_SIZE });
      case 'header':
        return sync.getWithMetadataSync(step.key, { offset: 0, length: HEADER_SIZE });
      case 'list':
        return step.full ? LEVELS.flatMap((level) => this.listLevelSync(sync, level)) : this.listLevelSync(sync, 0, step.afterTXID);
      case 'delete':
        return sync.deleteManySync([step.key]);
      case 'sleep':
        return Atomics.wait(sleepCell, 0, 0, step.ms);
    }
  }

  /** listLevel through the I/O worker. */
  private listLevelSync(sync: SyncStore, level: number, afterTXID?: bigint): LtxFileInfo[] {
    const prefix = this.layout.levelPrefix(level);
    let startAfter = afterTXID === undefined ? undefined : `${prefix}${formatTXID(afterTXID)}.`; // as listLevel: past <afterTXID>-*.ltx
    const out: LtxFileInfo[] = [];
    for (;;) {
      const page = sync.listPageSync(prefix, { startAfter });
      for (const o of page.objects) {
        const name = o.key.slice(prefix.length);
        const parsed = name.includes('/') ? null : parseLtxFilename(name);
        if (parsed) out.push({ level, ...parsed, key: o.key, size: o.size, lastModified: o.lastModified });
      }
      if (!page.isTruncated || page.objects.length === 0) return out;
      startAfter = page.objects[page.objects.length - 1].key;
    }
  }

  /** Put, recognise our own earlier attempt, check for rivals, then mark synced: the steps of one upload. */
  private *uploadSteps(p: Pending): Generator<Step, void, unknown> {
    const metadata = {
      ...(this.layout.scheme === 's3' ? { 'litestream-timestamp': formatLitestreamTimestamp(p.timestampMs) } : {}),
      ...(p.record ? recordMetadata(p.record) : {}),
    };
    this.counts.puts++;
    try {
      yield { kind: 'put', key: p.key, bytes: p.encoded.bytes, metadata };
    } catch (err) {
      if (!isStoreError(err, 'PRECONDITION_FAILED')) throw err;
      // Ours from an earlier attempt whose answer was lost (or the other path's), or another writer's?
      const theirs = (yield { kind: 'tail', key: p.key }) as Uint8Array;
      const sum = new DataView(theirs.buffer, theirs.byteOffset, 8).getBigUint64(0);
      if (sum !== p.encoded.fileChecksum) {
        this.fence(this.secondWriter(p.key, `the conditional put of TXIDs ${p.minTXID}..${p.maxTXID} failed; the stored file's checksum is ${hex64(sum)}, ours ${hex64(p.encoded.fileChecksum)}`));
        throw this.fencedError!;
      }
      this.log.info({ key: p.key }, 'upload had landed on an earlier attempt');
    }
    if (this.checkRivals) yield* this.rivalSteps(p);
    this.complete(p);
  }

  /**
   * Our own file already compacted: the PUT landed on an earlier attempt whose answer was
   * lost, and a compaction pass merged it before this retry listed. A higher-level file
   * that ends where ours ends, starts at or before it, and leaves our checksum.
   */
  private *isOurCompaction(p: Pending, f: LtxFileInfo): Generator<Step, boolean, unknown> {
    if (f.level === 0 || f.maxTXID !== p.maxTXID || f.minTXID > p.minTXID) return false;
    if (p.post === null) return true; // no checksum to tell by; a rival ending exactly here too is all but impossible
    try {
      const got = (yield { kind: 'trailer', key: f.key }) as ObjectBytes;
      const post = trailerPostApply(got.bytes);
      return post !== null && postWithRecord(post, parseRecord(got.metadata)) === p.post;
    } catch {
      return false;
    }
  }

  /** After our put: is there another file past our base? Then a second writer exists; decide who goes on. */
  private *rivalSteps(p: Pending): Generator<Step, void, unknown> {
    const base = p.minTXID - 1n;
    const deadline = Date.now() + RIVAL_WAIT_MS;
    let full = Date.now() - this.lastFullCheck > this.fullCheckAfterMs;
    for (;;) {
      const files = (yield { kind: 'list', full, afterTXID: base }) as LtxFileInfo[];
      if (full) this.lastFullCheck = Date.now();
      full = false;
      const others: LtxFileInfo[] = [];
      for (const f of files) if (f.key !== p.key && f.maxTXID > base && !(yield* this.isOurCompaction(p, f))) others.push(f);
      if (others.length === 0) return;
      // A higher key for the same TXIDs loses to ours, once its writer has seen ours and removed it.
      const beats = others.find((f) => !(f.level === 0 && f.minTXID === p.minTXID && f.maxTXID > p.maxTXID));
      if (!beats && Date.now() < deadline) {
        yield { kind: 'sleep', ms: RIVAL_POLL_MS };
        continue;
      }
      const rival = beats ?? others[0];
      const why = beats ? `it holds TXIDs ${rival.minTXID}..${rival.maxTXID} past our base ${base}` : `it holds TXIDs ${rival.minTXID}..${rival.maxTXID} (a higher key than ours) and was not withdrawn within ${RIVAL_WAIT_MS} ms`;
      // A file right after ours that continues it (checksums link) is someone's history built on ours: keep
      // ours. One that merely starts there continues the winner's own file: ours is an orphan; remove it.
      const builtOnOurs = yield* this.continuesOurs(p, others.filter((f) => f.minTXID === p.maxTXID + 1n));
      if (!builtOnOurs) {
        try {
          yield { kind: 'delete', key: p.key };
        } catch (err) {
          this.log.error({ key: p.key, err: (err as Error).message }, 'could not delete our file after finding a rival');
        }
      }
      this.fence(this.secondWriter(rival.key, `${why}; our ${p.key} was ${builtOnOurs ? 'kept (a later file continues it)' : 'removed'}`));
      throw this.fencedError!;
    }
  }

  /**
   * Does one of `next` (the files starting right after ours) continue our file: its
   * pre-apply checksum is our post-apply one? True also when that cannot be told (no
   * checksums on one side, an unreadable header), with a warning: the old rule.
   */
  private *continuesOurs(p: Pending, next: readonly LtxFileInfo[]): Generator<Step, boolean, unknown> {
    if (next.length === 0) return false;
    let unknown = p.post === null ? `our ${p.key} has no checksums` : '';
    for (const f of p.post === null ? [] : next) {
      let pre: bigint | null;
      try {
        const got = (yield { kind: 'header', key: f.key }) as ObjectBytes;
        const h = withRecord(decodeHeader(got.bytes), parseRecord(got.metadata));
        pre = hasChecksums(h) ? h.preApplyChecksum : null;
      } catch (err) {
        if (isStoreError(err, 'NOT_FOUND')) continue; // gone since the listing: it continues nothing
        unknown ||= `the header of ${f.key} could not be read: ${(err as Error).message}`;
        continue;
      }
      if (pre === p.post) return true;
      if (pre === null) unknown ||= `${f.key} has no checksums`;
    }
    if (!unknown) return false;
    this.log.warn({ key: p.key, next: next.map((f) => f.key) }, `cannot tell whether a file starting at TXID ${p.maxTXID + 1n} continues our ${p.key} (${unknown}); keeping it, by TXID adjacency only`);
    return true;
  }

  /** The store has our file and no rival beat it: the buffer drops those commits. */
  private complete(p: Pending): void {
    this.buffer.markSynced(p.maxTXID, p.post, p.commit);
    this.pending = null;
    const now = Date.now();
    this.counts.syncs++;
    this.counts.lastSyncMs = now;
    for (const t of p.commitTimes) this.lags.push(now - t);
    if (this.lags.length > LAG_SAMPLES) this.lags.splice(0, this.lags.length - LAG_SAMPLES);
    this.log.debug({ key: p.key, bytes: p.encoded.bytes.length, txids: `${p.minTXID}..${p.maxTXID}`, fileChecksum: hex64(p.encoded.fileChecksum) }, 'synced');
    this.onSynced?.({ key: p.key, encoded: p.encoded, record: p.record, minTXID: p.minTXID, maxTXID: p.maxTXID });
    this.resolveWaiters();
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

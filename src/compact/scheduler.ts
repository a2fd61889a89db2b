// The writer's compaction loop: a pass every tick (default: the L1 interval), one
// pass at a time, errors logged and counted and retried on the next tick (every
// step of a pass is idempotent). stop() waits for a pass in flight.
import type { Logger } from 'pino';
import { log as rootLog } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type CompactionReport, compactOnce } from './compact-once.js';
import { type CompactionPolicy, resolvePolicy } from './policy.js';

export interface SchedulerOptions {
  policy?: Partial<CompactionPolicy>;
  log?: Logger;
  /** Time between passes (ms); default the policy's l1IntervalMs. */
  tickMs?: number;
  /** The clock passes run at (default Date.now). */
  clock?: () => number;
  /**
   * The writer's latest synced TXID. When given, a tick is skipped (no requests) while
   * it has not moved since the last pass and no retention deadline has passed.
   */
  latestTXID?: () => bigint | null;
  chunkBytes?: number;
  /** After each successful pass (the writer re-points its page index to the files written). Its errors are logged. */
  onPass?: (report: CompactionReport) => Promise<void> | void;
}

export interface SchedulerStats {
  running: boolean;
  /** A pass is in flight. */
  busy: boolean;
  passes: number;
  failures: number;
  skippedIdle: number;
  filesWritten: number;
  filesDeleted: number;
  bytesWritten: number;
  bytesDeleted: number;
  lastPassAt: number | null;
  lastError: string | null;
  lastReport: CompactionReport | null;
}

export class CompactionScheduler {
  private readonly store: ObjectStore;
  private readonly options: SchedulerOptions;
  private readonly policy: CompactionPolicy;
  private readonly log: Logger;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight: Promise<CompactionReport> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lastSeenTXID: bigint | null | undefined;
  private readonly s: Omit<SchedulerStats, 'running' | 'busy'> = {
    passes: 0,
    failures: 0,
    skippedIdle: 0,
    filesWritten: 0,
    filesDeleted: 0,
    bytesWritten: 0,
    bytesDeleted: 0,
    lastPassAt: null,
    lastError: null,
    lastReport: null,
  };

  constructor(store: ObjectStore, options: SchedulerOptions = {}) {
    this.store = store;
    this.options = options;
    this.policy = resolvePolicy(options.policy);
    this.log = (options.log ?? rootLog).child({ component: 'compact-scheduler' });
    this.clock = options.clock ?? Date.now;
    const tick = options.tickMs ?? this.policy.l1IntervalMs;
    if (!Number.isFinite(tick) || tick <= 0) throw new TypeError(`compaction scheduler: tickMs must be a positive number of ms, got ${tick}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stop ticking and wait for a pass in flight (its errors are already counted). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
  }

  /** Run a pass now (after one in flight); rejects with the pass's error. */
  runNow(options: { force?: boolean } = {}): Promise<CompactionReport> {
    const run = this.queue.then(() => this.pass(options.force === true));
    this.queue = run.catch(() => undefined);
    return run;
  }

  stats(): SchedulerStats {
    return { running: this.running, busy: this.inflight !== undefined, ...this.s };
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.options.tickMs ?? this.policy.l1IntervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (this.inflight) return; // a runNow() pass is going; the next tick comes soon enough
      if (this.idle()) {
        this.s.skippedIdle++;
        return;
      }
      await this.runNow().catch(() => undefined); // counted and logged in pass()
    } finally {
      this.schedule();
    }
  }

  /** Nothing new since the last pass and no retention deadline reached: skip the listing. */
  private idle(): boolean {
    const latest = this.options.latestTXID;
    const last = this.s.lastReport;
    if (!latest || !last || this.lastSeenTXID === undefined) return false;
    if (latest() !== this.lastSeenTXID) return false;
    const next = last.nextDeletionAt;
    if (next !== null && this.clock() >= next) return false;
    // A daily snapshot or interval of nothing new is a no-op, so no other deadline matters.
    return true;
  }

  private async pass(force: boolean): Promise<CompactionReport> {
    const seen = this.options.latestTXID?.() ?? null;
    const p = compactOnce(this.store, { policy: this.policy, now: this.clock(), force, log: this.options.log, chunkBytes: this.options.chunkBytes });
    this.inflight = p;
    try {
      const r = await p;
      this.s.passes++;
      this.s.lastPassAt = r.now;
      this.s.lastReport = r;
      this.s.lastError = null;
      this.s.filesWritten += r.written.filter((w) => !w.existed).length;
      this.s.filesDeleted += r.deleted.length;
      this.s.bytesWritten += r.bytesWritten;
      this.s.bytesDeleted += r.bytesDeleted;
      this.lastSeenTXID = seen;
      try {
        await this.options.onPass?.(r);
      } catch (err) {
        this.log.warn({ err }, `after the compaction pass: ${(err as Error).message}`);
      }
      return r;
    } catch (err) {
      this.s.failures++;
      this.s.lastError = (err as Error).message;
      this.log.warn({ err }, `compaction pass failed (retried next tick): ${(err as Error).message}`);
      throw err;
    } finally {
      this.inflight = undefined;
    }
  }
}

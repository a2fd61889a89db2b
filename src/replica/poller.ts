// The follower's loop: every poll interval, ask the ReplicaFollower for what is new
// and hand it to the VFS, which applies it between read transactions. One poll at a
// time; a failed poll is logged and retried at the next tick (reads go on at the
// version they have); time travel pauses it, and a position that no longer matches
// the VFS's (time travel ended, an update dropped) restarts the follower there.
import { log } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ReplicaFollower, type FollowUpdate } from './follower.js';
import { PageIndex } from './page-index.js';
import type { ChainFile } from '../vfs/remote-pages.js';
import type { LtxFileInfo } from './listing.js';

/** What the poller needs from the VFS (ReplicaVfs). */
export interface FollowTarget {
  /** The TXID once queued updates are applied. */
  readonly queuedTxid: bigint;
  /** The database checksum at that TXID (null: its files carry none). */
  readonly queuedChecksum: bigint | null;
  /** States the served index passed through (TXID → checksum). */
  readonly boundaries: ReadonlyMap<bigint, bigint | null>;
  /** Header timestamp (ms) of the served state's newest file. */
  readonly timestampMs: number;
  readonly pinned: string | null;
  update(u: { kind: 'files'; files: ChainFile[] } | { kind: 'reset'; index: PageIndex }): void;
}

export interface PollerStats {
  polls: number;
  updates: number;
  /** Fresh plans: no chain from our TXID, our state compacted away, or a chain that did not link. */
  reloads: number;
  /** Times the replica turned out to be another database, and reads moved to it. */
  replaced: number;
  failures: number;
  lastError: string | null;
  lastPollMs: number | null;
}

export class Poller {
  #follower: ReplicaFollower;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #stats: PollerStats = { polls: 0, updates: 0, reloads: 0, replaced: 0, failures: 0, lastError: null, lastPollMs: null };

  constructor(
    private readonly store: ObjectStore,
    private readonly target: FollowTarget,
    private readonly intervalMs: number,
    private readonly pageSize: number,
    /** The file the opened state came from (the plan's last file). */
    anchor: LtxFileInfo | null = null,
  ) {
    this.#follower = new ReplicaFollower(store, { txid: target.queuedTxid, checksum: target.queuedChecksum, anchor, history: target.boundaries, timestampMs: target.timestampMs, pageSize });
  }

  start(): void {
    if (this.#timer !== null || this.intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.pollNow(), this.intervalMs);
    this.#timer.unref();
  }

  /** Seconds the served state is behind the newest remote transaction seen (0 when current). */
  lagSeconds(): number {
    const newest = this.#follower.newestTimestampMs;
    if (newest === null) return 0;
    return Math.max(0, newest - this.target.timestampMs) / 1000;
  }

  stats(): PollerStats {
    return { ...this.#stats };
  }

  /** One poll now (or the one in flight); resolves when its update, if any, is queued. */
  pollNow(): Promise<void> {
    if (this.#inFlight !== null) return this.#inFlight;
    if (this.target.pinned !== null) return Promise.resolve();
    this.#inFlight = this.pollOnce().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  private async pollOnce(): Promise<void> {
    const t = this.target;
    if (this.#follower.txid !== t.queuedTxid) {
      this.#follower = new ReplicaFollower(this.store, { txid: t.queuedTxid, checksum: t.queuedChecksum, history: t.boundaries, timestampMs: t.timestampMs, pageSize: this.pageSize });
    }
    const from = this.#follower.txid;
    let update: FollowUpdate | null;
    try {
      update = await this.#follower.poll();
      this.#stats.polls++;
      this.#stats.lastPollMs = Date.now();
    } catch (err) {
      this.#stats.failures++;
      this.#stats.lastError = (err as Error).message;
      log.warn({ err, url: this.store.url }, 'poll for new transactions failed; reads stay at TXID %s and the next poll tries again', from);
      return;
    }
    // Time travel started, or the VFS moved, while we were listing: drop this one.
    if (update === null || t.pinned !== null || t.queuedTxid !== from) return;
    if (update.kind === 'files') {
      t.update({ kind: 'files', files: update.files.map((f) => ({ key: f.info.key, header: f.header, entries: f.entries, postApplyChecksum: f.postApplyChecksum })) });
    } else {
      const index = update.index instanceof PageIndex ? update.index : undefined;
      if (index === undefined) throw new TypeError('Poller: the follower returned an index that is not a PageIndex');
      t.update({ kind: 'reset', index });
      this.#stats.reloads++;
      if (update.reason === 'replaced') this.#stats.replaced++;
    }
    this.#stats.updates++;
    log.debug({ url: this.store.url, from: String(from), to: String(t.queuedTxid) }, 'new transactions queued');
  }

  /** Stop the timer and wait for a poll in flight. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }
}

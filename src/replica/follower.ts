// The replica follower: from the TXID a reader has, find the transactions written
// since, as LTX files to overlay in order, or, when no chain of files continues from
// that TXID, as a fresh plan and page index at the latest state.
//
// Requests per poll:
// - L0 is listed from our position (never from its start): keys after
//   `<txid-1>.`, which brings back the L0 file ending at our TXID (the "anchor")
//   plus anything newer. When the anchor is there and nothing follows it, nothing is
//   new: one LIST. L0 files are removed oldest first (only once compacted into L1),
//   so if the anchor survives, every newer L0 file does too.
// - When the anchor is gone (our TXID came from a higher level, or L0 was pruned past
//   it) and nothing new is in L0, new transactions may have been compacted into L1
//   and pruned from L0 while we were not looking (a suspended VM): L1 is listed too,
//   from its own position. That is the only case an idle poll costs a second LIST.
// - When L0 has a gap after us, L1, then L2, then L3 are listed (each from the key
//   past the files that end at or before our TXID, so a file straddling our TXID is
//   included) until the chain from our TXID, through files of any of the listed
//   levels, reaches the newest TXID listed; the chain then goes on with L0.
// - When no level continues the chain: the replica is listed whole and a new plan
//   and page index are built (a 'reset').
// New files' page indexes (and headers, for files over 32 KiB) are fetched in parallel.
import { decodeHeader, formatTXID, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import { log } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { continueChain } from './chain.js';
import { ReplicaError } from './errors.js';
import { listLevel, listReplica, readLtxHeader, type LtxFileInfo } from './listing.js';
import { buildPageIndex, fetchFileIndex, TAIL_BYTES, type ReplicaPageIndex } from './page-index.js';
import { choosePlan, type RestorePlan } from './plan.js';
import { mapLimit } from './pool.js';

// Index fetches in flight (each file also has its header GET in flight when it is large).
const FETCH_CONCURRENCY = 16;
const FALLBACK_LEVELS = [1, 2, 3] as const;

export interface FollowedFile {
  info: LtxFileInfo;
  header: LtxHeader;
  entries: PageIndexEntry[];
  /** The whole file when it was small enough (≤ 32 KiB) to fetch in one GET: its pages can be cached without another request. */
  bytes?: Uint8Array;
}

export type FollowUpdate =
  // Apply in order onto the state at the follower's previous txid. files[0].minTXID <= previous+1 <= files[0].maxTXID
  // (an L1..L3 file may overlap what we have: overlaying its pages is still correct), each next file contiguous.
  | { kind: 'files'; files: FollowedFile[]; txid: bigint }
  // No contiguous path from our txid: a fresh plan and page index at the latest state.
  | { kind: 'reset'; plan: RestorePlan; index: ReplicaPageIndex };

export interface FollowerOptions {
  /** The TXID the reader has. */
  txid: bigint;
  /** Header timestamp (ms) of that TXID's file, for lag. */
  timestampMs?: number;
  /** The database's page size; a new file with another one is an error. Default: the first file seen sets it. */
  pageSize?: number;
}

export class ReplicaFollower {
  private position: bigint;
  private newest: number | null;
  private pageSize: number | null;
  private pageSizeFrom: string;
  // StartAfter keys of levels 1..3, once known: past the files that end at or before our TXID.
  private readonly levelAfter = new Map<number, string>();
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ObjectStore,
    options: FollowerOptions,
  ) {
    if (options.txid < 0n) throw new TypeError(`ReplicaFollower: txid ${options.txid} is negative`);
    this.position = options.txid;
    this.newest = options.timestampMs ?? null;
    this.pageSize = options.pageSize ?? null;
    this.pageSizeFrom = 'the database the reader opened';
  }

  /** Position after the last update poll() returned. */
  get txid(): bigint {
    return this.position;
  }

  /** Header timestamp (ms since epoch) of the newest transaction seen remotely (even if not yet returned), or null. */
  get newestTimestampMs(): number | null {
    return this.newest;
  }

  /** Look for new transactions; null when there are none. Store errors propagate; the position is unchanged then. Overlapping calls run one after another. */
  poll(): Promise<FollowUpdate | null> {
    const next = this.running.then(
      () => this.pollOnce(),
      () => this.pollOnce(),
    );
    this.running = next.catch(() => undefined);
    return next;
  }

  private async pollOnce(): Promise<FollowUpdate | null> {
    const pos = this.position;
    const l0 = await listLevel(this.store, 0, pos > 0n ? { afterTXID: pos - 1n } : {});
    const anchored = l0.some((f) => f.maxTXID === pos);
    let known = l0;
    let newestListed = maxTXIDOf(l0, pos);
    let chain = continueChain(known, pos).files;
    let reach = reachOf(chain, pos);
    const listed = new Map<number, LtxFileInfo[]>();
    // A gap in L0, or no anchor and nothing new (new files may be in L1 only): look higher.
    if (reach < newestListed || (reach === pos && !anchored)) {
      for (const level of FALLBACK_LEVELS) {
        const files = await listLevel(this.store, level, { startAfter: this.levelAfter.get(level) });
        listed.set(level, files);
        known = known.concat(files);
        newestListed = maxTXIDOf(files, newestListed);
        chain = continueChain(known, pos).files;
        reach = reachOf(chain, pos);
        if (reach >= newestListed) break;
      }
      if (reach > pos || newestListed > pos) {
        log.info({ url: this.store.url, txid: pos, reach, newest: newestListed, levels: [...listed.keys()] }, 'follower: L0 does not continue from our TXID; looked at higher levels');
      }
    }
    if (reach < newestListed) return this.reset(pos, newestListed);
    if (chain.length === 0) {
      this.advanceLevels(listed, pos);
      return null;
    }
    const files = await this.fetch(chain);
    const last = files[files.length - 1];
    this.position = reach;
    this.newest = Number(last.header.timestamp);
    this.advanceLevels(listed, reach);
    log.debug({ url: this.store.url, from: pos, txid: reach, files: files.length }, 'follower: new transactions');
    return { kind: 'files', files, txid: reach };
  }

  // Headers and page indexes of the chain's files, in parallel; each header checked against its name and the page size.
  private async fetch(chain: LtxFileInfo[]): Promise<FollowedFile[]> {
    const files = await mapLimit(chain, FETCH_CONCURRENCY, async (info) => {
      const [index, rangedHeader] = await Promise.all([fetchFileIndex(this.store, info), info.size > TAIL_BYTES ? readLtxHeader(this.store, info.key) : null]);
      const header = rangedHeader ?? decodeHeader(index.whole!);
      if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) {
        throw new ReplicaError(
          'REPLICA_MISMATCH',
          `replica ${this.store.url}: ${info.key} has a header for TXIDs ${header.minTXID}..${header.maxTXID} (${formatTXID(header.minTXID)}-${formatTXID(header.maxTXID)}) but its name says ${info.minTXID}..${info.maxTXID}; the file is misnamed or corrupt, and the follower will not apply it`,
        );
      }
      const followed: FollowedFile = { info, header, entries: index.entries };
      if (index.whole) followed.bytes = index.whole;
      return followed;
    });
    for (const f of files) this.checkPageSize(f.header.pageSize, f.info.key);
    return files;
  }

  private checkPageSize(pageSize: number, key: string): void {
    if (this.pageSize === null) {
      this.pageSize = pageSize;
      this.pageSizeFrom = key;
    } else if (pageSize !== this.pageSize) {
      throw new ReplicaError(
        'REPLICA_MISMATCH',
        `replica ${this.store.url}: ${key} has page size ${pageSize}, but the database's page size is ${this.pageSize} (from ${this.pageSizeFrom}); the replica was replaced by another database: reopen it`,
      );
    }
  }

  // No chain of files continues from our TXID: a new plan (newest snapshot and its chain) and its page index.
  private async reset(pos: bigint, newestListed: bigint): Promise<FollowUpdate> {
    log.warn({ url: this.store.url, txid: pos, newest: newestListed }, 'follower: no file continues from our TXID at any level; reloading from the newest snapshot');
    const all = await listReplica(this.store);
    const plan = choosePlan(this.store.url, all);
    const index = await buildPageIndex(this.store, plan);
    this.checkPageSize(index.pageSize, plan.files[plan.files.length - 1].key);
    this.position = plan.txid;
    this.newest = Number(index.header.timestamp);
    this.levelAfter.clear();
    const byLevel = new Map<number, LtxFileInfo[]>();
    for (const level of FALLBACK_LEVELS) byLevel.set(level, all.filter((f) => f.level === level));
    this.advanceLevels(byLevel, plan.txid);
    return { kind: 'reset', plan, index };
  }

  // Move each listed level's start key past its leading files that end at or before `pos`
  // (keys sort by minTXID): they can never continue a chain from here on.
  private advanceLevels(listed: Map<number, LtxFileInfo[]>, pos: bigint): void {
    for (const [level, files] of listed) {
      const sorted = [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      let consumed: LtxFileInfo | null = null;
      for (const f of sorted) {
        if (f.maxTXID > pos) break;
        consumed = f;
      }
      if (consumed) this.levelAfter.set(level, consumed.key);
    }
  }
}

function maxTXIDOf(files: readonly LtxFileInfo[], floor: bigint): bigint {
  return files.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), floor);
}

function reachOf(chain: readonly LtxFileInfo[], pos: bigint): bigint {
  return chain.length === 0 ? pos : chain[chain.length - 1].maxTXID;
}


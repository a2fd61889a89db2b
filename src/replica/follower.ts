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
//
// Identity: the follower remembers the file its state came from (the anchor: key,
// size, time) and the database checksum it reached. Each poll finds the anchor again
// (L0's listing brings it; at a higher level, one more LIST of that level). A rewritten
// anchor, a replica whose latest TXID fell below ours, or a file ending at our TXID
// whose checksum is not ours means the replica was replaced: the follower moves to
// the new database with a fresh plan (a 'reset' with reason 'replaced', logged as a
// warning), never overlaying its files on the old pages. An anchor that compaction
// removed is replaced by another file ending at our TXID (checked by its checksum,
// one 16-byte read); when none is left (away longer than retention) the follower
// reloads from the newest snapshot. New files must link (checkLink): a chain through
// a file that does not (a fenced writer's leftover) is refused and another one tried.
import { decodeHeader, formatTXID, hasChecksums, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import { log } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { continueChain } from './chain.js';
import { ReplicaError } from './errors.js';
import { planLinked, searchWithout } from './linked-plan.js';
import { withRecord } from './checksum-record.js';
import { listLevel, listReplica, readLtxHeader, readPostApplyChecksum, type LtxFileInfo } from './listing.js';
import { checkLink, fetchFileIndex, postChecksumOf, TAIL_BYTES, type PageIndex } from './page-index.js';
import type { RestorePlan } from './plan.js';
import { mapLimit } from './pool.js';

// Index fetches in flight (each file also has its header GET in flight when it is large).
const FETCH_CONCURRENCY = 16;
const FALLBACK_LEVELS = [1, 2, 3] as const;
// Chains tried when a link fails, before the follower reloads from a fresh plan.
const MAX_CHAINS = 8;

export interface FollowedFile {
  info: LtxFileInfo;
  header: LtxHeader;
  entries: PageIndexEntry[];
  /** The trailer's post-apply checksum (0: the file carries none). */
  postApplyChecksum: bigint;
  /** The whole file when it was small enough (≤ 32 KiB) to fetch in one GET: its pages can be cached without another request. */
  bytes?: Uint8Array;
}

/** Why the follower reloaded: no chain of files from its TXID, its state compacted away, or another database at the URL. */
export type ResetReason = 'gap' | 'expired' | 'replaced' | 'unlinked';

export type FollowUpdate =
  // Apply in order onto the state at the follower's previous txid. files[0].minTXID <= previous+1 <= files[0].maxTXID
  // (an L1..L3 file may overlap what we have: overlaying its pages is still correct), each next file contiguous.
  | { kind: 'files'; files: FollowedFile[]; txid: bigint }
  // No verified path from our txid: a fresh plan and page index at the latest state.
  | { kind: 'reset'; plan: RestorePlan; index: PageIndex; reason: ResetReason; detail: string };

export interface FollowerOptions {
  /** The TXID the reader has. */
  txid: bigint;
  /** The database checksum at that TXID, when its files carry one: checks that new files continue it. */
  checksum?: bigint | null;
  /** The file that state came from (the plan's last file), when known: checked on every poll. */
  anchor?: LtxFileInfo | null;
  /** Earlier states of this database (TXID → checksum, null: none): a file straddling our TXID is checked against them. */
  history?: Iterable<readonly [bigint, bigint | null]>;
  /** Header timestamp (ms) of that TXID's file, for lag. */
  timestampMs?: number;
  /** The database's page size; a new file with another one is an error. Default: the first file seen sets it. */
  pageSize?: number;
}

type Verdict = { ok: true; anchored: boolean } | { ok: false; reason: ResetReason; detail: string };

// States remembered for straddling files: a few days of polls' worth of file boundaries.
const HISTORY_MAX = 4096;

export class ReplicaFollower {
  private position: bigint;
  private checksum: bigint | null;
  private anchor: LtxFileInfo | null;
  private readonly history = new Map<bigint, bigint | null>();
  private newest: number | null;
  private pageSize: number | null;
  private pageSizeFrom: string;
  // StartAfter keys of levels 1..3, once known: past the files that end before our TXID.
  private readonly levelAfter = new Map<number, string>();
  private running: Promise<unknown> = Promise.resolve();
  // This poll's listings of levels 1..3 made while checking the anchor: the fallback need not list them again.
  private readonly levelListings = new Map<number, readonly LtxFileInfo[]>();

  constructor(
    private readonly store: ObjectStore,
    options: FollowerOptions,
  ) {
    if (options.txid < 0n) throw new TypeError(`ReplicaFollower: txid ${options.txid} is negative`);
    this.position = options.txid;
    this.checksum = options.checksum ?? null;
    this.anchor = options.anchor ?? null;
    for (const [t, c] of options.history ?? []) this.remember(t, c);
    this.remember(this.position, this.checksum);
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
    this.levelListings.clear();
    // From our TXID, or from the anchor's start when it is an L0 file of several TXIDs (a writer's batch).
    const from = this.anchor?.level === 0 && this.anchor.maxTXID === pos && this.anchor.minTXID < pos ? this.anchor.minTXID : pos;
    const l0 = await listLevel(this.store, 0, from > 0n ? { afterTXID: from - 1n } : {});
    const identity = await this.checkAnchor(pos, l0);
    if (!identity.ok) return this.reset(pos, identity.reason, identity.detail);
    let known = l0;
    let newestListed = maxTXIDOf(l0, pos);
    let chain = continueChain(known, pos).files;
    let reach = reachOf(chain, pos);
    const listed = new Map<number, readonly LtxFileInfo[]>();
    // A gap in L0, or nothing new in L0 while the anchor is not there (new files may be in L1 only): look higher.
    if (reach < newestListed || (reach === pos && !l0.some((f) => f.maxTXID === pos))) {
      for (const level of FALLBACK_LEVELS) {
        const files = this.levelListings.get(level) ?? (await listLevel(this.store, level, { startAfter: this.levelAfter.get(level) }));
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
    if (reach < newestListed) return this.reset(pos, 'gap', `no chain of files continues from TXID ${pos} to ${newestListed}`);
    if (chain.length === 0) {
      this.advanceLevels(listed, pos);
      return null;
    }
    const linked = await this.linkedChain(known, pos, chain);
    if (linked === null) return this.reset(pos, 'unlinked', `no chain of files from TXID ${pos} links to our state (checksum ${hexOrNone(this.checksum)})`);
    const files = linked;
    if (!identity.anchored && !this.straddleHolds(files[0], pos)) {
      return this.reset(pos, 'expired', `no file ends at TXID ${pos} any more, and ${files[0].info.key} (from TXID ${files[0].info.minTXID}) cannot be checked against a state this reader had (away longer than retention)`);
    }
    const last = files[files.length - 1];
    for (const f of files) this.remember(f.info.maxTXID, postChecksumOf(f.header, f.postApplyChecksum));
    reach = last.info.maxTXID;
    this.position = reach;
    this.checksum = postChecksumOf(last.header, last.postApplyChecksum);
    this.anchor = last.info;
    this.newest = Number(last.header.timestamp);
    this.advanceLevels(listed, reach);
    log.debug({ url: this.store.url, from: pos, txid: reach, files: files.length }, 'follower: new transactions');
    return { kind: 'files', files, txid: reach };
  }

  /**
   * Is the replica still the database we follow? The anchor listed again and unchanged;
   * or, when compaction removed it, another file ending at our TXID whose checksum is
   * ours (levels 1..3 then 9 are listed, and those listings serve the chain too).
   * `anchored: false`: no file ends at our TXID any more; the chain must prove itself.
   */
  private async checkAnchor(pos: bigint, l0: readonly LtxFileInfo[]): Promise<Verdict> {
    if (pos === 0n) return { ok: true, anchored: true };
    const a = this.anchor;
    if (a !== null) {
      const files = a.level === 0 ? l0 : await listLevel(this.store, a.level, { afterTXID: a.minTXID - 1n });
      if (a.level !== 0 && a.level !== 9) this.levelListings.set(a.level, files);
      const same = files.find((f) => f.key === a.key);
      if (same !== undefined) {
        if (same.size === a.size && same.lastModified.getTime() === a.lastModified.getTime()) return { ok: true, anchored: true };
        return { ok: false, reason: 'replaced', detail: `${a.key}, the file TXID ${pos} came from, was rewritten (${a.size} → ${same.size} bytes, written ${same.lastModified.toISOString()})` };
      }
    }
    // The anchor is gone (compaction, retention) or not known yet: a file that ends at our
    // TXID. L1 first (where an idle writer's pruned L0 files went), then the whole replica.
    let candidates = l0.filter((f) => f.maxTXID === pos);
    if (candidates.length === 0) {
      const l1 = this.levelListings.get(1) ?? (await listLevel(this.store, 1, { startAfter: this.levelAfter.get(1) }));
      this.levelListings.set(1, l1);
      candidates = l1.filter((f) => f.maxTXID === pos);
    }
    if (candidates.length === 0) {
      const all = await listReplica(this.store);
      for (const level of FALLBACK_LEVELS) this.levelListings.set(level, all.filter((f) => f.level === level));
      const latest = maxTXIDOf(all, 0n);
      if (latest < pos) return { ok: false, reason: 'replaced', detail: `the replica's latest TXID is ${latest}, below ours (${pos}): it was replaced or reset` };
      candidates = all.filter((f) => f.maxTXID === pos).sort((x, y) => y.level - x.level);
      if (candidates.length === 0) return { ok: true, anchored: false };
    }
    for (const c of candidates) {
      if (await this.holdsOurState(c)) {
        this.anchor = c;
        return { ok: true, anchored: true };
      }
    }
    return { ok: false, reason: 'replaced', detail: `${candidates[0].key} ends at our TXID ${pos} but leaves another database checksum than ours (${hexOrNone(this.checksum)})` };
  }

  /**
   * Without an anchor, a first file that straddles our TXID is taken only when it
   * continues a state this reader had: its pre-apply checksum is the one we had at its
   * minTXID - 1 (files without checksums: that TXID is one of ours). Otherwise its pages
   * could be another database's, and overlaying them would serve a mix.
   */
  private straddleHolds(first: FollowedFile, pos: bigint): boolean {
    if (first.info.minTXID === pos + 1n) return true; // continues exactly: its link was checked
    const before = first.info.minTXID - 1n;
    if (!this.history.has(before)) return false;
    const had = this.history.get(before)!;
    if (had === null || !hasChecksums(first.header) || first.header.preApplyChecksum === 0n) return true;
    return first.header.preApplyChecksum === had;
  }

  private remember(txid: bigint, checksum: bigint | null): void {
    this.history.delete(txid);
    this.history.set(txid, checksum);
    if (this.history.size > HISTORY_MAX) this.history.delete(this.history.keys().next().value!);
  }

  /** Does `f` leave our database checksum? One 16-byte read; true when either side carries none. */
  private async holdsOurState(f: LtxFileInfo): Promise<boolean> {
    if (this.checksum === null) return true;
    const post = await readPostApplyChecksum(this.store, f.key);
    return post === 0n || post === this.checksum;
  }

  /**
   * The chain's files, fetched, with every link checked (the first against our own
   * checksum). A link that fails is dropped from the listing and the chain made again
   * (a fenced writer's leftover loses to the winner's files); null when none links.
   */
  private async linkedChain(known: readonly LtxFileInfo[], pos: bigint, first: LtxFileInfo[]): Promise<FollowedFile[] | null> {
    const target = reachOf(first, pos);
    const cache = new Map<string, Promise<FollowedFile>>();
    let fetched: FollowedFile[] = [];
    const found = await searchWithout(
      MAX_CHAINS,
      async (excluded, n) => {
        let chain = first;
        if (n > 1) {
          const c = continueChain(known.filter((f) => !excluded.has(f.key)), pos);
          if (c.txid < target) return null;
          chain = c.files;
        }
        fetched = await this.fetch(chain, cache);
        let prev = { key: this.anchor?.key ?? `the state at TXID ${pos}`, checksum: this.checksum, txid: pos };
        for (const f of fetched) {
          checkLink(prev.key, prev.checksum, prev.txid, f.info.key, f.header);
          prev = { key: f.info.key, checksum: postChecksumOf(f.header, f.postApplyChecksum), txid: f.info.maxTXID };
        }
        return { value: fetched };
      },
      (err) => {
        log.warn({ url: this.store.url, prev: err.prevKey, next: err.nextKey }, `follower: refused a chain: ${err.message}`);
        // Our own state is not a file to drop: only the next one then.
        return fetched.some((f) => f.info.key === err.prevKey) ? [err.prevKey, err.nextKey] : [err.nextKey];
      },
    );
    return found?.value ?? null;
  }


  // Headers and page indexes of the chain's files, in parallel; each header checked against its name and the page size.
  private async fetch(chain: LtxFileInfo[], cache: Map<string, Promise<FollowedFile>>): Promise<FollowedFile[]> {
    const files = await mapLimit(chain, FETCH_CONCURRENCY, (info) => {
      let p = cache.get(info.key);
      if (p === undefined) {
        p = this.fetchOne(info);
        cache.set(info.key, p);
      }
      return p;
    });
    for (const f of files) this.checkPageSize(f.header.pageSize, f.info.key);
    return files;
  }

  private async fetchOne(info: LtxFileInfo): Promise<FollowedFile> {
    const [index, rangedHeader] = await Promise.all([fetchFileIndex(this.store, info), info.size > TAIL_BYTES ? readLtxHeader(this.store, info.key) : null]);
    const header = rangedHeader ?? withRecord(decodeHeader(index.whole!), index.record);
    if (header.minTXID !== info.minTXID || header.maxTXID !== info.maxTXID) {
      throw new ReplicaError(
        'REPLICA_MISMATCH',
        `replica ${this.store.url}: ${info.key} has a header for TXIDs ${header.minTXID}..${header.maxTXID} (${formatTXID(header.minTXID)}-${formatTXID(header.maxTXID)}) but its name says ${info.minTXID}..${info.maxTXID}; the file is misnamed or corrupt, and the follower will not apply it`,
      );
    }
    const followed: FollowedFile = { info, header, entries: index.entries, postApplyChecksum: index.postApplyChecksum };
    if (index.whole) followed.bytes = index.whole;
    return followed;
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

  // No verified chain continues from our TXID: a new plan (newest snapshot and its chain, linked) and its page index.
  private async reset(pos: bigint, reason: ResetReason, detail: string): Promise<FollowUpdate> {
    const message =
      reason === 'replaced'
        ? 'follower: the replica was replaced by another database; moving to it (queries see the new database from their next transaction)'
        : 'follower: no verified chain of files continues from our TXID; reloading from the newest snapshot';
    log.warn({ url: this.store.url, txid: String(pos), reason, detail }, message);
    const all = await listReplica(this.store);
    const { plan, index } = await planLinked(this.store, all, undefined, { onRefused: (err) => log.warn({ err: err.message }, 'follower: a plan was refused') });
    const last = plan.files[plan.files.length - 1];
    this.checkPageSize(index.pageSize, last.key);
    this.position = plan.txid;
    this.checksum = index.checksum;
    this.anchor = last;
    // Another database's states are no evidence for ours: forget them on a replacement.
    if (reason === 'replaced') this.history.clear();
    for (const [t, c] of index.boundaries) this.remember(t, c);
    this.newest = Number(index.header.timestamp);
    this.levelAfter.clear();
    const byLevel = new Map<number, LtxFileInfo[]>();
    for (const level of FALLBACK_LEVELS) byLevel.set(level, all.filter((f) => f.level === level));
    this.advanceLevels(byLevel, plan.txid);
    return { kind: 'reset', plan, index, reason, detail };
  }

  // Move each listed level's start key past its leading files that end before `pos`
  // (keys sort by minTXID): they can never continue a chain, nor anchor one, from here on.
  private advanceLevels(listed: ReadonlyMap<number, readonly LtxFileInfo[]>, pos: bigint): void {
    for (const [level, files] of listed) {
      const sorted = [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      let consumed: LtxFileInfo | null = null;
      for (const f of sorted) {
        if (f.maxTXID >= pos) break;
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

const hexOrNone = (v: bigint | null) => (v === null ? 'none' : `0x${v.toString(16).padStart(16, '0')}`);

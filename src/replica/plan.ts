// The restore plan: which LTX files rebuild the database at a TXID. Rules:
// - files with maxTXID above the target are out;
// - the chain starts with a snapshot (a file with minTXID 1, normally L9, but a
//   compaction of everything from TXID 1 at any level counts) and continues with
//   files that are exactly contiguous: next.minTXID == prev.maxTXID + 1;
// - among all such chains, the one that reaches furthest wins, then the one with the
//   fewest files (so higher levels' larger files replace runs of L0 files), then the
//   one whose files come from higher levels. In practice: the newest snapshot, then
//   L3, L2, L1 files, and L0 for the tail.
// Anything else is an error that names the TXIDs: an empty replica, no snapshot,
// a gap in the chain, or a target the replica has no state for.
import { formatTXID } from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ReplicaError } from './errors.js';
import { fileTimestamp, listReplica, type LtxFileInfo } from './listing.js';
import { mapLimit } from './pool.js';

export interface RestoreTarget {
  /** Restore the state after this transaction (default: the latest). */
  txid?: bigint;
  /** Restore the state of the last file whose timestamp is at or before this time. */
  timestamp?: Date;
}

export interface RestorePlan {
  /** The replica's URL, for messages. */
  url: string;
  /** In apply order: a snapshot first, then contiguous files. */
  files: LtxFileInfo[];
  /** The TXID the plan restores (the last file's maxTXID). */
  txid: bigint;
}

// HEADs (or header reads) in flight when planning by timestamp; each is one small request.
const TIMESTAMP_CONCURRENCY = 16;

const txidName = (t: bigint) => `${t} (${formatTXID(t)})`;
const range = (a: bigint, b: bigint) => (a === b ? `TXID ${a}` : `TXIDs ${a}..${b}`);

interface Reach {
  count: number;
  level: number; // level of the last file, for the tie-break
  file: LtxFileInfo | null;
  from: bigint;
}

/** Choose the plan from a listing (pure; `planRestore` lists and calls this). */
export function choosePlan(url: string, files: readonly LtxFileInfo[], targetTXID?: bigint): RestorePlan {
  if (files.length === 0) throw new ReplicaError('REPLICA_EMPTY', `replica ${url} is empty: no LTX files at levels 0-3 or 9`);
  const latest = files.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
  const target = targetTXID ?? latest;
  if (target < 1n) throw new TypeError(`target TXID ${target} must be at least 1`);
  if (target > latest) {
    throw new ReplicaError('REPLICA_TARGET', `replica ${url} has no TXID ${txidName(target)}: its latest is ${latest}`);
  }
  const usable = files.filter((f) => f.maxTXID <= target).sort((a, b) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : b.level - a.level));
  // Shortest chains by position (the TXID reached). Every file leads forward, so
  // going through files by minTXID settles each position before it is extended.
  const reach = new Map<bigint, Reach>([[0n, { count: 0, level: -1, file: null, from: -1n }]]);
  for (const f of usable) {
    const at = reach.get(f.minTXID - 1n);
    if (!at) continue;
    const cand: Reach = { count: at.count + 1, level: f.level, file: f, from: f.minTXID - 1n };
    const old = reach.get(f.maxTXID);
    if (!old || cand.count < old.count || (cand.count === old.count && cand.level > old.level)) reach.set(f.maxTXID, cand);
  }
  let best = 0n;
  for (const pos of reach.keys()) if (pos > best) best = pos;
  if (best === 0n) {
    const snapshots = files.filter((f) => f.minTXID === 1n);
    if (snapshots.length > 0) {
      const earliest = snapshots.reduce((m, f) => (f.maxTXID < m ? f.maxTXID : m), snapshots[0].maxTXID);
      throw new ReplicaError('REPLICA_TARGET', `replica ${url} has no state at TXID ${txidName(target)}: its earliest snapshot is at TXID ${earliest}`);
    }
    const first = files.reduce((m, f) => (f.minTXID < m ? f.minTXID : m), files[0].minTXID);
    throw new ReplicaError('REPLICA_NO_SNAPSHOT', `replica ${url} has no snapshot (no file starts at TXID 1): ${range(1n, first - 1n)} are missing before the earliest file at TXID ${first}`);
  }
  if (best < target) {
    const gapStart = best + 1n;
    const spanning = files.find((f) => f.minTXID === gapStart);
    if (spanning) {
      throw new ReplicaError(
        'REPLICA_TARGET',
        `replica ${url} has no state at TXID ${txidName(target)}: ${spanning.key} covers TXIDs ${spanning.minTXID}..${spanning.maxTXID} as one step; restorable nearby: ${best} and ${spanning.maxTXID}`,
      );
    }
    const later = files.filter((f) => f.minTXID > gapStart).reduce<bigint | null>((m, f) => (m === null || f.minTXID < m ? f.minTXID : m), null);
    const gapEnd = later === null ? target : later - 1n;
    throw new ReplicaError(
      'REPLICA_GAP',
      `replica ${url} has a gap: ${range(gapStart, gapEnd)} (${formatTXID(gapStart)}-${formatTXID(gapEnd)}) are in no file that continues the chain ending at TXID ${best}` +
        (later === null ? '' : `; the next file starts at TXID ${later}`),
    );
  }
  const chain: LtxFileInfo[] = [];
  for (let pos = best; pos !== 0n; ) {
    const r = reach.get(pos)!;
    chain.push(r.file!);
    pos = r.from;
  }
  chain.reverse();
  return { url, files: chain, txid: best };
}

/** List the replica and choose the plan for `target` (default: the latest state). */
export async function planRestore(store: ObjectStore, target: RestoreTarget = {}): Promise<RestorePlan> {
  if (target.txid !== undefined && target.timestamp !== undefined) throw new TypeError('restore target: give txid or timestamp, not both');
  const files = await listReplica(store);
  if (target.timestamp === undefined) return choosePlan(store.url, files, target.txid);
  return choosePlan(store.url, files, await txidAtTime(store, files, target.timestamp));
}

/** The maxTXID of the last file whose timestamp is at or before `time`. */
export async function txidAtTime(store: ObjectStore, files: readonly LtxFileInfo[], time: Date): Promise<bigint> {
  if (files.length === 0) throw new ReplicaError('REPLICA_EMPTY', `replica ${store.url} is empty: no LTX files at levels 0-3 or 9`);
  const stamps = await mapLimit(files, TIMESTAMP_CONCURRENCY, (f) => fileTimestamp(store, f));
  let txid = 0n;
  let earliest = Infinity;
  files.forEach((f, i) => {
    const ms = stamps[i].getTime();
    earliest = Math.min(earliest, ms);
    if (ms <= time.getTime() && f.maxTXID > txid) txid = f.maxTXID;
  });
  if (txid === 0n) {
    throw new ReplicaError('REPLICA_TARGET', `replica ${store.url} has no state at or before ${time.toISOString()}: its earliest file is from ${new Date(earliest).toISOString()}`);
  }
  return txid;
}

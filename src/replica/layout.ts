// Litestream v0.5's key layout, relative to the store's root (the S3 prefix or the
// file:// directory):
//   S3:     <level as %04x>/<minTXID %016x>-<maxTXID %016x>.ltx     e.g. 0009/0000000000000001-0000000000000001.ltx
//   file:// ltx/<level decimal>/<minTXID %016x>-<maxTXID %016x>.ltx e.g. ltx/9/0000000000000001-0000000000000001.ltx
// The scheme of the store's URL picks one.
import { formatLtxFilename } from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';

/** L0 every sync, L1..L3 compactions (30 s, 5 min, 1 h by default), L9 snapshots. */
export const LEVELS = [0, 1, 2, 3, 9] as const;
export const SNAPSHOT_LEVEL = 9;

export interface ReplicaLayout {
  readonly scheme: 's3' | 'file';
  /** Key prefix of a level, ending in `/`. */
  levelPrefix(level: number): string;
  /** Key of one LTX file. */
  fileKey(level: number, minTXID: bigint, maxTXID: bigint): string;
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > 0xffff) throw new TypeError(`level ${level} is not an integer in 0..65535`);
}

const S3_LAYOUT: ReplicaLayout = {
  scheme: 's3',
  levelPrefix(level) {
    checkLevel(level);
    return `${level.toString(16).padStart(4, '0')}/`;
  },
  fileKey(level, minTXID, maxTXID) {
    return this.levelPrefix(level) + formatLtxFilename(minTXID, maxTXID);
  },
};

const FILE_LAYOUT: ReplicaLayout = {
  scheme: 'file',
  levelPrefix(level) {
    checkLevel(level);
    return `ltx/${level}/`;
  },
  fileKey(level, minTXID, maxTXID) {
    return this.levelPrefix(level) + formatLtxFilename(minTXID, maxTXID);
  },
};

/** The layout for a store, by its URL's scheme (`file:` or anything S3-like). */
export function layoutFor(store: Pick<ObjectStore, 'url'>): ReplicaLayout {
  return store.url.startsWith('file:') ? FILE_LAYOUT : S3_LAYOUT;
}

// The replica's page index: pgno → (file key, frame offset, frame size) across a
// restore plan, built from the files' tails alone (header + index + trailer), as
// the read path needs it. Requests: one range GET of the last 32 KiB per file (the
// whole file when it is no larger), a second for a file whose index is larger; and
// one GET of the last file's 100-byte header (for page size and commit) when that
// file is larger than 32 KiB. All are issued in parallel.
import { HEADER_SIZE, decodeHeader, readTailIndex, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ReplicaError } from './errors.js';
import type { LtxFileInfo } from './listing.js';
import type { RestorePlan } from './plan.js';
import { mapLimit } from './pool.js';

// The last 32 KiB holds the whole index of files up to ~4,000 pages (an entry is
// 5-8 bytes); Litestream reads the same amount. Larger indexes take a second GET.
export const TAIL_BYTES = 32 * 1024;
// Tail requests in flight: matches the S3 store's default of 16 sockets.
const TAIL_CONCURRENCY = 16;

export interface PageLocation {
  key: string;
  offset: number; // absolute file offset of the frame
  size: number; // whole frame length
}

export interface ReplicaPageIndex {
  pageSize: number;
  /** Database size in pages after the plan's last file. */
  commit: number;
  /** The TXID the index reflects. */
  txid: bigint;
  /** The last file's header. */
  header: LtxHeader;
  /** Where page `pgno` lives, or undefined (beyond commit, the lock page, or never written). */
  lookup(pgno: number): PageLocation | undefined;
  /** Pages with a location. */
  readonly pages: number;
}

/** One file's index entries from its tail; `whole` is the file when it was fetched entirely. */
export async function fetchFileIndex(store: ObjectStore, file: Pick<LtxFileInfo, 'key' | 'size'>): Promise<{ entries: PageIndexEntry[]; whole: Uint8Array | null }> {
  const whole = file.size <= TAIL_BYTES;
  let tail = await store.get(file.key, whole ? {} : { range: { suffix: TAIL_BYTES } });
  let idx = readTailIndex(tail, file.size);
  if (!idx.ok) {
    tail = await store.get(file.key, { range: { suffix: idx.needBytes } });
    idx = readTailIndex(tail, file.size);
  }
  if (!idx.ok) throw new ReplicaError('REPLICA_MISMATCH', `${file.key}: page index needs ${idx.needBytes} tail bytes after a second read`);
  return { entries: idx.entries, whole: whole ? tail : null };
}

/** Build the page index of a plan; later files win, pages beyond the final commit are dropped. */
export async function buildPageIndex(store: ObjectStore, plan: RestorePlan): Promise<ReplicaPageIndex> {
  if (plan.files.length === 0) throw new TypeError('buildPageIndex: the plan has no files');
  const last = plan.files[plan.files.length - 1];
  const headerP = last.size > TAIL_BYTES ? store.get(last.key, { range: { offset: 0, length: HEADER_SIZE } }) : null;
  const indexes = await mapLimit(plan.files, TAIL_CONCURRENCY, (f) => fetchFileIndex(store, f));
  const header = decodeHeader(headerP ? await headerP : indexes[indexes.length - 1].whole!);
  if (header.minTXID !== last.minTXID || header.maxTXID !== last.maxTXID) {
    throw new ReplicaError('REPLICA_MISMATCH', `${last.key}: header says TXIDs ${header.minTXID}..${header.maxTXID}, the name says ${last.minTXID}..${last.maxTXID}`);
  }
  const commit = header.commit;
  // 16 bytes a page: a 10 GiB database of 4 KiB pages costs 42 MB.
  const fileOf = new Uint32Array(commit + 1); // plan file index + 1; 0 = none
  const offsets = new Float64Array(commit + 1);
  const sizes = new Uint32Array(commit + 1);
  let pages = 0;
  indexes.forEach(({ entries }, i) => {
    for (const e of entries) {
      if (e.pgno > commit) continue;
      if (fileOf[e.pgno] === 0) pages++;
      fileOf[e.pgno] = i + 1;
      offsets[e.pgno] = e.offset;
      sizes[e.pgno] = e.size;
    }
  });
  const keys = plan.files.map((f) => f.key);
  return {
    pageSize: header.pageSize,
    commit,
    txid: plan.txid,
    header,
    pages,
    lookup(pgno) {
      if (!Number.isInteger(pgno) || pgno < 1 || pgno > commit || fileOf[pgno] === 0) return undefined;
      return { key: keys[fileOf[pgno] - 1], offset: offsets[pgno], size: sizes[pgno] };
    },
  };
}

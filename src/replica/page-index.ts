// The replica's page index: pgno → (file key, frame offset, frame size) across a
// restore plan, built from the files' tails alone (header + index + trailer), as
// the read path needs it. Requests: one range GET of the last 32 KiB per file (the
// whole file when it is no larger), a second for a file whose index is larger; and
// one GET of the last file's 100-byte header (for page size and commit) when that
// file is larger than 32 KiB. All are issued in parallel.
import {
  HEADER_SIZE,
  decodeHeader,
  hasChecksums,
  pageIndexColumns,
  pageIndexEntries,
  readTailIndexColumns,
  type LtxHeader,
  type PageIndexColumns,
  type PageIndexEntry,
} from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { LinkError, ReplicaError } from './errors.js';
import { parseRecord, postWithRecord, withRecord, type ChecksumRecord } from './checksum-record.js';
import { readLtxHeader, type LtxFileInfo } from './listing.js';
import type { RestorePlan } from './plan.js';
import { mapLimit } from './pool.js';

// The last 32 KiB holds the whole index of files up to ~4,000 pages (an entry is
// 5-8 bytes); Litestream reads the same amount. Larger indexes take a second GET.
export const TAIL_BYTES = 32 * 1024;
// States remembered per index (for followers checking a file that straddles their TXID).
const BOUNDARIES_MAX = 4096;
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

/** One file's page index, read from its tail. */
export interface FileIndex {
  columns: PageIndexColumns;
  /** The columns as objects, made on first use (building a PageIndex needs none). */
  readonly entries: PageIndexEntry[];
  /** The whole file when it was fetched entirely (≤ 32 KiB), else null. */
  whole: Uint8Array | null;
  /** The trailer's database checksum after applying the file (0 in a NoChecksum file). */
  postApplyChecksum: bigint;
  /** The trailer's checksum of the file itself: its identity. */
  fileChecksum: bigint;
  /** The checksums recorded beside the file (./checksum-record.ts), from the same GET. */
  record: ChecksumRecord | null;
}

/** Tails and headers already fetched, by key: a re-plan (a link refused) fetches only what is new. */
export type TailCache = Map<string, Promise<FileIndex> | Promise<LtxHeader>>;

/** One file's index from its tail, parsed into columns (a 1 GiB snapshot's has 262,000 entries). */
export async function fetchFileIndex(store: ObjectStore, file: Pick<LtxFileInfo, 'key' | 'size'>): Promise<FileIndex> {
  const whole = file.size <= TAIL_BYTES;
  const got = await store.getWithMetadata(file.key, whole ? {} : { range: { suffix: TAIL_BYTES } });
  let tail = got.bytes;
  const record = parseRecord(got.metadata);
  let idx = readTailIndexColumns(tail, file.size);
  if (!idx.ok) {
    tail = await store.get(file.key, { range: { suffix: idx.needBytes } });
    idx = readTailIndexColumns(tail, file.size);
  }
  if (!idx.ok) throw new ReplicaError('REPLICA_MISMATCH', `${file.key}: page index needs ${idx.needBytes} tail bytes after a second read`);
  const columns = idx.columns;
  let entries: PageIndexEntry[] | undefined;
  return {
    columns,
    get entries() {
      return (entries ??= pageIndexEntries(columns));
    },
    whole: whole ? tail : null,
    postApplyChecksum: postWithRecord(idx.postApplyChecksum, record),
    fileChecksum: idx.fileChecksum,
    record,
  };
}

function cached<T>(cache: TailCache | undefined, key: string, make: () => Promise<T>): Promise<T> {
  if (cache === undefined) return make();
  let p = cache.get(key) as Promise<T> | undefined;
  if (p === undefined) {
    p = make();
    cache.set(key, p as Promise<FileIndex>);
    p.catch(() => cache.delete(key)); // a failed fetch is tried again by the next plan
  }
  return p;
}

/** The database checksum a file leaves, or null when it carries none (NoChecksum: Litestream's files). */
export function postChecksumOf(header: LtxHeader, postApplyChecksum: bigint): bigint | null {
  return hasChecksums(header) && postApplyChecksum !== 0n ? postApplyChecksum : null;
}

/**
 * Refuse `next` when it continues `prev` exactly and both carry checksums that do not
 * link: its pre-apply checksum must be the database checksum `prev` left. A file that
 * does not link belongs to another history (a fenced writer's leftover, another database).
 */
export function checkLink(prevKey: string, prevChecksum: bigint | null, prevTXID: bigint, nextKey: string, next: LtxHeader): void {
  if (prevChecksum === null || !hasChecksums(next) || next.minTXID !== prevTXID + 1n || next.preApplyChecksum === 0n) return;
  if (next.preApplyChecksum !== prevChecksum) {
    throw new LinkError(prevKey, nextKey, `${nextKey} does not continue ${prevKey}: its pre-apply checksum ${hex(next.preApplyChecksum)} is not the database checksum ${hex(prevChecksum)} at TXID ${prevTXID}; the files belong to different histories`);
  }
}

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

/**
 * Build the page index of a plan; later files win, pages beyond the final commit are
 * dropped. Every file after the first must link to the one before it (checkLink; a
 * LinkError names both): the headers of files over 32 KiB come with one 100-byte GET
 * each, issued with the tails.
 */
export async function buildPageIndex(store: ObjectStore, plan: RestorePlan, cache?: TailCache): Promise<PageIndex> {
  if (plan.files.length === 0) throw new TypeError('buildPageIndex: the plan has no files');
  const n = plan.files.length;
  const last = plan.files[n - 1];
  const fetchHeader = (f: LtxFileInfo) => cached(cache, `${f.key}#header`, () => readLtxHeader(store, f.key));
  // The snapshot's pre-apply checksum links to nothing: its header is needed only as the last file.
  const headerPs = plan.files.map((f, i) => (f.size > TAIL_BYTES && (i > 0 || i === n - 1) ? fetchHeader(f) : null));
  const indexes = await mapLimit(plan.files, TAIL_CONCURRENCY, (f) => cached(cache, f.key, () => fetchFileIndex(store, f)));
  const headers = await Promise.all(plan.files.map((_, i) => headerPs[i] ?? (indexes[i].whole ? withRecord(decodeHeader(indexes[i].whole!), indexes[i].record) : null)));
  plan.files.forEach((f, i) => {
    const h = headers[i];
    if (h !== null && (h.minTXID !== f.minTXID || h.maxTXID !== f.maxTXID)) {
      throw new ReplicaError('REPLICA_MISMATCH', `${f.key}: header says TXIDs ${h.minTXID}..${h.maxTXID}, the name says ${f.minTXID}..${f.maxTXID}`);
    }
    if (i > 0) {
      const prev = plan.files[i - 1];
      checkLink(prev.key, headers[i - 1] === null ? nonZero(indexes[i - 1].postApplyChecksum) : postChecksumOf(headers[i - 1]!, indexes[i - 1].postApplyChecksum), prev.maxTXID, f.key, h!);
    }
  });
  const header = headers[n - 1]!;
  const index = new PageIndex(header);
  plan.files.forEach((f, i) => index.overlay(f.key, indexes[i].columns, i === n - 1 ? header.commit : Infinity, false));
  index.pages = index.count();
  index.checksum = postChecksumOf(header, indexes[n - 1].postApplyChecksum);
  plan.files.forEach((f, i) => index.boundaries.set(f.maxTXID, headers[i] === null ? nonZero(indexes[i].postApplyChecksum) : postChecksumOf(headers[i]!, indexes[i].postApplyChecksum)));
  return index;
}

const nonZero = (v: bigint): bigint | null => (v === 0n ? null : v);

/** What crosses a thread boundary (structured clone) to rebuild a PageIndex. */
export interface PageIndexData {
  header: LtxHeader;
  txid: bigint;
  checksum: bigint | null;
  boundaries: [bigint, bigint | null][];
  keys: string[];
  fileOf: Uint32Array;
  offsets: Float64Array;
  sizes: Uint32Array;
}

/**
 * pgno → (file, offset, size) at one TXID, updatable in place: `apply` overlays a
 * newer file of the chain (polling, the writer's own uploads). 16 bytes a page: a
 * 10 GiB database of 4 KiB pages costs 42 MB. Not safe to change while a reader
 * is inside a transaction: the VFS applies between transactions.
 */
export class PageIndex implements ReplicaPageIndex {
  pageSize: number;
  commit: number;
  txid: bigint;
  header: LtxHeader;
  /** The database checksum at `txid` (the last file's post-apply checksum), or null when its files carry none. */
  checksum: bigint | null = null;
  /** States this index passed through (a plan's file boundaries, applied files): TXID → checksum (null: none). */
  boundaries = new Map<bigint, bigint | null>();
  pages = 0;
  #keys: string[] = [];
  #keyIds = new Map<string, number>();
  #fileOf: Uint32Array; // key id + 1; 0 = none
  #offsets: Float64Array;
  #sizes: Uint32Array;

  constructor(header: LtxHeader, data?: Omit<PageIndexData, 'header' | 'txid' | 'checksum' | 'boundaries'>) {
    this.header = header;
    this.pageSize = header.pageSize;
    this.commit = header.commit;
    this.txid = header.maxTXID;
    if (data) {
      this.#keys = data.keys;
      data.keys.forEach((k, i) => this.#keyIds.set(k, i));
      this.#fileOf = data.fileOf;
      this.#offsets = data.offsets;
      this.#sizes = data.sizes;
      this.pages = this.count();
    } else {
      this.#fileOf = new Uint32Array(header.commit + 1);
      this.#offsets = new Float64Array(header.commit + 1);
      this.#sizes = new Uint32Array(header.commit + 1);
    }
  }

  /** The index of an empty replica (TXID 0, no pages): a new database's start. */
  static empty(pageSize = 4096): PageIndex {
    const header: LtxHeader = { flags: 0, pageSize, commit: 0, minTXID: 0n, maxTXID: 0n, timestamp: 0n, preApplyChecksum: 0n, walOffset: 0n, walSize: 0n, walSalt1: 0, walSalt2: 0, nodeID: 0n };
    return new PageIndex(header);
  }

  static fromData(data: PageIndexData): PageIndex {
    const index = new PageIndex(data.header, data);
    index.txid = data.txid;
    index.checksum = data.checksum;
    index.boundaries = new Map(data.boundaries);
    return index;
  }

  toData(): PageIndexData {
    return { header: this.header, txid: this.txid, checksum: this.checksum, boundaries: [...this.boundaries], keys: this.#keys, fileOf: this.#fileOf, offsets: this.#offsets, sizes: this.#sizes };
  }

  lookup(pgno: number): PageLocation | undefined {
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > this.commit) return undefined;
    const f = this.#fileOf[pgno];
    if (f === 0) return undefined;
    return { key: this.#keys[f - 1], offset: this.#offsets[pgno], size: this.#sizes[pgno] };
  }

  /**
   * Overlay the next file of the chain (its TXIDs continue or overlap ours): its pages
   * win, the database size becomes its commit (pages beyond it are forgotten, so a
   * later growth never resurrects them). Returns the pgnos whose content changed.
   * `postApplyChecksum` (its trailer's) becomes the index's checksum; a file that
   * continues exactly must link to the current one (LinkError, nothing applied).
   */
  apply(key: string, header: LtxHeader, entries: readonly PageIndexEntry[] | PageIndexColumns, postApplyChecksum?: bigint): number[] {
    // An empty replica's index (a new database) takes the page size of its first file.
    if (this.txid === 0n && this.commit === 0) this.pageSize = header.pageSize;
    if (header.pageSize !== this.pageSize) {
      throw new ReplicaError('REPLICA_MISMATCH', `${key}: page size ${header.pageSize}, the database's is ${this.pageSize}`);
    }
    if (header.minTXID > this.txid + 1n || header.maxTXID <= this.txid) {
      throw new ReplicaError('REPLICA_GAP', `${key}: TXIDs ${header.minTXID}..${header.maxTXID} do not continue TXID ${this.txid}`);
    }
    checkLink(this.#keys[this.#keys.length - 1] ?? `the state at TXID ${this.txid}`, this.checksum, this.txid, key, header);
    const changed = this.overlay(key, isColumns(entries) ? entries : pageIndexColumns(entries), header.commit);
    this.header = header;
    this.txid = header.maxTXID;
    this.checksum = postApplyChecksum === undefined ? null : postChecksumOf(header, postApplyChecksum);
    this.boundaries.set(this.txid, this.checksum);
    if (this.boundaries.size > BOUNDARIES_MAX) this.boundaries.delete(this.boundaries.keys().next().value!);
    this.pages = this.count();
    return changed;
  }

  /**
   * @internal Write entries (pages ≤ commit) and set the size; returns the pgnos written
   * or dropped (unless `track` is false: building from a plan needs no list, and a 1 GiB
   * snapshot's would hold 262,000 numbers).
   */
  overlay(key: string, columns: PageIndexColumns, commit: number, track = true): number[] {
    const changed: number[] = [];
    if (Number.isFinite(commit)) {
      for (let p = commit + 1; p <= Math.min(this.commit, this.#fileOf.length - 1); p++) {
        if (track && this.#fileOf[p] !== 0) changed.push(p);
        this.#fileOf[p] = 0;
      }
      this.grow(commit);
      this.commit = commit;
    }
    let id = this.#keyIds.get(key);
    if (id === undefined) {
      id = this.#keys.push(key) - 1;
      this.#keyIds.set(key, id);
    }
    // Entries ascend: the last one within the size bounds the growth, done once.
    const limit = this.commit;
    const { count, pgnos, offsets: fromOffsets, sizes: fromSizes } = columns;
    for (let i = count - 1; i >= 0; i--) {
      if (pgnos[i] <= limit) {
        this.grow(pgnos[i]);
        break;
      }
    }
    const fileOf = this.#fileOf;
    const offsets = this.#offsets;
    const sizes = this.#sizes;
    const file = id + 1;
    for (let i = 0; i < count; i++) {
      const pgno = pgnos[i];
      if (pgno > limit) continue;
      fileOf[pgno] = file;
      offsets[pgno] = fromOffsets[i];
      sizes[pgno] = fromSizes[i];
      if (track) changed.push(pgno);
    }
    return changed;
  }

  private grow(pgno: number): void {
    if (pgno < this.#fileOf.length) return;
    const n = Math.max(pgno + 1, Math.ceil(this.#fileOf.length * 1.5));
    const f = new Uint32Array(n);
    f.set(this.#fileOf);
    const o = new Float64Array(n);
    o.set(this.#offsets);
    const s = new Uint32Array(n);
    s.set(this.#sizes);
    this.#fileOf = f;
    this.#offsets = o;
    this.#sizes = s;
  }

  /** @internal Pages with a location within the size. */
  count(): number {
    let n = 0;
    const end = Math.min(this.commit, this.#fileOf.length - 1);
    for (let p = 1; p <= end; p++) if (this.#fileOf[p] !== 0) n++;
    return n;
  }
}

function isColumns(x: readonly PageIndexEntry[] | PageIndexColumns): x is PageIndexColumns {
  return !Array.isArray(x);
}

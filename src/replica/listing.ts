// Listing a replica's LTX files level by level, and reading a file's timestamp.
// Keys that are not `<min>-<max>.ltx` directly under a level's prefix are ignored
// (Litestream ignores them too), so stray objects never break a plan.
import { HEADER_SIZE, TRAILER_SIZE, decodeHeader, formatTXID, parseLtxFilename, type LtxHeader } from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { parseRecord, postWithRecord, withRecord } from './checksum-record.js';
import { LEVELS, layoutFor } from './layout.js';

export interface LtxFileInfo {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
  /** Key relative to the store's root. */
  key: string;
  size: number; // bytes
  lastModified: Date;
}

export interface ListLevelOptions {
  /** Only files whose key sorts after this one (exclusive), as S3's StartAfter. */
  startAfter?: string;
  /** Only files whose minTXID is above this TXID (turned into a StartAfter key). */
  afterTXID?: bigint;
}

/** Every LTX file of one level, in TXID order (keys sort as TXIDs: fixed-width lowercase hex). */
export async function listLevel(store: ObjectStore, level: number, options: ListLevelOptions = {}): Promise<LtxFileInfo[]> {
  const prefix = layoutFor(store).levelPrefix(level);
  // `<X>.` sorts after every `<X>-….ltx` and before `<X+1>-…` ('-' < '.' < '0').
  const fromTXID = options.afterTXID === undefined ? undefined : `${prefix}${formatTXID(options.afterTXID)}.`;
  const startAfter = [options.startAfter, fromTXID].filter((k): k is string => k !== undefined).sort().pop();
  const out: LtxFileInfo[] = [];
  for await (const o of store.list(prefix, { startAfter })) {
    const name = o.key.slice(prefix.length);
    const parsed = name.includes('/') ? null : parseLtxFilename(name);
    if (!parsed) continue;
    out.push({ level, ...parsed, key: o.key, size: o.size, lastModified: o.lastModified });
  }
  return out;
}

/** The files of every level (0..3 and 9), listed in parallel. */
export async function listReplica(store: ObjectStore, levels: readonly number[] = LEVELS): Promise<LtxFileInfo[]> {
  const per = await Promise.all(levels.map((level) => listLevel(store, level)));
  return per.flat();
}

/**
 * Fetch and decode a file's 100-byte header with one range request; checksums kept
 * beside the file (./checksum-record.ts) come with it, as if inline.
 */
export async function readLtxHeader(store: ObjectStore, key: string): Promise<LtxHeader> {
  const got = await store.getWithMetadata(key, { range: { offset: 0, length: HEADER_SIZE } });
  return withRecord(decodeHeader(got.bytes), parseRecord(got.metadata));
}

/** The post-apply checksum in a file's trailer, its last 16 bytes (0: the file carries none); null when `bytes` is no whole trailer. */
export function trailerPostApply(bytes: Uint8Array): bigint | null {
  return bytes.length === TRAILER_SIZE ? new DataView(bytes.buffer, bytes.byteOffset, TRAILER_SIZE).getBigUint64(0) : null;
}

/**
 * Fetch a file's trailer with one 16-byte range request: its post-apply checksum, as
 * `trailerPostApply`, or the one recorded beside the file when the trailer has none.
 */
export async function readPostApplyChecksum(store: ObjectStore, key: string): Promise<bigint | null> {
  const got = await store.getWithMetadata(key, { range: { suffix: TRAILER_SIZE } });
  const post = trailerPostApply(got.bytes);
  return post === null ? null : postWithRecord(post, parseRecord(got.metadata));
}

/**
 * When a file was written: S3's `litestream-timestamp` metadata (one HEAD), else the
 * LTX header's timestamp (one range request for bytes 0..99). file:// keeps no metadata.
 */
export async function fileTimestamp(store: ObjectStore, file: Pick<LtxFileInfo, 'key'>): Promise<Date> {
  if (!store.url.startsWith('file:')) {
    const head = await store.head(file.key);
    const stamp = head?.metadata['litestream-timestamp'];
    const ms = stamp === undefined ? NaN : Date.parse(stamp);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  const h = await readLtxHeader(store, file.key);
  return new Date(Number(h.timestamp));
}

/** Go's `time.Format(time.RFC3339Nano)` of a UTC time in ms, as Litestream writes the metadata. */
export function formatLitestreamTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d*?)0+Z$/, '.$1Z').replace(/\.Z$/, 'Z');
}

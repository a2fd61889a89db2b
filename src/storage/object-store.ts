// The one interface every object-storage backend implements (S3, file://).
// Keys are relative to the store's root prefix and compared as UTF-8 bytes,
// which is the order S3 lists in. Failures are `StoreError`s (./store-error.ts).
import type { Readable } from 'node:stream';
import type { StoreStats } from './stats.js';

export interface ObjectInfo {
  key: string;
  size: number; // bytes
  lastModified: Date;
}

export interface ObjectHead {
  size: number; // bytes
  etag: string; // without quotes
  lastModified: Date;
  /** User metadata, keys lower-case (S3 `x-amz-meta-*`); file:// keeps none. */
  metadata: Record<string, string>;
}

/** A byte range: `length` is clipped at the end of the object; `suffix` is the last N bytes. */
export type ByteRange = { offset: number; length: number } | { suffix: number };

/** A body given as bytes, or as a stream that can be opened again for a retry. */
export type PutBody = Uint8Array | { size: number; open: () => Readable };

export interface ListOptions {
  /** List only keys that sort after this one (exclusive). */
  startAfter?: string;
  /** Page size (at most 1000, S3's limit). */
  maxKeys?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** More keys follow: ask again with `startAfter` = the last key of this page. */
  isTruncated: boolean;
}

export interface PutOptions {
  /** Stored as S3 user metadata (`litestream-timestamp` is what Litestream writes). */
  metadata?: Record<string, string>;
}

/**
 * A body read as it arrives. `body` yields the bytes in order and throws a
 * `StoreError` when the read fails, stalls, or ends short (a cut stream is never a
 * short success). A chunk may be reused by the store once the next one is asked
 * for: copy what must outlive it. Read `body` to its end or leave the loop early
 * (break, throw): either releases the connection; a stream never read holds it.
 */
export interface ObjectStream {
  /** Bytes the body holds (a range clipped at the end of the object). */
  readonly length: number;
  /** The object's user metadata, from the same response (keys lower-case, without `x-amz-meta-`). */
  readonly metadata: Record<string, string>;
  readonly body: AsyncIterable<Uint8Array>;
}

/** Bytes read with the object's user metadata, from one response. */
export interface ObjectBytes {
  bytes: Uint8Array;
  /** Keys lower-case, without `x-amz-meta-`. */
  metadata: Record<string, string>;
}

export interface ObjectStore {
  /** Where this store points, for messages: `s3://bucket/prefix` or `file:///dir`. */
  readonly url: string;
  /** One page of the keys starting with `prefix`, in byte order. */
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Every key starting with `prefix` after `startAfter`, in byte order, page by page. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** The object's bytes (or a range of them); `NOT_FOUND`, `RANGE_NOT_SATISFIABLE`. */
  get(key: string, options?: { range?: ByteRange }): Promise<Uint8Array>;
  /** `get`, with the object's user metadata from the same response (no extra request). */
  getWithMetadata(key: string, options?: { range?: ByteRange }): Promise<ObjectBytes>;
  /**
   * The object's bytes (or a range) as a stream; errors as `get`. Optional (callers
   * fall back to `get`), and never retried by the store: a caller that loses a stream
   * midway asks again for what it still needs.
   */
  getStream?(key: string, options?: { range?: ByteRange }): Promise<ObjectStream>;
  /** Size, ETag and metadata, or null when the key does not exist. */
  head(key: string): Promise<ObjectHead | null>;
  /** Create or replace. */
  put(key: string, body: PutBody, options?: PutOptions): Promise<void>;
  /** Create only if absent (`If-None-Match: *`); else `PRECONDITION_FAILED`. */
  putIfAbsent(key: string, body: PutBody, options?: PutOptions): Promise<void>;
  /** Delete these keys; missing keys are not an error. */
  deleteMany(keys: readonly string[]): Promise<void>;
  /** Counters per operation since the store was opened. */
  stats(): StoreStats;
  /** Wait for requests in flight, then release sockets; later calls fail with `CLOSED`. */
  close(): Promise<void>;
}

/** `list` in terms of `listPage`, shared by the backends. */
export async function* listAll(
  store: Pick<ObjectStore, 'listPage'>,
  prefix: string,
  options: ListOptions = {},
): AsyncIterable<ObjectInfo> {
  let startAfter = options.startAfter;
  for (;;) {
    const page = await store.listPage(prefix, { startAfter, maxKeys: options.maxKeys });
    yield* page.objects;
    if (!page.isTruncated || page.objects.length === 0) return;
    startAfter = page.objects[page.objects.length - 1].key;
  }
}

/** UTF-8 byte order, S3's listing order (JS `<` compares UTF-16 code units, which differs). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

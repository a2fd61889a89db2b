// The page index (FORMAT.md §5) and reading it from a file's tail alone (§9):
// the replica read path GETs the last 32 KiB of a file, calls readTailIndex, and
// either has pgno → (offset, size) or learns how many tail bytes it must fetch.

import { LtxError } from './errors.js';
import { HEADER_SIZE, INDEX_SIZE_FIELD, PAGE_HEADER_SIZE, TRAILER_SIZE } from './header.js';

export interface PageIndexEntry {
  pgno: number;
  /** Absolute file offset of the frame's page header. */
  offset: number;
  /** Whole frame length in bytes. */
  size: number;
}

/** S + trailer: the fixed 24 bytes at the end of every file. */
export const TAIL_FIXED_SIZE = INDEX_SIZE_FIELD + TRAILER_SIZE;
/** Smallest valid file: header, end marker, empty index (1 byte), S, trailer. */
export const MIN_FILE_SIZE = HEADER_SIZE + PAGE_HEADER_SIZE + 1 + TAIL_FIXED_SIZE;

function badIndex(message: string): LtxError {
  return new LtxError('LTX_BAD_INDEX', `index: ${message}`);
}

export function uvarintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putUvarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Encode entries + terminator + S (u64), ready to follow the end marker. */
export function encodePageIndex(entries: readonly PageIndexEntry[]): Uint8Array {
  let len = 1;
  for (const e of entries) len += uvarintLength(e.pgno) + uvarintLength(e.offset) + uvarintLength(e.size);
  const out = new Uint8Array(len + INDEX_SIZE_FIELD);
  let at = 0;
  for (const e of entries) {
    at = putUvarint(out, at, e.pgno);
    at = putUvarint(out, at, e.offset);
    at = putUvarint(out, at, e.size);
  }
  out[at++] = 0;
  new DataView(out.buffer).setBigUint64(at, BigInt(len));
  return out;
}

/**
 * Read one uvarint at buf[at] (end exclusive). Returns [value, next] or null if buf
 * ends first. At most 10 bytes; values past 2^53 are rejected (no offset gets there).
 */
export function readUvarint(buf: Uint8Array, at: number, end = buf.length): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at + i >= end) return null;
    const b = buf[at + i];
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (i > 0 && b === 0) throw badIndex('uvarint has a redundant trailing zero byte');
      if (!Number.isSafeInteger(v)) throw badIndex('uvarint exceeds 2^53');
      return [v, at + i + 1];
    }
    mul *= 128;
  }
  throw badIndex('uvarint longer than 10 bytes');
}

/**
 * The page index as three columns, entry i = (pgnos[i], offsets[i], sizes[i]), each
 * array exactly `count` long. No object per entry: a 1 GiB snapshot has 262,000.
 */
export interface PageIndexColumns {
  count: number;
  pgnos: Uint32Array;
  /** Absolute file offsets of the frames' page headers. */
  offsets: Float64Array;
  /** Whole frame lengths in bytes. */
  sizes: Uint32Array;
}

/** Entries as columns (for callers that hold objects). */
export function pageIndexColumns(entries: readonly PageIndexEntry[]): PageIndexColumns {
  const count = entries.length;
  const pgnos = new Uint32Array(count);
  const offsets = new Float64Array(count);
  const sizes = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const e = entries[i];
    pgnos[i] = e.pgno;
    offsets[i] = e.offset;
    sizes[i] = e.size;
  }
  return { count, pgnos, offsets, sizes };
}

/** Columns as entries, one object each. */
export function pageIndexEntries(columns: PageIndexColumns): PageIndexEntry[] {
  const { count, pgnos, offsets, sizes } = columns;
  const entries: PageIndexEntry[] = new Array(count);
  for (let i = 0; i < count; i++) entries[i] = { pgno: pgnos[i], offset: offsets[i], size: sizes[i] };
  return entries;
}

/**
 * Parse the index bytes buf[start, end) (entries and terminator, exactly S bytes).
 * Checks entry order and that frames tile the page block: the first starts at 100,
 * each starts where the previous one ends, the last ends at the end marker.
 */
export function parsePageIndex(buf: Uint8Array, start: number, end: number, endMarkerOffset: number): PageIndexEntry[] {
  return pageIndexEntries(parsePageIndexColumns(buf, start, end, endMarkerOffset));
}

// readUvarint without a [value, next] pair per number (786,000 at 1 GiB): returns the
// value, or -1 when buf ends first, and leaves the next position in uvarintEnd. A
// module-level function measured twice as fast as a closure over the cursor.
let uvarintEnd = 0;
function uvarintAt(buf: Uint8Array, at: number, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= end) return -1;
    const b = buf[at++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (i > 0 && b === 0) throw badIndex('uvarint has a redundant trailing zero byte');
      if (!Number.isSafeInteger(v)) throw badIndex('uvarint exceeds 2^53');
      uvarintEnd = at;
      return v;
    }
    mul *= 128;
  }
  throw badIndex('uvarint longer than 10 bytes');
}

/**
 * parsePageIndex into columns: the same checks and errors, without an object per
 * entry or a [value, next] pair per uvarint (1 GiB, first call: 250-310 ms → 60-80 ms).
 */
export function parsePageIndexColumns(buf: Uint8Array, start: number, end: number, endMarkerOffset: number): PageIndexColumns {
  // Each uvarint ends in exactly one byte below 0x80 and an entry is three of them:
  // counting those bytes sizes the columns exactly (for a valid index) in one cheap pass.
  let ends = 0;
  for (let i = start; i < end; i++) if (buf[i] < 0x80) ends++;
  const cap = Math.floor(ends / 3);
  const pgnos = new Uint32Array(cap);
  const offsets = new Float64Array(cap);
  const sizes = new Uint32Array(cap);
  let n = 0;
  let at = start;
  let expectOffset = HEADER_SIZE;
  let prevPgno = 0;
  for (;;) {
    const pgno = uvarintAt(buf, at, end);
    at = uvarintEnd;
    if (pgno < 0) throw badIndex('ends before its terminator');
    if (pgno === 0) break;
    const offset = uvarintAt(buf, at, end);
    at = uvarintEnd;
    if (offset < 0) throw badIndex(`entry for page ${pgno} is cut off`);
    const size = uvarintAt(buf, at, end);
    at = uvarintEnd;
    if (size < 0) throw badIndex(`entry for page ${pgno} is cut off`);
    if (pgno <= prevPgno) throw badIndex(`page ${pgno} follows page ${prevPgno} (must ascend)`);
    if (offset !== expectOffset) throw badIndex(`page ${pgno} at offset ${offset}, expected ${expectOffset}`);
    if (size <= PAGE_HEADER_SIZE) throw badIndex(`page ${pgno} has frame size ${size}`);
    expectOffset = offset + size;
    if (expectOffset > endMarkerOffset) throw badIndex(`page ${pgno} frame passes the end marker at ${endMarkerOffset}`);
    // Checked last, so every index the object parser once rejected fails as it did: a
    // page header holds a u32 pgno, and a Uint32Array would silently wrap either value.
    if (pgno > 0xffffffff) throw badIndex(`page ${pgno} is beyond the largest page number (2^32 - 1)`);
    if (size > 0xffffffff) throw badIndex(`page ${pgno} has frame size ${size}, over 2^32 - 1`);
    prevPgno = pgno;
    pgnos[n] = pgno;
    offsets[n] = offset;
    sizes[n] = size;
    n++;
  }
  if (at !== end) throw badIndex(`terminator at ${at - 1 - start} of ${end - start} bytes (S disagrees)`);
  if (expectOffset !== endMarkerOffset) throw badIndex(`frames end at ${expectOffset}, but the end marker is at ${endMarkerOffset}`);
  return n === cap ? { count: n, pgnos, offsets, sizes } : { count: n, pgnos: pgnos.subarray(0, n), offsets: offsets.subarray(0, n), sizes: sizes.subarray(0, n) };
}

interface TailFields {
  indexOffset: number; // absolute offset of the first index byte
  indexSize: number; // S
  postApplyChecksum: bigint;
  fileChecksum: bigint;
}

export type TailIndex = ({ ok: true; entries: PageIndexEntry[] } & TailFields) | { ok: false; needBytes: number }; // fetch this many tail bytes and call again

export type TailIndexColumns = ({ ok: true; columns: PageIndexColumns } & TailFields) | { ok: false; needBytes: number };

/**
 * Parse the index from the last `tail.length` bytes of a file of `fileSize` bytes.
 * Nothing here is checksummed (FORMAT.md §9); structure is checked as far as the
 * tail allows. Returns { ok: false, needBytes } if the tail is too short.
 */
export function readTailIndex(tail: Uint8Array, fileSize: number): TailIndex {
  const r = readTailIndexColumns(tail, fileSize);
  if (!r.ok) return r;
  const { columns, indexOffset, indexSize, postApplyChecksum, fileChecksum } = r;
  return { ok: true, entries: pageIndexEntries(columns), indexOffset, indexSize, postApplyChecksum, fileChecksum };
}

/** readTailIndex into columns (the open path's: no object per entry). */
export function readTailIndexColumns(tail: Uint8Array, fileSize: number): TailIndexColumns {
  if (!Number.isSafeInteger(fileSize) || fileSize < MIN_FILE_SIZE) {
    throw new LtxError('LTX_TRUNCATED', `file of ${fileSize} bytes is shorter than the smallest LTX file (${MIN_FILE_SIZE})`);
  }
  if (tail.length > fileSize) throw new RangeError(`readTailIndex: tail of ${tail.length} bytes exceeds the file size ${fileSize}`);
  if (tail.length < TAIL_FIXED_SIZE) return { ok: false, needBytes: TAIL_FIXED_SIZE };
  const v = new DataView(tail.buffer, tail.byteOffset + tail.length - TAIL_FIXED_SIZE, TAIL_FIXED_SIZE);
  const s = v.getBigUint64(0);
  const maxS = BigInt(fileSize - TAIL_FIXED_SIZE - HEADER_SIZE - PAGE_HEADER_SIZE);
  if (s < 1n || s > maxS) throw badIndex(`size field S = ${s} does not fit a ${fileSize}-byte file`);
  const indexSize = Number(s);
  const need = indexSize + TAIL_FIXED_SIZE;
  if (tail.length < need) return { ok: false, needBytes: need };
  const indexOffset = fileSize - need;
  const start = tail.length - need;
  const columns = parsePageIndexColumns(tail, start, start + indexSize, indexOffset - PAGE_HEADER_SIZE);
  return {
    ok: true,
    columns,
    indexOffset,
    indexSize,
    postApplyChecksum: v.getBigUint64(INDEX_SIZE_FIELD),
    fileChecksum: v.getBigUint64(INDEX_SIZE_FIELD + 8),
  };
}

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
 * Parse the index bytes buf[start, end) (entries and terminator, exactly S bytes).
 * Checks entry order and that frames tile the page block: the first starts at 100,
 * each starts where the previous one ends, the last ends at the end marker.
 */
export function parsePageIndex(buf: Uint8Array, start: number, end: number, endMarkerOffset: number): PageIndexEntry[] {
  const entries: PageIndexEntry[] = [];
  let at = start;
  let expectOffset = HEADER_SIZE;
  let prevPgno = 0;
  for (;;) {
    const p = readUvarint(buf, at, end);
    if (!p) throw badIndex('ends before its terminator');
    const [pgno] = p;
    at = p[1];
    if (pgno === 0) break;
    const o = readUvarint(buf, at, end);
    if (!o) throw badIndex(`entry for page ${pgno} is cut off`);
    const s = readUvarint(buf, o[1], end);
    if (!s) throw badIndex(`entry for page ${pgno} is cut off`);
    at = s[1];
    const entry = { pgno, offset: o[0], size: s[0] };
    if (pgno <= prevPgno) throw badIndex(`page ${pgno} follows page ${prevPgno} (must ascend)`);
    if (entry.offset !== expectOffset) throw badIndex(`page ${pgno} at offset ${entry.offset}, expected ${expectOffset}`);
    if (entry.size <= PAGE_HEADER_SIZE) throw badIndex(`page ${pgno} has frame size ${entry.size}`);
    expectOffset = entry.offset + entry.size;
    if (expectOffset > endMarkerOffset) throw badIndex(`page ${pgno} frame passes the end marker at ${endMarkerOffset}`);
    prevPgno = pgno;
    entries.push(entry);
  }
  if (at !== end) throw badIndex(`terminator at ${at - 1 - start} of ${end - start} bytes (S disagrees)`);
  if (expectOffset !== endMarkerOffset) throw badIndex(`frames end at ${expectOffset}, but the end marker is at ${endMarkerOffset}`);
  return entries;
}

export type TailIndex =
  | {
      ok: true;
      entries: PageIndexEntry[];
      indexOffset: number; // absolute offset of the first index byte
      indexSize: number; // S
      postApplyChecksum: bigint;
      fileChecksum: bigint;
    }
  | { ok: false; needBytes: number }; // fetch this many tail bytes and call again

/**
 * Parse the index from the last `tail.length` bytes of a file of `fileSize` bytes.
 * Nothing here is checksummed (FORMAT.md §9); structure is checked as far as the
 * tail allows. Returns { ok: false, needBytes } if the tail is too short.
 */
export function readTailIndex(tail: Uint8Array, fileSize: number): TailIndex {
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
  const entries = parsePageIndex(tail, start, start + indexSize, indexOffset - PAGE_HEADER_SIZE);
  return {
    ok: true,
    entries,
    indexOffset,
    indexSize,
    postApplyChecksum: v.getBigUint64(INDEX_SIZE_FIELD),
    fileChecksum: v.getBigUint64(INDEX_SIZE_FIELD + 8),
  };
}

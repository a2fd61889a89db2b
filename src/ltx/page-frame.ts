// One page frame (FORMAT.md §4): page header (pgno u32, flags u16), then either
// a u32 size N and a raw LZ4 block (flags 0x1, what we write) or one LZ4 frame
// (flags 0, legacy, read-only). The replica read path range-GETs one frame by
// its index entry and calls decodePageFrame on exactly those bytes.

import { LtxError } from './errors.js';
import { FrameTruncated, decodeLz4Frame } from './lz4-frame.js';
import { lz4CompressBlock, lz4CompressBound, lz4DecompressBlock } from './lz4.js';
import { PAGE_FLAG_LZ4_BLOCK, PAGE_HEADER_SIZE, SIZE_PREFIX_SIZE } from './header.js';

export type PageEncoding = 'lz4-block' | 'lz4-frame';

export interface DecodedFrame {
  pgno: number;
  encoding: PageEncoding;
  /** Whole frame length in bytes (what the index records as `size`). */
  size: number;
  /** N for the current encoding, null for a legacy frame. */
  compressedSize: number | null;
}

// Big-endian u32 at buf[at] (the caller has checked the bounds).
function u32be(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** Largest N the current encoding may carry for one page (LZ4's worst case). */
export function maxBlockSize(pageSize: number): number {
  return lz4CompressBound(pageSize);
}

/** Encode one page as a current-encoding frame. */
export function encodePageFrame(pgno: number, page: Uint8Array): Uint8Array {
  const out = new Uint8Array(PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + lz4CompressBound(page.length));
  const n = writePageFrame(out, 0, pgno, page);
  return out.subarray(0, n);
}

/** Encode into `out` at `at` (room: 10 + lz4CompressBound(page.length)); returns the frame length. */
export function writePageFrame(out: Uint8Array, at: number, pgno: number, page: Uint8Array): number {
  const n = lz4CompressBlock(page, out, at + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE);
  const v = new DataView(out.buffer, out.byteOffset + at, PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE);
  v.setUint32(0, pgno);
  v.setUint16(4, PAGE_FLAG_LZ4_BLOCK);
  v.setUint32(6, n);
  return PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + n;
}

/**
 * Decode the frame at buf[at] into `page` (exactly pageSize bytes). The page header
 * must already be known not to be the end marker. Throws LTX_TRUNCATED if buf ends
 * inside the frame (a streaming caller waits for more bytes), other LtxErrors for
 * malformed data.
 */
export function readPageFrame(buf: Uint8Array, at: number, page: Uint8Array): DecodedFrame {
  if (buf.length - at < PAGE_HEADER_SIZE) throw new LtxError('LTX_TRUNCATED', 'page header: input ends inside it');
  const pgno = u32be(buf, at);
  const flags = (buf[at + 4] << 8) | buf[at + 5];
  if (pgno === 0) throw new LtxError('LTX_BAD_PAGE', `page header: pgno 0 with flags 0x${flags.toString(16)} (only flags 0 end the page block)`);
  if (flags === PAGE_FLAG_LZ4_BLOCK) {
    if (buf.length - at < PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE) throw new LtxError('LTX_TRUNCATED', 'page header: input ends inside the size field');
    const n = u32be(buf, at + PAGE_HEADER_SIZE);
    if (n === 0 || n > maxBlockSize(page.length)) {
      throw new LtxError('LTX_BAD_PAGE', `page ${pgno}: block size ${n} is outside 1..${maxBlockSize(page.length)}`);
    }
    const start = at + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE;
    if (buf.length - start < n) throw new LtxError('LTX_TRUNCATED', `page ${pgno}: input ends inside the ${n}-byte block`);
    lz4DecompressBlock(buf, start, start + n, page, 0, page.length);
    return { pgno, encoding: 'lz4-block', size: PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + n, compressedSize: n };
  }
  if (flags === 0) {
    const len = decodeLz4Frame(buf, at + PAGE_HEADER_SIZE, page);
    return { pgno, encoding: 'lz4-frame', size: PAGE_HEADER_SIZE + len, compressedSize: null };
  }
  const hint = flags === 0x0422 ? ' (looks like LTX format v2, which is not readable)' : '';
  throw new LtxError('LTX_BAD_PAGE', `page ${pgno}: unknown page flags 0x${flags.toString(16)}${hint}`);
}

/**
 * How many bytes buf must hold (from its start) before the frame at `at` can be
 * decoded, or 0 if it is complete or broken. Lets a streaming caller wait without
 * retrying the decode on every small chunk.
 */
export function frameBytesNeeded(buf: Uint8Array, at: number, err: unknown): number {
  if (err instanceof FrameTruncated) return err.needLength;
  if (!(err instanceof LtxError) || err.code !== 'LTX_TRUNCATED') return 0;
  if (buf.length - at < PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE) return at + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE;
  const v = new DataView(buf.buffer, buf.byteOffset + at, PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE);
  if (v.getUint16(4) !== PAGE_FLAG_LZ4_BLOCK) return buf.length + 1;
  return at + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + v.getUint32(PAGE_HEADER_SIZE);
}

/**
 * Decode exactly one frame's bytes (as range-read by its index entry) into a new page,
 * or into `into` (pageSize bytes, e.g. a slice of a larger output buffer: fresh memory
 * is slow, so callers that write pages out right away can reuse one). Strict: the
 * frame must use every byte given, and `expectPgno` (if given) must match.
 */
export function decodePageFrame(
  frame: Uint8Array,
  pageSize: number,
  expectPgno?: number,
  into?: Uint8Array,
): { pgno: number; data: Uint8Array } {
  if (into !== undefined && into.length !== pageSize) {
    throw new RangeError(`decodePageFrame: output buffer is ${into.length} bytes, page size is ${pageSize}`);
  }
  const data = into ?? new Uint8Array(pageSize);
  const f = readPageFrame(frame, 0, data);
  if (f.size !== frame.length) {
    throw new LtxError('LTX_BAD_PAGE', `page ${f.pgno}: frame is ${f.size} bytes but ${frame.length} were given`);
  }
  if (expectPgno !== undefined && f.pgno !== expectPgno) {
    throw new LtxError('LTX_BAD_PAGE', `frame holds page ${f.pgno}, expected ${expectPgno}`);
  }
  return { pgno: f.pgno, data };
}

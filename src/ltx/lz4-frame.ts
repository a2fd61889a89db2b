// Legacy page payload (FORMAT.md §4.3): one complete LZ4 *frame* per page, as
// ltx v0.5.0/v0.5.1 (Litestream v0.5.0–v0.5.15) wrote. Read-only: we never write it.
// Decoded strictly: magic, FLG/BD reserved bits, header checksum, block sizes,
// optional block checksums, end mark, and the content checksum when flagged.

import { LtxError } from './errors.js';
import { lz4DecompressBlock, lz4DecompressBlockUpTo } from './lz4.js';

const FRAME_MAGIC = 0x184d2204;
const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function u32le(a: Uint8Array, i: number): number {
  return (a[i] | (a[i + 1] << 8) | (a[i + 2] << 16) | (a[i + 3] << 24)) >>> 0;
}

/** xxHash32 of data[start, end) with seed 0. Only legacy LZ4 frames need it. */
export function xxh32(data: Uint8Array, start = 0, end = data.length): number {
  const len = end - start;
  let i = start;
  let h: number;
  if (len >= 16) {
    // Legacy frames carry a content checksum over every page: this loop is hot.
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let v1 = (P1 + P2) | 0;
    let v2 = P2 | 0;
    let v3 = 0;
    let v4 = -P1 | 0;
    for (; i + 16 <= end; i += 16) {
      v1 = Math.imul(rotl((v1 + Math.imul(dv.getInt32(i, true), P2)) | 0, 13), P1);
      v2 = Math.imul(rotl((v2 + Math.imul(dv.getInt32(i + 4, true), P2)) | 0, 13), P1);
      v3 = Math.imul(rotl((v3 + Math.imul(dv.getInt32(i + 8, true), P2)) | 0, 13), P1);
      v4 = Math.imul(rotl((v4 + Math.imul(dv.getInt32(i + 12, true), P2)) | 0, 13), P1);
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = P5 | 0;
  }
  h = (h + len) | 0;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(rotl((h + Math.imul(u32le(data, i), P3)) | 0, 17), P4);
  }
  for (; i < end; i++) {
    h = Math.imul(rotl((h + Math.imul(data[i], P5)) | 0, 11), P1);
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

function frameError(message: string): LtxError {
  return new LtxError('LTX_BAD_LZ4', `lz4 frame: ${message}`);
}

/** Thrown internally when the bytes end before the frame does; callers may wait for more. */
export class FrameTruncated extends LtxError {
  /** Length src must have (from its start) before the frame can be decoded further. */
  readonly needLength: number;
  constructor(needLength: number) {
    super('LTX_TRUNCATED', 'lz4 frame: input ends inside the frame');
    this.needLength = needLength;
  }
}

const BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/**
 * Decode the LZ4 frame that starts at src[start] into dst[0, pageSize) and return
 * the frame's length in bytes. Throws FrameTruncated if src ends first, and an
 * LTX_BAD_LZ4 LtxError on any malformed field or checksum.
 */
export function decodeLz4Frame(src: Uint8Array, start: number, dst: Uint8Array): number {
  const end = src.length;
  const need = (p: number, n: number) => {
    if (p + n > end) throw new FrameTruncated(p + n);
  };
  let p = start;
  need(p, 7);
  const magic = u32le(src, p);
  if (magic !== FRAME_MAGIC) throw frameError(`bad magic 0x${magic.toString(16)}`);
  const flg = src[p + 4];
  const bd = src[p + 5];
  if (flg >>> 6 !== 1) throw frameError(`unsupported version ${flg >>> 6}`);
  if (flg & 0x02) throw frameError('reserved FLG bit 1 set');
  if (bd & 0x8f) throw frameError(`reserved BD bits set (0x${bd.toString(16)})`);
  const blockMax = BLOCK_MAX[(bd >>> 4) & 7];
  if (blockMax === 0) throw frameError(`invalid block max size code ${(bd >>> 4) & 7}`);
  const independent = (flg & 0x20) !== 0;
  const blockChecksum = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  if (flg & 0x01) throw frameError('dictionary IDs are not supported');
  let q = p + 6;
  if (hasContentSize) {
    need(q, 9);
    const lo = u32le(src, q);
    const hi = u32le(src, q + 4);
    if (hi !== 0 || lo !== dst.length) throw frameError(`content size ${hi * 2 ** 32 + lo} is not the page size ${dst.length}`);
    q += 8;
  }
  need(q, 1);
  const hc = (xxh32(src, p + 4, q) >>> 8) & 0xff;
  if (src[q] !== hc) throw frameError(`header checksum 0x${src[q].toString(16)}, expected 0x${hc.toString(16)}`);
  p = q + 1;

  let out = 0;
  for (;;) {
    need(p, 4);
    const word = u32le(src, p);
    p += 4;
    if (word === 0) break; // end mark
    const stored = word >= 0x80000000;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw frameError(`block of ${size} bytes exceeds the frame's ${blockMax}`);
    need(p, size + (blockChecksum ? 4 : 0));
    if (blockChecksum) {
      const sum = u32le(src, p + size);
      if (sum !== xxh32(src, p, p + size)) throw new LtxError('LTX_CHECKSUM_MISMATCH', 'lz4 frame: block checksum mismatch');
    }
    if (stored) {
      if (size > dst.length - out) throw frameError(`content passes the page size ${dst.length}`);
      dst.set(src.subarray(p, p + size), out);
      out += size;
    } else {
      // A compressed block's output length is not stored: decode into the rest of the
      // page, then find how far it reached by decoding into an exact-size slice.
      out += decodeBlockUnknownLength(src, p, p + size, dst, out, independent ? out : 0);
    }
    p += size + (blockChecksum ? 4 : 0);
  }
  if (out !== dst.length) throw frameError(`content is ${out} bytes, expected ${dst.length}`);
  if (contentChecksum) {
    need(p, 4);
    const sum = u32le(src, p);
    p += 4;
    const want = xxh32(dst);
    if (sum !== want) throw new LtxError('LTX_CHECKSUM_MISMATCH', `lz4 frame: content checksum 0x${sum.toString(16)}, expected 0x${want.toString(16)}`);
  }
  return p - start;
}

// Decompress a block whose output length is unknown, into dst starting at `at`,
// bounded by dst's end. Returns the number of bytes produced.
function decodeBlockUnknownLength(
  src: Uint8Array,
  s: number,
  e: number,
  dst: Uint8Array,
  at: number,
  windowStart: number,
): number {
  // One pass does it for valid blocks. A bad block is decoded again the careful way
  // (measure, then exact-length strict decode) only to report the error as before.
  try {
    return lz4DecompressBlockUpTo(src, s, e, dst, at, windowStart);
  } catch (err) {
    if (!(err instanceof LtxError)) throw err;
  }
  return decodeBlockCarefully(src, s, e, dst, at, windowStart);
}

// Measure the output length from the sequence lengths alone (no copying), bounded by
// the room left, then run the strict decoder on exactly that range.
function decodeBlockCarefully(
  src: Uint8Array,
  s: number,
  e: number,
  dst: Uint8Array,
  at: number,
  windowStart: number,
): number {
  let ip = s;
  let produced = 0;
  const room = dst.length - at;
  for (;;) {
    if (ip >= e) throw frameError('block ends inside a sequence');
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= e) throw frameError('block ends inside a literal length');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    ip += lit;
    produced += lit;
    if (ip > e) throw frameError('literal run passes the end of the block');
    if (produced > room) throw frameError(`content passes the page size ${dst.length}`);
    if (ip === e) break;
    ip += 2;
    let m = token & 15;
    if (m === 15) {
      let b: number;
      do {
        if (ip >= e) throw frameError('block ends inside a match length');
        b = src[ip++];
        m += b;
      } while (b === 255);
    }
    produced += m + 4;
    if (produced > room) throw frameError(`content passes the page size ${dst.length}`);
  }
  lz4DecompressBlock(src, s, e, dst, at, at + produced, windowStart);
  return produced;
}

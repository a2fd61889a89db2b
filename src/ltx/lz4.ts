// LZ4 block codec (FORMAT.md §4.2), hand-written: the strict decoder and the
// compressor LTX uses for every page.
//
// Chosen by measurement (bench/ltx.ts; 2-core AMD EPYC, Node 20, a 100 MiB
// better-sqlite3 database; MB/s of 4 KiB pages, CPU time, median of 3 rounds × 5
// runs, on a machine shared with other work; full table in docs/ltx.md):
//
//                      SQLite pages      random pages      zero pages
//                      encode  decode    encode  decode    encode  decode
//   this file            213     365      2426   17697      2945   13843
//   lz4-napi             224     643       220    1270      1561    1952
//   lz4-wasm-nodejs      336     630      1216    1601      2108     350
//   lz4js                  —       —         —       —       463     459
//
// Since then the decoder copies short literals and matches 4 bytes at a time
// (below): SQLite-page decode went from 425–442 to 512–766 MB/s in two bench:ltx
// runs (load ≈ 5; lz4-napi 545–648, lz4-wasm-nodejs 563–644 in the same runs) and
// 1.5–1.6× in interleaved same-process runs. Random pages fell from ~20 to ~9 GB/s
// (two DataViews per block, ~0.25 µs), still 6× the packages. The WASM package
// still encodes ~1.6x faster; we use our own because:
// - strictness is the job (FORMAT.md §13): lz4-napi returned 1 byte for a block
//   whose size prefix said 2 (short output is accepted); lz4-wasm-nodejs rejects
//   bad blocks but throws `undefined`, with nothing to tell the user;
// - we decode in place into the caller's page buffer, with a window start for the
//   legacy frames' linked blocks; the packages allocate per call and need a 4-byte
//   size prefix copied in front of every block;
// - lz4js returns no block at all for incompressible input (LTX needs a
//   literal-only block), so it failed on the benchmark's SQLite pages too;
// - LZ4 is not the bottleneck: whole-file decode also runs the CRC-64 and
//   allocates pages, and a single range-read page costs ~11 µs here against
//   milliseconds of network; incompressible and zero pages are faster here;
// - no native binary or WASM module to load: works wherever Node runs.
// If encode speed ever matters (compacting large databases), lz4-wasm-nodejs's
// output is valid input for the strict decoder below and could be swapped in.

import { LtxError } from './errors.js';

const MIN_MATCH = 4;
const LAST_LITERALS = 5; // the last 5 bytes of a block are always literals
const MF_LIMIT = 12; // the last match must start at least 12 bytes before the end
const HASH_LOG = 12; // 4096 entries: enough for pages up to 64 KiB, cheap to keep warm
const MAX_OFFSET = 65535;

/** Worst-case compressed size of `n` bytes (all literals). */
export function lz4CompressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

function lz4Error(message: string): LtxError {
  return new LtxError('LTX_BAD_LZ4', `lz4: ${message}`);
}

/**
 * Decompress the block src[srcStart, srcEnd) into dst[dstStart, dstEnd). Strict:
 * the block must consume every input byte and produce exactly dstEnd − dstStart
 * bytes. Matches may reach back to `windowStart` (≤ dstStart; legacy LZ4 frames
 * with linked blocks use an earlier window).
 *
 * Speed: a SQLite page is ~300 sequences of a few literals and a 4–15 byte match,
 * so the per-sequence copy cost dominates. Short copies move 4 bytes per step
 * through DataViews, at least 8, and may overshoot the sequence by up to 7; the next
 * sequence overwrites them, and nothing is ever written at or past dstEnd. Long
 * copies use set/copyWithin/fill. On error dst[dstStart, dstEnd) holds junk. src
 * and dst must not share memory.
 */
export function lz4DecompressBlock(
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  dst: Uint8Array,
  dstStart: number,
  dstEnd: number,
  windowStart = dstStart,
): void {
  if (srcEnd > src.length || dstEnd > dst.length || srcStart > srcEnd || dstStart > dstEnd) {
    throw new RangeError('lz4DecompressBlock: bounds outside the buffers');
  }
  const op = decompress(src, srcStart, srcEnd, dst, dstStart, dstEnd, windowStart);
  if (op !== dstEnd) throw lz4Error(`block decodes to ${op - dstStart} bytes, expected ${dstEnd - dstStart}`);
}

/**
 * Decompress a block whose output length is not known (legacy LZ4 frames) into
 * dst[dstStart, at most dst.length); returns the number of bytes produced. Same
 * checks as lz4DecompressBlock except the exact length; on error dst holds junk.
 */
export function lz4DecompressBlockUpTo(src: Uint8Array, srcStart: number, srcEnd: number, dst: Uint8Array, dstStart: number, windowStart: number): number {
  if (srcEnd > src.length || srcStart > srcEnd || dstStart > dst.length) {
    throw new RangeError('lz4DecompressBlockUpTo: bounds outside the buffers');
  }
  return decompress(src, srcStart, srcEnd, dst, dstStart, dst.length, windowStart) - dstStart;
}

// The decoder proper: returns the output position after the last sequence.
function decompress(src: Uint8Array, srcStart: number, srcEnd: number, dst: Uint8Array, dstStart: number, dstEnd: number, windowStart: number): number {
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  // Word copies move at least 8 bytes and may overshoot by up to 7: allowed within
  // src (reading is harmless anywhere in it) and before dstEnd.
  const srcSlackEnd = src.length - 7;
  const dstSlackEnd = dstEnd - 7;
  let ip = srcStart;
  let op = dstStart;
  if (ip === srcEnd) throw lz4Error('empty block');
  for (;;) {
    if (ip >= srcEnd) throw lz4Error('block ends inside a sequence');
    const token = src[ip++];
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw lz4Error('block ends inside a literal length');
        b = src[ip++];
        litLen += b;
      } while (b === 255);
    }
    if (litLen > srcEnd - ip) throw lz4Error(`literal run of ${litLen} bytes passes the end of the block`);
    if (litLen > dstEnd - op) throw lz4Error(`literal run of ${litLen} bytes passes the end of the page`);
    if (litLen !== 0) {
      if (litLen > 32) {
        dst.set(src.subarray(ip, ip + litLen), op);
      } else if (op + litLen <= dstSlackEnd && ip + litLen <= srcSlackEnd) {
        dv.setInt32(op, sv.getInt32(ip, true), true);
        dv.setInt32(op + 4, sv.getInt32(ip + 4, true), true);
        for (let k = 8; k < litLen; k += 4) dv.setInt32(op + k, sv.getInt32(ip + k, true), true);
      } else {
        for (let k = 0; k < litLen; k++) dst[op + k] = src[ip + k];
      }
      ip += litLen;
      op += litLen;
    }
    if (ip === srcEnd) break; // the last sequence holds literals only
    if (srcEnd - ip < 2) throw lz4Error('block ends inside a match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0) throw lz4Error('match offset 0');
    if (offset > op - windowStart) throw lz4Error(`match offset ${offset} reaches before the start of the output`);
    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw lz4Error('block ends inside a match length');
        b = src[ip++];
        matchLen += b;
      } while (b === 255);
    }
    matchLen += MIN_MATCH;
    if (matchLen > dstEnd - op) throw lz4Error(`match of ${matchLen} bytes passes the end of the page`);
    let from = op - offset;
    if (offset >= 4 && matchLen <= 32 && op + matchLen <= dstSlackEnd) {
      // Each 4-byte step reads bytes at least 4 behind the write position: already final.
      dv.setInt32(op, dv.getInt32(from, true), true);
      dv.setInt32(op + 4, dv.getInt32(from + 4, true), true);
      for (let k = 8; k < matchLen; k += 4) dv.setInt32(op + k, dv.getInt32(from + k, true), true);
      op += matchLen;
    } else if (offset >= matchLen) {
      dst.copyWithin(op, from, from + matchLen);
      op += matchLen;
    } else if (offset === 1) {
      dst.fill(dst[from], op, op + matchLen); // a run of one byte (zero pages, padding)
      op += matchLen;
    } else if (matchLen >= 32) {
      // The output repeats with period `offset`: copy whole periods, doubling each time.
      for (let w = 0; w < matchLen; ) {
        const n = Math.min(op + w - from, matchLen - w);
        dst.copyWithin(op + w, from, from + n);
        w += n;
      }
      op += matchLen;
    } else {
      // Overlapping copies repeat the last `offset` bytes, one byte at a time.
      const end = op + matchLen;
      while (op < end) dst[op++] = dst[from++];
    }
  }
  return op;
}

// Hash table shared by every call. Entries hold position + `base`; raising `base`
// past the previous input makes all old entries stale without clearing the table.
const table = new Int32Array(1 << HASH_LOG);
let base = 1;

function hash4(v: number): number {
  return Math.imul(v, 2654435761) >>> (32 - HASH_LOG);
}

function writeLength(dst: Uint8Array, op: number, n: number): number {
  while (n >= 255) {
    dst[op++] = 255;
    n -= 255;
  }
  dst[op++] = n;
  return op;
}

function writeSequence(
  src: Uint8Array,
  anchor: number,
  litLen: number,
  dst: Uint8Array,
  op: number,
  offset: number,
  matchLen: number,
): number {
  const tokenPos = op++;
  let token = 0;
  if (litLen >= 15) {
    token = 0xf0;
    op = writeLength(dst, op, litLen - 15);
  } else {
    token = litLen << 4;
  }
  if (litLen < 16) {
    for (let k = 0; k < litLen; k++) dst[op + k] = src[anchor + k];
  } else {
    dst.set(src.subarray(anchor, anchor + litLen), op);
  }
  op += litLen;
  if (matchLen > 0) {
    dst[op++] = offset & 0xff;
    dst[op++] = offset >>> 8;
    const m = matchLen - MIN_MATCH;
    if (m >= 15) {
      token |= 15;
      op = writeLength(dst, op, m - 15);
    } else {
      token |= m;
    }
  }
  dst[tokenPos] = token;
  return op;
}

/**
 * Compress `src` into dst starting at dstStart (dst needs lz4CompressBound(src.length)
 * bytes of room). Returns the number of bytes written. Incompressible input becomes a
 * literal-only block slightly larger than the input (4096 → 4114).
 */
export function lz4CompressBlock(src: Uint8Array, dst: Uint8Array, dstStart = 0): number {
  const n = src.length;
  const sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dst.length - dstStart < lz4CompressBound(n)) {
    throw new RangeError(`lz4CompressBlock: need ${lz4CompressBound(n)} bytes of output room`);
  }
  if (base > 0x7fffffff - n - 1) {
    table.fill(0);
    base = 1;
  }
  const b = base;
  base += n + 1;
  let op = dstStart;
  let anchor = 0;
  if (n >= MF_LIMIT + 1) {
    const mfLimit = n - MF_LIMIT;
    const matchLimit = n - LAST_LITERALS;
    let ip = 0;
    while (ip < mfLimit) {
      const seq = sv.getInt32(ip, true);
      const h = hash4(seq);
      const ref = table[h] - b;
      table[h] = ip + b;
      if (ref < 0 || ip - ref > MAX_OFFSET || sv.getInt32(ref, true) !== seq) {
        ip += 1 + ((ip - anchor) >>> 6);
        continue;
      }
      let start = ip;
      let r = ref;
      while (start > anchor && r > 0 && src[start - 1] === src[r - 1]) {
        start--;
        r--;
      }
      let end = ip + MIN_MATCH;
      let re = ref + MIN_MATCH;
      while (end + 4 <= matchLimit && sv.getInt32(end, true) === sv.getInt32(re, true)) {
        end += 4;
        re += 4;
      }
      while (end < matchLimit && src[end] === src[re]) {
        end++;
        re++;
      }
      op = writeSequence(src, anchor, start - anchor, dst, op, start - r, end - start);
      anchor = end;
      ip = end;
      if (ip < mfLimit) {
        const p = ip - 2;
        table[hash4(sv.getInt32(p, true))] = p + b;
      }
    }
  }
  return writeSequence(src, anchor, n - anchor, dst, op, 0, 0) - dstStart;
}

/** Convenience: compress into a fresh, exactly-sized array. */
export function lz4Compress(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(lz4CompressBound(src.length));
  return out.slice(0, lz4CompressBlock(src, out));
}

// A chunk: a byte range of one LTX file cut at frame boundaries (from the page
// index), so it decodes on its own, in any order. Each chunk yields its pages and
// the CRC of its share of the file-checksum stream (FORMAT.md §7.4: header as
// stored, per frame the page header, size prefix and decompressed page, then the
// end marker, index, S and the post-apply checksum); crc64Combine joins the shares.
// In files with checksums each page's checksum comes from the same pass (page-sums.ts).
import { Crc64, HEADER_SIZE, LtxError, PAGE_FLAG_LZ4_BLOCK, hasChecksums } from '../ltx/index.js';
import { readPageFrame } from '../ltx/page-frame.js';
import type { FileMeta } from './file-meta.js';

export interface Chunk {
  meta: FileMeta;
  start: number;
  end: number; // exclusive
  /** Index entries [first, last) whose frames lie in the chunk. */
  first: number;
  last: number;
}

export interface ChunkResult {
  crc: bigint;
  /** Bytes fed to the CRC (decompressed pages count at page size). */
  hashed: number;
  /** Pages in ascending order (all of the chunk's frames). */
  pages: { pgno: number; data: Uint8Array; sum?: bigint }[];
  /** The trailer's file checksum, when the chunk ends the file. */
  fileChecksum: bigint | null;
}

/**
 * Cut a file into chunks of about `chunkBytes` (at least one frame each). Ranges in
 * `keep` (a journal's records of this file) are kept as they are when they fall on
 * frame boundaries and do not overlap, and only the gaps between them are cut, so a
 * journal written with other chunk sizes still resumes everything it recorded.
 */
export function chunksOf(meta: FileMeta, chunkBytes: number, keep: readonly { start: number; end: number }[] = []): Chunk[] {
  // Where a chunk may start or end, with the first index entry at or after it.
  const n = meta.entries.length;
  const at: number[] = [0];
  const entry: number[] = [0];
  for (let i = 1; i < n; i++) {
    at.push(meta.entries[i].offset);
    entry.push(i);
  }
  at.push(meta.endMarker, meta.file.size);
  entry.push(n, n);
  const boundary = new Map<number, number>();
  at.forEach((off, k) => boundary.set(off, k));
  const kept = keep
    .map((r) => ({ a: boundary.get(r.start), b: boundary.get(r.end) }))
    .filter((r): r is { a: number; b: number } => r.a !== undefined && r.b !== undefined && r.b > r.a)
    .sort((x, y) => x.a - y.a || x.b - y.b);
  const out: Chunk[] = [];
  const push = (a: number, b: number) => out.push({ meta, start: at[a], end: at[b], first: entry[a], last: entry[b] });
  const cut = (a: number, to: number) => {
    while (a < to) {
      let b = a + 1;
      while (b < to && at[b + 1] - at[a] <= chunkBytes) b++;
      push(a, b);
      a = b;
    }
  };
  let k = 0;
  for (const r of kept) {
    if (r.a < k) continue; // overlaps one kept already
    cut(k, r.a);
    push(r.a, r.b);
    k = r.b;
  }
  cut(k, at.length - 1);
  return out;
}

/** A buffer reused for every chunk of one connection: first-touching fresh memory is slow here. */
export class ScratchBuffer {
  private buf = new Uint8Array(0);
  /** `n` bytes, valid until the next call. */
  take(n: number): Uint8Array {
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, Math.ceil(this.buf.length * 1.5)));
    return this.buf.subarray(0, n);
  }
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Decode a chunk's bytes and compute its CRC share; throws if the bytes are damaged
 * (a frame that does not decode to its indexed page, header or tail bytes that differ
 * from the metadata the plan was made with). With `pages`, the decoded pages live in
 * that buffer (valid until its next use) instead of a new one per page.
 */
export function decodeChunk(chunk: Chunk, bytes: Uint8Array, pages?: ScratchBuffer): ChunkResult {
  const { meta, start, end } = chunk;
  const key = meta.file.key;
  if (bytes.length !== end - start) throw new LtxError('LTX_TRUNCATED', `${key}: got ${bytes.length} bytes for ${start}..${end - 1}`);
  const crc = new Crc64();
  let hashed = 0;
  if (start === 0) {
    const header = bytes.subarray(0, HEADER_SIZE);
    if (!equal(header, meta.headerBytes)) throw new LtxError('LTX_BAD_HEADER', `${key}: header bytes differ from the ones the plan was made with`);
    crc.update(header);
    hashed += HEADER_SIZE;
  }
  const pageSize = meta.header.pageSize;
  const sums = hasChecksums(meta.header);
  const out: ChunkResult['pages'] = [];
  const into = pages ? pages.take((chunk.last - chunk.first) * pageSize) : new Uint8Array((chunk.last - chunk.first) * pageSize);
  for (let i = chunk.first; i < chunk.last; i++) {
    const e = meta.entries[i];
    const frame = bytes.subarray(e.offset - start, e.offset - start + e.size);
    const data = into.subarray((i - chunk.first) * pageSize, (i - chunk.first + 1) * pageSize);
    const f = readPageFrame(frame, 0, data);
    if (f.size !== frame.length) throw new LtxError('LTX_BAD_PAGE', `${key}: page ${f.pgno}: frame is ${f.size} bytes but the index says ${frame.length}`);
    if (f.pgno !== e.pgno) throw new LtxError('LTX_BAD_PAGE', `${key}: frame holds page ${f.pgno}, the index says ${e.pgno}`);
    const prefix = (frame[4] << 8) | frame[5] ? 10 : 6; // flags 0x1: pgno, flags, u32 N; legacy: pgno, flags
    if (prefix === 10 && ((frame[4] << 8) | frame[5]) !== PAGE_FLAG_LZ4_BLOCK) throw new LtxError('LTX_BAD_PAGE', `${key}: page ${e.pgno}: unknown flags`);
    crc.update(frame, 0, prefix);
    hashed += prefix + pageSize;
    // With checksums, the page's own checksum comes from the same pass (for the database checksum).
    if (sums) out.push({ pgno: e.pgno, data, sum: crc.updatePage(e.pgno, data) });
    else {
      crc.update(data);
      out.push({ pgno: e.pgno, data });
    }
  }
  let fileChecksum: bigint | null = null;
  if (end === meta.file.size) {
    const tail = bytes.subarray(meta.endMarker - start);
    if (!equal(tail, meta.tailBytes)) throw new LtxError('LTX_BAD_INDEX', `${key}: index bytes differ from the ones the plan was made with`);
    crc.update(tail, 0, tail.length - 8);
    hashed += tail.length - 8;
    fileChecksum = new DataView(tail.buffer, tail.byteOffset + tail.length - 8, 8).getBigUint64(0);
  }
  return { crc: crc.digest(), hashed, pages: out, fileChecksum };
}

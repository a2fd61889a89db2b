// A chunk: a byte range of one LTX file cut at frame boundaries (from the page
// index), so it decodes on its own, in any order. Each chunk yields its pages and
// the CRC of its share of the file-checksum stream (FORMAT.md §7.4: header as
// stored, per frame the page header, size prefix and decompressed page, then the
// end marker, index, S and the post-apply checksum); crc64Combine joins the shares.
import { Crc64, HEADER_SIZE, LtxError, PAGE_FLAG_LZ4_BLOCK, decodePageFrame } from '../ltx/index.js';
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
  pages: { pgno: number; data: Uint8Array }[];
  /** The trailer's file checksum, when the chunk ends the file. */
  fileChecksum: bigint | null;
}

/** Cut a file into chunks of about `chunkBytes` (at least one frame each). */
export function chunksOf(meta: FileMeta, chunkBytes: number): Chunk[] {
  const out: Chunk[] = [];
  const entries = meta.entries;
  let start = 0;
  let first = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (i > first && e.offset + e.size - start > chunkBytes) {
      out.push({ meta, start, end: e.offset, first, last: i });
      start = e.offset;
      first = i;
    }
  }
  const size = meta.file.size;
  if (entries.length > first && size - start > chunkBytes) {
    out.push({ meta, start, end: meta.endMarker, first, last: entries.length });
    start = meta.endMarker;
    first = entries.length;
  }
  out.push({ meta, start, end: size, first, last: entries.length });
  return out;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Decode a chunk's bytes and compute its CRC share; throws if the bytes are damaged
 * (a frame that does not decode to its indexed page, header or tail bytes that differ
 * from the metadata the plan was made with).
 */
export function decodeChunk(chunk: Chunk, bytes: Uint8Array): ChunkResult {
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
  const pages: ChunkResult['pages'] = [];
  for (let i = chunk.first; i < chunk.last; i++) {
    const e = meta.entries[i];
    const frame = bytes.subarray(e.offset - start, e.offset - start + e.size);
    const page = decodePageFrame(frame, pageSize, e.pgno);
    const prefix = (frame[4] << 8) | frame[5] ? 10 : 6; // flags 0x1: pgno, flags, u32 N; legacy: pgno, flags
    if (prefix === 10 && ((frame[4] << 8) | frame[5]) !== PAGE_FLAG_LZ4_BLOCK) throw new LtxError('LTX_BAD_PAGE', `${key}: page ${e.pgno}: unknown flags`);
    crc.update(frame, 0, prefix).update(page.data);
    hashed += prefix + pageSize;
    pages.push(page);
  }
  let fileChecksum: bigint | null = null;
  if (end === meta.file.size) {
    const tail = bytes.subarray(meta.endMarker - start);
    if (!equal(tail, meta.tailBytes)) throw new LtxError('LTX_BAD_INDEX', `${key}: index bytes differ from the ones the plan was made with`);
    crc.update(tail, 0, tail.length - 8);
    hashed += tail.length - 8;
    fileChecksum = new DataView(tail.buffer, tail.byteOffset + tail.length - 8, 8).getBigUint64(0);
  }
  return { crc: crc.digest(), hashed, pages, fileChecksum };
}

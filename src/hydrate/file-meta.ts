// What the hydrator learns about one LTX file before downloading its body: the
// header (page size, commit, checksums) and the page index from the tail. Neither
// is covered by a checksum on the way in (FORMAT.md §9), so the chunk verifier
// later compares both with the bytes it checksums: metadata damaged in transit
// surfaces as a mismatch and the file's metadata is fetched again.
import { HEADER_SIZE, LtxError, decodeHeader, lockPage, readTailIndex, type LtxHeader, type PageIndexEntry } from '../ltx/index.js';
import { parseRecord, postWithRecord, withRecord, type ChecksumRecord } from '../replica/checksum-record.js';
import type { LtxFileInfo } from '../replica/listing.js';
import type { Fetcher } from './fetcher.js';

// Files up to this size are fetched whole with the first request (the body is then
// already here); larger ones cost a 100-byte header GET and a tail GET.
const WHOLE_BYTES = 64 * 1024;
const TAIL_BYTES = 32 * 1024;
const TAIL_FIXED = 24; // S (8) + trailer (16)
const END_MARKER = 6;

export interface FileMeta {
  file: LtxFileInfo;
  /** As if the checksums recorded beside the file were in it (../replica/checksum-record.ts). */
  header: LtxHeader;
  headerBytes: Uint8Array;
  entries: PageIndexEntry[];
  /** Offset of the end marker: frames tile [100, endMarker). */
  endMarker: number;
  /** Bytes [endMarker, size): end marker, index, S, trailer. */
  tailBytes: Uint8Array;
  fileChecksum: bigint;
  postApplyChecksum: bigint;
  /** The whole file when it was small enough to come with the first request (not yet verified). */
  whole: Uint8Array | null;
}

function checkedHeader(file: LtxFileInfo, bytes: Uint8Array): LtxHeader {
  const header = decodeHeader(bytes.subarray(0, HEADER_SIZE));
  if (header.minTXID !== file.minTXID || header.maxTXID !== file.maxTXID) {
    throw new LtxError('LTX_BAD_HEADER', `header says TXIDs ${header.minTXID}..${header.maxTXID}, the name says ${file.minTXID}..${file.maxTXID}`);
  }
  return header;
}

function parse(file: LtxFileInfo, headerBytes: Uint8Array, record: ChecksumRecord | null, tail: Uint8Array, whole: Uint8Array | null): FileMeta | { needBytes: number } {
  const header = withRecord(checkedHeader(file, headerBytes), record);
  const idx = readTailIndex(tail, file.size);
  if (!idx.ok) return { needBytes: idx.needBytes };
  const lock = lockPage(header.pageSize);
  for (const e of idx.entries) {
    if (e.pgno > header.commit || e.pgno === lock) throw new LtxError('LTX_BAD_INDEX', `index lists page ${e.pgno} (commit ${header.commit}, lock page ${lock})`);
  }
  const endMarker = idx.indexOffset - END_MARKER;
  if (tail.length < file.size - endMarker) return { needBytes: file.size - endMarker }; // the end marker too
  return {
    file,
    header,
    headerBytes: headerBytes.slice(0, HEADER_SIZE),
    entries: idx.entries,
    endMarker,
    tailBytes: tail.slice(tail.length - (file.size - endMarker)),
    fileChecksum: idx.fileChecksum,
    postApplyChecksum: postWithRecord(idx.postApplyChecksum, record),
    whole,
  };
}

/** Fetch and parse one file's header and index (retrying damaged or failed fetches). */
export async function fetchFileMeta(fetcher: Fetcher, file: LtxFileInfo): Promise<FileMeta> {
  if (file.size <= WHOLE_BYTES) {
    return fetcher.get(file.key, undefined, (bytes, metadata) => {
      if (bytes.length !== file.size) throw new LtxError('LTX_TRUNCATED', `got ${bytes.length} bytes, the listing says ${file.size}`);
      const m = parse(file, bytes.subarray(0, HEADER_SIZE), parseRecord(metadata), bytes, bytes);
      if ('needBytes' in m) throw new LtxError('LTX_BAD_INDEX', `index needs ${m.needBytes} bytes of a ${file.size}-byte file`);
      return m;
    });
  }
  const headerP = fetcher.get(file.key, { offset: 0, length: HEADER_SIZE }, (b, metadata) => (checkedHeader(file, b), { b, record: parseRecord(metadata) }));
  headerP.catch(() => undefined);
  let want = TAIL_BYTES;
  for (;;) {
    const tail = await fetcher.get(file.key, { suffix: want }, (b) => {
      if (b.length !== Math.min(want, file.size)) throw new LtxError('LTX_TRUNCATED', `tail of ${b.length} bytes, asked for ${want}`);
      readTailIndex(b, file.size); // structure errors here mean damage in transit (or a damaged object)
      return b;
    });
    const { b, record } = await headerP;
    const m = parse(file, b, record, tail, null);
    if (!('needBytes' in m)) return m;
    if (m.needBytes <= want) throw new LtxError('LTX_BAD_INDEX', `${file.key}: index needs ${m.needBytes} tail bytes`);
    want = Math.max(m.needBytes, TAIL_FIXED);
  }
}

// One compaction output: read the inputs as ranged GETs (a chunk per input in
// memory at a time, the next chunk prefetched), k-way merge them with compactLtx,
// and create the output with If-None-Match: * and the litestream-timestamp
// metadata. The merged output is held in memory until it is uploaded (one PUT).
// Before that PUT, adjacent inputs that carry checksums (inline, or recorded beside
// the file: ../replica/checksum-record.ts) must link (each one's pre-apply checksum is
// the previous one's post-apply checksum): a chain that does not is two writers'
// histories spliced together, and is refused. The output has the NoChecksum flag, as
// Litestream's compactions (it refuses files with checksums); when every input has
// checksums, the output's are recorded beside it.
import { HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, TRAILER_SIZE, compactLtx, decodeHeader, hasChecksums, hex64, type LtxHeader } from '../ltx/index.js';
import { formatLitestreamTimestamp, layoutFor, readLtxHeader, type LtxFileInfo } from '../replica/index.js';
import { parseRecord, postWithRecord, recordMetadata, withRecord, type ChecksumRecord } from '../replica/checksum-record.js';
import { mapLimit } from '../replica/pool.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { CompactionError } from './errors.js';

/** Range size per GET of an input (8 MiB, as restore uses). */
export const MERGE_CHUNK_BYTES = 8 * 1024 * 1024;
const HEADER_CONCURRENCY = 8;

export interface MergedFile {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
  key: string;
  /** Output bytes (0 in a dry run). */
  bytes: number;
  inputs: number;
  inputBytes: number;
  /** Header timestamp (ms): the last input's. Null in a dry run. */
  timestamp: number | null;
  /** The key was already there with the same TXID range (a pass that crashed after its PUT). */
  existed: boolean;
}

export interface MergeOptions {
  dryRun?: boolean;
  chunkBytes?: number;
  /** Called with the byte count of every GET body, for the pass's totals. */
  onRead?: (bytes: number) => void;
}

/** Merge `inputs` (a contiguous chain, in TXID order) into one file at `level`. */
export async function mergeInto(store: ObjectStore, level: number, inputs: readonly LtxFileInfo[], options: MergeOptions = {}): Promise<MergedFile> {
  if (inputs.length === 0) throw new TypeError('mergeInto: no inputs');
  const minTXID = inputs[0].minTXID;
  const maxTXID = inputs[inputs.length - 1].maxTXID;
  const key = layoutFor(store).fileKey(level, minTXID, maxTXID);
  const inputBytes = inputs.reduce((s, f) => s + f.size, 0);
  const result: MergedFile = { level, minTXID, maxTXID, key, bytes: 0, inputs: inputs.length, inputBytes, timestamp: null, existed: false };
  if (options.dryRun) return result;

  const chunk = options.chunkBytes ?? MERGE_CHUNK_BYTES;
  const read = options.onRead ?? (() => undefined);
  const records: (ChecksumRecord | null)[] = inputs.map(() => null);
  const getRange = async (f: LtxFileInfo, offset: number): Promise<Uint8Array> => {
    const whole = offset === 0 && f.size <= chunk;
    const got = await store.getWithMetadata(f.key, whole ? {} : { range: { offset, length: Math.min(chunk, f.size - offset) } });
    if (offset === 0) records[inputs.indexOf(f)] = parseRecord(got.metadata);
    read(got.bytes.length);
    return got.bytes;
  };
  // First chunks in parallel: the headers say whether checksums can be kept and must match the names.
  const firsts = await mapLimit(inputs, HEADER_CONCURRENCY, (f) => getRange(f, 0));
  const headers = firsts.map((bytes, i) => withRecord(checkHeader(store, inputs[i], bytes), records[i]));
  // Each input's last 16 bytes (its trailer) as they stream past: no extra request.
  const tails: Uint8Array[] = inputs.map(() => new Uint8Array(0));
  const sources = inputs.map((f, i) => chunks(f, firsts[i], chunk, getRange, (bytes) => (tails[i] = lastBytes(tails[i], bytes, TRAILER_SIZE))));
  let merged;
  try {
    merged = await compactLtx(sources, { flags: HEADER_FLAG_NO_CHECKSUM });
  } catch (err) {
    throw new CompactionError(`${store.url}: merging ${inputs.length} file${inputs.length === 1 ? '' : 's'} (${inputs[0].key} .. ${inputs[inputs.length - 1].key}) into ${key} failed: ${(err as Error).message}`, { cause: err });
  }
  // Every input was read to its end (and its file checksum verified), so the trailers are whole.
  const posts = tails.map((t, i) => postWithRecord(trailerPost(t), records[i]));
  checkLinks(store, inputs, headers, posts, key);
  const timestamp = Number(merged.header.timestamp);
  // Kept only when every input has them (Litestream's files have none).
  const record = headers.every(hasChecksums) && posts[posts.length - 1] !== 0n ? { pre: headers[0].preApplyChecksum, post: posts[posts.length - 1] } : null;
  try {
    // S3 only: file:// would set the file's mtime from it, and retention needs the
    // time the file was written (when it started covering its inputs), not its data's.
    const metadata = {
      ...(store.url.startsWith('file:') ? {} : { 'litestream-timestamp': formatLitestreamTimestamp(timestamp) }),
      ...(record ? recordMetadata(record) : {}),
    };
    await store.putIfAbsent(key, merged.bytes, { metadata });
  } catch (err) {
    if (!isStoreError(err, 'PRECONDITION_FAILED')) throw err;
    // Written before (a pass that crashed before its deletions, or a racing compactor):
    // the name fixes the TXID range, the header must agree.
    const h = await readLtxHeader(store, key);
    if (h.minTXID !== minTXID || h.maxTXID !== maxTXID || h.pageSize !== merged.header.pageSize) {
      throw new CompactionError(`${store.url}: ${key} already exists with TXIDs ${h.minTXID}..${h.maxTXID} (page size ${h.pageSize}); expected ${minTXID}..${maxTXID}: inspect it with 'ltxvfs ltx verify' and remove it if it is damaged`);
    }
    return { ...result, bytes: merged.bytes.length, timestamp, existed: true };
  }
  return { ...result, bytes: merged.bytes.length, timestamp };
}

function checkHeader(store: ObjectStore, f: LtxFileInfo, first: Uint8Array): LtxHeader {
  if (first.length < HEADER_SIZE) throw new CompactionError(`${store.url}: ${f.key} is ${first.length} bytes, too short for an LTX header: the replica is damaged`);
  let h: LtxHeader;
  try {
    h = decodeHeader(first.subarray(0, HEADER_SIZE));
  } catch (err) {
    throw new CompactionError(`${store.url}: ${f.key}: ${(err as Error).message}`, { cause: err });
  }
  if (h.minTXID !== f.minTXID || h.maxTXID !== f.maxTXID) {
    throw new CompactionError(`${store.url}: ${f.key}: header says TXIDs ${h.minTXID}..${h.maxTXID}, the name says ${f.minTXID}..${f.maxTXID}`);
  }
  return h;
}

/** Adjacent inputs with checksums must link: inputs[i]'s pre-apply checksum is inputs[i-1]'s post-apply one. */
function checkLinks(store: ObjectStore, inputs: readonly LtxFileInfo[], headers: readonly LtxHeader[], posts: readonly bigint[], key: string): void {
  for (let i = 1; i < inputs.length; i++) {
    const prev = headers[i - 1];
    const cur = headers[i];
    const post = posts[i - 1];
    if (!hasChecksums(prev) || !hasChecksums(cur) || cur.minTXID !== prev.maxTXID + 1n || post === 0n) continue;
    if (cur.preApplyChecksum !== post) {
      throw new CompactionError(
        `${store.url}: ${inputs[i].key} does not continue ${inputs[i - 1].key}: its pre-apply checksum is ${hex64(cur.preApplyChecksum)}, ` +
          `the other's post-apply checksum ${hex64(post)} (two writers' histories?); ${key} was not written`,
      );
    }
  }
}

/** The post-apply checksum in a trailer (its first 8 bytes; then the file checksum). */
function trailerPost(t: Uint8Array): bigint {
  return new DataView(t.buffer, t.byteOffset, TRAILER_SIZE).getBigUint64(0);
}

/** The last `n` bytes of `before` followed by `bytes`. */
function lastBytes(before: Uint8Array, bytes: Uint8Array, n: number): Uint8Array {
  if (bytes.length >= n) return bytes.slice(bytes.length - n);
  const out = new Uint8Array(Math.min(n, before.length + bytes.length));
  const keep = out.length - bytes.length;
  out.set(before.subarray(before.length - keep), 0);
  out.set(bytes, keep);
  return out;
}

/** The file as a stream of ranged GETs, one chunk fetched ahead of the reader; `seen` gets each chunk. */
async function* chunks(
  f: LtxFileInfo,
  first: Uint8Array,
  chunk: number,
  getRange: (f: LtxFileInfo, offset: number) => Promise<Uint8Array>,
  seen: (bytes: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  let offset = first.length;
  let ahead: Promise<Uint8Array> | undefined = offset < f.size ? getRange(f, offset) : undefined;
  ahead?.catch(() => undefined); // awaited below
  seen(first);
  yield first;
  while (ahead) {
    const bytes = await ahead;
    if (bytes.length === 0) return; // the object is shorter than listed; the decoder reports it
    offset += bytes.length;
    ahead = offset < f.size ? getRange(f, offset) : undefined;
    ahead?.catch(() => undefined);
    seen(bytes);
    yield bytes;
  }
}

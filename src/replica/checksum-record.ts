// Our database checksums, kept beside each LTX file instead of in it. Litestream v0.5
// refuses LTX files that carry pre/post-apply checksums ("post-apply checksum not
// allowed" in restore, "pre-apply checksum not allowed" in its compaction), so every
// file we write has the NoChecksum flag, as Litestream's own, and the two checksums go
// in the object's user metadata: S3 `x-amz-meta-ltxvfs-pre-apply` / `-post-apply`
// (written in the same PUT, so a file and its record appear together), file:// a
// sidecar (see storage/file-store.ts). Any GET of the file returns them, so reading
// them costs no request beyond the header or tail read we make anyway.
//
// Readers turn header + record into the header the file would have with checksums
// inline (`withRecord`), so every link check works the same on files written before
// the record existed (checksums inline), on ours (record), and on Litestream's
// (neither: nothing to check, as before).
import { CHECKSUM_FLAG, HEADER_FLAG_NO_CHECKSUM, hasChecksums, type LtxHeader } from '../ltx/index.js';

export const PRE_APPLY_KEY = 'ltxvfs-pre-apply';
export const POST_APPLY_KEY = 'ltxvfs-post-apply';

/** The database checksum before (0 for a snapshot) and after a file. */
export interface ChecksumRecord {
  pre: bigint;
  post: bigint;
}

/** The metadata that records `rec` (16 lowercase hex digits each). */
export function recordMetadata(rec: ChecksumRecord): Record<string, string> {
  return { [PRE_APPLY_KEY]: hex(rec.pre), [POST_APPLY_KEY]: hex(rec.post) };
}

/**
 * The record in a GET's metadata, or null when there is none or it is malformed (a
 * record we cannot read verifies nothing; it never refuses a file).
 */
export function parseRecord(metadata: Record<string, string> | undefined): ChecksumRecord | null {
  const pre = parseSum(metadata?.[PRE_APPLY_KEY]);
  const post = parseSum(metadata?.[POST_APPLY_KEY]);
  if (pre === null || post === null || post === 0n) return null;
  return { pre, post };
}

/** `h` as if the record's checksums were inline; `h` itself when it has its own or there is no record. */
export function withRecord(h: LtxHeader, rec: ChecksumRecord | null): LtxHeader {
  if (hasChecksums(h) || rec === null) return h;
  const snapshot = h.minTXID === 1n;
  if (snapshot !== (rec.pre === 0n)) return h; // a record that contradicts the header: ignore it
  return { ...h, flags: h.flags & ~HEADER_FLAG_NO_CHECKSUM, preApplyChecksum: rec.pre };
}

/** The post-apply checksum: the trailer's when the file carries checksums, else the record's, else 0 (none). */
export function postWithRecord(trailerPost: bigint, rec: ChecksumRecord | null): bigint {
  return trailerPost !== 0n ? trailerPost : (rec?.post ?? 0n);
}

function parseSum(s: string | undefined): bigint | null {
  if (s === undefined || !/^[0-9a-f]{16}$/.test(s)) return null;
  const v = BigInt(`0x${s}`);
  return v === 0n || (v & CHECKSUM_FLAG) !== 0n ? v : null;
}

const hex = (v: bigint) => v.toString(16).padStart(16, '0');

// The write buffer's on-disk records: an append-only log of CRC-framed records.
//   frame = tag u32 ‖ payload length u32 ‖ payload ‖ CRC-64/GO-ISO u64 (of tag, length and payload)
// A record is valid only whole with a matching CRC, so a write torn by a crash (or
// garbage after it) ends the log there. All integers are big-endian.
//   BASE  (first record): remote TXID the buffer sits on, its checksum and size, page size, replica URL
//   CMIT  one commit: TXID, size in pages, time, post-apply checksum, pgnos, then the pages
//   UPLD  an upload about to be attempted (key, TXIDs, file checksum): after a crash it tells
//         our own file from another writer's
import { Crc64 } from '../ltx/index.js';

export const TAG_BASE = 0x42415345; // "BASE"
export const TAG_COMMIT = 0x434d4954; // "CMIT"
export const TAG_UPLOAD = 0x55504c44; // "UPLD"
export const FRAME_HEAD = 8; // tag + length
export const FRAME_TAIL = 8; // crc
/** Fixed part of a CMIT payload before the pgno list. */
export const COMMIT_FIXED = 8 + 4 + 8 + 1 + 8 + 4;

export interface BaseRecord {
  txid: bigint;
  checksum: bigint | null;
  commit: number;
  pageSize: number;
  replicaUrl: string;
  createdMs: number;
}

export interface CommitHead {
  txid: bigint;
  commit: number;
  timestampMs: number;
  checksum: bigint | null;
  pgnos: number[];
}

export interface UploadRecord {
  key: string;
  minTXID: bigint;
  maxTXID: bigint;
  commit: number;
  postApplyChecksum: bigint | null;
  fileChecksum: bigint;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function frame(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEAD + payload.length + FRAME_TAIL);
  const v = new DataView(out.buffer);
  v.setUint32(0, tag);
  v.setUint32(4, payload.length);
  out.set(payload, FRAME_HEAD);
  v.setBigUint64(FRAME_HEAD + payload.length, new Crc64().update(out, 0, FRAME_HEAD + payload.length).digest());
  return out;
}

export function encodeBase(b: BaseRecord): Uint8Array {
  const url = enc.encode(b.replicaUrl);
  const p = new Uint8Array(8 + 1 + 8 + 4 + 4 + 8 + 4 + url.length);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, b.txid);
  v.setUint8(8, b.checksum === null ? 0 : 1);
  v.setBigUint64(9, b.checksum ?? 0n);
  v.setUint32(17, b.commit);
  v.setUint32(21, b.pageSize);
  v.setFloat64(25, b.createdMs);
  v.setUint32(33, url.length);
  p.set(url, 37);
  return frame(TAG_BASE, p);
}

export function decodeBase(p: Uint8Array): BaseRecord {
  const v = view(p);
  const urlLen = v.getUint32(33);
  if (37 + urlLen !== p.length) throw new Error('BASE record: bad length');
  return {
    txid: v.getBigUint64(0),
    checksum: v.getUint8(8) ? v.getBigUint64(9) : null,
    commit: v.getUint32(17),
    pageSize: v.getUint32(21),
    createdMs: v.getFloat64(25),
    replicaUrl: dec.decode(p.subarray(37)),
  };
}

/** A whole CMIT frame; `pages` in the order given. */
export function encodeCommit(h: Omit<CommitHead, 'pgnos'>, pages: readonly [number, Uint8Array][], pageSize: number): Uint8Array {
  const n = pages.length;
  const p = new Uint8Array(COMMIT_FIXED + 4 * n + n * pageSize);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, h.txid);
  v.setUint32(8, h.commit);
  v.setFloat64(12, h.timestampMs);
  v.setUint8(20, h.checksum === null ? 0 : 1);
  v.setBigUint64(21, h.checksum ?? 0n);
  v.setUint32(29, n);
  let at = COMMIT_FIXED + 4 * n;
  pages.forEach(([pgno, data], i) => {
    v.setUint32(COMMIT_FIXED + 4 * i, pgno);
    p.set(data, at);
    at += pageSize;
  });
  return frame(TAG_COMMIT, p);
}

/** The head of a CMIT payload; pages follow at COMMIT_FIXED + 4 * pgnos.length. */
export function decodeCommitHead(p: Uint8Array, pageSize: number): CommitHead {
  const v = view(p);
  const n = v.getUint32(29);
  if (COMMIT_FIXED + n * (4 + pageSize) !== p.length) throw new Error('CMIT record: bad length');
  const pgnos: number[] = [];
  for (let i = 0; i < n; i++) pgnos.push(v.getUint32(COMMIT_FIXED + 4 * i));
  return {
    txid: v.getBigUint64(0),
    commit: v.getUint32(8),
    timestampMs: v.getFloat64(12),
    checksum: v.getUint8(20) ? v.getBigUint64(21) : null,
    pgnos,
  };
}

export function encodeUpload(u: UploadRecord): Uint8Array {
  const key = enc.encode(u.key);
  const p = new Uint8Array(8 + 8 + 4 + 1 + 8 + 8 + 4 + key.length);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, u.minTXID);
  v.setBigUint64(8, u.maxTXID);
  v.setUint32(16, u.commit);
  v.setUint8(20, u.postApplyChecksum === null ? 0 : 1);
  v.setBigUint64(21, u.postApplyChecksum ?? 0n);
  v.setBigUint64(29, u.fileChecksum);
  v.setUint32(37, key.length);
  p.set(key, 41);
  return frame(TAG_UPLOAD, p);
}

export function decodeUpload(p: Uint8Array): UploadRecord {
  const v = view(p);
  if (41 + v.getUint32(37) !== p.length) throw new Error('UPLD record: bad length');
  return {
    minTXID: v.getBigUint64(0),
    maxTXID: v.getBigUint64(8),
    commit: v.getUint32(16),
    postApplyChecksum: v.getUint8(20) ? v.getBigUint64(21) : null,
    fileChecksum: v.getBigUint64(29),
    key: dec.decode(p.subarray(41)),
  };
}

/** CRC of a frame whose head and payload are in `bytes` (payload length from the head). */
export function frameCrcOk(head: Uint8Array, payload: Uint8Array, crc: Uint8Array): boolean {
  const want = new DataView(crc.buffer, crc.byteOffset, 8).getBigUint64(0);
  return new Crc64().update(head).update(payload).digest() === want;
}

function view(p: Uint8Array): DataView {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

// The 100-byte LTX header (FORMAT.md §3) and the 16-byte trailer (§6): layout,
// constants and the validation rules, shared by the encoder and the decoder.

import { CHECKSUM_FLAG } from './checksum.js';
import { LtxError, hex64 } from './errors.js';

export const HEADER_SIZE = 100;
export const PAGE_HEADER_SIZE = 6; // pgno u32 + flags u16
export const SIZE_PREFIX_SIZE = 4; // u32 N before a current-encoding LZ4 block
export const TRAILER_SIZE = 16; // postApplyChecksum u64 + fileChecksum u64
export const INDEX_SIZE_FIELD = 8; // u64 S before the trailer
/** Header flag: checksums off (pre/post-apply are 0). The only valid header flag. */
export const HEADER_FLAG_NO_CHECKSUM = 0x2;
/** Page flag: u32 size prefix + raw LZ4 block. Flags 0 = legacy LZ4 frame. */
export const PAGE_FLAG_LZ4_BLOCK = 0x1;

const MAGIC = [0x4c, 0x54, 0x58, 0x31]; // "LTX1"

export interface LtxHeader {
  flags: number; // u32, 0 or HEADER_FLAG_NO_CHECKSUM
  pageSize: number; // bytes, power of two 512..65536
  commit: number; // database size in pages after applying
  minTXID: bigint;
  maxTXID: bigint;
  timestamp: bigint; // i64 ms since the Unix epoch
  preApplyChecksum: bigint; // database checksum at minTXID-1 (0 for snapshots / NoChecksum)
  walOffset: bigint; // i64 bytes
  walSize: bigint; // i64 bytes
  walSalt1: number; // u32
  walSalt2: number; // u32
  nodeID: bigint; // u64
}

/** Header fields a writer must give; the rest default to 0. */
export type LtxHeaderInit = Pick<LtxHeader, 'pageSize' | 'commit' | 'minTXID' | 'maxTXID'> & Partial<LtxHeader>;

export function headerWithDefaults(init: LtxHeaderInit): LtxHeader {
  return {
    flags: 0,
    timestamp: 0n,
    preApplyChecksum: 0n,
    walOffset: 0n,
    walSize: 0n,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
    ...init,
  };
}

/** SQLite's lock page: the page holding byte 0x40000000. Never stored in LTX. */
export function lockPage(pageSize: number): number {
  return Math.floor(0x40000000 / pageSize) + 1;
}

export function isSnapshot(h: Pick<LtxHeader, 'minTXID'>): boolean {
  return h.minTXID === 1n;
}

export function hasChecksums(h: Pick<LtxHeader, 'flags'>): boolean {
  return (h.flags & HEADER_FLAG_NO_CHECKSUM) === 0;
}

export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** Check every rule of FORMAT.md §3; throws LTX_BAD_HEADER naming the field. */
export function validateHeader(h: LtxHeader): void {
  const bad = (m: string) => new LtxError('LTX_BAD_HEADER', `header: ${m}`);
  if (!Number.isInteger(h.flags) || h.flags < 0 || h.flags > 0xffffffff) throw bad(`flags ${h.flags} is not a u32`);
  if ((h.flags & ~HEADER_FLAG_NO_CHECKSUM) !== 0) {
    const hint = h.flags & 0x1 ? ' (0x1 was whole-body LZ4 in format v1, not readable)' : '';
    throw bad(`flags 0x${h.flags.toString(16)}: only 0x2 (NoChecksum) is allowed${hint}`);
  }
  if (!isValidPageSize(h.pageSize)) throw bad(`page size ${h.pageSize} is not a power of two in 512..65536`);
  if (!Number.isInteger(h.commit) || h.commit < 0 || h.commit > 0xffffffff) throw bad(`commit ${h.commit} is not a u32`);
  for (const [name, v] of [['minTXID', h.minTXID], ['maxTXID', h.maxTXID], ['nodeID', h.nodeID], ['preApplyChecksum', h.preApplyChecksum]] as const) {
    if (v < 0n || v > U64_MAX) throw bad(`${name} ${v} is not a u64`);
  }
  for (const [name, v] of [['timestamp', h.timestamp], ['walOffset', h.walOffset], ['walSize', h.walSize]] as const) {
    if (v < I64_MIN || v > I64_MAX) throw bad(`${name} ${v} is not an i64`);
  }
  for (const [name, v] of [['walSalt1', h.walSalt1], ['walSalt2', h.walSalt2]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw bad(`${name} ${v} is not a u32`);
  }
  if (h.minTXID === 0n) throw bad('minTXID is 0');
  if (h.maxTXID === 0n) throw bad('maxTXID is 0');
  if (h.maxTXID < h.minTXID) throw bad(`maxTXID ${h.maxTXID} is below minTXID ${h.minTXID}`);
  if (isSnapshot(h) || !hasChecksums(h)) {
    if (h.preApplyChecksum !== 0n) {
      throw bad(`preApplyChecksum must be 0 for a ${isSnapshot(h) ? 'snapshot' : 'NoChecksum file'}, got ${hex64(h.preApplyChecksum)}`);
    }
  } else if ((h.preApplyChecksum & CHECKSUM_FLAG) === 0n) {
    throw bad(`preApplyChecksum ${hex64(h.preApplyChecksum)} lacks the checksum flag (bit 63)`);
  }
  if (h.walOffset < 0n) throw bad(`walOffset ${h.walOffset} is negative`);
  if (h.walSize < 0n) throw bad(`walSize ${h.walSize} is negative`);
  if (h.walOffset === 0n && h.walSize !== 0n) throw bad('walSize is set without walOffset');
  if (h.walOffset === 0n && (h.walSalt1 !== 0 || h.walSalt2 !== 0)) throw bad('WAL salts are set without walOffset');
}

/** Serialize a validated header into 100 bytes (reserved bytes zero). */
export function encodeHeader(h: LtxHeader): Uint8Array {
  validateHeader(h);
  const out = new Uint8Array(HEADER_SIZE);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(4, h.flags);
  v.setUint32(8, h.pageSize);
  v.setUint32(12, h.commit);
  v.setBigUint64(16, h.minTXID);
  v.setBigUint64(24, h.maxTXID);
  v.setBigInt64(32, h.timestamp);
  v.setBigUint64(40, h.preApplyChecksum);
  v.setBigInt64(48, h.walOffset);
  v.setBigInt64(56, h.walSize);
  v.setUint32(64, h.walSalt1);
  v.setUint32(68, h.walSalt2);
  v.setBigUint64(72, h.nodeID);
  return out;
}

/** Parse and strictly validate the first 100 bytes of an LTX file. */
export function decodeHeader(buf: Uint8Array): LtxHeader {
  if (buf.length < HEADER_SIZE) {
    throw new LtxError('LTX_TRUNCATED', `header: need ${HEADER_SIZE} bytes, have ${buf.length}`);
  }
  if (buf[0] === 0x4c && buf[1] === 0x54 && buf[2] === 0x58 && buf[3] === 0x34) {
    throw new LtxError('LTX_UNSUPPORTED', 'header: magic LTX4 (encrypted LTX proposal) is not supported');
  }
  if (buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1] || buf[2] !== MAGIC[2] || buf[3] !== MAGIC[3]) {
    const got = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new LtxError('LTX_BAD_MAGIC', `header: magic is ${got}, expected 4c 54 58 31 ("LTX1")`);
  }
  const v = new DataView(buf.buffer, buf.byteOffset, HEADER_SIZE);
  const h: LtxHeader = {
    flags: v.getUint32(4),
    pageSize: v.getUint32(8),
    commit: v.getUint32(12),
    minTXID: v.getBigUint64(16),
    maxTXID: v.getBigUint64(24),
    timestamp: v.getBigInt64(32),
    preApplyChecksum: v.getBigUint64(40),
    walOffset: v.getBigInt64(48),
    walSize: v.getBigInt64(56),
    walSalt1: v.getUint32(64),
    walSalt2: v.getUint32(68),
    nodeID: v.getBigUint64(72),
  };
  validateHeader(h);
  for (let i = 80; i < HEADER_SIZE; i++) {
    if (buf[i] !== 0) throw new LtxError('LTX_BAD_HEADER', `header: reserved byte ${i} is 0x${buf[i].toString(16)}, expected 0`);
  }
  return h;
}

export interface LtxTrailer {
  postApplyChecksum: bigint; // database checksum after applying (0 with NoChecksum)
  fileChecksum: bigint; // CHECKSUM_FLAG | CRC of the file (FORMAT.md §7.4)
}

/** Check the trailer rules of FORMAT.md §6 against the header. */
export function validateTrailer(h: Pick<LtxHeader, 'flags' | 'commit'>, t: LtxTrailer): void {
  const bad = (m: string) => new LtxError('LTX_BAD_TRAILER', `trailer: ${m}`);
  if (!hasChecksums(h)) {
    if (t.postApplyChecksum !== 0n) throw bad(`postApplyChecksum must be 0 with NoChecksum, got ${hex64(t.postApplyChecksum)}`);
  } else if (h.commit === 0) {
    if (t.postApplyChecksum !== CHECKSUM_FLAG) throw bad(`postApplyChecksum of an empty database must be 8000000000000000, got ${hex64(t.postApplyChecksum)}`);
  } else if ((t.postApplyChecksum & CHECKSUM_FLAG) === 0n) {
    throw bad(`postApplyChecksum ${hex64(t.postApplyChecksum)} lacks the checksum flag (bit 63)`);
  }
  if ((t.fileChecksum & CHECKSUM_FLAG) === 0n) throw bad(`fileChecksum ${hex64(t.fileChecksum)} lacks the checksum flag (bit 63)`);
}

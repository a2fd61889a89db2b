// The boot pack's bytes (docs/boot-pack.md): what a cold open needs from a restore
// plan's files, in one object: each file's tail (header, page index, trailer
// checksums; a file of up to 32 KiB whole) and the frames of the pages a cold
// query walks first (page 1, the schema, B-tree roots and interior pages), as they
// lie in the LTX files. Little-endian, varints LEB128, a CRC-64 over everything.
import { HEADER_SIZE, crc64, decodeHeader, encodeHeader, type LtxHeader, type PageIndexColumns } from '../ltx/index.js';

export const BOOT_PACK_MAGIC = 'LTXVBOOT';
export const BOOT_PACK_VERSION = 1;
const FIXED = 8 + 4 + 4 + 8 + 4 + 4 + 4 + 4; // magic, version, flags, txid, page size, commit, files, frames

/** One file of the plan the pack was built from, with its tail. */
export interface PackedFile {
  key: string;
  size: number; // bytes, as listed
  header: LtxHeader;
  columns: PageIndexColumns;
  postApplyChecksum: bigint;
  fileChecksum: bigint;
  /** The whole file when it is no larger than a tail read (32 KiB), else null. */
  whole: Uint8Array | null;
}

/** A page's frame as it lies in `files[file]` at the offset its index gives. */
export interface PackedFrame {
  pgno: number;
  file: number;
  bytes: Uint8Array;
}

export interface BootPack {
  /** The TXID of the plan the pack describes (its last file's maxTXID). */
  txid: bigint;
  pageSize: number;
  commit: number;
  files: PackedFile[];
  frames: PackedFrame[];
}

export class BootPackError extends Error {
  readonly code = 'BOOT_PACK_INVALID';
}

class Out {
  buf = new Uint8Array(1 << 16);
  at = 0;
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }
  u32(v: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.at, v, true);
    this.at += 4;
  }
  u64(v: bigint): void {
    this.room(8);
    new DataView(this.buf.buffer).setBigUint64(this.at, v, true);
    this.at += 8;
  }
  uvar(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`boot pack: ${v} is no unsigned integer`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.at++] = v;
  }
  svar(v: number): void {
    this.uvar(v < 0 ? -2 * v - 1 : 2 * v);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
}

class In {
  at = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new BootPackError(`boot pack: truncated at byte ${this.at}`);
  }
  u32(): number {
    this.need(4);
    this.at += 4;
    return this.view.getUint32(this.at - 4, true);
  }
  u64(): bigint {
    this.need(8);
    this.at += 8;
    return this.view.getBigUint64(this.at - 8, true);
  }
  uvar(): number {
    let v = 0;
    for (let scale = 1; ; scale *= 0x80) {
      this.need(1);
      const b = this.buf[this.at++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      if (scale > 2 ** 49) throw new BootPackError(`boot pack: varint too long at byte ${this.at}`);
    }
    return v;
  }
  svar(): number {
    const u = this.uvar();
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    this.at += n;
    return this.buf.subarray(this.at - n, this.at);
  }
}

// A file's index: pgno deltas, then each frame's offset as the distance from where the
// previous frame ends (0 in files that tile their frames: one byte), then its size.
function writeColumns(out: Out, c: PageIndexColumns): void {
  out.uvar(c.count);
  let pgno = 0;
  let end = HEADER_SIZE;
  for (let i = 0; i < c.count; i++) {
    out.uvar(c.pgnos[i] - pgno);
    out.svar(c.offsets[i] - end);
    out.uvar(c.sizes[i]);
    pgno = c.pgnos[i];
    end = c.offsets[i] + c.sizes[i];
  }
}

function readColumns(inp: In): PageIndexColumns {
  const count = inp.uvar();
  const pgnos = new Uint32Array(count);
  const offsets = new Float64Array(count);
  const sizes = new Uint32Array(count);
  let pgno = 0;
  let end = HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    pgno += inp.uvar();
    const offset = end + inp.svar();
    const size = inp.uvar();
    if (pgno > 0xffffffff || size === 0 || (i > 0 && pgno <= pgnos[i - 1])) throw new BootPackError(`boot pack: bad index entry ${i} (page ${pgno})`);
    pgnos[i] = pgno;
    offsets[i] = offset;
    sizes[i] = size;
    end = offset + size;
  }
  return { count, pgnos, offsets, sizes };
}

export function encodeBootPack(pack: BootPack): Uint8Array {
  const out = new Out();
  out.bytes(new TextEncoder().encode(BOOT_PACK_MAGIC));
  out.u32(BOOT_PACK_VERSION);
  out.u32(0); // flags, none yet
  out.u64(pack.txid);
  out.u32(pack.pageSize);
  out.u32(pack.commit);
  out.u32(pack.files.length);
  out.u32(pack.frames.length);
  for (const f of pack.files) {
    const key = new TextEncoder().encode(f.key);
    out.uvar(key.length);
    out.bytes(key);
    out.uvar(f.size);
    out.u64(f.postApplyChecksum);
    out.u64(f.fileChecksum);
    out.bytes(encodeHeader(f.header));
    writeColumns(out, f.columns);
    out.uvar(f.whole?.length ?? 0);
    if (f.whole !== null) out.bytes(f.whole);
  }
  for (const fr of pack.frames) {
    out.uvar(fr.pgno);
    out.uvar(fr.file);
    out.uvar(fr.bytes.length);
    out.bytes(fr.bytes);
  }
  out.u64(crc64(out.buf.subarray(0, out.at)));
  return out.buf.slice(0, out.at);
}

/** Decode and check a pack (CRC, version, every field in range); BootPackError otherwise. */
export function decodeBootPack(bytes: Uint8Array): BootPack {
  if (bytes.length < FIXED + 8) throw new BootPackError(`boot pack: ${bytes.length} bytes is too short`);
  const body = bytes.subarray(0, bytes.length - 8);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + body.length, 8).getBigUint64(0, true);
  if (crc64(body) !== stored) throw new BootPackError('boot pack: CRC-64 mismatch');
  const inp = new In(body);
  if (new TextDecoder().decode(inp.bytes(8)) !== BOOT_PACK_MAGIC) throw new BootPackError('boot pack: bad magic');
  const version = inp.u32();
  if (version !== BOOT_PACK_VERSION) throw new BootPackError(`boot pack: version ${version}, this reader knows ${BOOT_PACK_VERSION}`);
  inp.u32(); // flags
  const txid = inp.u64();
  const pageSize = inp.u32();
  const commit = inp.u32();
  const nFiles = inp.u32();
  const nFrames = inp.u32();
  const files: PackedFile[] = [];
  for (let i = 0; i < nFiles; i++) {
    const key = new TextDecoder().decode(inp.bytes(inp.uvar()));
    const size = inp.uvar();
    const postApplyChecksum = inp.u64();
    const fileChecksum = inp.u64();
    let header: LtxHeader;
    try {
      header = decodeHeader(inp.bytes(HEADER_SIZE));
    } catch (err) {
      throw new BootPackError(`boot pack: header of ${key}: ${(err as Error).message}`);
    }
    const columns = readColumns(inp);
    const wholeLength = inp.uvar();
    if (wholeLength !== 0 && wholeLength !== size) throw new BootPackError(`boot pack: ${key} is ${size} bytes, its copy ${wholeLength}`);
    const whole = wholeLength === 0 ? null : inp.bytes(wholeLength).slice();
    for (let j = 0; j < columns.count; j++) {
      if (columns.offsets[j] + columns.sizes[j] > size) throw new BootPackError(`boot pack: ${key}: page ${columns.pgnos[j]}'s frame ends past the file`);
    }
    files.push({ key, size, header, columns, postApplyChecksum, fileChecksum, whole });
  }
  const frames: PackedFrame[] = [];
  for (let i = 0; i < nFrames; i++) {
    const pgno = inp.uvar();
    const file = inp.uvar();
    const bytes = inp.bytes(inp.uvar()).slice();
    if (file >= files.length) throw new BootPackError(`boot pack: frame of page ${pgno} names file ${file} of ${files.length}`);
    frames.push({ pgno, file, bytes });
  }
  if (inp.at !== body.length) throw new BootPackError(`boot pack: ${body.length - inp.at} bytes left over`);
  return { txid, pageSize, commit, files, frames };
}

// CRC-64/GO-ISO (Go's hash/crc64 with the ISO table) and the three LTX checksums
// built on it (FORMAT.md §7): page, database, and file. Every decoded byte goes
// through here (with checksums on, for both the file and the page checksum), so
// it is the hot loop of hydration and restore. bigint per byte is slow, so the
// register is two int32 halves and the CRC uses slicing-by-8 tables, 16 bytes per
// loop step. Int32Array (not Uint32Array) tables keep every value a small integer
// for V8 (uint32 values ≥ 2^31 become doubles). Measured on 4 KiB pieces (2-core
// EPYC, Node 20, bench:ltx crc64): ~0.9–1.0 GB/s, 1.2–1.3× the earlier Uint32Array
// version; slicing-by-16 and aligned Int32Array reads were no faster; a WebAssembly
// slicing-by-16 build (emscripten -O3, copying pages into its memory) was ~1.3×
// faster, not worth a build step. updatePage() halves the work when both checksums
// are needed.

/** Bit 63: set on every non-zero LTX checksum. */
export const CHECKSUM_FLAG = 0x8000000000000000n;

// Reflected ISO polynomial 0xD800000000000000: its low u32 half is 0.
const POLY_HI = 0xd8000000 | 0;

// TAB_LO[k*256 + i], TAB_HI[k*256 + i]: table k of the slicing-by-8 scheme, i.e. the
// register after feeding byte i followed by k zero bytes into a zero register.
const TAB_LO = new Int32Array(8 * 256);
const TAB_HI = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let b = 0; b < 8; b++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | (hi << 31);
    hi = hi >>> 1;
    if (carry) hi ^= POLY_HI;
  }
  TAB_LO[i] = lo;
  TAB_HI[i] = hi;
}
for (let k = 1; k < 8; k++) {
  for (let i = 0; i < 256; i++) {
    const plo = TAB_LO[(k - 1) * 256 + i];
    const phi = TAB_HI[(k - 1) * 256 + i];
    const j = plo & 0xff;
    TAB_LO[k * 256 + i] = ((plo >>> 8) | (phi << 24)) ^ TAB_LO[j];
    TAB_HI[k * 256 + i] = (phi >>> 8) ^ TAB_HI[j];
  }
}

// The register after crcRun (two results without allocating a pair per call).
let outLo = 0;
let outHi = 0;

/** Feed data[start, end) into the raw register (lo, hi) (no init or final xor); result in outLo/outHi. */
function crcRun(lo: number, hi: number, data: Uint8Array, start: number, end: number): void {
  const T = TAB_LO;
  const H = TAB_HI;
  let i = start;
  if (end - i >= 16) {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    // Two 8-byte steps per iteration; table k takes the byte that has 7 − k bytes after it.
    for (; i + 16 <= end; i += 16) {
      let a = lo ^ v.getInt32(i, true);
      let b = hi ^ v.getInt32(i + 4, true);
      let x7 = 1792 + (a & 0xff);
      let x6 = 1536 + ((a >>> 8) & 0xff);
      let x5 = 1280 + ((a >>> 16) & 0xff);
      let x4 = 1024 + (a >>> 24);
      let x3 = 768 + (b & 0xff);
      let x2 = 512 + ((b >>> 8) & 0xff);
      let x1 = 256 + ((b >>> 16) & 0xff);
      let x0 = b >>> 24;
      lo = T[x7] ^ T[x6] ^ T[x5] ^ T[x4] ^ T[x3] ^ T[x2] ^ T[x1] ^ T[x0];
      hi = H[x7] ^ H[x6] ^ H[x5] ^ H[x4] ^ H[x3] ^ H[x2] ^ H[x1] ^ H[x0];
      a = lo ^ v.getInt32(i + 8, true);
      b = hi ^ v.getInt32(i + 12, true);
      x7 = 1792 + (a & 0xff);
      x6 = 1536 + ((a >>> 8) & 0xff);
      x5 = 1280 + ((a >>> 16) & 0xff);
      x4 = 1024 + (a >>> 24);
      x3 = 768 + (b & 0xff);
      x2 = 512 + ((b >>> 8) & 0xff);
      x1 = 256 + ((b >>> 16) & 0xff);
      x0 = b >>> 24;
      lo = T[x7] ^ T[x6] ^ T[x5] ^ T[x4] ^ T[x3] ^ T[x2] ^ T[x1] ^ T[x0];
      hi = H[x7] ^ H[x6] ^ H[x5] ^ H[x4] ^ H[x3] ^ H[x2] ^ H[x1] ^ H[x0];
    }
  }
  for (; i < end; i++) {
    const j = (lo ^ data[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ T[j];
    hi = (hi >>> 8) ^ H[j];
  }
  outLo = lo;
  outHi = hi;
}

// Feeding n zero bytes is linear in the register: SHIFT(n)[k*512 + 2v] (lo) and
// [k*512 + 2v + 1] (hi) give the effect of byte k of the register having value v.
// With it, one raw pass over a page serves both the file CRC and the page checksum:
// crc(r, page) = shift(r, |page|) ^ crc(0, page).
const shiftTables = new Map<number, Int32Array>();

function shiftTable(n: number): Int32Array {
  let t = shiftTables.get(n);
  if (t) return t;
  t = new Int32Array(8 * 512);
  const zeros = new Uint8Array(n);
  for (let k = 0; k < 8; k++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = k * 8 + bit; // register bit b
      crcRun(b < 32 ? 1 << b : 0, b < 32 ? 0 : 1 << (b - 32), zeros, 0, n);
      const v = 1 << bit;
      t[k * 512 + 2 * v] = outLo;
      t[k * 512 + 2 * v + 1] = outHi;
    }
    for (let v = 3; v < 256; v++) {
      const low = v & -v;
      if (low === v) continue;
      t[k * 512 + 2 * v] = t[k * 512 + 2 * low] ^ t[k * 512 + 2 * (v ^ low)];
      t[k * 512 + 2 * v + 1] = t[k * 512 + 2 * low + 1] ^ t[k * 512 + 2 * (v ^ low) + 1];
    }
  }
  if (shiftTables.size < 16) shiftTables.set(n, t); // page sizes: a handful at most
  return t;
}

/** shift(register, n) for the table of n, result in outLo/outHi. */
function shift(t: Int32Array, lo: number, hi: number): void {
  const a0 = (lo & 0xff) << 1;
  const a1 = 512 + (((lo >>> 8) & 0xff) << 1);
  const a2 = 1024 + (((lo >>> 16) & 0xff) << 1);
  const a3 = 1536 + ((lo >>> 24) << 1);
  const a4 = 2048 + ((hi & 0xff) << 1);
  const a5 = 2560 + (((hi >>> 8) & 0xff) << 1);
  const a6 = 3072 + (((hi >>> 16) & 0xff) << 1);
  const a7 = 3584 + ((hi >>> 24) << 1);
  outLo = t[a0] ^ t[a1] ^ t[a2] ^ t[a3] ^ t[a4] ^ t[a5] ^ t[a6] ^ t[a7];
  outHi = t[a0 + 1] ^ t[a1 + 1] ^ t[a2 + 1] ^ t[a3 + 1] ^ t[a4 + 1] ^ t[a5 + 1] ^ t[a6 + 1] ^ t[a7 + 1];
}

/** Raw register after be32(pgno) from the initial register, in outLo/outHi. */
function pgnoRegister(pgno: number): void {
  let lo = -1;
  let hi = -1;
  for (let s = 24; s >= 0; s -= 8) {
    const j = (lo ^ (pgno >>> s)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TAB_LO[j];
    hi = (hi >>> 8) ^ TAB_HI[j];
  }
  outLo = lo;
  outHi = hi;
}

function checkRange(name: string, data: Uint8Array, start: number, end: number): void {
  if (!(start >= 0 && start <= end && end <= data.length)) {
    throw new RangeError(`${name}: range ${start}..${end} is outside the ${data.length}-byte input`);
  }
}

// The page checksum from a page CRC's raw final register.
const toChecksum = (lo: number, hi: number): bigint => CHECKSUM_FLAG | (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0);

/** Incremental CRC-64/GO-ISO: feed bytes in pieces with update(), read digest(). */
export class Crc64 {
  // Running register (already xored with the init value), as two int32 halves.
  private lo = -1;
  private hi = -1;

  /** Feed data[start, end). */
  update(data: Uint8Array, start = 0, end = data.length): this {
    checkRange('Crc64.update', data, start, end);
    crcRun(this.lo, this.hi, data, start, end);
    this.lo = outLo;
    this.hi = outHi;
    return this;
  }

  /**
   * update(page), and return pageChecksum(pgno, page) from the same single pass
   * over the page: decoders need both (file checksum and database checksum).
   */
  updatePage(pgno: number, page: Uint8Array): bigint {
    const t = shiftTable(page.length);
    crcRun(0, 0, page, 0, page.length);
    const rawLo = outLo;
    const rawHi = outHi;
    shift(t, this.lo, this.hi);
    this.lo = outLo ^ rawLo;
    this.hi = outHi ^ rawHi;
    pgnoRegister(pgno);
    shift(t, outLo, outHi);
    return toChecksum(outLo ^ rawLo, outHi ^ rawHi);
  }

  /** The CRC of everything fed so far (does not reset). */
  digest(): bigint {
    return (BigInt(~this.hi >>> 0) << 32n) | BigInt(~this.lo >>> 0);
  }
}

/** CRC-64/GO-ISO of `data`. crc64("123456789") = 0xb90956c775a41001n. */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).digest();
}

/** FORMAT.md §7.2: CHECKSUM_FLAG | CRC(be32(pgno) ‖ page), over the uncompressed page. */
export function pageChecksum(pgno: number, page: Uint8Array): bigint {
  pgnoRegister(pgno);
  crcRun(outLo, outHi, page, 0, page.length);
  return toChecksum(outLo, outHi);
}

/**
 * FORMAT.md §7.3 database checksum, kept incrementally: the low 63 bits are the XOR
 * of every page checksum, so pages can be added, removed or replaced in any order.
 */
export class DatabaseChecksum {
  private acc = 0n;

  constructor(initial: bigint = CHECKSUM_FLAG) {
    this.acc = initial & ~CHECKSUM_FLAG;
  }

  /** XOR a page checksum in (or out: XOR is its own inverse). */
  toggle(pageSum: bigint): this {
    this.acc ^= pageSum & ~CHECKSUM_FLAG;
    return this;
  }

  addPage(pgno: number, page: Uint8Array): this {
    return this.toggle(pageChecksum(pgno, page));
  }

  /** The checksum value, bit 63 always set (an empty database is exactly CHECKSUM_FLAG). */
  value(): bigint {
    return CHECKSUM_FLAG | this.acc;
  }
}

/** Database checksum of a whole database image (pages 1..n, lock page skipped). */
export function databaseChecksum(db: Uint8Array, pageSize: number): bigint {
  if (db.length % pageSize !== 0) {
    throw new TypeError(`databaseChecksum: length ${db.length} is not a multiple of pageSize ${pageSize}`);
  }
  const lock = Math.floor(0x40000000 / pageSize) + 1;
  const sum = new DatabaseChecksum();
  for (let pgno = 1; pgno * pageSize <= db.length; pgno++) {
    if (pgno === lock) continue;
    sum.addPage(pgno, db.subarray((pgno - 1) * pageSize, pgno * pageSize));
  }
  return sum.value();
}

// CRC-64/GO-ISO (Go's hash/crc64 with the ISO table) and the three LTX checksums
// built on it (FORMAT.md §7): page, database, and file. bigint per byte is slow,
// so the CRC runs on two u32 halves with slicing-by-8 tables (8 bytes a step).

/** Bit 63: set on every non-zero LTX checksum. */
export const CHECKSUM_FLAG = 0x8000000000000000n;

// Reflected ISO polynomial 0xD800000000000000: its low u32 half is 0.
const POLY_HI = 0xd8000000;

// TAB_LO[k*256 + i], TAB_HI[k*256 + i]: table k of the slicing-by-8 scheme.
const TAB_LO = new Uint32Array(8 * 256);
const TAB_HI = new Uint32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let b = 0; b < 8; b++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) hi = (hi ^ POLY_HI) >>> 0;
  }
  TAB_LO[i] = lo;
  TAB_HI[i] = hi;
}
for (let k = 1; k < 8; k++) {
  for (let i = 0; i < 256; i++) {
    const plo = TAB_LO[(k - 1) * 256 + i];
    const phi = TAB_HI[(k - 1) * 256 + i];
    const j = plo & 0xff;
    TAB_LO[k * 256 + i] = (((plo >>> 8) | (phi << 24)) ^ TAB_LO[j]) >>> 0;
    TAB_HI[k * 256 + i] = ((phi >>> 8) ^ TAB_HI[j]) >>> 0;
  }
}

/** Incremental CRC-64/GO-ISO: feed bytes in pieces with update(), read digest(). */
export class Crc64 {
  // Running register (already xored with the init value), as two u32 halves.
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  update(data: Uint8Array, start = 0, end = data.length): this {
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    const T = TAB_LO;
    const H = TAB_HI;
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (; i + 8 <= end; i += 8) {
      const a = (lo ^ v.getUint32(i, true)) >>> 0;
      const b = (hi ^ v.getUint32(i + 4, true)) >>> 0;
      const x7 = 7 * 256 + (a & 0xff);
      const x6 = 6 * 256 + ((a >>> 8) & 0xff);
      const x5 = 5 * 256 + ((a >>> 16) & 0xff);
      const x4 = 4 * 256 + (a >>> 24);
      const x3 = 3 * 256 + (b & 0xff);
      const x2 = 2 * 256 + ((b >>> 8) & 0xff);
      const x1 = 256 + ((b >>> 16) & 0xff);
      const x0 = b >>> 24;
      lo = T[x7] ^ T[x6] ^ T[x5] ^ T[x4] ^ T[x3] ^ T[x2] ^ T[x1] ^ T[x0];
      hi = H[x7] ^ H[x6] ^ H[x5] ^ H[x4] ^ H[x3] ^ H[x2] ^ H[x1] ^ H[x0];
    }
    for (; i < end; i++) {
      const j = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ T[j];
      hi = (hi >>> 8) ^ H[j];
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** The CRC of everything fed so far (does not reset). */
  digest(): bigint {
    return (BigInt((~this.hi) >>> 0) << 32n) | BigInt((~this.lo) >>> 0);
  }
}

/** CRC-64/GO-ISO of `data`. crc64("123456789") = 0xb90956c775a41001n. */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).digest();
}

/** FORMAT.md §7.2: CHECKSUM_FLAG | CRC(be32(pgno) ‖ page), over the uncompressed page. */
export function pageChecksum(pgno: number, page: Uint8Array): bigint {
  const be = new Uint8Array(4);
  new DataView(be.buffer).setUint32(0, pgno);
  return CHECKSUM_FLAG | new Crc64().update(be).update(page).digest();
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

// CRC-64/GO-ISO of a concatenation from the CRCs of its parts (zlib's crc32_combine,
// widened to 64 bits): lets the hydrator verify an LTX file checksum from chunks
// that arrive in any order, and resume it from per-chunk records after a restart.
// crc(A ‖ B) = (x^(8·|B|) · crc(A)) mod P  XOR  crc(B), over reflected polynomials.

const POLY = 0xd800000000000000n; // the ISO polynomial, reflected
const TOP = 1n << 63n; // x^0 in the reflected representation
const MASK = (1n << 64n) - 1n;

/** a(x)·b(x) mod P, both reflected; a must not be 0. */
function multmodp(a: bigint, b: bigint): bigint {
  let m = TOP;
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ POLY : b >> 1n;
  }
  return p & MASK;
}

// X2N[k] = x^(2^k) mod P.
const X2N: bigint[] = [];
{
  let p = TOP >> 1n; // x^1
  X2N.push(p);
  for (let k = 1; k < 64; k++) X2N.push((p = multmodp(p, p)));
}

/** x^(n·2^k) mod P. */
function x2nmodp(n: number, k: number): bigint {
  let p = TOP;
  while (n > 0) {
    if (n % 2 === 1) p = multmodp(X2N[k & 63], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-64/GO-ISO of A ‖ B from crc(A), crc(B) and |B| in bytes. */
export function crc64Combine(crcA: bigint, crcB: bigint, lengthB: number): bigint {
  if (lengthB === 0) return crcA;
  if (crcA === 0n) return crcB;
  return multmodp(x2nmodp(lengthB, 3), crcA) ^ crcB;
}

// Moving strings and bytes in and out of the WASM heap. Views are taken fresh
// on every call (`m.HEAPU8` is replaced when the heap grows), never kept.
import { sqliteModule, type SqliteModule } from './wasm.js';

const m: SqliteModule = sqliteModule();
const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

// Short ASCII strings (column values, names, paths) decode faster by hand than
// through TextDecoder, whose per-call cost dominates below ~32 bytes.
const SMALL = 32;

/** Decode `n` bytes of UTF-8 at `p`. */
export function utf8At(p: number, n: number): string {
  p >>>= 0; // WASM hands pointers over as signed i32; above 2 GiB they are negative
  const heap = m.HEAPU8;
  if (n <= SMALL) {
    let s = '';
    for (let i = p; i < p + n; i++) {
      const c = heap[i];
      if (c >= 0x80) return decoder.decode(heap.subarray(p, p + n));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(heap.subarray(p, p + n));
}

/** Decode the NUL-terminated UTF-8 string at `p` (0 gives ''). */
export function cString(p: number): string {
  if (p === 0) return '';
  p >>>= 0;
  const heap = m.HEAPU8;
  let end = p;
  while (heap[end] !== 0) end++;
  return utf8At(p, end - p);
}

/** Copy `n` bytes at `p` into a new Uint8Array the caller owns. */
export function bytesAt(p: number, n: number): Uint8Array {
  p >>>= 0;
  return m.HEAPU8.slice(p, p + n);
}

// One reusable buffer for arguments SQLite copies before returning (bind with
// SQLITE_TRANSIENT, prepare, result_*): no malloc/free per bound value.
let scratchPtr = 0;
let scratchSize = 0;

function scratch(n: number): number {
  if (n > scratchSize) {
    if (scratchPtr !== 0) m._free(scratchPtr);
    scratchSize = Math.max(256, 2 ** Math.ceil(Math.log2(n)));
    scratchPtr = m._malloc(scratchSize) >>> 0;
    if (scratchPtr === 0) {
      scratchSize = 0;
      throw new RangeError(`ltxvfs: cannot allocate ${n} bytes in the WASM heap`);
    }
  }
  return scratchPtr;
}

/**
 * Encode `s` as NUL-terminated UTF-8 into the scratch buffer; returns its
 * pointer and sets `scratchBytes` to the length without the NUL. Valid until
 * the next scratch use: only for calls that copy their argument.
 */
export function scratchUtf8(s: string): number {
  const max = s.length * 3 + 1;
  const p = scratch(max);
  const heap = m.HEAPU8;
  let i = 0;
  const len = s.length;
  for (; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    heap[p + i] = c;
  }
  let n = i;
  if (i < len) n = i + encoder.encodeInto(s.slice(i), heap.subarray(p + i, p + max)).written;
  heap[p + n] = 0;
  scratchBytes = n;
  return p;
}
export let scratchBytes = 0;

let outCell = 0;
/**
 * A permanent 4-byte cell for out-parameters (sqlite3** / sqlite3_stmt**):
 * read it right after the call that fills it.
 */
export function outPointerCell(): number {
  if (outCell === 0) outCell = m._malloc(8) >>> 0;
  return outCell;
}

/** Copy `bytes` into the scratch buffer; returns its pointer. */
export function scratchBytesOf(bytes: Uint8Array): number {
  const p = scratch(bytes.length || 1);
  m.HEAPU8.set(bytes, p);
  return p;
}

/** A malloc'd NUL-terminated copy of `s`; the caller frees it with `m._free`. */
export function mallocUtf8(s: string): number {
  const bytes = encoder.encode(s);
  const p = m._malloc(bytes.length + 1) >>> 0;
  if (p === 0) throw new RangeError('ltxvfs: out of WASM memory');
  const heap = m.HEAPU8;
  heap.set(bytes, p);
  heap[p + bytes.length] = 0;
  return p;
}

/**
 * Write `s` as NUL-terminated UTF-8 into `nOut` bytes at `p`. If it does not
 * fit: with `truncate`, write what fits; otherwise write nothing. Returns
 * whether all of `s` was written.
 */
export function writeUtf8(s: string, p: number, nOut: number, truncate = false): boolean {
  if (nOut <= 0) return false;
  let bytes = encoder.encode(s);
  const fits = bytes.length + 1 <= nOut;
  if (!fits) {
    if (!truncate) return false;
    bytes = bytes.subarray(0, nOut - 1);
  }
  p >>>= 0;
  const heap = m.HEAPU8;
  heap.set(bytes, p);
  heap[p + bytes.length] = 0;
  return fits;
}

/** A sqlite3_malloc'd NUL-terminated copy of `s` (for SQLite to free), or 0 if out of memory. */
export function sqliteMallocUtf8(s: string): number {
  const bytes = encoder.encode(s);
  const p = m._sqlite3_malloc(bytes.length + 1) >>> 0;
  if (p === 0) return 0;
  const heap = m.HEAPU8;
  heap.set(bytes, p);
  heap[p + bytes.length] = 0;
  return p;
}

/** Read / write a 32-bit int at `p` (pointers are 32-bit; `>>> 2` keeps addresses above 2 GiB right). */
export function i32At(p: number): number {
  return m.HEAP32[p >>> 2];
}
export function setI32(p: number, v: number): void {
  m.HEAP32[p >>> 2] = v;
}

/** A view of `n` heap bytes at `p`, valid only until the next allocation: for VFS calls. */
export function viewAt(p: number, n: number): Uint8Array {
  p >>>= 0;
  return m.HEAPU8.subarray(p, p + n);
}

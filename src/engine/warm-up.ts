// Runs the read path once per process on a tiny database held in a private memory
// VFS, so that the first real query does not pay for it: V8 compiles a WASM function
// on its first call (lazy compilation: the first query on a replica compiled ~180
// functions, 60-130 ms on a 2-core VM), and the JS glue starts out interpreted.
// open() runs this while the I/O worker plans (start-up, round trips, tail parsing).
//
// The database is written here byte by byte rather than with SQL: writing through
// SQLite would also compile the write path (twice the functions), and its loops made
// V8 tier the interpreter up to TurboFan at once (~1 s of a core under load), both
// competing with the worker for the CPU. Only reads run, as on a replica.
import { decodePageFrame, encodePageFrame } from '../ltx/index.js';
import { SQLITE_OPEN_CREATE, SQLITE_OPEN_READWRITE } from '../vfs/codes.js';
import { MemoryVfs } from '../vfs/memory-vfs.js';
import { Database } from './database.js';
import { registerVfs } from './registry.js';

const VFS = 'ltxvfs-warm-up';
const PAGE = 512;
const TABLE_SQL = 'CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b INTEGER)';
const INDEX_SQL = 'CREATE INDEX t_a ON t(a, b)';
/** The rows of table t: [id, a, b]. */
export const WARM_UP_ROWS: readonly (readonly [number, string, number])[] = [
  [1, 'x', 1],
  [2, 'y', 2],
];

let done = false;

/**
 * Compile what a first read query runs (open, schema load, rowid and index lookups,
 * a group-by, page decoding). Once per process; cheap after. `stop` is asked between
 * steps: true ends the warm-up there (open() asks whether the plan has arrived, so
 * that warming up never holds it back by more than one step). Throws if the engine
 * reads the tiny database wrong (open() logs that and goes on: nothing depends on it).
 */
export function warmUpEngine(stop: () => boolean = () => false): void {
  if (done) return;
  done = true;
  if (stop()) return;
  const vfs = new MemoryVfs(VFS);
  registerVfs(vfs);
  const w = vfs.open('warm.db', SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE).file;
  w.write(warmUpImage(), 0);
  w.close();
  const db = new Database('warm.db', { vfs: VFS, readOnly: true });
  try {
    const steps: [sql: string, params: (string | number)[], check: (rows: unknown[]) => boolean][] = [
      ['SELECT * FROM t WHERE id = ?', [2], (rows) => (rows[0] as { a?: string } | undefined)?.a === 'y'], // with the schema load
      ['SELECT id, b FROM t WHERE a = ? ORDER BY b DESC', ['x'], (rows) => (rows[0] as { id?: number } | undefined)?.id === 1],
      ['SELECT a, count(*) AS n, max(b) AS m FROM t WHERE id BETWEEN ? AND ? GROUP BY a', [1, 2], (rows) => rows.length === 2],
    ];
    for (const [sql, params, check] of steps) {
      const rows = db.all(sql, params);
      if (!check(rows)) throw new Error(`warm-up: unexpected answer to ${sql}: ${JSON.stringify(rows)}`);
      if (stop()) return;
    }
  } finally {
    db.close();
    vfs.delete('warm.db');
  }
  // The replica's page decoding (frame header, LZ4 block).
  const page = new Uint8Array(4096).fill(7, 100, 300);
  decodePageFrame(encodePageFrame(1, page), page.length, 1);
}

/**
 * @internal The warm-up database: 3 pages of 512 bytes. Page 1: header and
 * sqlite_schema (table t at page 2, index t_a at page 3); page 2: t's rows; page 3:
 * the index entries (a, b, rowid).
 */
export function warmUpImage(): Uint8Array {
  const image = new Uint8Array(3 * PAGE);
  const v = new DataView(image.buffer);
  image.set(new TextEncoder().encode('SQLite format 3\0'), 0);
  v.setUint16(16, PAGE);
  image.set([1, 1, 0, 64, 32, 32], 18); // rollback journal, no reserved bytes, payload fractions
  v.setUint32(24, 1); // change counter
  v.setUint32(28, 3); // pages
  v.setUint32(40, 1); // schema cookie
  v.setUint32(44, 4); // schema format
  v.setUint32(56, 1); // UTF-8
  v.setUint32(92, 1); // version-valid-for = change counter: the page count above is trusted
  v.setUint32(96, 3045000);
  leaf(image, 0, 100, 0x0d, [
    tableCell(1, record(['table', 't', 't', 2, TABLE_SQL])),
    tableCell(2, record(['index', 't_a', 't', 3, INDEX_SQL])),
  ]);
  leaf(image, PAGE, 0, 0x0d, WARM_UP_ROWS.map(([id, a, b]) => tableCell(id, record([null, a, b]))));
  leaf(image, 2 * PAGE, 0, 0x0a, WARM_UP_ROWS.map(([id, a, b]) => indexCell(record([a, b, id]))));
  return image;
}

/** A leaf B-tree page at `page` (its header at `page + at`), cells packed at the page's end. */
function leaf(image: Uint8Array, page: number, at: number, type: number, cells: Uint8Array[]): void {
  const v = new DataView(image.buffer);
  let content = PAGE;
  cells.forEach((cell, i) => {
    content -= cell.length;
    image.set(cell, page + content);
    v.setUint16(page + at + 8 + 2 * i, content);
  });
  image[page + at] = type;
  v.setUint16(page + at + 3, cells.length);
  v.setUint16(page + at + 5, content);
}

function tableCell(rowid: number, payload: Uint8Array): Uint8Array {
  return concat([varint(payload.length), varint(rowid), payload]);
}

function indexCell(payload: Uint8Array): Uint8Array {
  return concat([varint(payload.length), payload]);
}

/** A record: header (its size, serial types), then the values. Small non-negative integers and text only. */
function record(values: (string | number | null)[]): Uint8Array {
  const types: number[] = [];
  const bodies: Uint8Array[] = [];
  for (const value of values) {
    if (value === null) {
      types.push(0);
    } else if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0 || value > 127) throw new RangeError(`warm-up record: ${value} is not a small integer`);
      types.push(1);
      bodies.push(new Uint8Array([value]));
    } else {
      const text = new TextEncoder().encode(value);
      types.push(2 * text.length + 13);
      bodies.push(text);
    }
  }
  const typeBytes = concat(types.map(varint));
  const header = concat([varint(typeBytes.length + 1), typeBytes]); // header size < 128: a one-byte varint
  return concat([header, ...bodies]);
}

/** SQLite's big-endian varint (values below 2^28 here). */
function varint(n: number): Uint8Array {
  const out: number[] = [n & 0x7f];
  for (n >>>= 7; n > 0; n >>>= 7) out.unshift((n & 0x7f) | 0x80);
  return new Uint8Array(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

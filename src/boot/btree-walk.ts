// Which pages a cold query walks before it reaches a leaf: page 1 and the whole schema
// B-tree, then every table's and index's root and interior pages, top level first,
// so a byte budget cuts the lowest interior levels (the least shared ones) first.
// Only as much of the file format as that needs (https://sqlite.org/fileformat.html
// §1.6 B-tree pages, §2.1 records); a page that does not parse is simply not followed.
import { interiorChildren } from '../vfs/btree-page.js';

const LEAF_TABLE = 0x0d;

/** The pages of one database state, read in batches (decoded, as SQLite sees them). */
export interface WalkSource {
  commit: number;
  /** Frame size of a page in its LTX file (what packing it costs); 0 when no file holds it. */
  cost(pgno: number): number;
  read(pgnos: readonly number[]): Promise<Map<number, Uint8Array>>;
}

/** Pages worth packing, in order of use, within `budget` bytes of frames (page 1 always). */
export async function pagesToPack(src: WalkSource, budget: number): Promise<number[]> {
  const chosen: number[] = [];
  const taken = new Set<number>();
  let spent = 0;
  const take = (p: number): boolean => {
    if (taken.has(p)) return true;
    const c = src.cost(p);
    if (c === 0 || (chosen.length > 0 && spent + c > budget)) return false;
    taken.add(p);
    chosen.push(p);
    spent += c;
    return true;
  };
  // The schema: every page (a query prepares against it), breadth first.
  const pages = await src.read([1]);
  const page1 = pages.get(1);
  if (page1 === undefined || !take(1)) return chosen;
  const usable = page1.length - page1[20]; // byte 20: bytes reserved at the end of each page
  const roots: number[] = [];
  for (let level = [1]; level.length > 0; ) {
    const got = await src.read(level.filter((p) => !pages.has(p)));
    for (const [p, d] of got) pages.set(p, d);
    const next: number[] = [];
    for (const p of level) {
      const page = pages.get(p);
      if (page === undefined || !take(p)) continue;
      next.push(...interiorChildren(page, p, src.commit));
      roots.push(...schemaRoots(page, p, usable));
    }
    level = next;
  }
  // Each tree's depth, from its leftmost path (all leaves of a B-tree are equally deep),
  // so that the level of leaves is never read.
  const trees = [...new Set(roots)].filter((r) => r > 1 && r <= src.commit).sort((a, b) => a - b);
  const depth = new Map<number, number>();
  let probe = trees.map((r) => ({ root: r, at: r, d: 1 }));
  while (probe.length > 0) {
    const got = await src.read(probe.map((t) => t.at).filter((p) => !pages.has(p)));
    for (const [p, d] of got) pages.set(p, d);
    const next: typeof probe = [];
    for (const t of probe) {
      const page = pages.get(t.at);
      const kids = page === undefined ? [] : interiorChildren(page, t.at, src.commit);
      if (kids.length === 0) depth.set(t.root, page === undefined ? 0 : t.d);
      else next.push({ root: t.root, at: kids[0], d: t.d + 1 });
    }
    probe = next;
  }
  // Then level by level across all trees: roots (even a leaf root: a small table in one
  // page), then the interior levels above the leaves.
  let frontier = trees.filter((r) => (depth.get(r) ?? 0) > 0).map((r) => ({ tree: r, pgno: r }));
  for (let level = 0; frontier.length > 0; level++) {
    const got = await src.read(frontier.map((f) => f.pgno).filter((p) => !pages.has(p)));
    for (const [p, d] of got) pages.set(p, d);
    const next: typeof frontier = [];
    for (const f of frontier) {
      const page = pages.get(f.pgno);
      if (page === undefined || !take(f.pgno)) continue;
      if (level + 2 >= depth.get(f.tree)!) continue; // its children are leaves
      for (const c of interiorChildren(page, f.pgno, src.commit)) next.push({ tree: f.tree, pgno: c });
    }
    frontier = next.filter((f) => src.cost(f.pgno) > 0 && !taken.has(f.pgno));
    // Stop before reading a level that cannot fit at all.
    if (spent >= budget) break;
  }
  return chosen;
}

/** The root pages named by a schema table-leaf page's rows (column 4, `rootpage`). */
export function schemaRoots(page: Uint8Array, pgno: number, usable: number): number[] {
  const at = pgno === 1 ? 100 : 0;
  if (page.length < at + 8 || page[at] !== LEAF_TABLE) return [];
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const cells = v.getUint16(at + 3);
  const roots: number[] = [];
  for (let i = 0; i < cells && at + 8 + 2 * i + 2 <= page.length; i++) {
    const cell = v.getUint16(at + 8 + 2 * i);
    const [payload, n1] = varint(page, cell);
    const [, n2] = varint(page, cell + n1);
    const start = cell + n1 + n2;
    const local = Math.min(payload, localPayload(payload, usable), page.length - start);
    const root = recordInt(page.subarray(start, start + Math.max(0, local)), 3);
    if (root !== null && root > 0) roots.push(root);
  }
  return roots;
}

// A table leaf's bytes of payload kept on the page (§1.6: the rest spills to overflow pages).
function localPayload(p: number, u: number): number {
  const x = u - 35;
  if (p <= x) return p;
  const m = Math.floor(((u - 12) * 32) / 255) - 23;
  const k = m + ((p - m) % (u - 4));
  return k <= x ? k : m;
}

/** Column `col` of a record when it is an integer held in `rec`, else null. */
function recordInt(rec: Uint8Array, col: number): number | null {
  if (rec.length === 0) return null;
  const [headerSize, n] = varint(rec, 0);
  let off = n;
  let body = headerSize;
  for (let c = 0; off < headerSize && off < rec.length; c++) {
    const [type, k] = varint(rec, off);
    off += k;
    if (c === col) {
      if (type === 8) return 0;
      if (type === 9) return 1;
      const size = [0, 1, 2, 3, 4, 6, 8][type];
      if (size === undefined || size === 0 || body + size > rec.length) return null;
      let val = 0;
      for (let i = 0; i < size; i++) val = val * 256 + rec[body + i];
      return val; // root pages are positive: the sign bit is never set
    }
    body += serialSize(type);
  }
  return null;
}

function serialSize(t: number): number {
  if (t < 7) return [0, 1, 2, 3, 4, 6, 8][t];
  if (t === 7) return 8;
  if (t < 12) return 0;
  return Math.floor((t - (t % 2 === 0 ? 12 : 13)) / 2);
}

/** SQLite's varint: big-endian groups of 7 bits, the 9th byte whole. [value, bytes]. */
function varint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    const byte = b[at + i] ?? 0;
    if (i === 8) return [v * 256 + byte, 9];
    v = v * 128 + (byte & 0x7f);
    if (byte < 0x80) return [v, i + 1];
  }
  return [v, 9];
}

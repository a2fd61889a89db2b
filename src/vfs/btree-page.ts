// Just enough of SQLite's B-tree page format to name an interior page's children
// (https://sqlite.org/fileformat.html §1.6), for prefetching the level below each
// root: a cold lookup then starts two levels down instead of one.

const INTERIOR_INDEX = 0x02;
const INTERIOR_TABLE = 0x05;

/**
 * The child page numbers of interior B-tree page `pgno` (left children in key order,
 * then the right-most pointer); [] for a leaf or anything that does not parse.
 * Only pages 1..`maxPgno` are returned.
 */
export function interiorChildren(page: Uint8Array, pgno: number, maxPgno: number): number[] {
  const at = pgno === 1 ? 100 : 0; // page 1 starts with the database header
  if (page.length < at + 12) return [];
  const type = page[at];
  if (type !== INTERIOR_INDEX && type !== INTERIOR_TABLE) return [];
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const cells = v.getUint16(at + 3);
  if (at + 12 + 2 * cells > page.length) return [];
  const children: number[] = [];
  const add = (child: number): void => {
    if (child >= 1 && child <= maxPgno && child !== pgno) children.push(child);
  };
  for (let i = 0; i < cells; i++) {
    const cell = v.getUint16(at + 12 + 2 * i);
    if (cell + 4 <= page.length) add(v.getUint32(cell));
  }
  add(v.getUint32(at + 8));
  return children;
}

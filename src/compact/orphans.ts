// Orphans: L0 files of a fenced writer that overlap the winner's history and that
// nobody continues. A writer paused with acknowledged commits (a suspended VM) may
// upload them after another writer took over; its syncer then removes its file, but a
// writer killed between its put and that delete leaves it behind. Kept, such a file
// is the shortest plan (and the follower's furthest step) to a state that never
// existed, so a pass removes it before compacting anything.
//
// The evidence is the chain checksums: a file F is an orphan when some file G starts
// at F.max+1, no such G has a pre-apply checksum equal to F's post-apply one, and at
// least one such G continues another file ending at F.max (both sides with checksums):
// the history went on from a different state than F's. Overlaps that cannot be
// decided (no file after F yet, or no checksums) are left alone; the compaction of
// L1 stops before them (select.ts).
import { HEADER_SIZE, TRAILER_SIZE, decodeHeader, hasChecksums } from '../ltx/index.js';
import { trailerPostApply, type LtxFileInfo } from '../replica/index.js';
import { parseRecord, withRecord } from '../replica/checksum-record.js';
import { mapLimit } from '../replica/pool.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';

/** A file's database checksums before and after it (null: the file carries none). */
export interface ChainSums {
  pre: bigint | null;
  post: bigint | null;
}

const READ_CONCURRENCY = 8;

const byMin = (a: LtxFileInfo, b: LtxFileInfo) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : 0);

/** The files of `level` whose TXID range overlaps another file of that level. */
export function overlapping(files: readonly LtxFileInfo[], level = 0): LtxFileInfo[] {
  const at = files.filter((f) => f.level === level).sort(byMin);
  const out = new Set<LtxFileInfo>();
  for (let i = 0; i < at.length; i++) {
    for (let j = i + 1; j < at.length && at[j].minTXID <= at[i].maxTXID; j++) {
      out.add(at[i]);
      out.add(at[j]);
    }
  }
  return at.filter((f) => out.has(f));
}

/** The files whose checksums decide `candidates`: those with a successor, their successors, and the other files ending where they end. */
export function filesToRead(files: readonly LtxFileInfo[], candidates: readonly LtxFileInfo[]): { key: string; trailer: boolean }[] {
  const need = new Map<string, boolean>(); // key → the trailer (post-apply) is needed too
  const add = (f: LtxFileInfo, trailer: boolean) => need.set(f.key, (need.get(f.key) ?? false) || trailer);
  for (const f of candidates) {
    const next = files.filter((g) => g.minTXID === f.maxTXID + 1n);
    if (next.length === 0) continue;
    add(f, true);
    for (const g of next) add(g, false);
    for (const e of files) if (e !== f && e.maxTXID === f.maxTXID) add(e, true);
  }
  return [...need].map(([key, trailer]) => ({ key, trailer }));
}

/** The orphans among `candidates`, from the checksums in `sums` (a file missing there counts as unknown). */
export function selectOrphans(files: readonly LtxFileInfo[], candidates: readonly LtxFileInfo[], sums: ReadonlyMap<string, ChainSums>): LtxFileInfo[] {
  const pre = (f: LtxFileInfo) => sums.get(f.key)?.pre ?? null;
  const post = (f: LtxFileInfo) => sums.get(f.key)?.post ?? null;
  return candidates.filter((f) => {
    const ours = post(f);
    if (ours === null) return false;
    const next = files.filter((g) => g.minTXID === f.maxTXID + 1n);
    if (next.some((g) => pre(g) === ours)) return false; // continued: part of a history
    const ends = files.filter((e) => e !== f && e.maxTXID === f.maxTXID && post(e) !== null);
    return next.some((g) => pre(g) !== null && ends.some((e) => post(e) === pre(g)));
  });
}

/** Read the header (and with `trailer`, the 16-byte trailer) of each file; files gone meanwhile or whose header disagrees with the name are left out. */
export async function readChainSums(store: ObjectStore, files: readonly LtxFileInfo[], wanted: readonly { key: string; trailer: boolean }[], onRead: (bytes: number) => void = () => undefined): Promise<Map<string, ChainSums>> {
  const byKey = new Map(files.map((f) => [f.key, f]));
  const read = await mapLimit(wanted, READ_CONCURRENCY, async ({ key, trailer }): Promise<[string, ChainSums] | null> => {
    const f = byKey.get(key)!;
    try {
      const head = await store.getWithMetadata(key, { range: { offset: 0, length: HEADER_SIZE } });
      onRead(head.bytes.length);
      const record = parseRecord(head.metadata);
      const h = withRecord(decodeHeader(head.bytes), record);
      if (h.minTXID !== f.minTXID || h.maxTXID !== f.maxTXID) return null;
      if (!hasChecksums(h)) return [key, { pre: null, post: null }];
      let post: bigint | null = record?.post ?? null; // recorded beside the file: no trailer read
      if (trailer && post === null) {
        const tail = await store.get(key, { range: { suffix: TRAILER_SIZE } });
        onRead(tail.length);
        post = trailerPostApply(tail);
        if (post === null) return null;
      }
      return [key, { pre: h.minTXID === 1n ? null : h.preApplyChecksum, post }];
    } catch (err) {
      if (isStoreError(err, 'NOT_FOUND')) return null;
      throw err;
    }
  });
  return new Map(read.filter((r): r is [string, ChainSums] => r !== null));
}

export interface OrphanScan {
  /** Files to delete. */
  orphans: LtxFileInfo[];
  /** L0 files that still overlap another L0 file once the orphans are gone: undecided. */
  unresolved: LtxFileInfo[];
}

/** Find the orphans of a listing (reads only when L0 files overlap). */
export async function findOrphans(store: ObjectStore, files: readonly LtxFileInfo[], onRead?: (bytes: number) => void): Promise<OrphanScan> {
  const candidates = overlapping(files);
  if (candidates.length === 0) return { orphans: [], unresolved: [] };
  const wanted = filesToRead(files, candidates);
  const sums = wanted.length === 0 ? new Map<string, ChainSums>() : await readChainSums(store, files, wanted, onRead);
  const orphans = selectOrphans(files, candidates, sums);
  const gone = new Set(orphans);
  return { orphans, unresolved: overlapping(files.filter((f) => !gone.has(f))) };
}

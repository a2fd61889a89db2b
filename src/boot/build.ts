// Building and writing the boot pack for a restore plan (compaction and import call
// this after writing a file): the plan's tails, read as a cold open would (or taken
// from the previous pack for the files it shares), and the frames of the pages a cold
// query walks first (./btree-walk.ts), up to BOOT_PACK_FRAME_BUDGET bytes. Written with
// a plain PUT over the last one: a slower writer's older pack may land last, and then
// only the files it shares with a newer plan are used (./read.ts), so it costs tail
// reads, never a wrong page.
import { decodeHeader, decodePageFrame } from '../ltx/index.js';
import { withRecord } from '../replica/checksum-record.js';
import { readLtxHeader } from '../replica/listing.js';
import { buildPageIndex, type FileIndex, type PageIndex, type TailCache } from '../replica/page-index.js';
import type { RestorePlan } from '../replica/plan.js';
import { mapLimit } from '../replica/pool.js';
import type { ByteRange, ObjectStore } from '../storage/object-store.js';
import { StoreError } from '../storage/store-error.js';
import { pagesToPack } from './btree-walk.js';
import { encodeBootPack, type BootPack, type PackedFile, type PackedFrame } from './format.js';
import { BOOT_PACK_KEY, framesFor, readBootPack, tailCacheFrom } from './read.js';

// 4 MiB of frames: the bench's 1 GiB table+index database (4 KiB pages, 3.84 M rows)
// has 832 interior pages, 3.4 MB before LZ4; 2 MiB left out the table's lowest interior
// level, one more round trip per lookup. 4 MiB holds every interior page up to ~1.5 GiB
// of such data, and on a 100 MiB/s link costs ~20 ms more in a GET beside the listing.
export const BOOT_PACK_FRAME_BUDGET = 4 * 1024 * 1024;
// After the B-tree pages, up to 256 KiB of the first pages: what open() read as the
// snapshot's head before (READ_AHEAD_BYTES), so a small database still needs no page read.
const HEAD_FILL_BYTES = 256 * 1024;
// Range reads in flight while walking the B-trees (the S3 store's default sockets).
const READ_CONCURRENCY = 16;
// Adjacent frames of one file are read in one range of up to this many bytes.
const RUN_BYTES = 256 * 1024;

export interface WriteBootPackResult {
  key: string;
  bytes: number;
  txid: bigint;
  files: number;
  frames: number;
  frameBytes: number;
}

/** Where the plan's bytes are read from: the store, or (import) the file just written, held in memory. */
export type PackSource = Pick<ObjectStore, 'url' | 'get' | 'getWithMetadata'>;

/** One file's bytes and metadata as a PackSource (no pack beside it): import builds its pack without reading back what it wrote. */
export function memorySource(url: string, key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): PackSource {
  const get = async (k: string, options?: { range?: ByteRange }) => {
    if (k !== key) throw new StoreError('NOT_FOUND', 'get', k, `${k}: not in memory`);
    const r = options?.range;
    if (r === undefined) return bytes;
    return 'suffix' in r ? bytes.subarray(Math.max(0, bytes.length - r.suffix)) : bytes.subarray(r.offset, r.offset + r.length);
  };
  return { url, get, getWithMetadata: async (k, options) => ({ bytes: await get(k, options), metadata }) };
}

/** Build the pack for `plan` (the latest state) from `source` (default: the store) and PUT it; `budget` bytes of frames at most. */
export async function writeBootPack(store: ObjectStore, plan: RestorePlan, options: { source?: PackSource; budget?: number } = {}): Promise<WriteBootPackResult> {
  const pack = await buildBootPack(options.source ?? store, plan, options.budget);
  const bytes = encodeBootPack(pack);
  await store.put(BOOT_PACK_KEY, bytes);
  return { key: BOOT_PACK_KEY, bytes: bytes.length, txid: pack.txid, files: pack.files.length, frames: pack.frames.length, frameBytes: pack.frames.reduce((n, f) => n + f.bytes.length, 0) };
}

export async function buildBootPack(source: PackSource, plan: RestorePlan, budget = BOOT_PACK_FRAME_BUDGET): Promise<BootPack> {
  const store = source as ObjectStore; // only `get` and `getWithMetadata` are used (buildPageIndex, header and frame reads)
  const previous = await readBootPack(store);
  const reuse = 'pack' in previous ? tailCacheFrom(previous.pack, plan.files) : null;
  const cache: TailCache = reuse?.cache ?? new Map();
  const index = await buildPageIndex(store, plan, cache);
  const files: PackedFile[] = await Promise.all(
    plan.files.map(async (f) => {
      const tail = (await cache.get(f.key)) as FileIndex;
      const cachedHeader = cache.get(`${f.key}#header`) as Promise<PackedFile['header']> | undefined;
      const header = tail.whole !== null ? withRecord(decodeHeader(tail.whole), tail.record) : await (cachedHeader ?? readLtxHeader(store, f.key));
      return { key: f.key, size: f.size, header, columns: tail.columns, postApplyChecksum: tail.postApplyChecksum, fileChecksum: tail.fileChecksum, whole: tail.whole };
    }),
  );
  // Frames the previous pack holds at the same place need no read.
  const known = new Map<number, Uint8Array>();
  if ('pack' in previous) for (const fr of framesFor(previous.pack, index)) known.set(fr.pgno, fr.bytes);
  const raw = new Map<number, Uint8Array>();
  const chosen = await pagesToPack(
    {
      commit: index.commit,
      cost: (p) => index.lookup(p)?.size ?? 0,
      read: async (pgnos) => {
        const frames = await readFrames(store, index, pgnos, known);
        const pages = new Map<number, Uint8Array>();
        for (const [p, frame] of frames) {
          raw.set(p, frame);
          pages.set(p, decodePageFrame(frame, index.pageSize, p).data);
        }
        return pages;
      },
    },
    budget,
  );
  // Then the first pages in page order, as the snapshot's head (which a cold open no longer
  // reads when the pack holds the snapshot) gave them: a small database comes whole.
  const taken = new Set(chosen);
  const spent = chosen.reduce((n, p) => n + (index.lookup(p)?.size ?? 0), 0);
  const fill: number[] = [];
  for (let p = 1, bytes = 0; p <= index.commit; p++) {
    const size = taken.has(p) ? 0 : (index.lookup(p)?.size ?? 0);
    if (size === 0) continue;
    if (bytes + size > HEAD_FILL_BYTES || spent + bytes + size > budget) break;
    fill.push(p);
    bytes += size;
  }
  for (const [p, frame] of await readFrames(store, index, fill, known)) raw.set(p, frame);
  chosen.push(...fill);
  const fileNo = new Map(plan.files.map((f, i) => [f.key, i]));
  const frames: PackedFrame[] = chosen.map((p) => ({ pgno: p, file: fileNo.get(index.lookup(p)!.key)!, bytes: raw.get(p)! }));
  return { txid: plan.txid, pageSize: index.pageSize, commit: index.commit, files, frames };
}

/** The frames of `pgnos` at their index locations: known ones as they are, the rest in ranges of adjacent frames. */
async function readFrames(store: ObjectStore, index: PageIndex, pgnos: readonly number[], known: ReadonlyMap<number, Uint8Array>): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  type Run = { key: string; offset: number; end: number; pages: { pgno: number; size: number }[] };
  const runs: Run[] = [];
  for (const p of [...new Set(pgnos)].sort((a, b) => a - b)) {
    const loc = index.lookup(p);
    if (loc === undefined) continue;
    const k = known.get(p);
    if (k !== undefined) {
      out.set(p, k);
      continue;
    }
    const last = runs[runs.length - 1];
    if (last !== undefined && last.key === loc.key && last.end === loc.offset && loc.offset + loc.size - last.offset <= RUN_BYTES) {
      last.pages.push({ pgno: p, size: loc.size });
      last.end += loc.size;
    } else {
      runs.push({ key: loc.key, offset: loc.offset, end: loc.offset + loc.size, pages: [{ pgno: p, size: loc.size }] });
    }
  }
  await mapLimit(runs, READ_CONCURRENCY, async (r) => {
    const bytes = await store.get(r.key, { range: { offset: r.offset, length: r.end - r.offset } });
    if (bytes.length !== r.end - r.offset) throw new Error(`boot pack: ${r.key}: asked for ${r.end - r.offset} bytes at ${r.offset}, got ${bytes.length}`);
    let at = 0;
    for (const pg of r.pages) {
      out.set(pg.pgno, bytes.slice(at, at + pg.size));
      at += pg.size;
    }
  });
  return out;
}

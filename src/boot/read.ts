// Reading the boot pack and matching it to a listing. The pack sits at one fixed key
// beside the level directories (Litestream lists only those, so it never sees it), so
// a cold open fetches it in parallel with the listing without knowing any file name.
// A pack is trusted file by file: its copy of a file's tail is used only for a listed
// file with the same key and size (LTX keys name their TXIDs and are written once),
// so a stale pack helps for the files it still shares with the plan and no more.
import { pageIndexEntries } from '../ltx/index.js';
import type { LtxFileInfo } from '../replica/listing.js';
import type { FileIndex, PageIndex, TailCache } from '../replica/page-index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { isStoreError } from '../storage/store-error.js';
import { decodeBootPack, type BootPack } from './format.js';

/** Relative to the replica's root, in both layouts (S3 `<path>/`, file:// `<dir>/`). */
export const BOOT_PACK_KEY = 'ltxvfs/boot.pack';

/** Why a pack is not used; null when it is. */
export type PackMiss = 'absent' | 'invalid' | 'unreadable';

/** The pack, or why there is none to use. Never throws: a cold open goes on without it. */
export async function readBootPack(store: Pick<ObjectStore, 'get'>): Promise<{ pack: BootPack } | { miss: PackMiss; error?: unknown }> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(BOOT_PACK_KEY);
  } catch (err) {
    return isStoreError(err, 'NOT_FOUND') ? { miss: 'absent' } : { miss: 'unreadable', error: err };
  }
  try {
    return { pack: decodeBootPack(bytes) };
  } catch (err) {
    return { miss: 'invalid', error: err };
  }
}

/** The pack's files that the listing holds (same key, same size), as a TailCache for buildPageIndex. */
export function tailCacheFrom(pack: BootPack, listed: readonly Pick<LtxFileInfo, 'key' | 'size'>[]): { cache: TailCache; keys: Set<string> } {
  const sizes = new Map(listed.map((f) => [f.key, f.size]));
  const cache: TailCache = new Map();
  const keys = new Set<string>();
  for (const f of pack.files) {
    if (sizes.get(f.key) !== f.size || f.header.pageSize !== pack.pageSize) continue;
    const { columns } = f;
    let entries: FileIndex['entries'] | undefined;
    const index: FileIndex = {
      columns,
      get entries() {
        return (entries ??= pageIndexEntries(columns));
      },
      whole: f.whole,
      postApplyChecksum: f.postApplyChecksum,
      fileChecksum: f.fileChecksum,
      // The pack keeps the effective header (checksums inline or from the record), so its checksums are the record.
      record: f.postApplyChecksum === 0n ? null : { pre: f.header.preApplyChecksum, post: f.postApplyChecksum },
    };
    cache.set(f.key, Promise.resolve(index));
    cache.set(`${f.key}#header`, Promise.resolve(f.header));
    keys.add(f.key);
  }
  return { cache, keys };
}

/** A packed frame the VFS may cache: the page's location in `index` is where the pack took it from. */
export interface SeedFrame {
  pgno: number;
  key: string;
  offset: number;
  bytes: Uint8Array;
}

/** The pack's frames that `index` still places exactly where the pack found them (same file, offset, size). */
export function framesFor(pack: BootPack, index: PageIndex): SeedFrame[] {
  const out: SeedFrame[] = [];
  for (const fr of pack.frames) {
    const file = pack.files[fr.file];
    const loc = index.lookup(fr.pgno);
    if (loc === undefined || loc.key !== file.key || loc.size !== fr.bytes.length) continue;
    const at = findEntry(file.columns.pgnos, file.columns.count, fr.pgno);
    if (at < 0 || file.columns.offsets[at] !== loc.offset || file.columns.sizes[at] !== loc.size) continue;
    out.push({ pgno: fr.pgno, key: file.key, offset: loc.offset, bytes: fr.bytes });
  }
  return out;
}

function findEntry(pgnos: Uint32Array, count: number, pgno: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (pgnos[mid] === pgno) return mid;
    if (pgnos[mid] < pgno) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

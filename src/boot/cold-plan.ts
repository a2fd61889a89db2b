// A cold open's plan with the boot pack: the listing and the pack are fetched in
// parallel (one round trip), then the plan's page index is built with the pack's copies
// of the tails it holds, so only files newer than the pack (L0 written since) cost a
// tail read; with a pack that covers the whole plan, none does. Without a pack, or with
// one that is stale, corrupt or of another database, this is the usual linked plan.
// Runs in the I/O worker: no logger here, the caller is told through `onPack`.
import { LinkError } from '../replica/errors.js';
import { planLinked, type LinkedPlan, type LinkedPlanOptions } from '../replica/linked-plan.js';
import { listReplica, type LtxFileInfo } from '../replica/listing.js';
import { buildPageIndex } from '../replica/page-index.js';
import { choosePlan } from '../replica/plan.js';
import type { ObjectStore } from '../storage/object-store.js';
import { framesFor, readBootPack, tailCacheFrom, type PackMiss, type SeedFrame } from './read.js';

/** What the pack did for this open. */
export interface PackUse {
  /** Null when the pack was used (for some files at least). */
  miss: PackMiss | 'stale' | 'relinked' | null;
  /** Plan files whose tail came from the pack, and those read from the store. */
  packedFiles: number;
  fetchedFiles: number;
  /** Frames handed to the page cache. */
  frames: number;
  error?: string;
}

export interface ColdPlan extends LinkedPlan {
  frames: SeedFrame[];
  use: PackUse;
}

/** The latest plan, its page index and the pack's frames that still hold; see the file comment. */
export async function planWithBootPack(store: ObjectStore, options: LinkedPlanOptions = {}): Promise<ColdPlan> {
  const packed = readBootPack(store);
  const files = await listReplica(store);
  const got = await packed;
  if ('miss' in got) return without(store, files, options, got.miss, got.error);
  const { pack } = got;
  const { cache, keys } = tailCacheFrom(pack, files);
  let plan;
  try {
    plan = choosePlan(store.url, files);
  } catch {
    return without(store, files, options, 'stale');
  }
  const covered = plan.files.filter((f) => keys.has(f.key)).length;
  if (covered === 0) return without(store, files, options, 'stale');
  // The snapshot's head is what the pack's frames replace: read it only when the pack lacks the snapshot.
  if (!keys.has(plan.files[0].key)) options.onPlan?.(plan.files[0]);
  try {
    const index = await buildPageIndex(store, plan, cache);
    const frames = framesFor(pack, index);
    return { plan, index, frames, use: { miss: null, packedFiles: covered, fetchedFiles: plan.files.length - covered, frames: frames.length } };
  } catch (err) {
    // A broken link: the linked search decides, on tails it reads itself (rare: a fenced writer's leftover).
    if (!(err instanceof LinkError)) throw err;
    return without(store, files, options, 'relinked', err);
  }
}

/** The usual linked plan, every tail read from the store. */
async function without(store: ObjectStore, files: readonly LtxFileInfo[], options: LinkedPlanOptions, miss: PackUse['miss'], error?: unknown): Promise<ColdPlan> {
  const linked = await planLinked(store, files, undefined, options);
  const use: PackUse = { miss, packedFiles: 0, fetchedFiles: linked.plan.files.length, frames: 0 };
  if (error !== undefined) use.error = error instanceof Error ? error.message : String(error);
  return { ...linked, frames: [], use };
}

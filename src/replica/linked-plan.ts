// A restore plan whose files link: the plan with the fewest files (choosePlan) is
// taken only when each file's pre-apply checksum continues the one before it. When a
// link fails (a fenced writer's leftover that a shorter chain would use, or files of
// another database), the plans without either file of the broken link are tried, a few
// at most, and the first one that links is used; when none does, the link error is
// thrown: a chain whose links fail is refused, never served. Files without checksums
// (Litestream writes NoChecksum) link to anything, as in Litestream.
import type { ObjectStore } from '../storage/object-store.js';
import { LinkError, isReplicaError } from './errors.js';
import type { LtxHeader } from '../ltx/index.js';
import { listReplica, readLtxHeader, readPostApplyChecksum, type LtxFileInfo } from './listing.js';
import { buildPageIndex, checkLink, type PageIndex, type TailCache } from './page-index.js';
import { choosePlan, txidAtTime, type RestorePlan, type RestoreTarget } from './plan.js';

// Plans tried before giving up: each broken link doubles the candidates, and one
// leftover file costs one retry, so this covers a few leftovers at once.
const MAX_PLANS = 16;

export interface LinkedPlanOptions {
  /** Called with the first plan's first file as soon as it is chosen (to fetch its head alongside the tails). */
  onPlan?: (first: LtxFileInfo) => void;
  /** Told of each plan refused for a broken link (this module does not log: the I/O worker loads no logger). */
  onRefused?: (err: LinkError) => void;
}

export interface LinkedPlan {
  plan: RestorePlan;
  index: PageIndex;
}

/** The plan for `target` (default: the latest) among `files` whose checksums link, with its page index. */
export async function planLinked(store: ObjectStore, files: readonly LtxFileInfo[], targetTXID?: bigint, options: LinkedPlanOptions = {}): Promise<LinkedPlan> {
  const cache: TailCache = new Map();
  return firstLinked(store, files, targetTXID, options, async (plan) => ({ plan, index: await buildPageIndex(store, plan, cache) }));
}

/**
 * The linked plan alone, for restore (which reads whole files anyway): its links are
 * checked with a 16-byte trailer and a 100-byte header per pair of files, in parallel;
 * a one-file plan costs no request.
 */
export async function planRestoreChecked(store: ObjectStore, target: RestoreTarget = {}, options: LinkedPlanOptions = {}): Promise<RestorePlan> {
  const { files, txid } = await listForTarget(store, target);
  return planChecked(store, files, txid, options);
}

/** `planRestoreChecked` on a listing already made (the hydrator's). */
export async function planChecked(store: ObjectStore, files: readonly LtxFileInfo[], txid?: bigint, options: LinkedPlanOptions = {}): Promise<RestorePlan> {
  const trailers = new Map<string, Promise<bigint>>();
  const headers = new Map<string, Promise<LtxHeader>>();
  const once = <T>(m: Map<string, Promise<T>>, key: string, make: () => Promise<T>) => {
    let p = m.get(key);
    if (p === undefined) m.set(key, (p = make()));
    return p;
  };
  return firstLinked(store, files, txid, options, async (plan) => {
    const pairs = plan.files.slice(1).map(async (f, i) => {
      const prev = plan.files[i];
      const [post, header] = await Promise.all([
        once(trailers, prev.key, async () => (await readPostApplyChecksum(store, prev.key)) ?? 0n),
        once(headers, f.key, () => readLtxHeader(store, f.key)),
      ]);
      checkLink(prev.key, post === 0n ? null : post, prev.maxTXID, f.key, header);
    });
    await Promise.all(pairs);
    return plan;
  });
}

async function firstLinked<T>(store: ObjectStore, files: readonly LtxFileInfo[], targetTXID: bigint | undefined, options: LinkedPlanOptions, check: (plan: RestorePlan) => Promise<T>): Promise<T> {
  let firstLinkError: LinkError | null = null;
  let firstError: unknown = null;
  const found = await searchWithout(
    MAX_PLANS,
    async (excluded, n) => {
      let plan: RestorePlan;
      try {
        plan = choosePlan(store.url, excluded.size === 0 ? files : files.filter((f) => !excluded.has(f.key)), targetTXID);
      } catch (err) {
        if (!isReplicaError(err)) throw err;
        firstError ??= err;
        return null;
      }
      if (n === 1) options.onPlan?.(plan.files[0]);
      return { value: await check(plan) };
    },
    (err) => {
      firstLinkError ??= err;
      options.onRefused?.(err);
      return [err.prevKey, err.nextKey];
    },
  );
  if (found !== null) return found.value;
  throw firstLinkError ?? firstError ?? new LinkError('', '', `replica ${store.url}: no plan whose files link`);
}

/**
 * Breadth first over sets of excluded file keys: none first; after an attempt throws a
 * LinkError, the sets that also leave out each key `onLinkError` names (the files of the
 * broken link). Each set is tried once, `max` sets at most. An attempt returns null when
 * its set leaves nothing to try. The plan and the follower's chain search alike.
 */
export async function searchWithout<T>(
  max: number,
  attempt: (excluded: ReadonlySet<string>, n: number) => Promise<{ value: T } | null>,
  onLinkError: (err: LinkError) => readonly string[],
): Promise<{ value: T } | null> {
  const queue: ReadonlySet<string>[] = [new Set()];
  const tried = new Set<string>();
  for (let n = 0; queue.length > 0 && n < max; ) {
    const excluded = queue.shift()!;
    const id = [...excluded].sort().join('\n');
    if (tried.has(id)) continue;
    tried.add(id);
    n++;
    try {
      const found = await attempt(excluded, n);
      if (found !== null) return found;
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      for (const key of onLinkError(err)) queue.push(new Set([...excluded, key]));
    }
  }
  return null;
}

/** List the replica and make the linked plan for `target` (a TXID, a time, or the latest). */
export async function planRestoreLinked(store: ObjectStore, target: RestoreTarget = {}, options: LinkedPlanOptions = {}): Promise<LinkedPlan> {
  const { files, txid } = await listForTarget(store, target);
  return planLinked(store, files, txid, options);
}

async function listForTarget(store: ObjectStore, target: RestoreTarget): Promise<{ files: LtxFileInfo[]; txid: bigint | undefined }> {
  if (target.txid !== undefined && target.timestamp !== undefined) throw new TypeError('restore target: give txid or timestamp, not both');
  const files = await listReplica(store);
  return { files, txid: target.timestamp === undefined ? target.txid : await txidAtTime(store, files, target.timestamp) };
}

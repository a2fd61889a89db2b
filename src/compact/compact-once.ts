// One compaction pass over a replica, in this order:
//  1. list every level once; the pass then works on that listing plus what it writes;
//     L0 files that overlap another L0 file are checked by their chain checksums and
//     orphans (a fenced writer's file nobody continues, ./orphans.ts) are deleted and
//     dropped from the listing, so nothing merges them; undecided overlaps stay, and
//     compactions stop before them (./select.ts) and no snapshot is built over them;
//  2. L1, L2, L3: each level whose interval window has turned (or all with `force`)
//     gets one file merging the run of lower-level files after its newest file;
//  3. if the latest restore plan has more than `maxPlanFiles` files, compact lower
//     levels ahead of schedule (L1, then L2, then L3) until it fits; if it still does
//     not, or a snapshot is due (daily, or `force`), compact every level up to the
//     latest TXID and write an L9 snapshot 1..latest merged from the plan's files;
//  4. last, delete what retention allows (./retention.ts), never a file of the latest
//     plan, and only after checking that the rest still restores the latest TXID.
// Every write is If-None-Match: *, so a pass that crashed anywhere is simply run again.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { log as rootLog } from '../log.js';
import { SNAPSHOT_LEVEL, choosePlan, isReplicaError, listReplica, type LtxFileInfo, type RestorePlan } from '../replica/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { totalOf } from '../storage/stats.js';
import { CompactionError } from './errors.js';
import { writeBootPack } from '../boot/build.js';
import { type MergedFile, mergeInto } from './merge.js';
import { type CompactionPolicy, resolvePolicy } from './policy.js';
import { findOrphans } from './orphans.js';
import { type DeleteReason as RetentionReason, selectDeletions } from './retention.js';
import { COMPACTION_LEVELS, isDue, newestAt, nextInputs } from './select.js';

/** Why a file was deleted: retention's reasons, or 'orphan' (./orphans.ts). */
export type DeleteReason = RetentionReason | 'orphan';

export interface CompactOnceOptions {
  policy?: Partial<CompactionPolicy>;
  /** The pass's clock (ms since the epoch); default Date.now(). */
  now?: number;
  /** Compact every level and write a snapshot, whatever the intervals say. */
  force?: boolean;
  /** Decide everything, write and delete nothing; fetch only the headers and trailers the orphan check needs. */
  dryRun?: boolean;
  log?: Logger;
  /** Range size for reading inputs (default 8 MiB). */
  chunkBytes?: number;
}

/** Why a file was written. */
export type WriteReason = 'interval' | 'force' | 'plan' | 'snapshot';

export interface WrittenFile extends MergedFile {
  reason: WriteReason;
}

export interface DeletedFile {
  level: number;
  minTXID: bigint;
  maxTXID: bigint;
  key: string;
  bytes: number;
  reason: DeleteReason;
}

export interface CompactionReport {
  url: string;
  now: number;
  force: boolean;
  dryRun: boolean;
  /** The replica's latest TXID (null: empty). */
  latestTXID: bigint | null;
  /** Files in the latest restore plan before and after the pass (null: no plan, see warnings). */
  planFilesBefore: number | null;
  planFilesAfter: number | null;
  written: WrittenFile[];
  deleted: DeletedFile[];
  bytesRead: number;
  bytesWritten: number;
  bytesDeleted: number;
  requests: number;
  ms: number;
  /** When time alone lets retention delete more files (null: nothing waiting). */
  nextDeletionAt: number | null;
  warnings: string[];
}

export async function compactOnce(store: ObjectStore, options: CompactOnceOptions = {}): Promise<CompactionReport> {
  const t0 = performance.now();
  const requestsBefore = totalOf(store.stats(), 'requests');
  const policy = resolvePolicy(options.policy);
  const now = options.now ?? Date.now();
  const force = options.force === true;
  const dryRun = options.dryRun === true;
  const log = (options.log ?? rootLog).child({ component: 'compact', url: store.url });
  const report: CompactionReport = {
    url: store.url,
    now,
    force,
    dryRun,
    latestTXID: null,
    planFilesBefore: null,
    planFilesAfter: null,
    written: [],
    deleted: [],
    bytesRead: 0,
    bytesWritten: 0,
    bytesDeleted: 0,
    requests: 0,
    ms: 0,
    nextDeletionAt: null,
    warnings: [],
  };
  const warn = (msg: string) => {
    if (report.warnings.includes(msg)) return;
    report.warnings.push(msg);
    log.warn(msg);
  };
  const finish = () => {
    report.requests = totalOf(store.stats(), 'requests') - requestsBefore;
    report.ms = performance.now() - t0;
    return report;
  };

  let live: LtxFileInfo[] = await listReplica(store);
  if (live.length === 0) return finish();
  report.latestTXID = live.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);

  // 1. Orphans first: no compaction, plan or snapshot may see them.
  const scan = await findOrphans(store, live, (n) => (report.bytesRead += n));
  if (scan.orphans.length > 0) {
    if (!dryRun) await store.deleteMany(scan.orphans.map((f) => f.key));
    for (const f of scan.orphans) {
      report.deleted.push({ level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID, key: f.key, bytes: f.size, reason: 'orphan' });
      report.bytesDeleted += f.size;
    }
    log.warn({ keys: scan.orphans.map((f) => f.key), dryRun }, `${dryRun ? 'would delete' : 'deleted'} ${scan.orphans.length} orphaned L0 file${scan.orphans.length === 1 ? '' : 's'}: no later file continues them, the history went on from another file`);
    const gone = new Set(scan.orphans);
    live = live.filter((f) => !gone.has(f));
  }
  const unresolved = new Set(scan.unresolved.map((f) => f.key));
  if (unresolved.size > 0) warn(`${store.url}: L0 files overlap and no later file tells yet which one the history continues: ${[...unresolved].join(', ')}; they stay, and compaction stops before them`);
  // Files written by this pass count as written at `now` (the listing's times are the store's).
  const writtenAt = new Map<string, number>();
  const timeOf = (f: LtxFileInfo) => writtenAt.get(f.key) ?? f.lastModified.getTime();
  let planError = '';
  const planOf = (files: readonly LtxFileInfo[]): RestorePlan | null => {
    try {
      return choosePlan(store.url, files);
    } catch (err) {
      if (!isReplicaError(err)) throw err;
      planError = err.message;
      return null;
    }
  };

  const write = async (level: number, inputs: LtxFileInfo[], reason: WriteReason): Promise<void> => {
    const m = await mergeInto(store, level, inputs, { dryRun, chunkBytes: options.chunkBytes, onRead: (n) => (report.bytesRead += n) });
    report.written.push({ ...m, reason });
    if (!m.existed) report.bytesWritten += m.bytes;
    live.push({ level, minTXID: m.minTXID, maxTXID: m.maxTXID, key: m.key, size: m.bytes, lastModified: new Date(now) });
    writtenAt.set(m.key, now);
    log.info({ key: m.key, inputs: m.inputs, bytes: m.bytes, existed: m.existed, reason, dryRun }, `compacted ${m.inputs} file${m.inputs === 1 ? '' : 's'} into ${m.key}`);
  };
  const compactLevel = async (level: number, reason: WriteReason): Promise<void> => {
    const next = nextInputs(live, level);
    if (next.gap) warn(`${store.url}: ${next.gap}`);
    if (next.blocked) warn(`${store.url}: ${next.blocked}`);
    if (next.inputs.length > 0) await write(level, next.inputs, reason);
  };

  const before = planOf(live);
  report.planFilesBefore = before?.files.length ?? null;
  if (!before) warn(`no restore plan reaches the latest TXID, so no snapshot and no deletions this pass: ${planError}`);

  // 2. Levels on their schedule.
  const intervals: Record<number, number> = { 1: policy.l1IntervalMs, 2: policy.l2IntervalMs, 3: policy.l3IntervalMs };
  for (const level of COMPACTION_LEVELS) {
    const newest = newestAt(live, level);
    if (force || isDue(newest && timeOf(newest), intervals[level], now)) await compactLevel(level, force ? 'force' : 'interval');
  }

  // 3. Keep the plan short; snapshot when due.
  let plan = planOf(live);
  if (plan) {
    const snap = newestAt(live, SNAPSHOT_LEVEL);
    const snapshotDue = (!snap || snap.maxTXID < plan.txid) && isDue(snap && timeOf(snap), policy.snapshotIntervalMs, now);
    let snapshot = force || snapshotDue;
    if (!snapshot && plan.files.length > policy.maxPlanFiles) {
      for (const level of COMPACTION_LEVELS) {
        await compactLevel(level, 'plan');
        plan = planOf(live)!;
        if (plan.files.length <= policy.maxPlanFiles) break;
      }
      snapshot = plan.files.length > policy.maxPlanFiles;
    }
    if (snapshot) {
      // Every level up to the latest TXID first, so the snapshot's TXID is a file
      // boundary at every level and the chains after it start right after it.
      for (const level of COMPACTION_LEVELS) await compactLevel(level, 'snapshot');
      plan = planOf(live)!;
      const done = plan.files.length === 1 && plan.files[0].level === SNAPSHOT_LEVEL;
      const undecided = plan.files.find((f) => unresolved.has(f.key));
      if (undecided) warn(`${store.url}: no snapshot this pass: the latest plan uses ${undecided.key}, which overlaps another L0 file`);
      else if (!done) await write(SNAPSHOT_LEVEL, plan.files, force ? 'force' : 'snapshot');
    }
  }

  // 4. Deletions, last.
  plan = planOf(live);
  if (plan) {
    const { deletable, nextAt } = selectDeletions(live, policy, now, timeOf);
    report.nextDeletionAt = nextAt;
    const keep = new Set(plan.files.map((f) => f.key));
    const doomed = deletable.filter((d) => !keep.has(d.file.key));
    const gone = new Set(doomed.map((d) => d.file.key));
    const rest = live.filter((f) => !gone.has(f.key));
    const after = planOf(rest);
    if (!after || after.txid !== plan.txid) {
      // Cannot happen while the plan's files are kept; refuse rather than lose data.
      throw new CompactionError(`${store.url}: deleting ${doomed.length} files would leave no plan to TXID ${plan.txid}; nothing was deleted`);
    }
    report.planFilesAfter = after.files.length;
    if (doomed.length > 0) {
      if (!dryRun) await store.deleteMany(doomed.map((d) => d.file.key));
      for (const { file: f, reason } of doomed) {
        report.deleted.push({ level: f.level, minTXID: f.minTXID, maxTXID: f.maxTXID, key: f.key, bytes: f.size, reason });
        report.bytesDeleted += f.size;
      }
      log.info({ files: doomed.length, bytes: report.bytesDeleted, dryRun }, `deleted ${doomed.length} file${doomed.length === 1 ? '' : 's'} that retention allows`);
    }
  }
  // Boot pack hook (issue 14): a pass that wrote a file leaves a pack for the latest plan; best effort.
  if (!dryRun && report.written.length > 0 && plan) {
    try {
      const pack = await writeBootPack(store, plan);
      log.debug({ ...pack, txid: String(pack.txid) }, 'wrote the boot pack');
    } catch (err) {
      warn(`${store.url}: writing the boot pack failed (cold opens read the tails instead): ${(err as Error).message}`);
    }
  }
  return finish();
}

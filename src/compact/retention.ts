// Which files retention lets go. Pure: a pass decides on its in-memory listing, then
// removes whatever the latest restore plan uses from the result (compact-once.ts).
//
// Every delay below is at least the readers' grace (`readerGraceMs`).
// - L0: once an L1 file covers it and that L1 file is at least `l0RetentionMs` old
//   (Litestream keeps L0 a few minutes after compaction so followers polling L0 catch up).
//   The newest L0 file always stays: a Litestream primary taking over reads its position
//   from it (the newest L0 file, opened by its N-N name) and fails without one.
// - The base snapshot is the newest L9 snapshot at least `retentionMs` old: every state
//   from it on stays restorable. Older snapshots go, and so do files at any level that
//   end at or before the base's TXID and are themselves older than `retentionMs`.
//   Because a pass compacts every level up to the snapshot's TXID before writing it,
//   every level has a file boundary there and the chains after it stay whole.
// - L1..L3 files covered by a higher level stay until then: point-in-time restores
//   inside the retention window use them, and Litestream followers poll L1.
import type { LtxFileInfo } from '../replica/index.js';
import { SNAPSHOT_LEVEL } from '../replica/index.js';
import type { CompactionPolicy } from './policy.js';

export type DeleteReason = 'l0-compacted' | 'retention';

export interface RetentionResult {
  deletable: { file: LtxFileInfo; reason: DeleteReason }[];
  /** The earliest time at which time alone would make more files deletable (null: never). */
  nextAt: number | null;
}

/** `timeOf` gives when a file was written (files written by this pass: the pass's now). */
export function selectDeletions(
  files: readonly LtxFileInfo[],
  policy: Pick<CompactionPolicy, 'l0RetentionMs' | 'retentionMs'> & Partial<Pick<CompactionPolicy, 'readerGraceMs'>>,
  now: number,
  timeOf: (f: LtxFileInfo) => number,
): RetentionResult {
  const out = new Map<string, { file: LtxFileInfo; reason: DeleteReason }>();
  let nextAt: number | null = null;
  const later = (t: number) => {
    if (t > now && (nextAt === null || t < nextAt)) nextAt = t;
  };

  // The readers' grace bounds both: a file outlives what replaced it by at least that much.
  const grace = policy.readerGraceMs ?? 0;
  const l0Keep = Math.max(policy.l0RetentionMs, grace);
  const keep = Math.max(policy.retentionMs, grace);
  const l1 = files.filter((f) => f.level === 1);
  const newestL0 = files.reduce<LtxFileInfo | null>((m, f) => (f.level === 0 && (m === null || f.maxTXID > m.maxTXID) ? f : m), null);
  for (const f of files) {
    if (f.level !== 0 || f === newestL0) continue;
    // The earliest-written covering L1 file starts the clock.
    let covered: number | undefined;
    for (const g of l1) if (g.minTXID <= f.minTXID && f.maxTXID <= g.maxTXID) covered = Math.min(covered ?? Infinity, timeOf(g));
    if (covered === undefined) continue;
    if (now - covered >= l0Keep) out.set(f.key, { file: f, reason: 'l0-compacted' });
    else later(covered + l0Keep);
  }

  const horizon = now - keep;
  const snapshots = files.filter((f) => f.level === SNAPSHOT_LEVEL && f.minTXID === 1n).sort((a, b) => (a.maxTXID < b.maxTXID ? -1 : a.maxTXID > b.maxTXID ? 1 : 0));
  let base: LtxFileInfo | undefined;
  for (const s of snapshots) {
    if (timeOf(s) <= horizon) base = s;
    else later(timeOf(s) + keep); // becomes the base then
  }
  if (base) {
    for (const f of files) {
      if (f === base || f === newestL0 || out.has(f.key)) continue; // the newest L0 file stays (above)
      if (f.level === SNAPSHOT_LEVEL ? f.maxTXID < base.maxTXID : f.maxTXID <= base.maxTXID) {
        if (timeOf(f) <= horizon) out.set(f.key, { file: f, reason: 'retention' });
        else later(timeOf(f) + keep);
      }
    }
  }
  return { deletable: [...out.values()], nextAt };
}

// When compaction runs and what retention keeps. Defaults follow Litestream v0.5
// (compaction_level.go, store.go): L1 30 s, L2 5 min, L3 1 h, L9 snapshots daily,
// L0 files kept 5 min after L1 covers them, snapshots retained 24 h; and readers get
// 5 min of grace before a file they may hold is deleted.

export interface CompactionPolicy {
  /** L0 → L1 (ms). */
  l1IntervalMs: number;
  /** L1 → L2 (ms). */
  l2IntervalMs: number;
  /** L2 → L3 (ms). */
  l3IntervalMs: number;
  /** L9 snapshot (ms). */
  snapshotIntervalMs: number;
  /** Compact ahead of schedule, then snapshot, when the latest restore plan would have more files than this. */
  maxPlanFiles: number;
  /** Keep L0 files this long after an L1 file covers them, so followers polling L0 catch up (ms). */
  l0RetentionMs: number;
  /** Keep the history of this long: files and snapshots older than the newest snapshot that is itself this old go (ms). */
  retentionMs: number;
  /**
   * Readers' grace (ms): no file is deleted sooner than this after the file that took
   * its place was written, so a read transaction that started on the old file can finish
   * (a read that still finds its file gone re-plans at the same TXID from the higher level).
   */
  readerGraceMs: number;
}

export const DEFAULT_POLICY: Readonly<CompactionPolicy> = Object.freeze({
  l1IntervalMs: 30_000,
  l2IntervalMs: 5 * 60_000,
  l3IntervalMs: 60 * 60_000,
  snapshotIntervalMs: 24 * 60 * 60_000,
  maxPlanFiles: 12,
  l0RetentionMs: 5 * 60_000,
  retentionMs: 24 * 60 * 60_000,
  readerGraceMs: 5 * 60_000,
});

/** Defaults filled in and every value checked (a bad one is a programming error, so TypeError). */
export function resolvePolicy(partial: Partial<CompactionPolicy> = {}): CompactionPolicy {
  const p: CompactionPolicy = { ...DEFAULT_POLICY };
  for (const [k, v] of Object.entries(partial) as [keyof CompactionPolicy, number | undefined][]) {
    if (v !== undefined) p[k] = v;
  }
  for (const k of ['l1IntervalMs', 'l2IntervalMs', 'l3IntervalMs', 'snapshotIntervalMs'] as const) {
    if (!Number.isFinite(p[k]) || p[k] <= 0) throw new TypeError(`compaction policy: ${k} must be a positive number of ms, got ${p[k]}`);
  }
  for (const k of ['l0RetentionMs', 'retentionMs', 'readerGraceMs'] as const) {
    if (!Number.isFinite(p[k]) || p[k] < 0) throw new TypeError(`compaction policy: ${k} must be a non-negative number of ms, got ${p[k]}`);
  }
  if (!Number.isInteger(p.maxPlanFiles) || p.maxPlanFiles < 1) throw new TypeError(`compaction policy: maxPlanFiles must be an integer ≥ 1, got ${p.maxPlanFiles}`);
  return p;
}

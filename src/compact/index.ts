// Public surface of compaction and retention (the writer runs the scheduler; `ltxvfs compact` one pass).
export { type CompactionPolicy, DEFAULT_POLICY, resolvePolicy } from './policy.js';
export { compactOnce, type CompactOnceOptions, type CompactionReport, type WrittenFile, type DeletedFile, type DeleteReason, type WriteReason } from './compact-once.js';
export { CompactionScheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
export { CompactionError } from './errors.js';
export { mergeInto, MERGE_CHUNK_BYTES, type MergedFile } from './merge.js';
export { selectDeletions, type RetentionResult } from './retention.js';
export { COMPACTION_LEVELS, isDue, nextInputs, newestAt, type NextInputs } from './select.js';
export { findOrphans, overlapping, selectOrphans, filesToRead, readChainSums, type ChainSums, type OrphanScan } from './orphans.js';

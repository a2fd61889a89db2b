// Public surface of the write path: the durable write buffer, the syncer that ships
// it as L0 LTX files, the reconcile step of a write-mode open, and their errors.
export { WriteBuffer, type BufferBase, type BufferedCommit, type CommitInput, type Batch, type WriteBufferOptions } from './write-buffer.js';
export { Syncer, type SyncState, type SyncedFile, type SyncerOptions, type SyncerRetryOptions, type SyncerStats } from './syncer.js';
export { reconcileBuffer, type ReconcileResult } from './reconcile.js';
export { encodeBatch } from './batch-ltx.js';
export { SecondWriterError, BufferFullError } from './errors.js';
export type { UploadRecord } from './buffer-records.js';
export { ConditionalWriteError, PROBE_PREFIX, PROBE_REQUESTS, probeConditionalWrites } from './conditional-probe.js';
export { DirLockError } from './dir-lock.js';

export { SyncStore, worstCaseMs, IO_ATTEMPT_TIMEOUT_MS, type SyncStoreOptions, type CallOptions, type PlanAnswer } from './sync-store.js';
export { IoError, isIoError, type IoErrorCode } from './io-error.js';
export { workerStarts, type BridgeStats, type WorkerStart } from './bridge.js';
export type { GetItem } from './protocol.js';

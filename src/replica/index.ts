// Public surface of the replica layer (Litestream v0.5 layout, plans, page index, restore, import).
export { LinkError, ReplicaError, isReplicaError, type ReplicaErrorCode } from './errors.js';
export { LEVELS, SNAPSHOT_LEVEL, layoutFor, type ReplicaLayout } from './layout.js';
export { listLevel, listReplica, readLtxHeader, readPostApplyChecksum, trailerPostApply, fileTimestamp, formatLitestreamTimestamp, type LtxFileInfo, type ListLevelOptions } from './listing.js';
export { choosePlan, planRestore, txidAtTime, type RestorePlan, type RestoreTarget } from './plan.js';
export { planChecked, planLinked, planRestoreChecked, planRestoreLinked, type LinkedPlan, type LinkedPlanOptions } from './linked-plan.js';
export { buildPageIndex, checkLink, fetchFileIndex, PageIndex, TAIL_BYTES, type PageIndexData, type ReplicaPageIndex, type PageLocation } from './page-index.js';
export { restore, RESTORE_CHUNK_BYTES, RESTORE_CONCURRENCY, type RestoreOptions, type RestoreProgress, type RestoreResult } from './restore.js';
export { importDatabase, sqlitePageSize, type ImportOptions, type ImportResult } from './import.js';
export { openReplicaStore, replicaStoreOptions } from './open.js';
export { continueChain, type Continuation } from './chain.js';
export { ReplicaFollower, type FollowUpdate, type FollowedFile, type FollowerOptions } from './follower.js';
export { Poller, type PollerStats } from './poller.js';

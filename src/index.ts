// The package's public surface. Only re-exports: what is listed here is the API.

// First, for its side effect: start the I/O worker while the rest loads (src/io/prestart.ts).
import './io/prestart.js';

// SQLite engine (node-sqlite3-wasm-shaped).
export {
  Database,
  Statement,
  SqliteError,
  registerVfs,
  sqliteVersion,
  type DatabaseOptions,
  type QueryOptions,
  type RunResult,
  type BindValue,
  type BindValues,
  type Row,
  type SqlValue,
} from './engine/index.js';

// VFS layer: the interface a VFS implements, and the built-in VFSes.
export { VfsError, LockLevel, type Vfs, type VfsFile, type OpenResult, type ResultCode } from './vfs/vfs.js';
export { LocalFileVfs, type LocalFileVfsOptions } from './vfs/local-file-vfs.js';
export { MemoryVfs } from './vfs/memory-vfs.js';

// Configuration (environment variables and options).
export { loadConfig, type Config, type OpenOptions, type CompactionOptions } from './config.js';

// LTX codec, as a namespace: ltx.decodeLtx(...), ltx.LtxError, ...
export * as ltx from './ltx/index.js';

// Object stores.
export { openStore, type OpenStoreOptions } from './storage/open-store.js';
export { StoreError, isStoreError, type StoreErrorCode } from './storage/store-error.js';
export type { ObjectStore, ObjectInfo, ObjectHead, ByteRange, PutBody } from './storage/object-store.js';
export type { StoreStats } from './storage/stats.js';

// Replica (Litestream v0.5 layout): listing, restore plans, page index, restore, import.
export {
  ReplicaError,
  isReplicaError,
  type ReplicaErrorCode,
  layoutFor,
  LEVELS,
  SNAPSHOT_LEVEL,
  type ReplicaLayout,
  listLevel,
  listReplica,
  type LtxFileInfo,
  planRestore,
  choosePlan,
  type RestorePlan,
  type RestoreTarget,
  buildPageIndex,
  type ReplicaPageIndex,
  type PageLocation,
  restore,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
  importDatabase,
  type ImportOptions,
  type ImportResult,
  openReplicaStore,
} from './replica/index.js';

// Opening a replica through the VFS: read-only (following the replica), as its single
// writer (writeEnabled), with hydration (hydrationPath).
export { open, ReplicaDatabase, type OpenDatabaseOptions, type OpenStats } from './open.js';
export type { HydrationEvent, HydrationStatus, HydrationState } from './hydration.js';
export type { WriterStatus } from './writer.js';
export { SecondWriterError, BufferFullError, ConditionalWriteError, DirLockError } from './sync/index.js';
export { HydrationError, isHydrationError, type HydrationErrorCode, type HydrationProgress } from './hydrate/index.js';
export { compactOnce, DEFAULT_POLICY, type CompactionPolicy, type CompactionReport } from './compact/index.js';
export { ReplicaFollower, type FollowUpdate } from './replica/index.js';
export type { PollerStats } from './replica/poller.js';

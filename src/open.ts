// `open()`: a replica in object storage as a read-only SQLite database. Lists the
// replica, plans the restore, builds the page index from the plan's files' tails
// (in parallel), starts the synchronous store bridge (src/io) and registers a
// ReplicaVfs under a name of its own; SQLite then reads pages on demand.
// The writable mode and hydration are not built yet: asking for them fails here.
import { loadConfig, type OpenOptions } from './config.js';
import { Database, registerVfs } from './engine/index.js';
import { SyncStore } from './io/index.js';
import { buildPageIndex, planRestore, type RestorePlan } from './replica/index.js';
import { replicaStoreOptions } from './replica/open.js';
import { openStore } from './storage/open-store.js';
import type { StoreStats } from './storage/stats.js';
import { ReplicaVfs, type ReplicaVfsStats } from './vfs/replica-vfs.js';

/** What opening cost: the listing and tail reads done before the first query. */
export interface OpenStats {
  /** Milliseconds from the call to a usable database. */
  ms: number;
  /** Files in the restore plan (one tail read each). */
  planFiles: number;
  /** The async store's counters for the listing and the tails. */
  store: StoreStats;
}

/** A Database on a replica. `close()` also stops the store bridge's worker; await it. */
export class ReplicaDatabase extends Database {
  readonly #vfs: ReplicaVfs;
  readonly #sync: SyncStore;
  readonly openStats: OpenStats;
  readonly plan: RestorePlan;

  /** @internal use `open()`. */
  constructor(vfs: ReplicaVfs, sync: SyncStore, plan: RestorePlan, openStats: OpenStats) {
    super(`${vfs.name}.db`, { vfs: vfs.name, readOnly: true });
    this.#vfs = vfs;
    this.#sync = sync;
    this.plan = plan;
    this.openStats = openStats;
  }

  /** The VFS's counters: cache hits and misses, range requests and their bytes. */
  replicaStats(): ReplicaVfsStats {
    return this.#vfs.stats();
  }

  /** The page reads' store counters (the bridge's store, not the one used at open). */
  storeStats(): StoreStats {
    return this.#sync.storeStats();
  }

  /** Drop cached pages, so that the next query reads cold (measurements). */
  clearCache(): void {
    this.#vfs.clearCache();
  }

  /** Close the connection, then the store bridge. The connection is closed when this returns; the promise settles when the worker has stopped. */
  override close(): Promise<void> {
    try {
      super.close();
    } catch (err) {
      void this.#sync.close();
      throw err;
    }
    return this.#sync.close();
  }
}

let opened = 0;

/**
 * Open the replica at `options.replicaUrl` (or LITESTREAM_REPLICA_URL) read-only.
 * Options win over the LITESTREAM_* and AWS_* environment variables.
 */
export async function open(options: OpenOptions = {}): Promise<ReplicaDatabase> {
  const t0 = performance.now();
  const config = loadConfig(options, process.env);
  if (config.writeEnabled) {
    throw new TypeError('writeEnabled (LITESTREAM_WRITE_ENABLED=true): the writable mode is not built yet; open the replica read-only');
  }
  if (config.hydrationPath !== null) {
    throw new TypeError('hydrationPath / hydrationEnabled (LITESTREAM_HYDRATION_*): hydration is not built yet; leave it unset');
  }
  const storeOptions = replicaStoreOptions(config.replicaUrl, config.s3);
  const store = openStore(config.replicaUrl, storeOptions);
  let plan: RestorePlan;
  let index: Awaited<ReturnType<typeof buildPageIndex>>;
  let storeStats: StoreStats;
  try {
    plan = await planRestore(store);
    index = await buildPageIndex(store, plan);
    storeStats = store.stats();
  } finally {
    await store.close();
  }
  const sync = new SyncStore(config.replicaUrl, { store: storeOptions });
  try {
    const vfs = new ReplicaVfs({ name: `ltxvfs-replica-${++opened}`, url: store.url, index, source: sync, cacheSize: config.cacheSize });
    registerVfs(vfs);
    return new ReplicaDatabase(vfs, sync, plan, { ms: performance.now() - t0, planFiles: plan.files.length, store: storeStats });
  } catch (err) {
    await sync.close();
    throw err;
  }
}

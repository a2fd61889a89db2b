// `open()`: a replica in object storage as a SQLite database. Starts the
// synchronous store bridge (src/io), lists the replica, plans the restore, builds
// the page index from the plan's files' tails (in parallel; the engine warms up
// meanwhile), and registers a ReplicaVfs under a name of its own; reads the schema
// and starts prefetching the level below the B-tree roots; SQLite then reads pages
// on demand.
// Read-only, it follows the replica: a Poller applies new transactions between
// read transactions. With writeEnabled it is the single writer (./writer.ts):
// commits go to a durable local buffer and are shipped by the syncer. Background
// work stops in `close()` (a writer flushes first).
import path from 'node:path';
import { loadConfig, type Config, type OpenOptions } from './config.js';
import { ensurePrivateDir, volatileFs } from './private-fs.js';
import { Database, registerVfs } from './engine/index.js';
import { warmUpEngine } from './engine/warm-up.js';
import { SQLITE_ERROR } from './vfs/codes.js';
import { VfsError } from './vfs/vfs.js';
import { SyncStore } from './io/index.js';
import { log, setLogLevel } from './log.js';
import { isReplicaError, planRestoreLinked, type RestorePlan } from './replica/index.js';
import { replicaStoreOptions } from './replica/open.js';
import { PageIndex } from './replica/page-index.js';
import { Poller, type PollerStats } from './replica/poller.js';
import type { ObjectStore } from './storage/object-store.js';
import { openStore, type OpenStoreOptions } from './storage/open-store.js';
import type { StoreStats } from './storage/stats.js';
import { READ_AHEAD_BYTES, ReplicaVfs, type ReplicaVfsStats } from './vfs/replica-vfs.js';
import { Writer, type WriterStatus } from './writer.js';
import { probeConditionalWrites } from './sync/conditional-probe.js';
import { Hydration, type HydrationEvent, type HydrationStatus } from './hydration.js';
import type { PackUse } from './boot/cold-plan.js';
import type { SeedFrame } from './boot/read.js';

/** What opening cost: the listing and tail reads done before the first query. */
export interface OpenStats {
  /** Milliseconds from the call to a usable database. */
  ms: number;
  /** Files in the restore plan (one tail read each). */
  planFiles: number;
  /** The async store's counters for the listing and the tails. */
  store: StoreStats;
  /** What the boot pack did (read-only opens; src/boot, issue 14). */
  pack?: PackUse;
}

/** Something running beside the connection until close. */
interface Background {
  stop(): Promise<void>;
}

/** A Database on a replica. `close()` also stops the background work and the store bridge; await it. */
export class ReplicaDatabase extends Database {
  readonly #vfs: ReplicaVfs;
  readonly #sync: SyncStore;
  readonly #store: ObjectStore;
  readonly #background: Background[] = [];
  #poller: Poller | null = null;
  #writer: Writer | null = null;
  #hydration: Hydration | null = null;
  readonly openStats: OpenStats;
  readonly plan: RestorePlan | null;
  /** Read-only opens list and read tails through the bridge: its counters start with them. */
  readonly #openedInWorker: boolean;

  /** @internal use `open()`. */
  constructor(vfs: ReplicaVfs, sync: SyncStore, store: ObjectStore, plan: RestorePlan | null, openStats: OpenStats, readOnly: boolean) {
    super(`${vfs.name}.db`, { vfs: vfs.name, readOnly });
    this.#vfs = vfs;
    this.#sync = sync;
    this.#store = store;
    this.plan = plan;
    this.openStats = openStats;
    this.#openedInWorker = readOnly;
  }

  /** @internal The VFS serving this database. */
  get vfs(): ReplicaVfs {
    return this.#vfs;
  }

  /** @internal */
  addBackground(b: Background): void {
    this.#background.push(b);
  }

  /** @internal */
  setWriter(w: Writer): void {
    this.#writer = w;
    this.addBackground(w);
  }

  /** @internal */
  setHydration(h: Hydration): void {
    this.#hydration = h;
    this.addBackground(h);
  }

  /** Hydration (hydrationPath): state, percent, the local copy's TXID, the last error; null when off. */
  hydrationStatus(): HydrationStatus | null {
    return this.#hydration?.status() ?? null;
  }

  /** Resolves when reads have switched to the hydrated local copy. Throws when hydration is off. */
  async hydrated(): Promise<void> {
    if (this.#hydration === null) throw new TypeError('hydrated(): hydration is off (set hydrationPath or LITESTREAM_HYDRATION_PATH)');
    await this.#hydration.switched();
  }

  /** True when this process is the replica's writer (writeEnabled). */
  get writeEnabled(): boolean {
    return this.#writer !== null;
  }

  /**
   * Write mode: resolves when everything committed so far is in object storage;
   * rejects with the second-writer error when fenced, or when syncs keep failing.
   */
  async sync(): Promise<void> {
    if (this.#writer === null) throw new TypeError('sync(): this database is read-only (open it with writeEnabled to write)');
    await this.#writer.flush();
  }

  /** Write mode: the syncer's state, its counters and last error, compaction, and what opening recovered. */
  writerStatus(): WriterStatus | null {
    return this.#writer?.status() ?? null;
  }

  /** @internal */
  setPoller(p: Poller): void {
    this.#poller = p;
    this.addBackground(p);
  }

  /** The TXID of the replica state being read. */
  get txid(): bigint {
    return this.#vfs.txid;
  }

  /** The VFS's counters: cache hits and misses, range requests and their bytes. */
  replicaStats(): ReplicaVfsStats {
    return this.#vfs.stats();
  }

  /** The page reads' store counters: the bridge's requests since the open (which `openStats.store` counts). */
  storeStats(): StoreStats {
    const all = this.#sync.storeStats();
    if (!this.#openedInWorker) return all;
    const base = this.openStats.store;
    const out = {} as StoreStats;
    for (const op of Object.keys(all) as (keyof StoreStats)[]) {
      out[op] = { requests: all[op].requests - base[op].requests, bytes: all[op].bytes - base[op].bytes, retries: all[op].retries - base[op].retries, errors: all[op].errors - base[op].errors };
    }
    return out;
  }

  /** Polling counters (read-only mode), or null. */
  pollerStats(): PollerStats | null {
    return this.#poller?.stats() ?? null;
  }

  /** Look for new transactions now instead of at the next interval; they apply at the next read transaction. */
  async refresh(): Promise<void> {
    await this.#poller?.pollNow();
  }

  /** Drop cached pages, so that the next query reads cold (measurements). */
  clearCache(): void {
    this.#vfs.clearCache();
  }

  /**
   * Close the connection, stop background work (last: the store bridge). The
   * connection is closed when this returns; the promise settles when everything has stopped.
   */
  override close(): Promise<void> {
    let failed: unknown = null;
    try {
      super.close();
    } catch (err) {
      failed = err;
    }
    const stopping = (async () => {
      for (const b of this.#background.reverse()) {
        try {
          await b.stop();
        } catch (err) {
          log.error({ err }, 'stopping background work at close failed');
        }
      }
      this.#vfs.dispose();
      await this.#store.close();
      await this.#sync.close();
    })();
    if (failed !== null) {
      void stopping;
      throw failed;
    }
    return stopping;
  }
}

let opened = 0;

/** `open()`'s options: the configuration (every LITESTREAM_* variable) plus callbacks. */
export interface OpenDatabaseOptions extends OpenOptions {
  /** Hydration progress, the switch to local reads, and errors (each retried). */
  onHydration?: (event: HydrationEvent) => void;
}

/**
 * Open the replica at `options.replicaUrl` (or LITESTREAM_REPLICA_URL).
 * Options win over the LITESTREAM_* and AWS_* environment variables.
 */
export async function open(options: OpenDatabaseOptions = {}): Promise<ReplicaDatabase> {
  const t0 = performance.now();
  const config = loadConfig(options, process.env);
  setLogLevel(config.logLevel);
  prepareLocalState(config);
  const storeOptions = replicaStoreOptions(config.replicaUrl, config.s3);
  // The bridge's worker starts now, so that its start-up overlaps the listing.
  const sync = new SyncStore(config.replicaUrl, { store: storeOptions });
  const store = openStore(config.replicaUrl, storeOptions);
  try {
    let plan: RestorePlan | null = null;
    let index: PageIndex;
    let head: { key: string; bytes: Uint8Array } | null = null;
    let seeds: SeedFrame[] = [];
    let packUse: PackUse | undefined;
    let probe: Promise<void> = Promise.resolve();
    if (!config.writeEnabled) {
      // Read-only: the worker lists and reads the tails (or takes them from the boot pack),
      // and the main thread's store (the poller's) stays idle until its first poll.
      // Meanwhile (worker start-up, round trips, tail parsing) this thread compiles
      // what the first query runs, instead of idling.
      const planned = sync.planLater({ headBytes: READ_AHEAD_BYTES, bootPack: true }); // boot pack: issue 14
      try {
        warmUpEngine(() => planned.ready()); // stops early when the plan is there first
      } catch (err) {
        log.warn({ err }, 'open: the engine warm-up failed; the first query compiles what it needs instead');
      }
      let frames: SeedFrame[] | undefined;
      let pack: PackUse | undefined;
      ({ plan, index, head, frames, pack } = planned.take());
      if (pack !== undefined) log.debug({ pack }, pack.miss === null ? 'open: boot pack used' : `open: boot pack not used (${pack.miss})`);
      seeds = frames ?? [];
      packUse = pack;
    } else {
      // Fencing needs If-None-Match: * honoured; proven while the plan is read (./sync/conditional-probe.ts).
      probe = probeConditionalWrites(store);
      probe.catch(() => undefined); // awaited in Writer.open; not unhandled if planning fails first
      try {
        ({ plan, index } = await planRestoreLinked(store, {}, { onRefused: (err) => log.warn({ err: err.message }, 'open: a restore plan was refused; trying another') }));
      } catch (err) {
        // A writer may start a new database in an empty replica (TXID 1 will be its snapshot).
        if (!isReplicaError(err, 'REPLICA_EMPTY')) throw err;
        index = PageIndex.empty();
      }
    }
    const openStats: OpenStats = { ms: 0, planFiles: plan?.files.length ?? 0, store: config.writeEnabled ? store.stats() : sync.storeStats(), ...(packUse === undefined ? {} : { pack: packUse }) };
    const db = config.writeEnabled ? await write(config, store, sync, plan, index, openStats, t0, probe) : follow(config, store, sync, plan!, index, openStats, t0, head, seeds);
    if (config.hydrationPath !== null) startHydration(db, config, storeOptions, options.onHydration);
    return db;
  } catch (err) {
    await Promise.allSettled([store.close(), sync.close()]);
    throw err;
  }
}

/**
 * Local state goes only where nobody else can read or swap it (src/private-fs.ts):
 * checked before anything is fetched, so a bad directory fails the open at once,
 * naming the variable to set. A buffer on tmpfs is allowed, with a warning.
 */
function prepareLocalState(config: Config): void {
  if (config.writeEnabled) {
    ensurePrivateDir(config.bufferPath, 'LITESTREAM_BUFFER_PATH');
    const fs = volatileFs(config.bufferPath);
    if (fs !== null) {
      log.warn({ bufferPath: config.bufferPath, fs }, `the write buffer is on ${fs}: commits are durable until the machine reboots, not after; set LITESTREAM_BUFFER_PATH to persistent storage`);
    }
  }
  if (config.hydrationPath !== null) ensurePrivateDir(path.dirname(config.hydrationPath), 'LITESTREAM_HYDRATION_PATH');
}

function follow(config: Config, store: ObjectStore, sync: SyncStore, plan: RestorePlan, index: PageIndex, openStats: OpenStats, t0: number, head: { key: string; bytes: Uint8Array } | null, seeds: readonly SeedFrame[] = []): ReplicaDatabase {
  let poller: Poller | null = null;
  let db: ReplicaDatabase | undefined; // the hooks run after it is set
  const vfs: ReplicaVfs = new ReplicaVfs({
    name: `ltxvfs-replica-${++opened}`,
    url: store.url,
    index,
    source: sync,
    cacheSize: config.cacheSize,
    follow: true,
    hooks: {
      planAt: (timestampMs) => sync.planSync(timestampMs === null ? {} : { timestampMs }).index,
      lag: () => poller?.lagSeconds() ?? 0,
      pragma: (name, value) => hydrationPragma(db, config, name, value),
    },
  });
  registerVfs(vfs);
  if (head !== null) vfs.seed(head.key, head.bytes);
  vfs.seedFrames(seeds); // boot pack: page 1, the schema, B-tree interiors (issue 14)
  const database: ReplicaDatabase = (db = new ReplicaDatabase(vfs, sync, store, plan, openStats, true)); // open() closes the stores if this throws
  loadSchema(database);
  openStats.ms = performance.now() - t0;
  poller = new Poller(store, vfs, config.pollInterval, index.pageSize, plan.files[plan.files.length - 1]);
  database.setPoller(poller);
  poller.start();
  return database;
}

async function write(config: Config, store: ObjectStore, sync: SyncStore, plan: RestorePlan | null, index: PageIndex, openStats: OpenStats, t0: number, probe: Promise<void>): Promise<ReplicaDatabase> {
  const writer = await Writer.open(config, store, index, probe);
  let db!: ReplicaDatabase;
  try {
    const vfs = new ReplicaVfs({
      name: `ltxvfs-writer-${++opened}`,
      url: store.url,
      index,
      source: sync,
      cacheSize: config.cacheSize,
      writer: writer.target(),
      hooks: { pragma: (name, value) => writerPragma(writer, sync, name, value) ?? hydrationPragma(db, config, name, value) },
    });
    registerVfs(vfs);
    openStats.ms = performance.now() - t0;
    db = new ReplicaDatabase(vfs, sync, store, plan, openStats, false);
    writer.start(vfs);
  } catch (err) {
    await writer.stop().catch(() => undefined);
    throw err;
  }
  db.setWriter(writer);
  return db;
}

/**
 * Read page 1 and the schema now, from the snapshot's head that came with the plan
 * (seeded: no round trip when the schema lies in its first 256 KiB), so that the
 * first query starts at its own pages; and start prefetching the level below the
 * roots. A failure is left for the first query to report, as it would without this.
 */
function loadSchema(db: ReplicaDatabase): void {
  try {
    const roots = db.all('SELECT rootpage FROM sqlite_schema WHERE rootpage > 0').map((r) => Number(r.rootpage));
    // The level below each root, fetched while the application starts its first query:
    // a cold lookup then costs one round trip less (root → child → … → leaf).
    db.vfs.prefetchBelow([1, ...roots]);
  } catch (err) {
    log.debug({ err }, 'open: reading the schema failed; the first query will report it');
  }
}

/** Write mode's own pragmas. */
function writerPragma(writer: Writer, sync: SyncStore, name: string, value: string | null): string | null | undefined {
  switch (name) {
    case 'litestream_sync': {
      if (value !== null) throw new VfsError(SQLITE_ERROR, 'litestream_sync takes no value');
      try {
        // Blocks until everything committed so far is in object storage: the upload runs
        // through the I/O worker, since this thread's event loop is stopped meanwhile.
        return String(writer.flushSync(sync));
      } catch (err) {
        throw new VfsError(SQLITE_ERROR, (err as Error).message, { cause: err });
      }
    }
    default:
      return undefined;
  }
}

function startHydration(db: ReplicaDatabase, config: Config, storeOptions: OpenStoreOptions, onEvent: ((e: HydrationEvent) => void) | undefined): void {
  const h = new Hydration({
    url: config.replicaUrl,
    storeOptions,
    vfs: db.vfs,
    path: config.hydrationPath!,
    followMs: db.writeEnabled ? config.syncInterval : config.pollInterval,
    poll: db.writeEnabled ? undefined : () => db.refresh(),
    onEvent,
  });
  db.setHydration(h);
  h.start();
}

/** `litestream_hydration_progress` (0-100) and `litestream_hydration_file` (the local copy's path). */
function hydrationPragma(db: ReplicaDatabase | undefined, config: Config, name: string, value: string | null): string | null | undefined {
  if (name !== 'litestream_hydration_progress' && name !== 'litestream_hydration_file') return undefined;
  if (value !== null) throw new VfsError(SQLITE_ERROR, `${name} is read-only`);
  const status = db?.hydrationStatus() ?? null;
  if (name === 'litestream_hydration_file') return config.hydrationPath;
  return status === null ? null : String(Math.floor(status.percent));
}


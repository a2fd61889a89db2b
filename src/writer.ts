// The single writer (LITESTREAM_WRITE_ENABLED=true): the durable write buffer
// (src/sync) behind the VFS's write layer, the syncer that ships each interval's
// commits as one L0 file, and the compaction scheduler (src/compact). Built before
// the VFS (the buffer is reconciled with the replica first), attached to it after.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { CompactionScheduler, type CompactionReport, type SchedulerStats } from './compact/index.js';
import type { Config } from './config.js';
import type { SyncStore } from './io/sync-store.js';
import { decodeLtx, type EncodedLtx } from './ltx/index.js';
import { log } from './log.js';
import { planRestoreLinked } from './replica/linked-plan.js';
import { postWithRecord, withRecord, type ChecksumRecord } from './replica/checksum-record.js';
import { redactUrl } from './redact.js';
import { ensurePrivateDir } from './private-fs.js';
import type { PageIndex } from './replica/page-index.js';
import type { ObjectStore } from './storage/object-store.js';
import { probeConditionalWrites } from './sync/conditional-probe.js';
import { BufferFullError, reconcileBuffer, SecondWriterError, Syncer, WriteBuffer, type ReconcileResult, type SyncerStats, type SyncState } from './sync/index.js';
import { SQLITE_FULL, SQLITE_IOERR_FSYNC, SQLITE_READONLY } from './vfs/codes.js';
import type { ReplicaVfs } from './vfs/replica-vfs.js';
import { VfsError } from './vfs/vfs.js';
import type { WriteTarget } from './vfs/write-layer.js';

// Unsynced commits allowed in the buffer before commits fail (back-pressure): at
// 1 s syncs this is minutes of heavy writing through an outage, and a bounded disk cost.
export const BUFFER_MAX_BYTES = 1024 * 1024 * 1024;

export interface WriterStatus {
  state: SyncState;
  lastError: string | null;
  sync: SyncerStats;
  compaction: SchedulerStats;
  /** What opening found in the buffer (a crash's commits uploaded, or set aside). */
  recovery: ReconcileResult;
  bufferDir: string;
  /** The newest commit's TXID, and the newest one in object storage; those between are kept in the buffer. */
  txid: { committed: bigint; synced: bigint };
}

/** The buffer directory of one replica: one per URL under LITESTREAM_BUFFER_PATH. */
export function bufferDirFor(bufferPath: string, replicaUrl: string): string {
  return path.join(bufferPath, createHash('sha256').update(replicaUrl).digest('hex').slice(0, 16));
}

export class Writer {
  readonly buffer: WriteBuffer;
  readonly syncer: Syncer;
  readonly compactor: CompactionScheduler;
  readonly recovery: ReconcileResult;
  #vfs: ReplicaVfs | null = null;

  private constructor(buffer: WriteBuffer, syncer: Syncer, compactor: CompactionScheduler, recovery: ReconcileResult) {
    this.buffer = buffer;
    this.syncer = syncer;
    this.compactor = compactor;
    this.recovery = recovery;
  }

  /**
   * Open the buffer for this replica and reconcile it with the remote (after a crash:
   * upload or set aside). `probe` (the conditional-write check) must pass before
   * anything is uploaded or committed; default: run it now.
   */
  static async open(config: Config, store: ObjectStore, index: PageIndex, probe: Promise<void> = probeConditionalWrites(store)): Promise<Writer> {
    const dir = bufferDirFor(config.bufferPath, config.replicaUrl);
    ensurePrivateDir(dir, 'LITESTREAM_BUFFER_PATH');
    const buffer = WriteBuffer.open(dir, { replicaUrl: config.replicaUrl, pageSize: index.pageSize, maxBytes: BUFFER_MAX_BYTES, log });
    let recovery: ReconcileResult;
    try {
      await probe;
      recovery = await reconcileBuffer(store, buffer, log);
    } catch (err) {
      buffer.close();
      throw err;
    }
    if (recovery.base.txid !== index.txid) {
      buffer.close();
      throw new Error(`write mode: the replica moved from TXID ${index.txid} to ${recovery.base.txid} while opening; is another process writing to ${redactUrl(config.replicaUrl)}?`);
    }
    if (recovery.status === 'set-aside') {
      log.warn({ dir: recovery.setAsideDir, reason: recovery.message }, 'unsynced commits from an earlier run could not be applied to the replica (it moved on); they were kept aside, not uploaded');
    } else if (recovery.status === 'pending') {
      log.info({ dir, commits: buffer.unsynced().commits }, 'uploading commits left unsynced by an earlier run');
    }
    let writer: Writer | null = null;
    const syncer = new Syncer({
      store,
      buffer,
      intervalMs: config.syncInterval,
      log,
      onSynced: (f) => writer?.synced(f.key, f.encoded, f.record),
    });
    const compactor = new CompactionScheduler(store, {
      log,
      policy: config.compaction,
      latestTXID: () => buffer.base?.txid ?? null,
      onPass: (report) => writer?.repoint(store, report),
    });
    writer = new Writer(buffer, syncer, compactor, recovery);
    return writer;
  }

  /** What the VFS writes through. */
  target(): WriteTarget {
    const { buffer, syncer } = this;
    // The database checksum after the newest commit: the last buffered one's, else the base's.
    const commits = buffer.commits();
    let checksum: bigint | null = commits.length > 0 ? commits[commits.length - 1].checksum : (buffer.base?.checksum ?? null);
    return {
      page: (pgno) => buffer.page(pgno),
      get commitSize() {
        return buffer.commitSize;
      },
      get checksum() {
        return checksum;
      },
      checkWritable: () => {
        if (syncer.state === 'fenced') throw toVfsError(syncer.lastError ?? new Error('a second writer took over this replica'));
      },
      commit: (pages, commit, after) => {
        try {
          buffer.append({ pages, commit, checksum: after });
        } catch (err) {
          throw toVfsError(err);
        }
        checksum = after;
      },
    };
  }

  /** Start syncing and compacting; uploads go to `vfs`'s index as they land. */
  start(vfs: ReplicaVfs): void {
    this.#vfs = vfs;
    this.syncer.start();
    this.compactor.start();
  }

  /** Everything committed so far is in object storage when this resolves. */
  flush(): Promise<void> {
    return this.syncer.flush();
  }

  /**
   * Synchronously (through the I/O worker `sync`): everything committed so far is in
   * object storage when this returns; returns the TXID now durable. For PRAGMA
   * litestream_sync, which SQLite runs on this thread, where nothing can be awaited.
   */
  flushSync(sync: SyncStore): bigint {
    return this.syncer.flushSync(sync);
  }

  status(): WriterStatus {
    return {
      state: this.syncer.state,
      lastError: this.syncer.lastError?.message ?? null,
      sync: this.syncer.stats(),
      compaction: this.compactor.stats(),
      recovery: this.recovery,
      bufferDir: this.buffer.dir,
      txid: { committed: this.buffer.lastTXID, synced: this.buffer.base?.txid ?? 0n },
    };
  }

  /** Flush (unless fenced), then stop compaction and close the buffer. */
  async stop(): Promise<void> {
    try {
      await this.syncer.stop({ flush: this.syncer.state !== 'fenced' });
    } finally {
      await this.compactor.stop();
      this.buffer.close();
    }
  }

  /**
   * After a compaction pass that wrote or deleted files: rebuild the page index from
   * the latest plan at the synced TXID and read from it, so the writer's reads never
   * reach for L0 files that retention deletes later (uploads since then are re-applied).
   */
  async repoint(store: ObjectStore, report: CompactionReport): Promise<void> {
    const vfs = this.#vfs;
    if (vfs === null || (report.written.length === 0 && report.deleted.length === 0)) return;
    const txid = vfs.txid;
    if (txid === 0n) return;
    const { index } = await planRestoreLinked(store, { txid });
    const done = vfs.repoint(index);
    log.debug({ txid: String(txid), done }, 'writer: page index re-pointed to the compacted files');
  }

  private synced(key: string, encoded: EncodedLtx, record: ChecksumRecord | null): void {
    const vfs = this.#vfs;
    if (vfs === null) return;
    // We hold the pages we just uploaded: cache them instead of fetching them back.
    const pages = new Map<number, Uint8Array>();
    for (const p of decodeLtx(encoded.bytes).pages) pages.set(p.pgno, p.data);
    vfs.synced({ key, header: withRecord(encoded.header, record), entries: encoded.index, postApplyChecksum: postWithRecord(encoded.postApplyChecksum, record) }, pages);
  }
}

function toVfsError(err: unknown): VfsError {
  if (err instanceof VfsError) return err;
  if (err instanceof SecondWriterError) return new VfsError(SQLITE_READONLY, err.message, { cause: err });
  if (err instanceof BufferFullError) return new VfsError(SQLITE_FULL, err.message, { cause: err });
  return new VfsError(SQLITE_IOERR_FSYNC, `write buffer: ${(err as Error).message}`, { cause: err });
}

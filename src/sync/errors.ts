// The write path's two errors a caller branches on (by `code`). Both say what
// happened, what is kept where, and what to do.

/** Another writer took a TXID this writer meant to upload: it stops accepting writes. */
export class SecondWriterError extends Error {
  readonly code = 'SECOND_WRITER' as const;
  /** The key the other writer holds. */
  readonly key: string;
  /** This writer's commits not in object storage, kept in its buffer (null: none). */
  readonly kept: { fromTXID: bigint; toTXID: bigint } | null;
  /** The buffer's directory. */
  readonly bufferDir: string;
  constructor(opts: { key: string; storeUrl: string; kept: { fromTXID: bigint; toTXID: bigint } | null; bufferDir: string; detail?: string }) {
    const kept = opts.kept ? `its unsynced commits, TXIDs ${opts.kept.fromTXID}..${opts.kept.toTXID}, are kept in ${opts.bufferDir}` : `it has no unsynced commits (buffer ${opts.bufferDir})`;
    super(
      `second writer on ${opts.storeUrl}: ${opts.key} was written by another writer${opts.detail ? ` (${opts.detail})` : ''}; ` +
        `this writer stopped accepting writes and ${kept}. Only one process may open a replica for writing; ` +
        `reopen to set the kept commits aside (they are reported, never dropped)`,
    );
    this.name = 'SecondWriterError';
    this.key = opts.key;
    this.kept = opts.kept;
    this.bufferDir = opts.bufferDir;
  }
}

/** Unsynced commits would exceed the buffer's limit (object storage has been failing or is too slow). */
export class BufferFullError extends Error {
  readonly code = 'BUFFER_FULL' as const;
  constructor(opts: { unsyncedBytes: number; commits: number; fromTXID: bigint; toTXID: bigint; oldestCommitMs: number | null; maxBytes: number; recordBytes: number; lastSyncError: Error | null }) {
    const since = opts.oldestCommitMs === null ? '' : ` since ${new Date(opts.oldestCommitMs).toISOString()}`;
    const last = opts.lastSyncError ? `; last sync error: ${opts.lastSyncError.message}` : '; no sync error recorded (syncs may be slow or not running)';
    super(
      `write buffer full: ${opts.unsyncedBytes} bytes in ${opts.commits} commits (TXIDs ${opts.fromTXID}..${opts.toTXID})${since} are not yet in object storage, ` +
        `and this commit (${opts.recordBytes} bytes) would pass the limit of ${opts.maxBytes} bytes${last}. ` +
        `Commits fail until the syncer catches up; check the object store, or raise the buffer limit`,
    );
    this.name = 'BufferFullError';
  }
}

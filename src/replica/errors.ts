// Replica-level failures: the layout, the restore plan, verification of a restored
// database, and import preconditions. `code` is stable; the message names the
// replica URL and the TXIDs or file involved, and `cause` keeps the original error.

export type ReplicaErrorCode =
  | 'REPLICA_EMPTY' // no LTX file at any level
  | 'REPLICA_GAP' // the chain of files breaks: some TXIDs are in no usable file
  | 'REPLICA_NO_SNAPSHOT' // no file starts at TXID 1 (snapshot) at or before the target
  | 'REPLICA_TARGET' // the requested TXID or time is not a state the replica can restore
  | 'REPLICA_MISMATCH' // a file's header disagrees with its name or with the file before it (LinkError: checksums)
  | 'REPLICA_REPLACED' // the replica at the URL is another database than the one being followed
  | 'REPLICA_EXPIRED' // the files of a state a reader still reads were removed and no level holds it
  | 'REPLICA_VERIFY' // the restored database fails its checksum or integrity check
  | 'REPLICA_OUTPUT_EXISTS' // restore: the output file exists (and overwrite was not asked for)
  | 'REPLICA_NOT_EMPTY' // import into a replica that already holds LTX files (without force)
  | 'REPLICA_BAD_DATABASE'; // import: not a SQLite file, or not safe to read as it is

export class ReplicaError extends Error {
  override name = 'ReplicaError';
  readonly code: ReplicaErrorCode;
  constructor(code: ReplicaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isReplicaError(err: unknown, code?: ReplicaErrorCode): err is ReplicaError {
  return err instanceof ReplicaError && (code === undefined || err.code === code);
}

/** Two files whose checksums do not link: `next` does not continue the state `prev` leaves. */
export class LinkError extends ReplicaError {
  constructor(
    readonly prevKey: string,
    readonly nextKey: string,
    message: string,
  ) {
    super('REPLICA_MISMATCH', message);
  }
}

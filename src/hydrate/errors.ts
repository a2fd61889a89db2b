// Hydration failures that end a hydrate() call. Transient trouble (network errors,
// a byte flipped in transit, a file compacted away mid-run) is retried and never
// surfaces here; these are the conditions retrying cannot fix. `code` is stable;
// the message names the replica, the key or TXID, and what to do.

export type HydrationErrorCode =
  | 'HYDRATE_ABORTED' // the caller's AbortSignal fired; the next hydrate() resumes
  | 'HYDRATE_CORRUPT' // an object fails its checksum on every fetch: the replica itself is damaged
  | 'HYDRATE_MISMATCH' // the replica contradicts itself or the local file (page size, chain, coverage)
  | 'HYDRATE_GAP' // the LTX files given to applyLtxFiles do not continue the file's TXID
  | 'HYDRATE_STORE'; // a store error retrying cannot fix (access denied, no such bucket)

export class HydrationError extends Error {
  override name = 'HydrationError';
  readonly code: HydrationErrorCode;
  constructor(code: HydrationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isHydrationError(err: unknown, code?: HydrationErrorCode): err is HydrationError {
  return err instanceof HydrationError && (code === undefined || err.code === code);
}

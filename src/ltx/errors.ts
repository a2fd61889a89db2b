// Data errors in LTX bytes. Each has a stable `code` that callers switch on;
// messages are wrapped on the way up ("decode page 7: lz4: offset 0") and keep
// the original as `cause`.

export type LtxErrorCode =
  | 'LTX_BAD_MAGIC' // not "LTX1" (or an unsupported variant such as LTX4)
  | 'LTX_UNSUPPORTED' // a format version or feature we do not read
  | 'LTX_BAD_HEADER' // a header field breaks FORMAT.md §3
  | 'LTX_BAD_PAGE' // page header, order, bounds or length
  | 'LTX_BAD_LZ4' // malformed LZ4 block or legacy LZ4 frame
  | 'LTX_BAD_INDEX' // index does not parse or disagrees with the frames
  | 'LTX_BAD_TRAILER' // trailer rules (FORMAT.md §6)
  | 'LTX_CHECKSUM_MISMATCH' // file, frame or database checksum differs
  | 'LTX_TRUNCATED' // the bytes end before the file does
  | 'LTX_TRAILING_DATA' // bytes after the trailer
  | 'LTX_STATE' // encoder/decoder called out of order
  | 'LTX_COMPACT'; // compaction inputs do not fit together

export class LtxError extends Error {
  override name = 'LtxError';
  readonly code: LtxErrorCode;

  constructor(code: LtxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Prefix `context` to an LtxError's message, keeping its code and the original as cause. */
export function wrapLtxError(context: string, err: unknown): LtxError {
  if (err instanceof LtxError) {
    return new LtxError(err.code, `${context}: ${err.message}`, { cause: err });
  }
  // Anything else reaching here is a bug in this module; surface it as a state error.
  const message = err instanceof Error ? err.message : String(err);
  return new LtxError('LTX_STATE', `${context}: ${message}`, { cause: err });
}

/** Render a u64 as 16 lowercase hex digits, the way FORMAT.md and the Go tools print them. */
export function hex64(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

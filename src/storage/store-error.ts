// The one error class of src/storage. `code` is stable and what callers branch on;
// the message names the operation and the key, and `cause` keeps the original error.

export type StoreErrorCode =
  | 'NOT_FOUND' // the key does not exist
  | 'PRECONDITION_FAILED' // putIfAbsent: the key exists (someone else wrote it)
  | 'RANGE_NOT_SATISFIABLE' // range starts at or past the end of the object
  | 'NO_SUCH_BUCKET'
  | 'ACCESS_DENIED' // bad credentials or no permission
  | 'THROTTLED' // still throttled after every retry
  | 'TIMEOUT' // every attempt ran past the per-request timeout
  | 'IO' // anything else: 5xx after retries, connection errors, truncated bodies
  | 'CLOSED'; // the store was closed

export type StoreOp = 'list' | 'get' | 'head' | 'put' | 'delete';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly op: StoreOp;
  readonly key: string;
  constructor(code: StoreErrorCode, op: StoreOp, key: string, detail: string, options?: { cause?: unknown }) {
    super(`${op} ${JSON.stringify(key)}: ${detail}`, options);
    this.name = 'StoreError';
    this.code = code;
    this.op = op;
    this.key = key;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

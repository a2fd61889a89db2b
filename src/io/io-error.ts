// The one error class of src/io: the bridge itself failed (as opposed to the store
// answering with a `StoreError`, which crosses the bridge unchanged). `code` is stable.

export type IoErrorCode =
  | 'IO_TIMEOUT' // no answer within the call's deadline; the worker was replaced
  | 'IO_WORKER_HUNG' // the worker's heartbeat stopped (event loop blocked or thread gone); replaced
  | 'IO_WORKER_DIED' // the worker thread exited or crashed; replaced
  | 'IO_WORKER_ERROR' // the worker threw something that is not a StoreError or TypeError
  | 'IO_CLOSED'; // the SyncStore was closed

export class IoError extends Error {
  readonly code: IoErrorCode;
  constructor(code: IoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IoError';
    this.code = code;
  }
}

export function isIoError(err: unknown, code?: IoErrorCode): err is IoError {
  return err instanceof IoError && (code === undefined || err.code === code);
}

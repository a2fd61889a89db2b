// What the caller's thread and the I/O worker share: the layout of the control
// SharedArrayBuffer, the request and response messages, and errors as plain data.
//
// Control words (Int32Array over the SAB):
//   EVENT      bumped (then notified) by the worker after every message it posts, and
//              when it exits: the caller waits on this word, then drains its port
//   STATE      STARTING → READY → EXITED (set by the worker's exit hook)
//   HEARTBEAT  bumped by the worker every HEARTBEAT_MS while its event loop runs
//   EXIT_CODE  the worker's exit code, set by its exit hook before STATE = EXITED
// Store counters (Float64Array after the words): the worker copies `store.stats()`
// there before every answer, so they can be read without a round trip and survive
// the worker's death. Then READY_AT: when the worker became READY (absolute ms,
// timeOrigin + now, comparable across threads), for start-up measurements.
import { ReplicaError, type ReplicaErrorCode } from '../replica/errors.js';
import type { ByteRange, ListOptions } from '../storage/object-store.js';
import type { OpStats, StoreStats } from '../storage/stats.js';
import { StoreError, type StoreErrorCode, type StoreOp } from '../storage/store-error.js';

export const EVENT = 0;
export const STATE = 1;
export const HEARTBEAT = 2;
export const EXIT_CODE = 3;
export const STARTING = 0;
export const READY = 1;
export const EXITED = 2;

const WORDS = 4; // Int32 words, 16 bytes, so the Float64 counters are 8-byte aligned
const STAT_OPS: readonly StoreOp[] = ['list', 'get', 'head', 'put', 'delete'];
const STAT_FIELDS: readonly (keyof OpStats)[] = ['requests', 'bytes', 'retries', 'errors'];
const STAT_BYTES = STAT_OPS.length * STAT_FIELDS.length * 8;
export const CONTROL_BYTES = WORDS * 4 + STAT_BYTES + 8;

// 250 ms: the worker's beat costs nothing at this rate, and a caller notices a blocked
// worker within its hang limit (default 10 s) with 40 beats of slack for GC pauses.
export const HEARTBEAT_MS = 250;

/** `metadata`: also return the object's user metadata (the checksum record rides there). */
export type GetItem = { key: string; range?: ByteRange; metadata?: boolean };

export type TestAction =
  | { kind: 'echo' } // answer at once: the bridge's own round trip
  | { kind: 'sleep'; ms: number } // answer after ms (event loop alive: a slow store)
  | { kind: 'block'; ms: number } // busy-loop ms (event loop blocked: a hung worker)
  | { kind: 'exit'; code: number; afterMs?: number } // process.exit inside the worker (after answering, with afterMs)
  | { kind: 'stale' }; // post a forged answer for the previous sequence number first

export type Request =
  | { op: 'get'; items: GetItem[] }
  | { op: 'head'; key: string }
  | { op: 'list'; prefix: string; options?: ListOptions }
  | { op: 'plan'; target: PlanTarget }
  | { op: 'put'; key: string; bytes: Uint8Array; ifAbsent: boolean; metadata?: Record<string, string> }
  | { op: 'delete'; keys: string[] }
  | { op: 'test'; action: TestAction };

/** A restore target for the `plan` op (time travel): a TXID or a time in ms; neither = latest. */
export interface PlanTarget {
  txid?: bigint;
  timestampMs?: number;
  /** Also fetch the first N bytes of the plan's first file (the snapshot), in parallel with the tails. */
  headBytes?: number;
  /** Latest plan only: use the boot pack (src/boot, issue 14) for tails and first pages. */
  bootPack?: boolean;
}

export type Envelope = Request & { seq: number };

/** An error as structured-clone-safe data. */
export interface ErrorData {
  name: string;
  message: string;
  code?: string;
  op?: string;
  key?: string;
  cause?: string;
}

/** One answer: `value` is the op's result; for `get`, one entry per item, bytes or error. */
export type Response = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: ErrorData };

export type GetResult = { ok: true; bytes: Uint8Array; metadata?: Record<string, string> } | { ok: false; error: ErrorData };

export function errorToData(err: unknown): ErrorData {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const data: ErrorData = { name: err.name, message: err.message };
  if (err instanceof StoreError) Object.assign(data, { code: err.code, op: err.op, key: err.key });
  else if (err instanceof ReplicaError) data.code = err.code;
  if (err.cause !== undefined) data.cause = err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : String(err.cause);
  return data;
}

/** The error back as its class: StoreError (code, op, key, message kept), TypeError, or null for the caller to wrap. */
export function errorFromData(data: ErrorData): Error | null {
  const cause = data.cause === undefined ? undefined : new Error(data.cause);
  if (data.name === 'StoreError' && data.code !== undefined) {
    const err = new StoreError(data.code as StoreErrorCode, data.op as StoreOp, data.key ?? '', '', { cause });
    err.message = data.message;
    return err;
  }
  if (data.name === 'ReplicaError' && data.code !== undefined) return new ReplicaError(data.code as ReplicaErrorCode, data.message, { cause });
  if (data.name === 'TypeError') return new TypeError(data.message, { cause });
  return null;
}

export function writeStats(view: Float64Array, stats: StoreStats): void {
  let i = 0;
  for (const op of STAT_OPS) for (const field of STAT_FIELDS) view[i++] = stats[op][field];
}

export function readStats(view: Float64Array, base?: StoreStats): StoreStats {
  let i = 0;
  const out = {} as StoreStats;
  for (const op of STAT_OPS) {
    const row = {} as OpStats;
    for (const field of STAT_FIELDS) row[field] = view[i++] + (base ? base[op][field] : 0);
    out[op] = row;
  }
  return out;
}

export function statsView(control: SharedArrayBuffer): Float64Array {
  return new Float64Array(control, WORDS * 4, STAT_OPS.length * STAT_FIELDS.length);
}

/** The READY_AT slot: 0 until the worker is up. */
export function readyAtView(control: SharedArrayBuffer): Float64Array {
  return new Float64Array(control, WORDS * 4 + STAT_BYTES, 1);
}

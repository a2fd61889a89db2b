// What the bench link records per request (link-server.ts keeps the log) and what the
// benches compute from it: requests, bytes, sequential round trips. Times are absolute
// (performance.timeOrigin + now(), ms), comparable across processes.
import type { S3Op } from '../../test/support/fault-proxy.js';

export interface RequestRecord {
  op: S3Op;
  method: string;
  path: string;
  range: string | null;
  status: number;
  /** When the request arrived at the link (absolute ms). */
  start: number;
  /** When the last response byte was written (absolute ms); 0 while unfinished. */
  end: number;
  /** Response body bytes. */
  bytes: number;
}

export const now = (): number => performance.timeOrigin + performance.now();

/**
 * Sequential round trips: the longest chain of requests in which each one started only
 * after the previous one had finished (requests that overlap count once, as one wave).
 */
export function sequentialRoundTrips(records: readonly RequestRecord[]): number {
  const rs = [...records].filter((r) => r.end > 0).sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  let best = 0;
  for (let i = 0; i < rs.length; i++) {
    let d = 1;
    for (let j = 0; j < i; j++) if (rs[j].end <= rs[i].start) d = Math.max(d, depth[j] + 1);
    depth.push(d);
    best = Math.max(best, d);
  }
  return best;
}

/** Requests and response bytes per operation, and in all. */
export function summarize(records: readonly RequestRecord[]): { requests: number; bytes: number; byOp: Partial<Record<S3Op, { requests: number; bytes: number }>> } {
  const byOp: Partial<Record<S3Op, { requests: number; bytes: number }>> = {};
  for (const r of records) {
    const o = (byOp[r.op] ??= { requests: 0, bytes: 0 });
    o.requests++;
    o.bytes += r.bytes;
  }
  return { requests: records.length, bytes: records.reduce((s, r) => s + r.bytes, 0), byOp };
}

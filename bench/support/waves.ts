// A request log cut into waves: requests that overlap in time form one wave (one
// round trip as the client lives it, however many requests run in parallel), and a
// new wave starts with the first request that begins after every earlier one ended.
// bench:boot lays a cold start out as: gaps of client work, waves of waiting.
import type { RequestRecord } from './request-log.js';

export interface Wave {
  /** Absolute ms (the records' clock). */
  start: number;
  end: number;
  requests: number;
  bytes: number;
  /** e.g. "LIST ×5", "GET bytes=0-99 + 2 more". */
  what: string;
}

export function waves(records: readonly RequestRecord[]): Wave[] {
  const rs = [...records].filter((r) => r.end > 0).sort((a, b) => a.start - b.start);
  const out: (Wave & { ops: RequestRecord[] })[] = [];
  for (const r of rs) {
    const w = out.at(-1);
    if (w !== undefined && r.start < w.end) {
      w.end = Math.max(w.end, r.end);
      w.requests++;
      w.bytes += r.bytes;
      w.ops.push(r);
    } else {
      out.push({ start: r.start, end: r.end, requests: 1, bytes: r.bytes, what: '', ops: [r] });
    }
  }
  return out.map(({ ops, ...w }) => ({ ...w, what: describe(ops) }));
}

function describe(ops: readonly RequestRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of ops) counts.set(r.op, (counts.get(r.op) ?? 0) + 1);
  return [...counts].map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(' + ');
}

// Request counters per operation, read by benchmarks and tests. `requests` counts
// attempts (HTTP requests or file operations), so a retried call counts twice.
import type { StoreOp } from './store-error.js';

export interface OpStats {
  requests: number;
  bytes: number; // body bytes read (get) or written (put)
  retries: number;
  errors: number; // calls that failed for good
}

export type StoreStats = Record<StoreOp, OpStats>;

const OPS: readonly StoreOp[] = ['list', 'get', 'head', 'put', 'delete'];

export class StatsCounter {
  private readonly counts: StoreStats;
  constructor() {
    this.counts = Object.fromEntries(OPS.map((op) => [op, { requests: 0, bytes: 0, retries: 0, errors: 0 }])) as StoreStats;
  }
  add(op: StoreOp, field: keyof OpStats, n = 1): void {
    this.counts[op][field] += n;
  }
  /** A copy, safe to keep and compare later. */
  snapshot(): StoreStats {
    return Object.fromEntries(OPS.map((op) => [op, { ...this.counts[op] }])) as StoreStats;
  }
}

/** Sum of one field over all operations. */
export function totalOf(stats: StoreStats, field: keyof OpStats): number {
  return OPS.reduce((sum, op) => sum + stats[op][field], 0);
}

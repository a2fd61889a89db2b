// Throttled progress callbacks: at most one every 100 ms within a phase, always on
// a phase change, and always a final 100 %. Percent stays below 100 until done.
import type { HydrationProgress } from './types.js';

const EVERY_MS = 100;

export class ProgressReporter {
  private last = 0;
  private phase: HydrationProgress['phase'] | null = null;
  constructor(private readonly cb?: (p: HydrationProgress) => void) {}

  set(phase: HydrationProgress['phase'], bytesDone: number, bytesTotal: number, txid: bigint): void {
    if (!this.cb) return;
    const now = Date.now();
    if (phase === this.phase && now - this.last < EVERY_MS) return;
    this.phase = phase;
    this.last = now;
    const percent = bytesTotal > 0 ? Math.min(99.9, (bytesDone / bytesTotal) * 100) : 0;
    this.emit({ phase, bytesDone, bytesTotal, percent, txid });
  }

  done(txid: bigint, bytesTotal = 0): void {
    this.phase = 'done';
    this.emit({ phase: 'done', bytesDone: bytesTotal, bytesTotal, percent: 100, txid });
  }

  private emit(p: HydrationProgress): void {
    try {
      this.cb?.(p);
    } catch {
      // A failing progress callback must not break hydration.
    }
  }
}

// A single-line progress bar for stderr when it is a terminal: redrawn at most
// every 100 ms with `\r`, erased when done. No-op elsewhere (pipes, CI, tests).

export interface ProgressLine {
  update(done: number, total: number, detail: string): void;
  done(): void;
}

const WIDTH = 24; // bar cells
const EVERY_MS = 100;

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let drawn = false;
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (now - last < EVERY_MS && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const cells = Math.round(frac * WIDTH);
      stream.write(`\r[${'#'.repeat(cells)}${'-'.repeat(WIDTH - cells)}] ${(frac * 100).toFixed(0).padStart(3)}% ${detail}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}

/** Bytes for people: 1.5 MB, 320 kB, 12 B (decimal units, as progress bars usually show). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

// The reference Go ltx library and Litestream v0.5's replica rules (tools/ltxcheck),
// run as WebAssembly under this Node: the oracle for "Litestream can restore and take
// over what ltxvfs writes". Takes a file:// replica root (<root>/ltx/<level>/…).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tools/ltxcheck/dist/run.cjs');

export interface LtxcheckResult {
  /** 0 = every check passed, 1 = a check failed, 2 = usage or I/O error. */
  code: number;
  /** The `--json` report (null when the tool printed none). */
  report: Record<string, unknown> | null;
  stderr: string;
}

export function ltxcheck(...args: string[]): LtxcheckResult {
  const r = spawnSync(process.execPath, [RUN, '--json', ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
  if (r.error) throw r.error;
  let report: Record<string, unknown> | null = null;
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    report = null;
  }
  return { code: r.status ?? -1, report, stderr: r.stderr };
}

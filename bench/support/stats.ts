// Small helpers shared by the benches: medians, rounding, child processes, stderr progress.
import { spawn } from 'node:child_process';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Round to `digits` decimals (JSON output stays readable). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Run a child process without blocking this one's event loop (the benches' proxies run
 * here, so spawnSync would deadlock). Rejects with the child's stderr on a non-zero exit.
 */
export function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${cmd} ${args.join(' ').slice(0, 200)} exited with ${code}:\n${stderr.slice(-3000)}`));
    });
  });
}

/** The last JSON object line of a child's stdout. */
export function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (line === undefined) throw new Error(`no JSON line in the child's output:\n${stdout.slice(-2000)}`);
  return JSON.parse(line) as T;
}

// The fault proxy (scripts/fault-proxy.ts) in a process of its own. In the soak's
// process it could not answer: a reader's synchronous reads block that thread's event
// loop until the answer comes, and the answer would have to pass through it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FaultOptions, FaultProxyStats } from '../../test/support/fault-proxy.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fault-proxy.ts');

export interface ProxyProcess {
  endpoint: string;
  /** Stop it; its counters (requests by operation, faults injected). */
  stop(): Promise<FaultProxyStats>;
}

export async function startProxyProcess(upstream: string, o: Partial<Omit<FaultOptions, 'ops'>> = {}): Promise<ProxyProcess> {
  const args = ['--import', 'tsx', CLI, '--upstream', upstream];
  const flags: [string, number | undefined][] = [
    ['--latency', o.latencyMs],
    ['--bandwidth', o.bandwidthBytesPerSec],
    ['--error-rate', o.errorRate],
    ['--reset-rate', o.resetRate],
    ['--truncate-rate', o.truncateRate],
    ['--seed', o.seed],
  ];
  for (const [flag, v] of flags) if (v !== undefined) args.push(flag, String(v));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  const m = /^S3_ENDPOINT=(\S+)/.exec(String(first.value ?? ''));
  if (first.done || m === null) {
    child.kill();
    throw new Error(`fault proxy did not start: ${String(first.value ?? 'no output')}`);
  }
  return {
    endpoint: m[1],
    async stop() {
      child.kill('SIGTERM');
      const last = await lines.next();
      return JSON.parse(String(last.value)) as FaultProxyStats;
    },
  };
}

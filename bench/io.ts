// bench:io — the sync-to-async bridge (src/io): round-trip time of one synchronous call
// with and without the bounded spin, the transport alone (a SharedArrayBuffer-only ping
// against postMessage + receiveMessageOnPort), small ranged gets, batch-get throughput
// and one big get, all on a file:// store under the OS temp dir. Prints one JSON object.
//
//   npm run bench:io               (or: npx tsx bench/io.ts --calls 5000)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { SyncStore } from '../src/io/sync-store.js';

const RUNS = 5;
const SPINS_US = [0, 20, 50, 100, 200];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** µs per call of fn, median of RUNS runs of `calls` calls after one warm-up run. */
function perCallUs(calls: number, fn: () => void): number {
  const runs: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const t = performance.now();
    for (let i = 0; i < calls; i++) fn();
    if (r > 0) runs.push(((performance.now() - t) * 1000) / calls);
  }
  return Number(median(runs).toFixed(1));
}

// The transport alone, without the store: one Int32 word each way, or a message on a port.
const PING_WORKER = `
const { workerData } = require('node:worker_threads');
const { ctl, port, mode } = workerData;
if (mode === 'sab') {
  for (let seen = 0;;) {
    Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    Atomics.store(ctl, 1, seen); Atomics.notify(ctl, 1);
  }
} else {
  port.on('message', (m) => { port.postMessage(m); Atomics.add(ctl, 1, 1); Atomics.notify(ctl, 1); });
}`;

function spinThenWait(ctl: Int32Array, index: number, old: number, spinUs: number): void {
  const end = performance.now() + spinUs / 1000;
  for (let i = 0; spinUs > 0; i++) {
    if (Atomics.load(ctl, index) !== old) return;
    if ((i & 63) === 0 && performance.now() >= end) break;
  }
  while (Atomics.load(ctl, index) === old) Atomics.wait(ctl, index, old, 1000);
}

async function transport(calls: number): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const mode of ['sab', 'port'] as const) {
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(PING_WORKER, { eval: true, workerData: { ctl, port: port2, mode }, transferList: [port2] });
    await new Promise((ok) => setTimeout(ok, 200));
    out[mode] = {};
    for (const spinUs of SPINS_US) {
      let n = 0;
      out[mode][`spin${spinUs}us`] = perCallUs(calls, () => {
        if (mode === 'sab') {
          n++;
          Atomics.store(ctl, 0, n);
          Atomics.notify(ctl, 0);
          spinThenWait(ctl, 1, n - 1, spinUs);
        } else {
          const old = Atomics.load(ctl, 1);
          port1.postMessage(++n);
          spinThenWait(ctl, 1, old, spinUs);
          receiveMessageOnPort(port1);
        }
      });
    }
    await worker.terminate();
    port1.close();
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' } } });
  const calls = Number(values.calls);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-io-'));
  const url = pathToFileURL(dir).href;
  const small = randomBytes(1024 * 1024);
  const big = randomBytes(20 * 1024 * 1024);
  writeFileSync(path.join(dir, 'small'), small);
  writeFileSync(path.join(dir, 'big'), big);

  const echo: Record<string, number> = {};
  const get4k: Record<string, number> = {};
  for (const spinUs of SPINS_US) {
    const store = new SyncStore(url, { spinUs, testHooks: true });
    store.testSync({ kind: 'echo' }); // started and warm
    echo[`spin${spinUs}us`] = perCallUs(calls, () => store.testSync({ kind: 'echo' }));
    let i = 0;
    get4k[`spin${spinUs}us`] = perCallUs(Math.ceil(calls / 4), () => store.getSync('small', { offset: (i++ * 4096) % (1024 * 1024 - 4096), length: 4096 }));
    await store.close();
  }

  const store = new SyncStore(url);
  const batch = Array.from({ length: 16 }, (_, i) => ({ key: 'small', range: { offset: i * 65536, length: 65536 } }));
  store.getManySync(batch);
  const batchUs = perCallUs(50, () => store.getManySync(batch));
  const bigMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const bytes = store.getSync('big');
    bigMs.push(performance.now() - t);
    if (bytes.length !== big.length) throw new Error('big get: wrong length');
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  const cpus = os.cpus();
  const result = {
    bench: 'io',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.arch()}` },
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    note: `µs per call, median of ${RUNS} runs; file:// store in ${os.tmpdir()}`,
    transportPingUs: await transport(calls),
    echoRoundTripUs: echo,
    get4KiBRoundTripUs: get4k,
    batch16x64KiB: { us: batchUs, requestsPerSec: Math.round((16 * 1e6) / batchUs), MBps: Math.round((16 * 65536) / batchUs) },
    get20MiBMs: { median: Number(median(bigMs).toFixed(1)), MBps: Math.round(big.length / 1000 / median(bigMs)) },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

await main();

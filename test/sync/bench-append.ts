// Bench (not a test; prints JSON): append latency with fsync, and PUTs per sync interval
// while commits arrive at ~1,000/s. Run: node --import tsx test/sync/bench-append.ts
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileStore } from '../../src/storage/file-store.js';
import { Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { pageBytes, quiet, removeTempDirs, tempDir } from './helpers.js';

const PS = 4096;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main(): Promise<void> {
  const store = new FileStore({ dir: path.join(tempDir('bench-rep'), 'r') });
  const buffer = WriteBuffer.open(tempDir('bench-buf'), { replicaUrl: store.url, pageSize: PS, maxBytes: 1 << 30, log: quiet });
  await reconcileBuffer(store, buffer, quiet);
  const lat: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = BigInt(i + 1);
    const t0 = performance.now();
    buffer.append({ pages: [[1, pageBytes(t, 1, PS)], [2 + (i % 50), pageBytes(t, 2, PS)]], commit: 60, checksum: null });
    lat.push(performance.now() - t0);
  }
  const intervalMs = 1000;
  const syncer = new Syncer({ store, buffer, intervalMs, log: quiet });
  syncer.start();
  const seconds = 5;
  const end = Date.now() + seconds * 1000;
  let commits = 0;
  const lat2: number[] = [];
  while (Date.now() < end) {
    const t = BigInt(lat.length + commits + 1); // a commit number (TXIDs count uploads, not commits)
    const t0 = performance.now();
    buffer.append({ pages: [[1, pageBytes(t, 1, PS)], [2 + Number(t % 50n), pageBytes(t, 2, PS)]], commit: 60, checksum: null });
    lat2.push(performance.now() - t0);
    commits++;
    await new Promise((r) => setTimeout(r, 1));
  }
  await syncer.stop({ flush: true });
  const s = syncer.stats();
  console.log(
    JSON.stringify({
      appendFsync: { n: lat.length, p50Ms: +pct(lat, 50).toFixed(3), p99Ms: +pct(lat, 99).toFixed(3) },
      busy: { seconds, commits, commitsPerSec: Math.round(commits / seconds), intervalMs, puts: s.puts, putsPerInterval: +(s.puts / seconds).toFixed(2), txids: Number(buffer.lastTXID), appendP50Ms: +pct(lat2, 50).toFixed(3), appendP99Ms: +pct(lat2, 99).toFixed(3), syncLagMs: s.syncLagMs },
    }),
  );
  buffer.close();
  removeTempDirs();
}
await main();

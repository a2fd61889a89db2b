// bench:boot-hydrate — a VM boot with hydration on: a fresh process opens the replica and answers a
// typical metadata query mix (3 point lookups, a lookup by the indexed key, a 50-row rowid
// range, a group-by over 100 rows, an index-range count) at once, then again every ~25 ms
// (a server between requests) until reads switch to the local copy, then once on local reads.
// Reported per size: time to the first answer and to the whole first mix (from spawn and from
// open), time to local speed (the switch), the mix's latency before and after the switch.
// Same link as bench:hydrate (support/stage.ts). Progress on stderr; JSON on stdout.
//
//   npm run bench:boot-hydrate            (10 MiB, 100 MiB, 1 GiB)
//   npx tsx bench/boot-hydrate.ts --sizes 10MiB,100MiB
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ROOT, accountOf } from './support/dataset.js';
import { summarize } from './support/request-log.js';
import { BANDWIDTH, LATENCY_MS, cpuSince, stageReplicas } from './support/stage.js';
import { lastJson, median, progress, round, runChild } from './support/stats.js';

const SIZES: Record<string, number> = { '10MiB': 10 * 2 ** 20, '100MiB': 100 * 2 ** 20, '1GiB': 2 ** 30 };
const CHILD = path.join(BENCH_ROOT, 'bench/support/child-hydrate.mjs');
const DIST = path.join(BENCH_ROOT, 'dist');

const { values: flags } = parseArgs({ options: { sizes: { type: 'string', default: Object.keys(SIZES).join(',') } } });
const sizes = flags.sizes.split(',').map((s) => {
  if (!(s in SIZES)) throw new Error(`--sizes: unknown size ${s}; use ${Object.keys(SIZES).join(', ')}`);
  return s;
});

interface BootOut {
  timeOrigin: number;
  importedMs: number;
  openedMs: number;
  firstAnswerMs: number;
  switchedMs: number;
  cpuMsToSwitch: number;
  mixes: { atMs: number; ms: number; local: boolean }[];
  status: { switchedAfterMs: number; bytesFetched: number };
  events: { errors: number };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = os.loadavg().map((x) => round(x, 2));
  const stage = await stageReplicas('boot-hydrate', Object.fromEntries(sizes.map((s) => [s, SIZES[s]])), progress);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-boot-'));
  try {
    const results: Record<string, unknown> = {};
    for (const s of sizes) {
      const d = stage.data[s];
      const hpath = path.join(tmp, `boot-${s}.db`);
      const id = 1 + Math.floor(Math.random() * d.rows);
      const task = { dist: DIST, mode: 'boot', replicaUrl: stage.urlOf(s), hydrationPath: hpath, rows: d.rows, accounts: [{ id, account: accountOf(id) }] };
      await stage.link.clear();
      const cpu0 = await stage.cpu();
      const spawnAt = performance.timeOrigin + performance.now();
      const o = lastJson<BootOut>((await runChild(process.execPath, [CHILD, JSON.stringify(task)], stage.env)).stdout);
      const at = (ms: number) => round(o.timeOrigin + ms - spawnAt);
      const remote = o.mixes.filter((m) => !m.local);
      const local = o.mixes.find((m) => m.local)!;
      const sum = summarize((await stage.link.records()).filter((x) => x.start <= o.timeOrigin + o.switchedMs));
      results[s] = {
        dbBytes: d.bytes,
        ltxBytes: stage.snapshots[s].ltxBytes,
        spawnToOpenedMs: at(o.openedMs),
        spawnToFirstAnswerMs: at(o.firstAnswerMs),
        openToFirstAnswerMs: round(o.firstAnswerMs - o.openedMs),
        firstMixMs: round(remote[0].ms),
        spawnToLocalSpeedMs: at(o.switchedMs),
        switchedAfterMs: round(o.status.switchedAfterMs),
        mixesBeforeSwitch: remote.length,
        mixMsBeforeSwitchMedian: round(median(remote.map((m) => m.ms)), 2),
        mixMsAfterSwitch: round(local.ms, 2),
        requests: sum.requests,
        bytes: sum.bytes,
        childCpuMsToSwitch: round(o.cpuMsToSwitch),
        stageCpuMs: cpuSince(cpu0, await stage.cpu()),
        hydrationErrors: o.events.errors,
      };
      progress(`[boot-hydrate] ${s}: first answer ${at(o.firstAnswerMs)} ms from spawn, local speed at ${at(o.switchedMs)} ms; mix ${remote[0].ms.toFixed(0)} ms first, ${local.ms.toFixed(2)} ms local`);
      for (const f of [hpath, `${hpath}.ltxvfs.json`]) rmSync(f, { force: true });
    }
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'boot-hydrate',
          date: new Date().toISOString(),
          machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
          loadAverage: { before: loadBefore, after: os.loadavg().map((x) => round(x, 2)) },
          link: { latencyMs: LATENCY_MS, bandwidthMiBpsPerConnection: BANDWIDTH / 2 ** 20, proxy: 'one hop in its own process (bench/support/link-server.ts)', server: 'radosgw (memstore) on 127.0.0.1' },
          results,
          totalSeconds: round((Date.now() - t0) / 1000),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await stage.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

// bench:hydrate — a fresh process opens a replica with hydration on (issue 6): time to its
// first answer, time until reads are local (the switch), bytes and requests; against
// `ltxvfs restore` of the same replica and the single-stream floor (one whole-object GET of
// the snapshot through the link, streamed, next to the link's nominal bytes/rate + latency);
// then, after the switch, warm point lookups on the switched database vs the same engine
// on a plain local file (`new Database(copy)`), rounds alternating.
// Link: local radosgw behind 20 ms first byte and 100 MiB/s per connection (support/stage.ts);
// each phase reports the link's and ceph's CPU (stageCpuMs), which share the 2 cores with the client.
// Progress on stderr; one JSON object on stdout.
//
//   npm run bench:hydrate                          (1 GiB)
//   npx tsx bench/hydrate.ts --sizes 100MiB [--no-restore] [--tune 8:auto,16:auto,16:8]
//   --tune: extra hydrate()-only runs, `concurrency:chunkMiB` ("auto" = the default sizing).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_ROOT } from './support/dataset.js';
import { summarize } from './support/request-log.js';
import { BANDWIDTH, LATENCY_MS, cpuSince, stageReplicas } from './support/stage.js';
import { lastJson, median, progress, round, runChild } from './support/stats.js';

const SIZES: Record<string, number> = { '100MiB': 100 * 2 ** 20, '1GiB': 2 ** 30 };
const CHILD = path.join(BENCH_ROOT, 'bench/support/child-hydrate.mjs');
const DIST = path.join(BENCH_ROOT, 'dist');
const CLI_MAIN = path.join(DIST, 'src/cli/main.js');

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1GiB' },
    lookups: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '7' },
    'no-restore': { type: 'boolean', default: false },
    tune: { type: 'string', default: '' },
  },
});
const sizes = flags.sizes.split(',').map((s) => {
  if (!(s in SIZES)) throw new Error(`--sizes: unknown size ${s}; use ${Object.keys(SIZES).join(', ')}`);
  return s;
});
const tunes = flags.tune
  .split(',')
  .filter(Boolean)
  .map((t) => {
    const [c, m] = t.split(':');
    return { concurrency: Number(c), chunkBytes: m === 'auto' || m === undefined ? undefined : Number(m) * 2 ** 20, label: t };
  });

interface HydrateOut {
  timeOrigin: number;
  importedMs: number;
  openedMs: number;
  firstRowMs: number;
  switchedMs: number;
  cpuMsToSwitch: number;
  status: { switchedAfterMs: number; bytesFetched: number; txid: string; percent: number };
  events: { count: number; errors: number };
  lookupRounds: { replica: number[]; local: number[] };
  localReadsDuringRounds: number;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = os.loadavg().map((x) => round(x, 2));
  const stage = await stageReplicas('hydrate', Object.fromEntries(sizes.map((s) => [s, SIZES[s]])), progress);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-hydrate-'));
  const { link } = stage;
  try {
    const results: Record<string, unknown> = {};
    for (const s of sizes) {
      const d = stage.data[s];
      const r: Record<string, unknown> = { dbBytes: d.bytes, ltxBytes: stage.snapshots[s].ltxBytes };

      // (c) the floor first: it is the yardstick of the target.
      await link.clear();
      const floor = await stage.floor(s);
      r.c_floor = {
        ms: round(floor.ms),
        bytes: floor.bytes,
        MiBps: round(floor.MiBps),
        firstByteMs: round(floor.firstByteMs),
        nominalMs: round(floor.nominalMs),
        nominalMiBps: round(floor.bytes / 2 ** 20 / (floor.nominalMs / 1000)),
        overNominal: round(floor.ms / floor.nominalMs, 2),
        clientCpuMs: round(floor.cpuMs),
        stageCpuMs: floor.stageCpu,
      };
      progress(`[hydrate] ${s}: single-GET floor ${floor.ms.toFixed(0)} ms (${floor.MiBps.toFixed(0)} MiB/s; nominal ${floor.nominalMs.toFixed(0)} ms)`);

      // Control: the same first query in a fresh process with hydration off (is the first answer slowed by it?).
      {
        const spawnAt = performance.timeOrigin + performance.now();
        const task = { dist: DIST, mode: 'hydrate', replicaUrl: stage.urlOf(s), hydrationPath: null, rows: d.rows };
        const o = lastJson<HydrateOut>((await runChild(process.execPath, [CHILD, JSON.stringify(task)], stage.env)).stdout);
        r.a0_firstRowHydrationOff = { spawnToFirstRowMs: round(o.timeOrigin + o.firstRowMs - spawnAt), openToFirstRowMs: round(o.firstRowMs - o.openedMs) };
      }

      // (a) open with hydration, from spawn.
      const hpath = path.join(tmp, `hydrated-${s}.db`);
      await link.clear();
      let cpu0 = await stage.cpu();
      const spawnAt = performance.timeOrigin + performance.now();
      const task = { dist: DIST, mode: 'hydrate', replicaUrl: stage.urlOf(s), hydrationPath: hpath, rows: d.rows, lookups: Number(flags.lookups), rounds: Number(flags.rounds) };
      const { stdout } = await runChild(process.execPath, [CHILD, JSON.stringify(task)], stage.env);
      const a = lastJson<HydrateOut>(stdout);
      const switchedAt = a.timeOrigin + a.switchedMs;
      const upToSwitch = (await link.records()).filter((x) => x.start <= switchedAt);
      const sum = summarize(upToSwitch);
      const stageCpu = cpuSince(cpu0, await stage.cpu()); // over the whole child (lookups send no requests)
      const rep = median(a.lookupRounds.replica);
      const loc = median(a.lookupRounds.local);
      const spawnToSwitch = switchedAt - spawnAt;
      r.a_hydrate = {
        spawnToFirstRowMs: round(a.timeOrigin + a.firstRowMs - spawnAt),
        openToFirstRowMs: round(a.firstRowMs - a.openedMs),
        spawnToOpenedMs: round(a.timeOrigin + a.openedMs - spawnAt),
        spawnToSwitchMs: round(spawnToSwitch),
        switchedAfterMs: round(a.status.switchedAfterMs),
        requests: sum.requests,
        bytes: sum.bytes,
        byOp: sum.byOp,
        bytesFetchedByHydrator: a.status.bytesFetched,
        effectiveMiBps: round(sum.bytes / 2 ** 20 / (spawnToSwitch / 1000)),
        childCpuMsToSwitch: round(a.cpuMsToSwitch),
        stageCpuMs: stageCpu,
        hydrationErrors: a.events.errors,
        txid: a.status.txid,
      };
      r.afterSwitch = {
        lookupsPerRound: Number(flags.lookups),
        rounds: Number(flags.rounds),
        replicaLookupsPerSec: round(rep, 0),
        localLookupsPerSec: round(loc, 0),
        ratio: round(rep / loc, 2),
        replicaRuns: a.lookupRounds.replica.map((x) => round(x, 0)),
        localRuns: a.lookupRounds.local.map((x) => round(x, 0)),
        localReadsDuringRounds: a.localReadsDuringRounds,
      };
      progress(`[hydrate] ${s}: first row ${a.firstRowMs - a.openedMs | 0} ms after open, switched ${spawnToSwitch.toFixed(0)} ms from spawn, ${sum.requests} req, ${sum.bytes} bytes; lookups ${rep.toFixed(0)}/s vs local ${loc.toFixed(0)}/s`);

      // (b) restore with the CLI.
      if (!flags['no-restore']) {
        const out = path.join(tmp, `restored-${s}.db`);
        await link.clear();
        cpu0 = await stage.cpu();
        const t = performance.now();
        const rr = await runChild(process.execPath, [CLI_MAIN, 'restore', stage.urlOf(s), '-o', out, '--force', '--json'], stage.env);
        const ms = performance.now() - t;
        const restored = JSON.parse(rr.stdout.slice(rr.stdout.indexOf('{'), rr.stdout.lastIndexOf('}') + 1)) as { ms: number; dbBytes: number };
        if (restored.dbBytes !== d.bytes) throw new Error(`restore wrote ${restored.dbBytes} bytes, expected ${d.bytes}`);
        const rs = summarize(await link.records());
        r.b_restore = { spawnToExitMs: round(ms), restoreMs: round(restored.ms), requests: rs.requests, bytes: rs.bytes, stageCpuMs: cpuSince(cpu0, await stage.cpu()) };
        rmSync(out, { force: true });
        progress(`[hydrate] ${s}: restore ${ms.toFixed(0)} ms`);
      }

      // Tuning: hydrate() alone (no VFS, no queries), other concurrency / range sizes.
      const tuned: Record<string, unknown> = {};
      for (const tu of tunes) {
        const p = path.join(tmp, `tune-${s}.db`);
        await link.clear();
        cpu0 = await stage.cpu();
        const o = lastJson<{ buildMs: number; cpuMs: number; stats: { requests: number; bytesFetched: number } }>(
          (await runChild(process.execPath, [CHILD, JSON.stringify({ dist: DIST, mode: 'build', replicaUrl: stage.urlOf(s), hydrationPath: p, concurrency: tu.concurrency, chunkBytes: tu.chunkBytes })], stage.env)).stdout,
        );
        tuned[tu.label] = { buildMs: round(o.buildMs), requests: o.stats.requests, bytes: o.stats.bytesFetched, childCpuMs: round(o.cpuMs), stageCpuMs: cpuSince(cpu0, await stage.cpu()), overFloor: round(o.buildMs / floor.ms, 2) };
        progress(`[hydrate] ${s}: tune ${tu.label}: ${o.buildMs.toFixed(0)} ms`);
        for (const f of [p, `${p}.ltxvfs.json`]) rmSync(f, { force: true });
      }
      if (tunes.length) r.tune_buildOnly = tuned;

      const ah = r.a_hydrate as { spawnToSwitchMs: number; openToFirstRowMs: number };
      r.targets = {
        switchUnderThirdOfFloor: { met: ah.spawnToSwitchMs < floor.ms / 3, switchOverFloor: round(ah.spawnToSwitchMs / floor.ms, 2), switchOverNominalFloor: round(ah.spawnToSwitchMs / floor.nominalMs, 2) },
        firstAnswerWithin100msOfOpen: { met: ah.openToFirstRowMs <= 100, ms: ah.openToFirstRowMs },
        afterSwitchAtLeast09xLocal: { met: rep / loc >= 0.9, ratio: round(rep / loc, 2) },
      };
      results[s] = r;
      rmSync(hpath, { force: true });
      rmSync(`${hpath}.ltxvfs.json`, { force: true });
    }
    const output = {
      bench: 'hydrate',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, memGiB: round(os.totalmem() / 2 ** 30) },
      loadAverage: { before: loadBefore, after: os.loadavg().map((x) => round(x, 2)) },
      link: {
        latencyMs: LATENCY_MS,
        bandwidthMiBpsPerConnection: BANDWIDTH / 2 ** 20,
        proxy: 'one HTTP hop in its own process (bench/support/link-server.ts): first byte held latencyMs after radosgw answers, bodies paced per client connection; its CPU is stageCpuMs.link',
        server: 'radosgw (memstore) on 127.0.0.1, glibc malloc tuned (scripts/s3/start-rgw.sh); CPU in stageCpuMs.radosgw / .osd',
        floor: 'c_floor: one whole-object GET through the link in a fresh process, streamed and counted; nominalMs = bytes / bandwidth + latency',
      },
      results,
      totalSeconds: round((Date.now() - t0) / 1000),
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await stage.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

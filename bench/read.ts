// bench:read — point-lookup throughput with a warm cache: a replica opened with open()
// (file:// and the local radosgw) against the same engine on a local copy of the same
// file (`new Database(path)`, local-file VFS). Both run here, in turns (rounds alternate
// contenders, in a rotating order, so machine drift hits them alike); figures are
// medians of the rounds, by wall clock and by CPU time.
// The replica's page cache is sized to hold the whole database, and warmed by a scan
// and one pass of the lookups: what is measured is the VFS's hit path, not the network.
// Progress on stderr; one JSON object on stdout.
//
//   npm run bench:read                  (or: npx tsx bench/read.ts --lookups 5000 --rounds 21)
//   npx tsx bench/read.ts --no-s3       (file:// only: no radosgw)
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Database } from '../src/engine/index.js';
import { open } from '../src/open.js';
import { importDatabase } from '../src/replica/index.js';
import { FileStore } from '../src/storage/file-store.js';
import { S3Store } from '../src/storage/s3-store.js';
import { startRgw, type S3Server } from '../test/support/s3-server.js';
import { prng } from '../test/support/prng.js';
import { accountOf, dataset } from './support/dataset.js';
import { median, progress, round } from './support/stats.js';

const { values: flags } = parseArgs({
  options: {
    lookups: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '21' },
    'no-s3': { type: 'boolean', default: false },
  },
});
const LOOKUPS = Number(flags.lookups);
const ROUNDS = Number(flags.rounds);
const CACHE_SIZE = 256 * 2 ** 20; // > the 100 MiB database: every page stays cached once read
const BUCKET = 'ltxvfs-bench';

type Kind = 'rowid' | 'index';
const SQL: Record<Kind, string> = {
  rowid: 'SELECT id, account, ts, kind, payload FROM events WHERE id = ?',
  index: 'SELECT id, account, ts, kind, payload FROM events WHERE account = ?',
};

/**
 * Lookups per second over the given keys, by the wall clock and by this process's CPU
 * time (user + system, all threads). On a shared 2-core machine the wall clock also
 * counts time spent waiting for a core; CPU time does not, so its ratio is the steadier one.
 */
function lookupsPerSec(db: Database, kind: Kind, ids: number[], keys: (string | number)[]): { wall: number; cpu: number } {
  const stmt = db.prepare(SQL[kind]);
  try {
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < keys.length; i++) {
      const row = stmt.get([keys[i]]);
      if (row === null || row.id !== ids[i]) throw new Error(`${kind} lookup of ${keys[i]}: wrong row ${JSON.stringify(row)}`);
    }
    const wallMs = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    return { wall: keys.length / (wallMs / 1000), cpu: keys.length / ((cpu.user + cpu.system) / 1e6) };
  } finally {
    stmt.finalize();
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const d = dataset('events-100MiB', 100 * 2 ** 20, progress);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-read-'));
  let rgw: S3Server | undefined;
  try {
    const localPath = path.join(tmp, 'local.db');
    copyFileSync(d.path, localPath);
    const replicas: Record<string, { url: string; s3?: { accessKeyId: string; secretAccessKey: string } }> = {};
    const fileDir = path.join(tmp, 'replica');
    const fileStore = new FileStore({ dir: fileDir });
    await importDatabase(d.path, fileStore);
    await fileStore.close();
    replicas.file = { url: pathToFileURL(fileDir).href };
    if (!flags['no-s3']) {
      progress('[read] starting radosgw');
      rgw = await startRgw({ log: progress });
      const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
      const sdk = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials });
      await sdk.send(new CreateBucketCommand({ Bucket: BUCKET }));
      sdk.destroy();
      const store = new S3Store({ bucket: BUCKET, prefix: 'read', endpoint: rgw.endpoint, region: rgw.region, credentials, timeoutMs: 300_000 });
      await importDatabase(d.path, store);
      await store.close();
      replicas.s3 = { url: `s3://${BUCKET}/read?${new URLSearchParams({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: 'true' })}`, s3: credentials };
    }

    const random = prng(42);
    const ids = Array.from({ length: LOOKUPS }, () => 1 + Math.floor(random() * d.rows));
    const keys: Record<Kind, (string | number)[]> = { rowid: ids, index: ids.map(accountOf) };

    const local = new Database(localPath, { readOnly: true });
    const opened: Record<string, Awaited<ReturnType<typeof open>>> = {};
    for (const [name, r] of Object.entries(replicas)) opened[name] = await open({ replicaUrl: r.url, s3: r.s3, cacheSize: CACHE_SIZE });
    const contenders: Record<string, Database> = { local, ...Object.fromEntries(Object.entries(opened).map(([n, db]) => [`replica-${n}`, db])) };

    // Warm: a scan of the table and one pass of each lookup set.
    for (const [name, db] of Object.entries(contenders)) {
      const t = performance.now();
      db.get('SELECT sum(length(payload)) AS n FROM events');
      for (const kind of ['rowid', 'index'] as const) lookupsPerSec(db, kind, ids, keys[kind]);
      progress(`[read] warmed ${name} in ${(performance.now() - t).toFixed(0)} ms`);
    }
    const fetchesAfterWarm = Object.fromEntries(Object.entries(opened).map(([n, db]) => [n, db.replicaStats().fetches]));

    type Rates = Record<Kind, { wall: number[]; cpu: number[] }>;
    const qps: Record<string, Rates> = Object.fromEntries(Object.keys(contenders).map((n) => [n, { rowid: { wall: [], cpu: [] }, index: { wall: [], cpu: [] } }]));
    const names = Object.keys(contenders);
    for (let round_ = 1; round_ <= ROUNDS; round_++) {
      const order = names.map((_, i) => names[(i + round_) % names.length]);
      for (const kind of ['rowid', 'index'] as const) {
        for (const name of order) {
          const r = lookupsPerSec(contenders[name], kind, ids, keys[kind]);
          qps[name][kind].wall.push(r.wall);
          qps[name][kind].cpu.push(r.cpu);
        }
      }
      if (round_ % 5 === 0 || round_ === ROUNDS) progress(`[read] round ${round_}/${ROUNDS}: ${names.map((n) => `${n} ${qps[n].rowid.wall.at(-1)!.toFixed(0)}/s`).join(', ')}`);
    }
    const misses = Object.fromEntries(Object.entries(opened).map(([n, db]) => [n, db.replicaStats().fetches - fetchesAfterWarm[n]]));
    const cache = Object.fromEntries(Object.entries(opened).map(([n, db]) => [n, db.replicaStats().cache]));

    local.close();
    for (const db of Object.values(opened)) await db.close();

    const med = (n: string, k: Kind, by: 'wall' | 'cpu' = 'cpu') => Math.round(median(qps[n][k][by]));
    const results: Record<string, unknown> = {};
    for (const kind of ['rowid', 'index'] as const) {
      results[kind] = Object.fromEntries(
        names.map((n) => [
          n,
          {
            medianLookupsPerSecWall: med(n, kind, 'wall'),
            medianLookupsPerSecCpu: med(n, kind),
            ...(n === 'local' ? {} : { ratioToLocalWall: round(med(n, kind, 'wall') / med('local', kind, 'wall'), 3), ratioToLocalCpu: round(med(n, kind) / med('local', kind), 3) }),
          },
        ]),
      );
    }
    const output = {
      bench: 'read',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg().map((x) => round(x, 2)) },
      database: { bytes: d.bytes, rows: d.rows, pageSize: d.pageSize },
      lookupsPerRound: LOOKUPS,
      rounds: ROUNDS,
      replicaCacheBytes: CACHE_SIZE,
      results,
      // Range requests during the measured rounds: 0 means every lookup was served from the page cache.
      replicaFetchesDuringRounds: misses,
      replicaCache: cache,
      target: Object.fromEntries(
        Object.keys(opened).flatMap((n) => (['rowid', 'index'] as const).map((k) => [`${n}-${k}-atLeast0.9x-cpu`, med(`replica-${n}`, k) >= 0.9 * med('local', k)])),
      ),
      totalSeconds: round((Date.now() - t0) / 1000),
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await rgw?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

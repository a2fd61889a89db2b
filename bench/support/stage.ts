// The shared stage of bench:coldstart, bench:hydrate and bench:boot: a local radosgw (memstore raised for
// 1 GiB), each dataset imported as a snapshot, and the link in front of it (link.ts: one proxy
// hop in its own process, 20 ms first-byte latency, 100 MiB/s per connection, a request log).
// CPU is read per process, so a bench can report the link's and ceph's cost apart from the client's.
import { execFileSync, fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureBuilt } from '../../test/support/cli.js';
import { startRgw } from '../../test/support/s3-server.js';
import { importDatabase } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { dataset, type Dataset } from './dataset.js';
import { Link, MALLOC_TUNABLES } from './link.js';
import type { FloorResult } from './link-floor.js';

export const LATENCY_MS = 20;
export const BANDWIDTH = 100 * 2 ** 20;
const BUCKET = 'ltxvfs-bench';
const FLOOR_CHILD = fileURLToPath(new URL('./link-floor.ts', import.meta.url));

/** CPU ms used so far by the stage's own processes (diff two readings with `cpuSince`). */
export interface StageCpu {
  link: number;
  radosgw: number;
  osd: number;
}

export interface Floor extends FloorResult {
  /** What the link allows one stream: bytes / bandwidth + latency. */
  nominalMs: number;
  MiBps: number;
  /** The link's and ceph's CPU during the GET (the client's is `cpuMs`). */
  stageCpu: StageCpu;
}

export interface BenchStage {
  data: Record<string, Dataset>;
  snapshots: Record<string, { prefix: string; key: string; ltxBytes: number; importMs: number }>;
  /** The link; its request log is what the benches count requests and round trips from. */
  link: Link;
  env: NodeJS.ProcessEnv;
  /** The replica URL through the link (or straight to radosgw with `direct`). */
  urlOf(size: string, direct?: boolean): string;
  /** The single-stream floor: one whole-object GET of the snapshot through the link, streamed, in a fresh process. */
  floor(size: string): Promise<Floor>;
  cpu(): Promise<StageCpu>;
  close(): Promise<void>;
}

export function cpuSince(before: StageCpu, after: StageCpu): StageCpu {
  const d = (k: keyof StageCpu) => Math.round(after[k] - before[k]);
  return { link: d('link'), radosgw: d('radosgw'), osd: d('osd') };
}

export async function stageReplicas(name: string, sizes: Record<string, number>, progress: (line: string) => void): Promise<BenchStage> {
  progress(`[${name}] building dist/ if stale`);
  ensureBuilt();
  const data: Record<string, Dataset> = {};
  for (const [s, bytes] of Object.entries(sizes)) data[s] = dataset(`events-${s}`, bytes, progress);
  process.env.RGW_MEMSTORE_BYTES ??= String(4 * 2 ** 30);
  progress(`[${name}] starting radosgw (memstore ${Number(process.env.RGW_MEMSTORE_BYTES) / 2 ** 30} GiB)`);
  const rgw = await startRgw({ log: progress });
  const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  let link: Link | undefined;
  try {
    const sdk = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials });
    await sdk.send(new CreateBucketCommand({ Bucket: BUCKET }));
    sdk.destroy();
    const snapshots: BenchStage['snapshots'] = {};
    for (const s of Object.keys(sizes)) {
      const prefix = `${name}-${s}`;
      const store = new S3Store({ bucket: BUCKET, prefix, endpoint: rgw.endpoint, region: rgw.region, credentials, timeoutMs: 600_000 });
      progress(`[${name}] importing ${s} (${data[s].bytes} bytes)`);
      const r = await importDatabase(data[s].path, store);
      await store.close();
      snapshots[s] = { prefix, key: r.key, ltxBytes: r.ltxBytes, importMs: r.ms };
      progress(`[${name}]   snapshot ${r.ltxBytes} bytes (${((100 * r.ltxBytes) / r.dbBytes).toFixed(0)}% of the database) in ${(r.ms / 1000).toFixed(1)} s`);
    }
    const l = (link = await Link.start(rgw.endpoint, { latencyMs: LATENCY_MS, bandwidthBytesPerSec: BANDWIDTH }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      AWS_REGION: rgw.region,
      LITESTREAM_LOG_LEVEL: 'warn',
      NODE_NO_WARNINGS: '1',
    };
    const urlOf = (s: string, direct = false) =>
      `s3://${BUCKET}/${snapshots[s].prefix}?${new URLSearchParams({ endpoint: direct ? rgw.endpoint : l.endpoint, region: rgw.region, forcePathStyle: 'true' })}`;
    const daemons = cephPids(rgw.dir);
    const cpu = async (): Promise<StageCpu> => ({ link: (await l.cpu()).cpuMs, radosgw: procCpuMs(daemons.radosgw), osd: procCpuMs(daemons.osd) });
    return {
      data,
      snapshots,
      link: l,
      env,
      urlOf,
      cpu,
      async floor(s) {
        const task = { endpoint: l.endpoint, region: rgw.region, bucket: BUCKET, key: `${snapshots[s].prefix}/${snapshots[s].key}` };
        const before = await cpu();
        // The floor client gets the link's malloc tuning too: it stands for what one stream can do.
        const f = await runFloor(task, { ...env, GLIBC_TUNABLES: MALLOC_TUNABLES });
        const stageCpu = cpuSince(before, await cpu());
        if (f.bytes !== snapshots[s].ltxBytes) throw new Error(`floor: got ${f.bytes} bytes of ${task.key}, expected ${snapshots[s].ltxBytes}`);
        return { ...f, nominalMs: (f.bytes / BANDWIDTH) * 1000 + LATENCY_MS, MiBps: f.bytes / 2 ** 20 / (f.ms / 1000), stageCpu };
      },
      async close() {
        await l.close();
        await rgw.stop();
      },
    };
  } catch (err) {
    await link?.close();
    await rgw.stop();
    throw err;
  }
}

function runFloor(task: Record<string, string>, env: NodeJS.ProcessEnv): Promise<FloorResult> {
  return new Promise((ok, fail) => {
    const child = fork(FLOOR_CHILD, [JSON.stringify(task)], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: FloorResult | undefined;
    child.on('message', (m: FloorResult) => (result = m));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 && result ? ok(result) : fail(new Error(`floor GET of ${task.key} failed (exit ${code}); its stderr is above`))));
  });
}

/** radosgw's and the OSD's pids, from the pid files start-rgw.sh keeps. */
function cephPids(dir: string): { radosgw: number; osd: number } {
  const pids = path.join(dir, 'pids');
  const files = readdirSync(pids);
  const pid = (re: RegExp) => Number(readFileSync(path.join(pids, files.find((f) => re.test(f)) ?? 'missing'), 'utf8').trim());
  return { radosgw: pid(/^client\.rgw\./), osd: pid(/^osd\./) };
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** A process's user + system CPU so far, ms (10 ms resolution), from /proc/<pid>/stat. */
function procCpuMs(pid: number): number {
  // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

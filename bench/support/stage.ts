// The shared stage of bench:coldstart, bench:hydrate and bench:boot: a local radosgw (memstore raised for
// 1 GiB), each dataset imported as a snapshot, and the link in front of it: the FaultProxy
// for 20 ms first-byte latency, then the recording proxy pacing 100 MiB/s per connection
// (request-log.ts). The proxies run in this process: their CPU is this process's CPU
// (`cpuMs()`), reported so a reader can tell link cost from client cost.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureBuilt } from '../../test/support/cli.js';
import { FaultProxy } from '../../test/support/fault-proxy.js';
import { startRgw } from '../../test/support/s3-server.js';
import { importDatabase } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { dataset, type Dataset } from './dataset.js';
import { RequestLog } from './request-log.js';

export const LATENCY_MS = 20;
export const BANDWIDTH = 100 * 2 ** 20;
const BUCKET = 'ltxvfs-bench';

export interface BenchStage {
  data: Record<string, Dataset>;
  snapshots: Record<string, { prefix: string; key: string; ltxBytes: number; importMs: number }>;
  log: RequestLog;
  env: NodeJS.ProcessEnv;
  /** The replica URL through the proxies (or straight to radosgw with `direct`). */
  urlOf(size: string, direct?: boolean): string;
  /** One whole-object GET of the snapshot through the link, from this process: the single-stream floor. */
  floor(size: string): Promise<{ ms: number; bytes: number }>;
  close(): Promise<void>;
}

export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export async function stageReplicas(name: string, sizes: Record<string, number>, progress: (line: string) => void): Promise<BenchStage> {
  progress(`[${name}] building dist/ if stale`);
  ensureBuilt();
  const data: Record<string, Dataset> = {};
  for (const [s, bytes] of Object.entries(sizes)) data[s] = dataset(`events-${s}`, bytes, progress);
  process.env.RGW_MEMSTORE_BYTES ??= String(4 * 2 ** 30);
  progress(`[${name}] starting radosgw (memstore ${Number(process.env.RGW_MEMSTORE_BYTES) / 2 ** 30} GiB)`);
  const rgw = await startRgw({ log: progress });
  const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  let fault: FaultProxy | undefined;
  let log: RequestLog | undefined;
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
    fault = await FaultProxy.start(rgw.endpoint, { latencyMs: LATENCY_MS });
    log = await RequestLog.start(fault.endpoint, { bandwidthBytesPerSec: BANDWIDTH });
    const rec = log;
    const f = fault;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
      AWS_REGION: rgw.region,
      LITESTREAM_LOG_LEVEL: 'warn',
      NODE_NO_WARNINGS: '1',
    };
    const urlOf = (s: string, direct = false) =>
      `s3://${BUCKET}/${snapshots[s].prefix}?${new URLSearchParams({ endpoint: direct ? rgw.endpoint : rec.endpoint, region: rgw.region, forcePathStyle: 'true' })}`;
    return {
      data,
      snapshots,
      log: rec,
      env,
      urlOf,
      async floor(s) {
        const store = new S3Store({ bucket: BUCKET, prefix: snapshots[s].prefix, endpoint: rec.endpoint, region: rgw.region, credentials, timeoutMs: 600_000 });
        const t = performance.now();
        const body = await store.get(snapshots[s].key);
        const ms = performance.now() - t;
        await store.close();
        if (body.length !== snapshots[s].ltxBytes) throw new Error(`floor: got ${body.length} bytes of ${snapshots[s].key}, expected ${snapshots[s].ltxBytes}`);
        return { ms, bytes: body.length };
      },
      async close() {
        await rec.close();
        await f.close();
        await rgw.stop();
      },
    };
  } catch (err) {
    await log?.close();
    await fault?.close();
    await rgw.stop();
    throw err;
  }
}

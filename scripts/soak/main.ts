// `npm run soak -- --minutes N`: the soak in real time with the default compaction
// policy (L1 30 s, L2 5 min, L3 1 h, L0 kept 5 min), on a local radosgw it starts,
// through the fault proxy without faults (to count requests by kind): one writer, two
// followers and a hydrating reader whose page caches are smaller than the database,
// and a restore every few minutes. Progress on stderr; the report, JSON, on stdout.
//   npm run soak -- --minutes 15 [--rows 4000] [--cache 1MiB] [--out report.json]
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3-store.js';
import { ensureBuilt, ROOT } from '../../test/support/cli.js';
import { startRgw } from '../../test/support/s3-server.js';
import { startProxyProcess } from './proxy-process.js';
import { runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '15' },
    rows: { type: 'string', default: '4000' },
    cache: { type: 'string', default: '1MiB' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: npm run soak -- [--minutes N (15)] [--rows N (4000, ~600 bytes each)] [--cache SIZE (1MiB, the readers\' page cache)] [--out FILE]\n');
  process.exit(0);
}
const minutes = Number(values.minutes);
const rows = Number(values.rows);
if (!(minutes > 0) || !Number.isInteger(rows) || rows < 10) {
  process.stderr.write(`soak: --minutes must be a positive number and --rows an integer ≥ 10 (got ${values.minutes}, ${values.rows})\n`);
  process.exit(2);
}
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 is our floor
ensureBuilt();
say('starting radosgw');
const rgw = await startRgw({ log: say });
const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
const bucket = 'ltxvfs-soak';
const sdk = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials });
await sdk.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
sdk.destroy();
const proxy = await startProxyProcess(rgw.endpoint);
const prefix = `soak-${Date.now()}`;
const store = new S3Store({ bucket, prefix, endpoint: rgw.endpoint, region: rgw.region, credentials });
const url = `s3://${bucket}/${prefix}?${new URLSearchParams({ endpoint: proxy.endpoint, region: rgw.region, forcePathStyle: 'true' })}`;
let stats: Awaited<ReturnType<typeof proxy.stop>> | null = null;
try {
  const report = await runSoak({
    name: 'realtime',
    url,
    s3: credentials,
    store,
    durationMs: minutes * 60_000,
    rows,
    cacheSize: values.cache,
    commitEveryMs: 100,
    readEveryMs: 200,
    restoreEveryMs: 3 * 60_000,
    workDir: path.join(tmpdir(), `ltxvfs-soak-${process.pid}`),
    dist: path.join(ROOT, 'dist'),
    childEnv: { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    requests: async () => {
      stats = await proxy.stop();
      return stats.requests;
    },
    progress: say,
  });
  const json = JSON.stringify({ ...report, policy: 'default', startedWith: { minutes, rows, cache: values.cache } }, null, 2);
  process.stdout.write(`${json}\n`);
  if (values.out) writeFileSync(values.out, `${json}\n`);
  // With the default policy's five minutes of readers' grace, an expired read is a failure too.
  process.exitCode = report.readErrors + report.violations + report.restoreFailures + report.expired.count === 0 ? 0 : 1;
} finally {
  if (stats === null) await proxy.stop().catch(() => undefined);
  await store.close();
  await rgw.stop();
}

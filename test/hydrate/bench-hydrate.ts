// Hydration throughput against restore() and a single-stream whole-object GET, on a
// ~200 MB database in the local S3 server, directly and behind the fault proxy
// (20 ms first byte, 100 MiB/s per connection). Not a test: run by hand, prints JSON.
//   node --import tsx test/hydrate/bench-hydrate.ts [--mib 200]
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { dataset } from '../../bench/support/dataset.js';
import { hydrate } from '../../src/hydrate/index.js';
import { importDatabase, listReplica, restore } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startRgw } from '../support/s3-server.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '200' } } });
const mib = Number(values.mib);
const quiet = pino({ level: 'warn' }, pino.destination(2));
const say = (l: string) => process.stderr.write(`${l}\n`);

const d = dataset(`events-${mib}MiB`, mib * 2 ** 20, say);
const rgw = await startRgw({ log: say });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-bench-hydrate-'));
const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
const sdk = new S3Client({ endpoint: rgw.endpoint, region: rgw.region, forcePathStyle: true, credentials });
await sdk.send(new CreateBucketCommand({ Bucket: 'bench' }));
sdk.destroy();
const storeAt = (endpoint: string) => new S3Store({ bucket: 'bench', prefix: 'hyd', endpoint, region: rgw.region, credentials, timeoutMs: 300_000 });
{
  const s = storeAt(rgw.endpoint);
  await importDatabase(d.path, s);
  await s.close();
}
const results: Record<string, unknown>[] = [];
let n = 0;
async function measure(label: string, endpoint: string, fn: (store: S3Store, out: string) => Promise<unknown>) {
  const store = storeAt(endpoint);
  const out = path.join(tmp, `out-${n++}.db`);
  const t = performance.now();
  await fn(store, out);
  const s = performance.now() - t;
  const st = store.stats();
  const r = { label, seconds: +(s / 1000).toFixed(2), MBps: +(st.get.bytes / 1e6 / (s / 1000)).toFixed(1), getRequests: st.get.requests, getMB: +(st.get.bytes / 1e6).toFixed(1) };
  say(JSON.stringify(r));
  results.push(r);
  await store.close();
  rmSync(out, { force: true });
  rmSync(`${out}.ltxvfs.json`, { force: true });
}
const ltx = await (async () => {
  const s = storeAt(rgw.endpoint);
  const files = await listReplica(s);
  await s.close();
  return files[0];
})();
const proxy = await FaultProxy.start(rgw.endpoint, { latencyMs: 20, bandwidthBytesPerSec: 100 * 2 ** 20 });
for (const [where, endpoint] of [['direct', rgw.endpoint], ['proxy 20ms 100MiB/s', proxy.endpoint]] as const) {
  await measure(`${where}: whole-object GET (single stream)`, endpoint, (s) => s.get(ltx.key));
  await measure(`${where}: restore (8 MiB x 8)`, endpoint, (s, out) => restore(s, {}, out, { integrityCheck: false }));
  for (const [chunk, conc] of [[4, 8], [8, 8], [8, 16], [16, 8]]) {
    await measure(`${where}: hydrate (${chunk} MiB x ${conc})`, endpoint, (s, out) => hydrate({ store: s, path: out, chunkBytes: chunk << 20, concurrency: conc, log: quiet }));
  }
}
await proxy.close();
process.stdout.write(JSON.stringify({ dbBytes: d.bytes, ltxBytes: ltx.size, results }, null, 2) + '\n');
rmSync(tmp, { recursive: true, force: true });
await rgw.stop();

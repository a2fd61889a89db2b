// The single-stream floor, run as its own process (stage.ts forks it): ONE whole-object GET
// through the link, streamed and counted, never gathered into a buffer (gathering a GiB
// costs the client seconds of page faults: that is client cost, not what the link can do).
// A HEAD first warms the SDK (credentials, middleware, connection) outside the timing.
//
//   fork('link-floor.ts', [json {endpoint, region, bucket, key}]) with AWS_* credentials in env
//   IPC out: { ms, firstByteMs, bytes, cpuMs }
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

export interface FloorResult {
  /** GET sent to last body byte counted. */
  ms: number;
  /** GET sent to response headers. */
  firstByteMs: number;
  bytes: number;
  /** This process's CPU during the GET. */
  cpuMs: number;
}

const task = JSON.parse(process.argv[2] ?? '{}') as { endpoint: string; region: string; bucket: string; key: string };
const client = new S3Client({
  endpoint: task.endpoint,
  region: task.region,
  forcePathStyle: true,
  // No CRC validation: the floor measures transfer, not checksumming.
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  maxAttempts: 1,
});
const head = await client.send(new HeadObjectCommand({ Bucket: task.bucket, Key: task.key }));
const cpu0 = process.cpuUsage();
const t = performance.now();
const res = await client.send(new GetObjectCommand({ Bucket: task.bucket, Key: task.key }));
const firstByteMs = performance.now() - t;
let bytes = 0;
for await (const chunk of res.Body as Readable) bytes += (chunk as Buffer).length;
const ms = performance.now() - t;
const c = process.cpuUsage(cpu0);
client.destroy();
if (bytes !== head.ContentLength) throw new Error(`floor GET of ${task.key}: ${bytes} bytes, HEAD said ${head.ContentLength}`);
process.send?.({ ms, firstByteMs, bytes, cpuMs: (c.user + c.system) / 1000 } satisfies FloorResult);
process.disconnect?.();

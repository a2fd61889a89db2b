// Vitest global setup: one S3-compatible server for the whole run.
// - S3_ENDPOINT set (with S3_ACCESS_KEY/S3_SECRET_KEY or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
//   optional S3_BUCKET, S3_REGION): use that server, e.g. MinIO or AWS.
// - otherwise: start Ceph radosgw on 127.0.0.1 (./s3-server.ts), stopped at teardown.
// The config reaches test files through provide/inject (./s3.ts: testS3Config()) and,
// for processes that tests spawn, through S3_* variables set here before the workers fork.
// If no server can be had, the run goes on and every S3 test fails with the reason.
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { TestProject } from 'vitest/node';
import { startRgw, type S3Server } from './s3-server.js';
import { testS3Client, type S3TestConfig } from './s3.js';

const DEFAULT_BUCKET = 'ltxvfs-test';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: S3Server | undefined;
  const stop = async (): Promise<void> => {
    await server?.stop();
    server = undefined;
  };
  try {
    const config = await configure((s) => (server = s));
    await ensureBucket(config);
    project.provide('s3', config);
    Object.assign(process.env, {
      S3_ENDPOINT: config.endpoint,
      S3_ACCESS_KEY: config.accessKeyId,
      S3_SECRET_KEY: config.secretAccessKey,
      S3_REGION: config.region,
      S3_BUCKET: config.bucket,
    });
  } catch (err) {
    await stop().catch(() => undefined);
    const from = process.env.S3_ENDPOINT ? `S3_ENDPOINT=${process.env.S3_ENDPOINT}` : 'radosgw (scripts/s3/start-rgw.sh)';
    const reason = `no S3 server for the tests from ${from}: ${(err as Error).message}`;
    process.stderr.write(`\n[global-setup] ${reason}\n\n`);
    project.provide('s3', { error: reason });
  }
  return stop;
}

async function configure(onStarted: (server: S3Server) => void): Promise<S3TestConfig> {
  const env = process.env;
  if (env.S3_ENDPOINT) {
    const accessKeyId = env.S3_ACCESS_KEY ?? env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.S3_SECRET_KEY ?? env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new Error('S3_ENDPOINT is set but S3_ACCESS_KEY/S3_SECRET_KEY (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) are not');
    return {
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION ?? env.AWS_REGION ?? 'us-east-1',
      accessKeyId,
      secretAccessKey,
      bucket: env.S3_BUCKET ?? DEFAULT_BUCKET,
      external: true,
    };
  }
  const server = await startRgw();
  onStarted(server);
  return { endpoint: server.endpoint, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, bucket: DEFAULT_BUCKET, external: false };
}

async function ensureBucket(config: S3TestConfig): Promise<void> {
  const client = testS3Client(config);
  try {
    await client.send(new HeadBucketCommand({ Bucket: config.bucket })).catch(async (err: { $metadata?: { httpStatusCode?: number } }) => {
      if (err.$metadata?.httpStatusCode !== 404) throw err;
      await client.send(new CreateBucketCommand({ Bucket: config.bucket }));
    });
  } finally {
    client.destroy();
  }
}

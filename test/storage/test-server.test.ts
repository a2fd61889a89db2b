// The run's S3 server reaches test workers both ways the global setup offers it.
import { execFileSync } from 'node:child_process';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { testS3Client, testS3Config, uniquePrefix } from '../support/s3.js';

describe('test S3 server', () => {
  it('is provided to workers by inject() and to child processes by S3_* variables', () => {
    const config = testS3Config();
    expect(config.endpoint).toMatch(/^https?:\/\//);
    expect(process.env.S3_ENDPOINT).toBe(config.endpoint);
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.S3_ENDPOINT + " " + process.env.S3_BUCKET)'], { encoding: 'utf8' });
    expect(child).toBe(`${config.endpoint} ${config.bucket}`);
  });

  it('has the test bucket', async () => {
    const client = testS3Client();
    try {
      const res = await client.send(new HeadBucketCommand({ Bucket: testS3Config().bucket }));
      expect(res.$metadata.httpStatusCode).toBe(200);
    } finally {
      client.destroy();
    }
  });

  it('hands out distinct prefixes', () => {
    const a = uniquePrefix();
    expect(a).toMatch(/\/$/);
    expect(uniquePrefix()).not.toBe(a);
  });
});

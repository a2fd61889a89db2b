// The S3 conformance suite against the run's server (radosgw started by the global
// setup, or whatever S3_ENDPOINT names: MinIO, AWS, ...).
import { testS3Client, testS3Config, uniquePrefix } from '../support/s3.js';
import { describeS3Conformance } from './conformance.js';

describeS3Conformance(process.env.S3_ENDPOINT ?? 'test server', async () => {
  const config = testS3Config();
  return { client: testS3Client(config), bucket: config.bucket, prefix: uniquePrefix('conformance') };
});

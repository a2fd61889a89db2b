// What test files use to reach the run's S3 server (started by ./global-setup.ts,
// or the one in S3_ENDPOINT): its config via vitest's inject(), unique key prefixes,
// and ready-made SDK clients and store options.
import { randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { S3StoreOptions } from '../../src/storage/s3-store.js';

export interface S3TestConfig {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A bucket that exists; tests write under unique prefixes in it. */
  bucket: string;
  /** True when the server came from S3_ENDPOINT rather than being started by the run. */
  external: boolean;
}

export type ProvidedS3 = S3TestConfig | { error: string };

declare module 'vitest' {
  export interface ProvidedContext {
    s3: ProvidedS3;
  }
}

/** The run's S3 server; throws the global setup's explanation when there is none. */
export function testS3Config(): S3TestConfig {
  const provided = inject('s3');
  if (provided === undefined) throw new Error('no S3 server: test/support/global-setup.ts did not run (use vitest.config.ts)');
  if ('error' in provided) throw new Error(provided.error);
  return provided;
}

/** A fresh key prefix (ends in `/`) so tests never see each other's objects. */
export function uniquePrefix(label = 'test'): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/`;
}

/** A raw SDK client configured as S3Store configures its own (no SDK retries, no CRC trailers). */
export function testS3Client(config: S3TestConfig = testS3Config(), endpoint = config.endpoint): S3Client {
  return new S3Client({
    endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** S3Store options for the run's server under `prefix`. */
export function testS3StoreOptions(prefix: string, overrides: Partial<S3StoreOptions> = {}): S3StoreOptions {
  const config = testS3Config();
  return {
    bucket: config.bucket,
    prefix,
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    ...overrides,
  };
}

/** The replica URL of `prefix` on the run's server (credentials are passed separately). */
export function testReplicaUrl(prefix: string): string {
  const config = testS3Config();
  const query = new URLSearchParams({ endpoint: config.endpoint, region: config.region, forcePathStyle: 'true' });
  return `s3://${config.bucket}/${prefix}?${query}`;
}

// Replica URL → ObjectStore, by scheme:
//   s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true
//   file:///absolute/dir
// Credentials are given by the caller (config.ts reads AWS_* and LITESTREAM_*; this
// module reads no environment). Without them the store reads the AWS_* variables, then (lazily) the SDK's provider chain.
import { fileURLToPath } from 'node:url';
import { FileStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import { S3Store, type S3StoreOptions } from './s3-store.js';
import { redactUrl } from '../redact.js';

/** Options for the backend; for S3, `endpoint`, `region` and `forcePathStyle` override the URL's. */
export type OpenStoreOptions = Pick<S3StoreOptions, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials' | 'concurrency' | 'timeoutMs' | 'retry'>;

type Opener = (url: URL, options: OpenStoreOptions) => ObjectStore;

const SCHEMES: Record<string, Opener> = {
  's3:': openS3,
  'file:': openFile,
};

const S3_PARAMS = ['endpoint', 'region', 'forcePathStyle'];

export function openStore(replicaUrl: string, options: OpenStoreOptions = {}): ObjectStore {
  let url: URL;
  try {
    url = new URL(replicaUrl);
  } catch {
    const shown = replicaUrl.includes('@') ? '(not shown: it may hold a secret)' : JSON.stringify(replicaUrl);
    throw new TypeError(`replica URL ${shown} is not a URL; expected s3://bucket/path?endpoint=… or file:///dir`);
  }
  if (url.username !== '' || url.password !== '' || redactUrl(url.searchParams.get('endpoint') ?? '') !== (url.searchParams.get('endpoint') ?? '')) {
    throw new TypeError('replica URL has user info (user:password@) in it: credentials are never read from a URL; give them as credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  }
  const opener = SCHEMES[url.protocol];
  if (!opener) {
    throw new TypeError(`replica URL scheme ${JSON.stringify(url.protocol)} is not supported; expected one of ${Object.keys(SCHEMES).join(', ')}`);
  }
  return opener(url, options);
}

function openS3(url: URL, options: OpenStoreOptions): ObjectStore {
  const bucket = url.hostname;
  if (!bucket) throw new TypeError(`replica URL ${redactUrl(url.href)} names no bucket; expected s3://bucket/path`);
  for (const name of url.searchParams.keys()) {
    if (!S3_PARAMS.includes(name)) throw new TypeError(`replica URL parameter ${JSON.stringify(name)} is not supported; expected ${S3_PARAMS.join(', ')}`);
  }
  const endpoint = options.endpoint ?? withScheme(url.searchParams.get('endpoint'));
  const region = options.region ?? url.searchParams.get('region') ?? undefined;
  const pathStyle = url.searchParams.get('forcePathStyle');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new TypeError(`replica URL parameter forcePathStyle=${pathStyle} must be true or false`);
  }
  return new S3Store({
    bucket,
    prefix: decodeURIComponent(url.pathname.replace(/^\/+/, '')),
    endpoint,
    region,
    forcePathStyle: options.forcePathStyle ?? (pathStyle === null ? undefined : pathStyle === 'true'),
    credentials: options.credentials,
    concurrency: options.concurrency,
    timeoutMs: options.timeoutMs,
    retry: options.retry,
  });
}

function openFile(url: URL): ObjectStore {
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    throw new TypeError(`replica URL ${url.href} names host ${JSON.stringify(url.hostname)}; expected file:///absolute/dir`);
  }
  return new FileStore({ dir: fileURLToPath(url) });
}

/** Litestream accepts `endpoint=host:port`; S3 endpoints without a scheme are HTTPS. */
function withScheme(endpoint: string | null): string | undefined {
  if (endpoint === null || endpoint === '') return undefined;
  return /^https?:\/\//.test(endpoint) ? endpoint : `https://${endpoint}`;
}

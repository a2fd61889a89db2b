// Open the store of a replica URL with explicit S3 settings (config.ts reads them
// from the AWS_* variables; nothing here reads the environment). A URL's own
// `?endpoint=` and `?region=` win over the settings, as in config.ts.
import type { S3Credentials } from '../config.js';
import { openStore, type OpenStoreOptions } from '../storage/open-store.js';
import type { ObjectStore } from '../storage/object-store.js';

/** The store options for a replica URL, as plain data (the I/O bridge's worker takes them too). */
export function replicaStoreOptions(replicaUrl: string, s3: Partial<S3Credentials> = {}): OpenStoreOptions {
  const options: OpenStoreOptions = {};
  if (!replicaUrl.startsWith('s3:')) return options;
  const params = new URL(replicaUrl).searchParams;
  if (s3.accessKeyId && s3.secretAccessKey) {
    options.credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, sessionToken: s3.sessionToken };
  }
  if (!params.has('endpoint') && s3.endpoint) options.endpoint = s3.endpoint;
  if (!params.has('region') && s3.region) options.region = s3.region;
  return options;
}

export function openReplicaStore(replicaUrl: string, s3: Partial<S3Credentials> = {}, extra: Omit<OpenStoreOptions, 'credentials' | 'endpoint' | 'region'> = {}): ObjectStore {
  return openStore(replicaUrl, { ...extra, ...replicaStoreOptions(replicaUrl, s3) });
}

// SyncStore round trips against file:// and the run's S3 server.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { testReplicaUrl, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { describeRoundTrips } from './round-trip-suite.js';

describeRoundTrips('file://', {
  async open() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-io-'));
    return { writer: new FileStore({ dir }), url: pathToFileURL(dir).href, options: {} };
  },
});

describeRoundTrips('S3', {
  async open() {
    const prefix = uniquePrefix('io');
    const options = testS3StoreOptions(prefix);
    return { writer: new S3Store(options), url: testReplicaUrl(prefix), options: { store: { credentials: options.credentials } } };
  },
});

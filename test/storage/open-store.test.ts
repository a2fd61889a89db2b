import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/storage/file-store.js';
import { openStore } from '../../src/storage/open-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from '../support/s3.js';
import { pattern } from './conformance.js';

describe('openStore', () => {
  it('opens s3:// URLs with endpoint, region and path style from the query', async () => {
    const config = testS3Config();
    const prefix = uniquePrefix('open');
    const store = openStore(testReplicaUrl(prefix), { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } });
    try {
      expect(store).toBeInstanceOf(S3Store);
      expect(store.url).toBe(`s3://${config.bucket}/${prefix}`);
      await store.put('k', pattern(5));
      expect([...(await store.get('k'))]).toEqual([...pattern(5)]);
      expect((await store.listPage('')).objects.map((o) => o.key)).toEqual(['k']);
    } finally {
      await store.close();
    }
  });

  it('opens file:// URLs as a FileStore on that directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ltxvfs-open-'));
    try {
      const store = openStore(pathToFileURL(dir).href);
      expect(store).toBeInstanceOf(FileStore);
      await store.put('ltx/0/x.ltx', pattern(3));
      expect((await store.head('ltx/0/x.ltx'))?.size).toBe(3);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot open with a TypeError saying what it accepts', () => {
    expect(() => openStore('gs://bucket/db')).toThrow(/"gs:" is not supported; expected one of s3:, file:/);
    expect(() => openStore('not a url')).toThrow(/expected s3:\/\/bucket\/path/);
    expect(() => openStore('s3://bucket/db?endpont=x')).toThrow(/"endpont" is not supported/);
    expect(() => openStore('s3://bucket/db?forcePathStyle=yes')).toThrow(/must be true or false/);
    expect(() => openStore('file://host/dir')).toThrow(TypeError);
  });
});

// Corruption: a byte flipped in an LTX object in the store (not in transit) is found by
// the hydrator, reported (status.lastError, an 'error' event, a log line naming the
// key), never lands at the hydration path, and queries keep being answered remotely.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importDatabase, listReplica } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { ensureBuilt } from '../support/cli.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { Child, replicaUrlVia, s3Env, seedDatabase } from './helpers.js';

afterAll(removeTempDirs);

describe('a corrupt object in the replica', () => {
  it('is detected, reported and retried, and never lands in the local file', async () => {
    ensureBuilt(); // the child runs dist/
    const dir = tempDir('hyd-corrupt');
    const prefix = uniquePrefix('hyd-corrupt');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 6 << 20);
    const store = new S3Store(testS3StoreOptions(prefix));
    try {
      await importDatabase(seed, store);
      const [snapshot] = await listReplica(store);
      const bytes = await store.get(snapshot.key);
      // Past the first pages (the query below reads those), well before the index.
      const at = Math.floor(bytes.length * 0.6);
      bytes[at] ^= 0x40;
      await store.put(snapshot.key, bytes);

      const local = path.join(dir, 'local', 'copy.db');
      const child = new Child('corrupt-reader.mjs', [replicaUrlVia(prefix, testS3Config().endpoint), local], s3Env());
      const row = (await child.line(/^row (.*)/))[1];
      expect(JSON.parse(row)).toEqual({ id: 7, v: 'seed-6' });
      const error = await child.line(/^error (\d+) (.*)/, 60_000);
      expect(error[2]).toContain(snapshot.key);
      expect(error[2]).toMatch(/corrupt/);
      expect(Number(error[1])).toBeGreaterThan(0); // retried, not given up
      const status = JSON.parse((await child.line(/^status (.*)/))[1]);
      expect(status).toMatchObject({ state: 'retrying', txid: null, switchedAfterMs: null });
      expect(status.lastError).toBe(error[2]);
      expect(status.percent).toBeLessThan(100);
      // Nothing at the path, no sidecar, and no temp file kept from a damaged object.
      expect((await child.line(/^exists (.*)/))[1]).toBe('false false false');
      // 'later' comes after the second row: waiting for it, not counting at once (the row
      // may still be in the pipe), and the query after the failure is answered remotely.
      const later = await child.line(/^later (.*) (true|false)$/);
      const rows = child.lines.filter((l) => l.startsWith('row '));
      expect(rows).toHaveLength(2);
      expect(JSON.parse(rows[1].slice(4))).toEqual({ id: 7, v: 'seed-6' });
      expect(JSON.parse(later[1]).state).not.toBe('local');
      expect(later[2]).toBe('false');
      expect((await child.exited).code).toBe(0);
      // The log says so too, with the key.
      const logged = child.stderr.split('\n').filter((l) => l.includes('hydration failed'));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged[0]).toContain(snapshot.key);
    } finally {
      await store.close();
    }
  });
});

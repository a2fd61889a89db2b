// Restart: a process hydrating a ~64 MiB replica (behind a proxy with 20 ms first-byte
// latency and a slow link, so kills land mid-download) is SIGKILLed at random moments,
// 20 times. Each restart resumes where the last left off (the bytes fetched over all
// runs stay close to one copy), no run ever leaves a file at the hydration path that
// is not complete, and the run that finishes ends identical to restore().
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrationTempPaths, readSidecar } from '../../src/hydrate/index.js';
import { importDatabase, listReplica, restore } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { prng } from '../support/prng.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { Child, replicaUrlVia, s3Env, seedDatabase } from './helpers.js';
import { ensureBuilt } from '../support/cli.js';

afterAll(removeTempDirs);

const KILLS = 20;

describe('hydration across SIGKILLs', () => {
  it(`resumes after each of ${KILLS} kills, never leaves a torn file, ends identical to restore()`, async () => {
    ensureBuilt(); // the child runs dist/
    const cfg = testS3Config();
    const dir = tempDir('hyd-restart');
    const prefix = uniquePrefix('hyd-restart');
    const seed = path.join(dir, 'seed.db');
    seedDatabase(seed, 64 << 20);
    const direct = new S3Store(testS3StoreOptions(prefix));
    await importDatabase(seed, direct);
    const ltxBytes = (await listReplica(direct)).reduce((s, f) => s + f.size, 0);
    const expected = path.join(dir, 'expected.db');
    await restore(direct, {}, expected, { integrityCheck: false });
    const want = readFileSync(expected);
    const local = path.join(dir, 'local', 'copy.db');
    const proxy = await FaultProxy.start(cfg.endpoint, { latencyMs: 20, bandwidthBytesPerSec: 1 << 20 });
    const url = replicaUrlVia(prefix, proxy.endpoint);
    const random = prng(7);

    /** A file at the hydration path is complete: its sidecar is there and it is the database. */
    const checkNoTornFile = () => {
      if (!existsSync(local)) return expect(readSidecar(local)).toBeNull();
      expect(readSidecar(local)).not.toBeNull();
      expect(Buffer.compare(readFileSync(local), want)).toBe(0);
    };

    try {
      const resumedFrom: number[] = [];
      let killed = 0;
      let lastDone = 0;
      for (let i = 0; i < KILLS; i++) {
        checkNoTornFile();
        const child = new Child('hydrating-reader.mjs', [url, local], s3Env());
        try {
          // Queries are answered before the download is done; then it is killed mid-way.
          expect((await child.line(/^row (.*)/))[1]).toMatch(/"id":7/);
          const first = await child.line(/^progress fetch (\d+) (\d+)/);
          resumedFrom.push(Number(first[1]));
          await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 600)));
          child.kill();
          const exit = await child.exited;
          expect(child.lines.find((l) => l.startsWith('switched'))).toBeUndefined();
          expect(exit.signal).toBe('SIGKILL');
          killed++;
          const done = child.lines.map((l) => /^progress fetch (\d+)/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
          lastDone = Math.max(lastDone, ...done);
        } finally {
          child.kill();
        }
      }
      checkNoTornFile();
      expect(killed).toBe(KILLS);
      // Every restart after the first started from what earlier runs had finished.
      expect(resumedFrom[0]).toBe(0);
      expect(resumedFrom.slice(1).every((b, i) => b >= resumedFrom[i])).toBe(true);
      expect(resumedFrom[KILLS - 1]).toBeGreaterThan(ltxBytes * 0.1);
      expect(lastDone).toBeLessThan(ltxBytes); // it really was killed mid-download every time

      // The last run, at full speed, finishes from there.
      proxy.set({ latencyMs: 0, bandwidthBytesPerSec: 0 });
      const last = new Child('hydrating-reader.mjs', [url, local], s3Env());
      const sw = await last.line(/^switched (\d+) (\d+)/);
      await last.line(/^rows \d+ local true/);
      expect((await last.exited).code).toBe(0);
      expect(Number(sw[2])).toBeLessThan(ltxBytes - resumedFrom[KILLS - 1] + (4 << 20));

      expect(Buffer.compare(readFileSync(local), want)).toBe(0);
      expect(readSidecar(local)!.txid).toBe(BigInt(sw[1]));
      expect(existsSync(hydrationTempPaths(local).tmp)).toBe(false);
      // All runs together fetched about one copy: each kill lost the pieces in flight (a
      // partial 64 KiB piece per connection, and what the link had sent ahead) and each
      // restart re-read the listing, the plan's tails and the query's pages (~0.8 MB for
      // this database: with 20 restarts, a quarter of a copy).
      const fetched = proxy.stats().bytesOut;
      expect(fetched).toBeLessThan(ltxBytes * 1.75);
      process.stderr.write(`[restart] ltx ${ltxBytes} bytes; fetched over ${KILLS + 1} runs ${fetched} (${(fetched / ltxBytes).toFixed(2)}x); resumed from ${resumedFrom.join(',')}\n`);
    } finally {
      await proxy.close();
      await direct.close();
    }
  }, 150_000);
});

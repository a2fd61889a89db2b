// Interrupted hydrations resume: after an abort (AbortSignal) mid-way the next call
// fetches only what is left; a process SIGKILLed at random moments several times
// never leaves a file at the final path, and the run that finishes is identical to
// restore, with total bytes fetched over all runs close to one copy.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hydrate, hydrationTempPaths, isHydrationError, readSidecar } from '../../src/hydrate/index.js';
import { listReplica } from '../../src/replica/index.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { prng } from '../support/prng.js';
import { testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { makeReplica, restored } from './helpers.js';

afterAll(removeTempDirs);

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/hydrate-child.ts');

describe('resume', () => {
  it('after an abort mid-way, the next hydrate fetches only what is left', async () => {
    const dir = tempDir('hyd-abort');
    const prefix = uniquePrefix('hyd-abort');
    const direct = new S3Store(testS3StoreOptions(prefix));
    await makeReplica(direct, dir, { bytes: 8 << 20, steps: 3, checksums: false });
    const ltxBytes = (await listReplica(direct)).reduce((s, f) => s + f.size, 0);
    // Slow links so the abort lands mid-way.
    const proxy = await FaultProxy.start(testS3Config().endpoint, { bandwidthBytesPerSec: 1 << 20 });
    const store = new S3Store(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    try {
      const out = path.join(dir, 'h.db');
      const ac = new AbortController();
      const err = await hydrate({
        store,
        path: out,
        chunkBytes: 256 << 10,
        concurrency: 4,
        signal: ac.signal,
        onProgress: (p) => p.phase === 'fetch' && p.bytesDone > p.bytesTotal * 0.5 && ac.abort(),
      }).catch((e: unknown) => e);
      expect(isHydrationError(err, 'HYDRATE_ABORTED')).toBe(true);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(hydrationTempPaths(out).journal)).toBe(true);
      const first = store.stats().get.bytes;
      expect(first).toBeGreaterThan(ltxBytes * 0.5);

      proxy.set({ bandwidthBytesPerSec: 0 });
      const f = await hydrate({ store, path: out, chunkBytes: 256 << 10, concurrency: 4 });
      const second = store.stats().get.bytes - first;
      expect(f.stats!.bytesResumed).toBeGreaterThan(ltxBytes * 0.5);
      expect(second).toBeLessThan(ltxBytes * 0.5);
      expect(first + second).toBeLessThan(ltxBytes * 1.15);
      expect(Buffer.compare(readFileSync(out), await restored(direct, dir))).toBe(0);
      expect(readSidecar(out)!.txid).toBe(4n);
    } finally {
      await store.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('SIGKILL at random moments: never a file at the final path until done; resumes; identical to restore', async () => {
    const dir = tempDir('hyd-kill');
    const prefix = uniquePrefix('hyd-kill');
    const direct = new S3Store(testS3StoreOptions(prefix));
    await makeReplica(direct, dir, { bytes: 10 << 20, steps: 3, checksums: true });
    const ltxBytes = (await listReplica(direct)).reduce((s, f) => s + f.size, 0);
    const proxy = await FaultProxy.start(testS3Config().endpoint, { bandwidthBytesPerSec: 512 << 10 });
    const chunkBytes = 128 << 10;
    const options = JSON.stringify(testS3StoreOptions(prefix, { endpoint: proxy.endpoint }));
    const out = path.join(dir, 'h.db');
    const random = prng(42);
    const run = (killAfterMs: number | null) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD, options, out, String(chunkBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        let armed = false;
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          // Kill only once it is fetching, at a random moment after that.
          if (killAfterMs !== null && !armed && /^fetch /m.test(text)) {
            armed = true;
            setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          }
        });
        child.on('exit', (code) => resolve({ code, out: text }));
      });
    try {
      let kills = 0;
      let finished: { code: number | null; out: string } | null = null;
      for (let i = 0; i < 6; i++) {
        const r = await run(Math.floor(random() * 1500));
        if (r.code === 0) {
          finished = r;
          break;
        }
        kills++;
        if (existsSync(out)) {
          // Killed after its rename, on the way out: then the file is complete (the next
          // call writes a sidecar the kill cut off); it is never a partial file.
          expect(Buffer.compare(readFileSync(out), await restored(direct, dir))).toBe(0);
          break;
        }
        expect(readSidecar(out)).toBeNull();
      }
      proxy.set({ bandwidthBytesPerSec: 0 });
      finished ??= await run(null);
      expect(finished.code).toBe(0);
      expect(finished.out).toMatch(/^done 4 /m);
      expect(kills).toBeGreaterThanOrEqual(3);
      expect(Buffer.compare(readFileSync(out), await restored(direct, dir))).toBe(0);
      // Each kill loses the pieces in flight (4 × 128 KiB at most, partial), what the link had
      // sent ahead of the reader, and a little metadata; never the rest of a run (up to 8 MiB).
      const fetched = proxy.stats().bytesOut;
      process.stderr.write(`[resume] ltx ${ltxBytes} bytes; fetched over ${kills + 1} runs ${fetched} (${kills} kills, ${((fetched - ltxBytes) / Math.max(1, kills) / 1024).toFixed(0)} KiB lost per kill)\n`);
      expect(fetched).toBeLessThan(ltxBytes + kills * (4 * chunkBytes + (192 << 10)));
      expect(existsSync(hydrationTempPaths(out).tmp)).toBe(false);
    } finally {
      await direct.close();
      await proxy.close();
    }
  });
});

// The process's one I/O worker: every SyncStore talks to it over a channel of its own,
// so a second store (a second database) starts no thread, and closing one store leaves
// the others answering.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workersSpawned } from '../../src/io/host.js';
import { SyncStore } from '../../src/io/sync-store.js';

function replica(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-one-worker-'));
  writeFileSync(path.join(dir, 'k'), name);
  return pathToFileURL(dir).href;
}

describe('one I/O worker per process', () => {
  it('three stores on two replicas share one worker; closing one leaves the others', async () => {
    const [a, b] = [replica('a'), replica('b')];
    const before = workersSpawned();
    const stores = [new SyncStore(a), new SyncStore(b), new SyncStore(a)];
    try {
      expect(stores.map((s) => Buffer.from(s.getSync('k')).toString())).toEqual(['a', 'b', 'a']);
      expect(workersSpawned() - before).toBeLessThanOrEqual(1); // 0 when an earlier store started it
      await stores[0].close();
      expect(Buffer.from(stores[1].getSync('k')).toString()).toBe('b');
      expect(Buffer.from(stores[2].getSync('k')).toString()).toBe('a');
      expect(stores.slice(1).map((s) => s.ioStats().restarts)).toEqual([0, 0]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a worker replaced for one store (it hung) is replaced for all: the others go on, on the new one', () => {
    const url = replica('c');
    const s1 = new SyncStore(url, { testHooks: true, hangMs: 1_000, timeoutMs: 30_000 });
    const s2 = new SyncStore(url);
    try {
      expect(Buffer.from(s2.getSync('k')).toString()).toBe('c');
      expect(() => s1.testSync({ kind: 'block', ms: 20_000 })).toThrow(/heartbeat/);
      expect(Buffer.from(s2.getSync('k')).toString()).toBe('c');
      expect(s2.ioStats().restarts).toBe(1);
    } finally {
      void s1.close();
      void s2.close();
    }
  });
});

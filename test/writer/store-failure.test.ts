// The store fails for a while: a writer process behind the FaultProxy that answers
// every request with a 503 or a TCP reset for 10 s (the 30 s scaled down).
// Commits keep succeeding locally and the writer reports 'failing'; afterwards the
// syncer catches up, with no duplicate or missing TXID in L0 or L1. A follower
// process... here a follower connection (read-only open(), pollInterval 200 ms, on
// the store directly) sees a committed row within 3 s, measured before the outage
// and after the catch-up. `ltxvfs ltx verify` passes on every file in the replica.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open, type ReplicaDatabase } from '../../src/open.js';
import { listLevel, listReplica } from '../../src/replica/index.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { cli } from '../support/cli.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { testS3Config } from '../support/s3.js';
import { checkOf, killChildren, Ledger, runChild, s3Replica } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

const OUTAGE_MS = 10_000;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('the writer while the store fails', () => {
  it('commits go on locally, the sync catches up with no duplicate or missing TXID, a follower sees commits within 3 s', async () => {
    const cfg = testS3Config();
    const proxy = await FaultProxy.start(cfg.endpoint, { seed: 17 });
    const direct = s3Replica('outage');
    const viaProxy = { ...direct, url: direct.url.replace(encodeURIComponent(cfg.endpoint), encodeURIComponent(proxy.endpoint)) };
    expect(viaProxy.url).not.toBe(direct.url);
    const ledger = new Ledger();
    const acks: { seq: number; at: number }[] = [];
    const statuses: { at: number; state: string; unsynced: number; synced: bigint; committed: bigint }[] = [];
    let follower: ReplicaDatabase | null = null;
    const lags: number[] = [];
    try {
      const child = runChild(
        { url: viaProxy.url, bufferPath: tempDir('outage-buf'), syncInterval: 200, seed: 41, pauseMs: 15, durationMs: 4_000 + OUTAGE_MS + 12_000, statusEveryMs: 100, noLarge: true, final: true },
        viaProxy.env,
        {
          guardMs: 90_000,
          onLine: (line) => {
            ledger.line(line);
            const f = line.split(' ');
            if (f[0] === 'ack') acks.push({ seq: Number(f[1]), at: Date.now() });
            if (f[0] === 'status') statuses.push({ at: Date.now(), state: f[1], unsynced: Number(f[2]), synced: BigInt(f[4]), committed: BigInt(f[5]) });
          },
        },
      );
      // A follower, reading the store directly (not through the failing proxy).
      while (!statuses.some((s) => s.synced > 0n)) await sleep(50);
      follower = await open({ replicaUrl: direct.url, s3: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey }, pollInterval: 200, logLevel: 'warn' });
      const f = follower;
      // One measurement: the next commit the writer acknowledges from now, until the follower reads it.
      const sample = async () => {
        const from = Date.now();
        let target: { seq: number; at: number } | undefined;
        while (!(target = acks.find((a) => a.at >= from))) {
          if (Date.now() - from > 10_000) throw new Error('the writer acknowledged nothing for 10 s');
          await sleep(5);
        }
        for (;;) {
          const seen = (f.get("SELECT max(seq) AS m FROM log WHERE w = 'A'") as { m: number | null }).m ?? 0;
          if (seen >= target.seq) return lags.push(Date.now() - target.at);
          if (Date.now() - target.at > 10_000) return lags.push(Infinity);
          await sleep(20);
        }
      };
      for (let i = 0; i < 3; i++) await sample();

      // The outage.
      const outageStart = Date.now();
      proxy.set({ errorRate: 0.5, resetRate: 0.5 });
      await sleep(OUTAGE_MS);
      proxy.set({ errorRate: 0, resetRate: 0 });
      const outageEnd = Date.now();
      const during = acks.filter((a) => a.at > outageStart + 1_000 && a.at < outageEnd);
      expect(during.length, 'commits acknowledged during the outage').toBeGreaterThan(20);
      const failing = statuses.filter((s) => s.at > outageStart + 1_000 && s.at < outageEnd);
      expect(failing.some((s) => s.state === 'failing' && s.unsynced > 0), 'the writer reported failing syncs and unsynced bytes').toBe(true);
      expect(proxy.stats().faults.error503 + proxy.stats().faults.resetBefore + proxy.stats().faults.resetAfter).toBeGreaterThan(0);

      // Catch-up: the writer gets back to idle with nothing unsynced while still committing.
      while (!statuses.some((s) => s.at > outageEnd && s.state === 'idle' && s.synced >= (statuses.find((x) => x.at > outageEnd)?.committed ?? 0n))) {
        if (Date.now() - outageEnd > 30_000) throw new Error(`no catch-up 30 s after the outage; last status ${JSON.stringify(statuses[statuses.length - 1], (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        await sleep(100);
      }
      for (let i = 0; i < 3; i++) await sample();
      const r = await child;
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      checkOf(r);
      const synced = BigInt(r.lines.find((l) => l.startsWith('synced '))!.split(' ')[1]);
      expect(synced).toBe(ledger.ackTxid.get(ledger.acked));

      // The follower saw a committed row within 3 s every time (measured: commit returned → row visible).
      expect(lags.length).toBe(6);
      expect(Math.max(...lags), `follower lags ${lags.join(', ')} ms`).toBeLessThan(3_000);
      await f.refresh();
      await sleep(300);
      expect((f.get("SELECT max(seq) AS m FROM log WHERE w = 'A'") as { m: number }).m).toBe(ledger.acked);

      // No duplicate or missing TXID: each level's files follow one another from TXID 1 (L0) without gap or overlap.
      const store = direct.store();
      try {
        for (const level of [0, 1]) {
          const files = await listLevel(store, level);
          if (level === 0) expect(files[0].minTXID).toBe(1n);
          for (let i = 1; i < files.length; i++) expect(files[i].minTXID, files[i].key).toBe(files[i - 1].maxTXID + 1n);
          if (level === 0) expect(files[files.length - 1].maxTXID).toBe(synced);
        }
        // `ltxvfs ltx verify` on every file in the replica.
        const all = await listReplica(store);
        const dir = tempDir('outage-ltx');
        const paths: string[] = [];
        for (const file of all) {
          const p = path.join(dir, `L${file.level}`, path.basename(file.key));
          mkdirSync(path.dirname(p), { recursive: true });
          writeFileSync(p, await store.get(file.key));
          paths.push(p);
        }
        const v = cli(['ltx', 'verify', '--json', ...paths]);
        expect(v.code, v.out + v.err).toBe(0);
        expect((JSON.parse(v.out) as { ok: boolean }[]).filter((x) => x.ok).length).toBe(all.length);
      } finally {
        await store.close();
      }
      process.stdout.write(`[store-failure] follower lag ms ${lags.join(', ')}; commits during outage ${during.length}; proxy ${JSON.stringify(proxy.stats().faults)}\n`);
    } finally {
      await follower?.close();
      await proxy.close();
    }
  }, 120_000);
});

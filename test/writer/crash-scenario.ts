// The crash scenario of crash.test.ts and crash-s3.test.ts: a writer process running
// seeded random transactions is SIGKILLed at random moments, again and again, on one
// replica and one buffer. After each restart the child itself checks integrity and
// the invariants (no partial transaction) and reports its log; here we check that
// every acknowledged transaction is in it, in order, as the child described it.
// Every 5 runs `ltxvfs compact` runs between a kill and the next start, as the
// writer's own compaction would have (its children live too briefly to reach it).
// At the end a clean run syncs, and `ltxvfs restore` must give the writer's view of
// the file byte for byte; `ltxvfs ltx verify` must pass on every file it wrote.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { listReplica } from '../../src/replica/index.js';
import { tempDir } from '../replica/helpers.js';
import { cli } from '../support/cli.js';
import { prng } from '../support/prng.js';
import { Ledger, checkOf, runChild, sha256, type Replica } from './helpers.js';

/** `kills` SIGKILLs on `replica`, sync intervals drawn from `syncMs` [lo, hi]. */
export async function crashScenario(replica: Replica, kills: number, seed: number, syncMs: [number, number] = [50, 300]): Promise<void> {
  const bufferPath = tempDir('crash-buffer');
  const rand = prng(seed);
  const ledger = new Ledger();
  const recoveries = new Set<string>();
  let acksInRuns = 0;
  for (let i = 0; i < kills; i++) {
    const task = { url: replica.url, bufferPath, syncInterval: syncMs[0] + Math.floor(rand() * (syncMs[1] - syncMs[0])), seed: seed * 1000 + i, pauseMs: 1 + Math.floor(rand() * 8) };
    // Half the kills come soon after the first commit (often before its upload), the rest later (during or after uploads).
    const afterMs = rand() < 0.5 ? Math.floor(rand() * 150) : 150 + Math.floor(rand() * 900);
    const ackedBefore = ledger.acked;
    const t0 = Date.now();
    let opened = false;
    const r = await runChild(task, replica.env, {
      kill: { after: 1, afterMs },
      onLine: (line) => {
        if (line.startsWith('check ok ')) {
          opened = true;
          ledger.opened(Number(line.split(' ')[2]));
        }
        if (opened) ledger.line(line);
      },
    });
    const where = `run ${i} (sync ${task.syncInterval} ms, kill ${afterMs} ms after the first ack)`;
    expect(r.signal, `${where}: ${r.stderr.slice(-2000)}`).toBe('SIGKILL');
    const open = r.lines.find((l) => l.startsWith('open '))!.split(' ');
    expect(open[1], `${where}: recovery set commits aside`).not.toBe('set-aside');
    recoveries.add(open[1]);
    const c = checkOf(r);
    // Every acknowledged transaction of earlier runs is there, and nothing the child did not intend.
    expect(c.maxSeq, where).toBeGreaterThanOrEqual(ackedBefore);
    expect(c.digest, where).toBe(ledger.digest(c.maxSeq));
    acksInRuns += r.lines.filter((l) => l.startsWith('ack ')).length;
    // A writer compacts every 30 s; these live a second or two. Compact between runs as it
    // would (and as `ltxvfs compact` does), so that opens read a dozen files, not hundreds.
    if (i % 5 === 4) {
      const c = cli(['compact', replica.url], { env: { ...process.env, ...replica.env } });
      expect(c.code, `${where}: ltxvfs compact: ${c.err}`).toBe(0);
    }
    process.stderr.write(`[crash ${replica.kind}] ${where}: ${open[1]}, log at ${c.maxSeq}, ${r.lines.filter((l) => l.startsWith('ack ')).length} acks, ${Date.now() - t0} ms\n`);
  }
  // Killed with commits still in the buffer (before or during an upload) and with none (after one).
  expect([...recoveries].sort(), 'recovery states seen').toEqual(['clean', 'pending']);
  expect(acksInRuns).toBeGreaterThan(kills);

  // A clean run: check, a few more transactions, sync, the writer's view of the file.
  const ackedBefore = ledger.acked;
  const fin = await runChild({ url: replica.url, bufferPath, syncInterval: 100, seed: seed * 1000 + kills, maxTx: 10, final: true }, replica.env, {
    onLine: (line) => {
      if (line.startsWith('check ok ')) ledger.opened(Number(line.split(' ')[2]));
      ledger.line(line);
    },
  });
  expect(fin.code, fin.stderr.slice(-2000)).toBe(0);
  const c = checkOf(fin);
  expect(c.maxSeq).toBeGreaterThanOrEqual(ackedBefore);
  expect(c.digest).toBe(ledger.digest(c.maxSeq));
  const image = fin.lines.find((l) => l.startsWith('image '))!.split(' ');
  const synced = BigInt(fin.lines.find((l) => l.startsWith('synced '))!.split(' ')[1]);
  expect(synced).toBe(ledger.ackTxid.get(ledger.acked));

  // `ltxvfs restore` gives the writer's view byte for byte.
  const out = path.join(tempDir('crash-restore'), 'restored.db');
  const restored = cli(['restore', replica.url, '-o', out, '--json'], { env: { ...process.env, ...replica.env } });
  expect(restored.code, restored.err).toBe(0);
  expect(JSON.parse(restored.out).txid).toBe(synced.toString());
  const bytes = readFileSync(out);
  expect(bytes.length).toBe(Number(image[1]));
  expect(sha256(bytes)).toBe(image[2]);

  // `ltxvfs ltx verify` on every file in the replica (the writer's L0 files and whatever compaction made of them).
  const store = replica.store();
  try {
    const files = await listReplica(store);
    expect(files.filter((f) => f.level === 0).length).toBeGreaterThan(0);
    const dir = tempDir('crash-ltx');
    const paths = await Promise.all(
      files.map(async (f) => {
        const p = path.join(dir, `L${f.level}`, path.basename(f.key));
        mkdirSync(path.dirname(p), { recursive: true });
        writeFileSync(p, await store.get(f.key));
        return p;
      }),
    );
    const v = cli(['ltx', 'verify', '--json', ...paths]);
    expect(v.code, v.out + v.err).toBe(0);
    const results = JSON.parse(v.out) as { ok: boolean }[];
    expect(results.length).toBe(files.length);
    expect(results.every((x) => x.ok)).toBe(true);
  } finally {
    await store.close();
  }
}

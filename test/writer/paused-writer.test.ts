// Issue 12: a paused writer that resumes must not poison the replica. Writer A (a
// process) acknowledges three commits, keeps them in its buffer and is SIGSTOPped (a
// suspended VM); writer B opens on the same replica and syncs six commits, one L0
// file each. The three commits of A share one TXID (one TXID is one upload), base+1,
// so A's upload, resumed, is base+1-base+1: B's first file's key. If-None-Match
// refuses it, A sees a different file there and is fenced, its commits kept; the
// replica is B's history untouched, and a restore passes its checksum check with B's
// bytes. (Where A's key is free again, its file lands and is removed by the checksum
// check: test/writer/fenced-cleanup.test.ts.)
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTXID, hasChecksums } from '../../src/ltx/index.js';
import { listReplica, planRestore, readLtxHeader, restore } from '../../src/replica/index.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { fileReplica, killChildren, runChild, s3Replica, sha256 } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

describe.each([
  ['file', () => fileReplica('paused')],
  ['s3', () => s3Replica('paused')],
] as const)('a paused writer that resumes (%s)', (_kind, make) => {
  it('is fenced by If-None-Match on the key B already wrote; the replica restores the winner’s state, checksums verified', async () => {
    const replica = make();
    const seed = await runChild({ url: replica.url, bufferPath: tempDir('paused-seed'), syncInterval: 100, seed: 1, writer: 'S', maxTx: 3, noLarge: true, final: true }, replica.env);
    expect(seed.code, seed.stderr).toBe(0);

    // A: three commits, acknowledged and unsynced (its next sync is a minute away), then stopped.
    const hold = path.join(tempDir('paused-hold'), 'go');
    let a!: ChildProcess;
    let held!: (line: string) => void;
    const heldLine = new Promise<string>((ok) => (held = ok));
    const aRun = runChild(
      { url: replica.url, bufferPath: tempDir('paused-a'), syncInterval: 60_000, seed: 2, writer: 'A', maxTx: 3, noLarge: true, hold, final: true },
      replica.env,
      {
        onSpawn: (c) => (a = c),
        onLine: (line) => {
          if (!line.startsWith('held ')) return;
          a.kill('SIGSTOP');
          held(line);
        },
      },
    );
    const [, syncedText, committedText] = (await heldLine).split(' ');
    const base = BigInt(syncedText);
    const aMax = BigInt(committedText);
    expect(aMax - base).toBe(1n); // three commits, one pending TXID

    // B takes over: opens at the same base, six commits, one file each.
    const b = await runChild({ url: replica.url, bufferPath: tempDir('paused-b'), syncInterval: 50, seed: 3, writer: 'B', maxTx: 6, noLarge: true, syncEach: true, final: true }, replica.env);
    expect(b.code, b.stderr).toBe(0);
    expect(b.lines[0].split(' ').slice(2)).toEqual([String(base), String(base)]); // B opened at A's base
    const [, , imageSha] = b.lines.find((l) => l.startsWith('image '))!.split(' ');
    const store = replica.store();
    try {
      const after = (await listReplica(store)).filter((f) => f.maxTXID > base).sort((x, y) => Number(x.minTXID - y.minTXID));
      expect(after.map((f) => `${f.level}:${f.minTXID - base}-${f.maxTXID - base}`)).toEqual(['0:1-1', '0:2-2', '0:3-3', '0:4-4', '0:5-5', '0:6-6']);
      for (const f of after) expect(hasChecksums(await readLtxHeader(store, f.key)), f.key).toBe(true);
      const sums = new Map<string, string>();
      for (const f of after) sums.set(f.key, sha256(await store.get(f.key)));

      // A resumes and uploads base+1..base+1: B's first file holds that key.
      writeFileSync(hold, '');
      a.kill('SIGCONT');
      const ra = await aRun;
      expect(ra.code, ra.stderr).toBe(3);
      const aName = `${formatTXID(base + 1n)}-${formatTXID(aMax)}.ltx`;
      expect(aName).toBe(path.basename(after[0].key));
      expect(ra.stderr).toMatch(new RegExp(`writer A stopped: second writer on .*${aName} was written by another writer \\(the conditional put of TXIDs ${base + 1n}\\.\\.${aMax} failed`));
      const fenced = JSON.parse(ra.lines.find((l) => l.startsWith('fenced '))!.replace(/^fenced \d+ /, '')) as { state: string; synced: string; committed: string };
      expect(fenced).toMatchObject({ state: 'fenced', synced: String(base), committed: String(aMax) });

      // B's files are there, byte for byte; the plan is B's history; a restore verifies and gives B's bytes.
      const now = (await listReplica(store)).filter((f) => f.maxTXID > base);
      expect(now.map((f) => f.key).sort()).toEqual([...sums.keys()].sort());
      for (const f of now) expect(sha256(await store.get(f.key)), f.key).toBe(sums.get(f.key));
      const plan = await planRestore(store);
      expect(plan.txid).toBe(base + 6n);
      const out = path.join(tempDir('paused-out'), 'db');
      const r = await restore(store, {}, out, { plan });
      expect(r.checksumVerified).toBe(true);
      expect(sha256(readFileSync(out))).toBe(imageSha);
    } finally {
      await store.close();
    }
  }, 120_000);
});

// Issue 12: a paused writer that resumes must not poison the replica. Writer A (a
// process) acknowledges three commits, keeps them in its buffer and is SIGSTOPped (a
// suspended VM); writer B opens on the same replica and syncs six commits, one L0
// file each. The three commits of A share one TXID (one TXID is one upload), base+1,
// so A's upload, resumed, is base+1-base+1: B's first file's key. If-None-Match
// refuses it, A sees a different file there and is fenced, its commits kept; the
// replica is B's history untouched, and a restore passes its checksum check with B's
// bytes. Where a compaction pass freed A's key meanwhile (B's L0 file merged into L1
// and deleted), A's file lands right before B's next file; the checksums (B's record)
// show that file does not continue A's, so A removes its own.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTXID, hasChecksums } from '../../src/ltx/index.js';
import { compactOnce } from '../../src/compact/index.js';
import { layoutFor, listReplica, planRestore, readLtxHeader, restore, type RestorePlan } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { quiet } from '../sync/helpers.js';
import { removeTempDirs, tempDir } from '../replica/helpers.js';
import { fileReplica, killChildren, type Replica, runChild, s3Replica, sha256 } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

describe.each([
  ['file', () => fileReplica('paused')],
  ['s3', () => s3Replica('paused')],
] as const)('a paused writer that resumes (%s)', (_kind, make) => {
  /** A seeded replica and writer A: three commits, acknowledged and unsynced (its next sync is a minute away), then stopped. */
  async function pausedA(replica: Replica) {
    const seed = await runChild({ url: replica.url, bufferPath: tempDir('paused-seed'), syncInterval: 100, seed: 1, writer: 'S', maxTx: 3, noLarge: true, final: true }, replica.env);
    expect(seed.code, seed.stderr).toBe(0);
    const hold = path.join(tempDir('paused-hold'), 'go');
    let a!: ChildProcess;
    let held!: (line: string) => void;
    const heldLine = new Promise<string>((ok) => (held = ok));
    const run = runChild(
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
    const resume = async () => {
      writeFileSync(hold, '');
      a.kill('SIGCONT');
      const ra = await run;
      expect(ra.code, ra.stderr).toBe(3);
      const fenced = JSON.parse(ra.lines.find((l) => l.startsWith('fenced '))!.replace(/^fenced \d+ /, '')) as { state: string; synced: string; committed: string };
      expect(fenced).toMatchObject({ state: 'fenced', synced: String(base), committed: String(aMax) });
      return ra;
    };
    return { base, aMax, aName: `${formatTXID(base + 1n)}-${formatTXID(aMax)}.ltx`, resume };
  }

  /** B takes over: opens at A's base, `n` commits, one file each; returns the sha256 of its view of the database. */
  async function writerB(replica: Replica, base: bigint, n: number): Promise<string> {
    const b = await runChild({ url: replica.url, bufferPath: tempDir('paused-b'), syncInterval: 50, seed: 3, writer: 'B', maxTx: n, noLarge: true, syncEach: true, final: true }, replica.env);
    expect(b.code, b.stderr).toBe(0);
    expect(b.lines[0].split(' ').slice(2)).toEqual([String(base), String(base)]); // B opened at A's base
    return b.lines.find((l) => l.startsWith('image '))!.split(' ')[2];
  }

  async function restoresTo(store: ObjectStore, txid: bigint, imageSha: string): Promise<RestorePlan> {
    const plan = await planRestore(store);
    expect(plan.txid).toBe(txid);
    const out = path.join(tempDir('paused-out'), 'db');
    const r = await restore(store, {}, out, { plan });
    expect(r.checksumVerified).toBe(true);
    expect(sha256(readFileSync(out))).toBe(imageSha);
    return plan;
  }

  it('is fenced by If-None-Match on the key B already wrote; the replica restores the winner’s state, checksums verified', async () => {
    const replica = make();
    const { base, aMax, aName, resume } = await pausedA(replica);
    const imageSha = await writerB(replica, base, 6);
    const store = replica.store();
    try {
      const after = (await listReplica(store)).filter((f) => f.maxTXID > base).sort((x, y) => Number(x.minTXID - y.minTXID));
      expect(after.map((f) => `${f.level}:${f.minTXID - base}-${f.maxTXID - base}`)).toEqual(['0:1-1', '0:2-2', '0:3-3', '0:4-4', '0:5-5', '0:6-6']);
      for (const f of after) expect(hasChecksums(await readLtxHeader(store, f.key)), f.key).toBe(true);
      const sums = new Map<string, string>();
      for (const f of after) sums.set(f.key, sha256(await store.get(f.key)));

      // A resumes and uploads base+1..base+1: B's first file holds that key.
      expect(aName).toBe(path.basename(after[0].key));
      const ra = await resume();
      expect(ra.stderr).toMatch(new RegExp(`writer A stopped: second writer on .*${aName} was written by another writer \\(the conditional put of TXIDs ${base + 1n}\\.\\.${aMax} failed`));

      // B's files are there, byte for byte; the plan is B's history; a restore verifies and gives B's bytes.
      const now = (await listReplica(store)).filter((f) => f.maxTXID > base);
      expect(now.map((f) => f.key).sort()).toEqual([...sums.keys()].sort());
      for (const f of now) expect(sha256(await store.get(f.key)), f.key).toBe(sums.get(f.key));
      await restoresTo(store, base + 6n, imageSha);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('where compaction freed its key, its file lands beside B’s next one, is found not to continue into it, and is removed', async () => {
    const replica = make();
    const { base, aMax, aName, resume } = await pausedA(replica);
    const imageSha = await writerB(replica, base, 2);
    const store = replica.store();
    try {
      // A compaction pass merges B's files into L1 and lets the L0 files go but the newest (base+2).
      const report = await compactOnce(store, { policy: { l0RetentionMs: 0, readerGraceMs: 0 }, log: quiet });
      const aKey = layoutFor(store).fileKey(0, base + 1n, aMax);
      expect(report.deleted.map((f) => f.key)).toContain(aKey);
      const l0 = (await listReplica(store)).filter((f) => f.level === 0);
      expect(l0.map((f) => `${f.minTXID - base}-${f.maxTXID - base}`)).toEqual(['2-2']); // starts right after A's base+1

      // A resumes: its base+1 lands; B's base+2 does not continue it (its recorded pre-apply checksum is not A's).
      const ra = await resume();
      expect(ra.stderr).toMatch(new RegExp(`writer A stopped: second writer on .*our [^ ]*${aName} was removed`));
      expect((await listReplica(store)).map((f) => f.key)).not.toContain(aKey);
      const plan = await restoresTo(store, base + 2n, imageSha);
      expect(plan.files.map((f) => f.key)).not.toContain(aKey);
    } finally {
      await store.close();
    }
  }, 120_000);
});

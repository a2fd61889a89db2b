// Two writer processes on one replica, each with its own buffer (two machines):
// exactly one keeps writing, the other stops with the second-writer error; no L0 key
// is ever overwritten (watched while they run, and against what each writer logged
// it uploaded); nothing either acknowledged is silently gone: the winner's commits
// are all in the replica, the loser's are in the replica or reported as kept in its
// buffer (and set aside, with a reason, when it reopens).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hex64 } from '../../src/ltx/index.js';
import { open } from '../../src/open.js';
import { listLevel } from '../../src/replica/index.js';
import { bufferDirFor } from '../../src/writer.js';
import { removeTempDirs, storedFileChecksum, tempDir } from '../replica/helpers.js';
import { checkOf, type ChildResult, fileReplica, killChildren, Ledger, type Replica, runChild, s3Replica } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

/** The `synced` debug lines a child's syncer logged: key → file checksum. */
function uploadsOf(r: ChildResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of r.stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const o = JSON.parse(line) as { msg?: string; key?: string; fileChecksum?: string };
    if (o.msg === 'synced' && o.key && o.fileChecksum) out.set(o.key, o.fileChecksum);
  }
  return out;
}

async function tailSum(replica: Replica, key: string): Promise<string | null> {
  const store = replica.store();
  try {
    return hex64(await storedFileChecksum(store, key));
  } catch {
    return null; // deleted meanwhile (a loser removes its file)
  } finally {
    await store.close();
  }
}

describe.each([
  ['file', () => fileReplica('two')],
  ['s3', () => s3Replica('two')],
] as const)('two writer processes on one replica (%s)', (_kind, make) => {
  it('exactly one keeps writing; the other stops with the second-writer error; no key overwritten; nothing acknowledged lost', async () => {
    const replica = make();
    // The database both start from.
    const seed = await runChild({ url: replica.url, bufferPath: tempDir('two-seed'), syncInterval: 100, seed: 1, writer: 'S', maxTx: 3, final: true }, replica.env);
    expect(seed.code, seed.stderr).toBe(0);

    // Watch L0 while they run: the first checksum seen for each key must never change.
    const seen = new Map<string, string>();
    let watching = true;
    const watcher = (async () => {
      const store = replica.store();
      try {
        while (watching) {
          for (const f of await listLevel(store, 0)) {
            if (seen.has(f.key)) continue;
            const sum = await tailSum(replica, f.key);
            if (sum !== null) seen.set(f.key, sum);
          }
          await new Promise((ok) => setTimeout(ok, 30));
        }
      } finally {
        await store.close();
      }
    })();

    const buffers = { A: tempDir('two-a'), B: tempDir('two-b') };
    const ledgers = { A: new Ledger(), B: new Ledger() };
    // Both open on the same base, then start writing together (as two machines would).
    const gate = path.join(tempDir('two-gate'), 'go');
    let ready = 0;
    const run = (w: 'A' | 'B') =>
      runChild({ url: replica.url, bufferPath: buffers[w], syncInterval: 100, seed: w === 'A' ? 2 : 3, writer: w, maxTx: 60, pauseMs: 2, noLarge: true, final: true, logLevel: 'debug', gate }, replica.env, {
        onLine: (line) => {
          ledgers[w].line(line);
          if (line === 'ready' && ++ready === 2) writeFileSync(gate, '');
        },
      });
    const [a, b] = await Promise.all([run('A'), run('B')]);
    watching = false;
    await watcher;

    const results = { A: a, B: b };
    const fenced = (['A', 'B'] as const).filter((w) => results[w].code === 3);
    expect(fenced.length, `exit codes A ${a.code} B ${b.code}; stderr A ${a.stderr.slice(-1500)} B ${b.stderr.slice(-1500)}`).toBe(1);
    const loser = fenced[0];
    const winner = loser === 'A' ? 'B' : 'A';
    const W = results[winner];
    const L = results[loser];
    // The winner went on to the end; the loser said why it stopped.
    expect(W.code, W.stderr.slice(-2000)).toBe(0);
    expect(W.lines).toContain('done');
    expect(W.stderr).not.toMatch(/second writer/i);
    expect(L.stderr).toMatch(new RegExp(`writer ${loser} stopped: .*second writer on .*this writer stopped accepting writes`));
    const fencedLine = L.lines.find((l) => l.startsWith('fenced '))!;
    const status = JSON.parse(fencedLine.slice(fencedLine.indexOf('{'))) as { state: string; synced: string; committed: string; unsyncedBytes: number };
    expect(status.state).toBe('fenced');

    // No key overwritten: what the watcher saw first is what is there now, and what each writer uploaded.
    const ups = { [winner]: uploadsOf(W), [loser]: uploadsOf(L) };
    expect(ups[winner].size).toBeGreaterThan(1);
    for (const [key, sum] of seen) {
      const now = await tailSum(replica, key);
      if (now !== null) expect(now, key).toBe(sum);
    }
    const store = replica.store();
    try {
      const l0 = await listLevel(store, 0);
      for (const f of l0) {
        const sum = await tailSum(replica, f.key);
        const by = [winner, loser].filter((w) => ups[w].get(f.key) === sum);
        const fromSeed = !ups[winner].has(f.key) && !ups[loser].has(f.key); // the seed run's files
        expect(by.length === 1 || fromSeed, `${f.key}: uploaded by ${by.join(',') || 'nobody we know'}`).toBe(true);
      }
      // One history: consecutive, no overlap.
      for (let i = 1; i < l0.length; i++) expect(l0[i].minTXID, l0[i].key).toBe(l0[i - 1].maxTXID + 1n);
    } finally {
      await store.close();
    }

    // Nothing acknowledged is gone: read the replica as a follower.
    const reader = await open({ replicaUrl: replica.url, s3: { accessKeyId: replica.env.AWS_ACCESS_KEY_ID, secretAccessKey: replica.env.AWS_SECRET_ACCESS_KEY }, pollInterval: 3_600_000 });
    let present: { w: string; max: number }[];
    try {
      present = reader.all('SELECT w, max(seq) AS max FROM log GROUP BY w') as { w: string; max: number }[];
    } finally {
      await reader.close();
    }
    const maxOf = (w: string) => present.find((p) => p.w === w)?.max ?? 0;
    expect(maxOf(winner)).toBe(ledgers[winner].acked);
    // The loser's acknowledged commits are in the replica up to its last synced TXID; the rest is what it reported kept.
    const synced = BigInt(status.synced);
    const committed = BigInt(status.committed);
    for (const [seq, txid] of ledgers[loser].ackTxid) {
      if (txid <= synced) expect(maxOf(loser), `loser seq ${seq} (TXID ${txid}) was synced`).toBeGreaterThanOrEqual(seq);
      else expect(txid, `loser seq ${seq}`).toBeLessThanOrEqual(committed);
    }
    const kept = [...ledgers[loser].ackTxid.values()].filter((t) => t > synced).length;
    expect(kept).toBeGreaterThan(0);
    expect(status.unsyncedBytes).toBeGreaterThan(0);

    // Reopening the loser sets its kept commits aside, with a reason, and says so.
    const again = await runChild({ url: replica.url, bufferPath: buffers[loser], syncInterval: 100, seed: 9, writer: loser, maxTx: 0 }, replica.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.lines[0]).toMatch(/^open set-aside /);
    const dir = bufferDirFor(buffers[loser], replica.url);
    const aside = readdirSync(dir).filter((n) => n.startsWith('conflict-'));
    expect(aside.length).toBe(1);
    const reason = readFileSync(path.join(dir, aside[0], 'REASON.txt'), 'utf8');
    // Commits share a TXID until it is uploaded: the count is the loser's acknowledged commits past its synced TXID, not a TXID difference.
    expect(reason).toMatch(new RegExp(`commits kept: ${kept} \\(TXIDs ${synced + 1n}\\.\\.${committed}`));
    expect(existsSync(path.join(dir, aside[0], 'buffer.log'))).toBe(true);
    expect(checkOf(again).maxSeq).toBe(maxOf(loser));
  }, 120_000);
});

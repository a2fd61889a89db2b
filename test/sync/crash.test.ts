// SIGKILL at random moments (during appends, between an upload and markSynced, during a
// log rewrite): after each restart every acknowledged commit is in the buffer or in the
// replica, reconcile never sets anything aside (the uploads it finds are its own), and
// at the end the replica restores to exactly the state the commits describe.
// Commits are numbered by the child (page COUNTER_PAGE holds the newest number, see
// crash-child.ts): TXIDs count uploads, several commits share one.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockPage } from '../../src/ltx/index.js';
import { planRestore, restore } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import { Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { prng } from '../support/prng.js';
import { pageBytes, pagesOf, quiet, removeTempDirs, tempDir } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CHILD = path.join(ROOT, 'test/sync/crash-child.ts');
const PS = 512;
// pagesOf writes pages 1..40; the child adds:
const COUNTER_PAGE = 41; // the newest commit number, big-endian in its first 8 bytes
const KILLS = 12;

afterAll(removeTempDirs);

/** Run the child until `delayMs` after its first ack, SIGKILL it; return the commit it started from and the highest acked commit and TXID. */
function runAndKill(bufferDir: string, replicaDir: string, delayMs: number): Promise<{ from: bigint; acked: bigint; ackedTXID: bigint; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, bufferDir, replicaDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child never acked; stdout ${out}; stderr ${err}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (!armed && out.includes('ack ')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${err}`));
      const from = /^reconciled \S+ \d+ \d+ from (\d+)$/m.exec(out);
      if (!from) return reject(new Error(`child never reported where it started: ${out}`));
      const acks = [...out.matchAll(/^ack (\d+) (\d+)$/gm)].map((m) => [BigInt(m[1]), BigInt(m[2])]);
      const [acked, ackedTXID] = acks.length ? acks[acks.length - 1] : [0n, 0n];
      resolve({ from: BigInt(from[1]), acked, ackedTXID, out });
    });
  });
}

/** The database image after commits 1..n of the child's deterministic workload. */
function expectedImage(n: bigint): Uint8Array {
  const img = new Uint8Array(COUNTER_PAGE * PS);
  for (let t = 1n; t <= n; t++) for (const p of pagesOf(t)) img.set(pageBytes(t, p, PS), (p - 1) * PS);
  new DataView(img.buffer).setBigUint64((COUNTER_PAGE - 1) * PS, n);
  return img;
}

describe('write buffer + syncer crash recovery', () => {
  it(`loses no acknowledged commit across ${KILLS} SIGKILLs`, async () => {
    const bufferDir = tempDir('crash-buf');
    const replicaDir = path.join(tempDir('crash-rep'), 'replica');
    const rand = prng(5);
    let acked = 0n; // the highest acknowledged commit number
    let ackedTXID = 0n;
    for (let i = 0; i < KILLS; i++) {
      const r = await runAndKill(bufferDir, replicaDir, 20 + Math.floor(rand() * 400));
      expect(r.out).toMatch(/^reconciled (clean|pending) /m); // never set aside: every upload found was ours
      expect(r.from).toBeGreaterThanOrEqual(acked); // the previous run's acknowledged commits all came back
      expect(r.acked).toBeGreaterThan(r.from);
      if (r.acked > acked) acked = r.acked;
      if (r.ackedTXID > ackedTXID) ackedTXID = r.ackedTXID;
      const store = new FileStore({ dir: replicaDir });
      const buffer = WriteBuffer.open(bufferDir, { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
      expect(buffer.lastTXID).toBeGreaterThanOrEqual(ackedTXID);
      buffer.close();
    }
    // A final clean run: reconcile, flush everything, restore, compare.
    const store = new FileStore({ dir: replicaDir });
    const buffer = WriteBuffer.open(bufferDir, { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
    const rec = await reconcileBuffer(store, buffer, quiet);
    expect(rec.status).not.toBe('set-aside');
    const last = buffer.lastTXID;
    expect(last).toBeGreaterThanOrEqual(ackedTXID);
    expect(last).toBeLessThanOrEqual(acked); // at most one TXID per commit
    const syncer = new Syncer({ store, buffer, intervalMs: 10, log: quiet });
    await syncer.stop({ flush: true });
    expect(buffer.unsynced().commits).toBe(0);
    buffer.close();
    const plan = await planRestore(store);
    expect(plan.txid).toBe(last);
    const out = path.join(tempDir('crash-out'), 'db');
    await restore(store, {}, out, { integrityCheck: false, plan });
    const got = new Uint8Array(readFileSync(out));
    expect(lockPage(PS)).toBeGreaterThan(COUNTER_PAGE);
    expect(got.length).toBe(COUNTER_PAGE * PS);
    const n = new DataView(got.buffer, got.byteOffset + (COUNTER_PAGE - 1) * PS, 8).getBigUint64(0);
    expect(n).toBeGreaterThanOrEqual(acked); // no acknowledged commit lost
    expect(Buffer.compare(got, expectedImage(n))).toBe(0);
  }, 120_000);
});

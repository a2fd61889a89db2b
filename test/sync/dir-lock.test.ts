// The buffer directory's lock under real races: many processes open one directory
// at the same instant, round after round; the previous round's winner is killed
// (its lock left behind, owner dead) or releases it, so every round after the first
// is also a takeover race. Exactly one must win each round.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DirLock, DirLockError } from '../../src/sync/dir-lock.js';
import { ensureBuilt, ROOT } from '../support/cli.js';
import { removeTempDirs, tempDir } from './helpers.js';

const PROCS = 8;
const ROUNDS = 12;
const LOCK_JS = pathToFileURL(path.join(ROOT, 'dist/src/sync/dir-lock.js')).href;

// Says `ready`, reads the start time (ms since the epoch) from stdin, sleeps until
// then (sleeping, not spinning, so that racers do not queue for 2 cores and all wake
// at once), tries once, prints won/lost; a winner holds the lock until the next
// stdin line (`release`), or until killed.
const CHILD = `
const { DirLock } = await import(${JSON.stringify(LOCK_JS)});
const dir = process.argv[1];
const lines = [];
let wake;
process.stdin.on('data', (b) => { lines.push(...String(b).split('\\n').filter(Boolean)); wake?.(); });
const line = () => new Promise((ok) => (lines.length ? ok(lines.shift()) : (wake = () => ok(lines.shift()))));
console.log('ready');
const startAt = Number(await line());
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, startAt - Date.now()));
const t = performance.timeOrigin + performance.now();
try {
  const lock = DirLock.acquire(dir);
  console.log(JSON.stringify({ won: true, t }));
  await line();
  lock.release();
  process.exit(0);
} catch (err) {
  console.log(JSON.stringify({ won: false, t, code: err.code ?? String(err) }));
  process.exit(0);
}`;

interface Outcome {
  child: ChildProcess;
  won: boolean;
  t: number;
  code?: string;
}

/** Start PROCS racers, wait until each is ready, give them one start time 50 ms ahead. */
async function race(dir: string, n: number): Promise<Outcome[]> {
  const children = Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = children.map((child) => {
    const queue: string[] = [];
    let buf = '';
    let wake: (() => void) | null = null;
    child.stdout!.on('data', (b: Buffer) => {
      buf += b;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        queue.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      wake?.();
    });
    child.once('exit', () => wake?.());
    return async (): Promise<string> => {
      while (queue.length === 0) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`racer exited (${child.exitCode ?? child.signalCode}) without an answer`);
        await new Promise<void>((ok) => (wake = ok));
      }
      return queue.shift()!;
    };
  });
  for (const next of lines) expect(await next()).toBe('ready');
  const startAt = Date.now() + 50;
  for (const c of children) c.stdin!.write(`${startAt}\n`);
  return Promise.all(children.map(async (child, i) => ({ child, ...(JSON.parse(await lines[i]()) as Omit<Outcome, 'child'>) })));
}

const exited = (c: ChildProcess) => new Promise((ok) => (c.exitCode !== null || c.signalCode !== null ? ok(null) : c.once('exit', ok)));

afterAll(removeTempDirs);

describe('DirLock', () => {
  it(`${PROCS} processes × ${ROUNDS} rounds on one directory: exactly one wins every round, dead and released owners are taken over`, { timeout: 120_000 }, async () => {
    ensureBuilt();
    const dir = tempDir('lock');
    const winners: number[] = [];
    const spreads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const outcomes = await race(dir, PROCS);
      const won = outcomes.filter((o) => o.won);
      winners.push(won.length);
      spreads.push(Math.max(...outcomes.map((o) => o.t)) - Math.min(...outcomes.map((o) => o.t)));
      for (const o of outcomes.filter((x) => !x.won)) expect(o.code).toBe('LOCK_HELD');
      // Odd rounds: the winner dies holding the lock; even ones: it releases it.
      for (const o of won) {
        if (round % 2 === 1) o.child.kill('SIGKILL');
        else o.child.stdin!.write('release\n');
      }
      await Promise.all(outcomes.map((o) => exited(o.child)));
    }
    console.log(`lock race: ${PROCS} processes x ${ROUNDS} rounds, winners per round ${JSON.stringify(winners)}, attempt spread per round (ms) ${JSON.stringify(spreads.map((s) => +s.toFixed(1)))}`);
    expect(winners).toEqual(Array(ROUNDS).fill(1));
    // Only the newest lock file is left, whatever the races made.
    expect(readdirSync(dir).filter((n) => n.startsWith('LOCK'))).toHaveLength(1);
  });

  it('a live owner is named; a released, dead or own-pid lock is taken over', async () => {
    ensureBuilt();
    const dir = tempDir('lock');
    const [holder] = await race(dir, 1);
    expect(holder.won).toBe(true);
    let err: unknown;
    try {
      DirLock.acquire(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DirLockError);
    expect((err as DirLockError).pid).toBe(holder.child.pid);
    expect((err as Error).message).toMatch(new RegExp(`in use by process ${holder.child.pid}`));
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    const mine = DirLock.acquire(dir); // dead owner
    mine.release();
    DirLock.acquire(dir).release(); // released
    // A lock file naming this very pid is an earlier life's (a restarted container's pid 1).
    const own = tempDir('lock');
    writeFileSync(path.join(own, 'LOCK.7'), `${process.pid} feedface\n`);
    const l = DirLock.acquire(own);
    expect(l.path).toBe(path.join(own, 'LOCK.8'));
    expect(readdirSync(own).sort()).toEqual(['LOCK.8']);
  });
});

// The writer's loop: passes on a tick, runNow serialized with them, stop() waits for
// a pass in flight, failures counted and retried, idle ticks skipped without requests.
// Also: inputs read in many small ranged GETs merge to the same bytes.
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CompactionScheduler, mergeInto } from '../../src/compact/index.js';
import { listReplica } from '../../src/replica/index.js';
import { totalOf } from '../../src/storage/stats.js';
import { fileStore, removeTempDirs, s3Store } from '../replica/helpers.js';
import { History, buildReplica, key, putL0, restored } from './helpers.js';

afterAll(removeTempDirs);

const MIN = 60_000;
const eq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('CompactionScheduler', () => {
  it('ticks, serializes runNow, stops after the pass in flight, and skips idle ticks', async () => {
    const h = new History();
    h.advance(29);
    const store = s3Store();
    await buildReplica(store, h, 20, Date.now() - 10 * MIN);
    let latest = 20n;
    const sched = new CompactionScheduler(store, {
      tickMs: 40,
      policy: { l1IntervalMs: 1, l2IntervalMs: 1, l3IntervalMs: 1, snapshotIntervalMs: 1e15 },
      latestTXID: () => latest,
    });
    expect(sched.stats()).toMatchObject({ running: false, passes: 0 });
    sched.start();
    await until(() => sched.stats().passes >= 1, 'the first pass');
    expect(sched.stats().lastReport!.written.map((w) => w.key)).toEqual([key(store, 1, 2, 20), key(store, 2, 2, 20), key(store, 3, 2, 20)]);
    // Nothing new and the L0 deadline 5 minutes out: ticks skip without a request.
    const requests = totalOf(store.stats(), 'requests');
    await until(() => sched.stats().skippedIdle >= 3, 'idle ticks');
    expect(totalOf(store.stats(), 'requests')).toBe(requests);

    // The writer moves on: the next tick compacts it.
    await putL0(store, h, 21, 30, Date.now() - 5 * MIN);
    latest = 30n;
    await until(() => sched.stats().passes >= 2, 'a pass after new L0 files');
    expect(sched.stats().lastReport!.written.map((w) => w.key)).toContain(key(store, 1, 21, 30));

    // runNow while ticking; a forced pass snapshots.
    const forced = await sched.runNow({ force: true });
    expect(forced.written.map((w) => w.key)).toEqual([key(store, 9, 1, 30)]);
    const pending = sched.runNow();
    await sched.stop();
    const stats = sched.stats();
    expect(stats.running).toBe(false);
    expect(stats.busy).toBe(false);
    await pending; // finished before stop() returned
    expect(stats.failures).toBe(0);
    expect(stats.filesWritten).toBe(3 + 3 + 1);
    expect(eq(await restored(store), h.images[29])).toBe(true);
    h.close();
    await store.close();
  });

  it('a failing pass is counted and rejected from runNow; the scheduler keeps going', async () => {
    const h = new History();
    h.advance(4);
    const store = fileStore();
    await buildReplica(store, h, 5, Date.now() - MIN);
    await store.close(); // every request now fails with CLOSED
    const sched = new CompactionScheduler(store, { tickMs: 30, log: pino({ level: 'silent' }) });
    await expect(sched.runNow()).rejects.toThrow(/closed/i);
    sched.start();
    await until(() => sched.stats().failures >= 2, 'failing ticks');
    await sched.stop();
    expect(sched.stats()).toMatchObject({ passes: 0, running: false });
    expect(sched.stats().lastError).toMatch(/closed/i);
    h.close();
  });
});

describe('mergeInto', () => {
  it('reads inputs as small ranged GETs and produces the same bytes', async () => {
    const h = new History();
    h.advance(14);
    const store = s3Store();
    await buildReplica(store, h, 15, Date.now() - MIN, true);
    const inputs = (await listReplica(store)).sort((a, b) => Number(a.minTXID - b.minTXID)); // L9 1, L0 2..15
    const gets = () => store.stats().get.requests;
    const g0 = gets();
    const whole = await mergeInto(store, 9, inputs, { dryRun: false });
    const g1 = gets();
    expect(g1 - g0).toBe(inputs.length);
    const wholeBytes = await store.get(whole.key);
    await store.deleteMany([whole.key]);
    const g2 = gets();
    const ranged = await mergeInto(store, 9, inputs, { chunkBytes: 700 });
    expect(gets() - g2).toBeGreaterThan(inputs.length); // the snapshot and the larger L0 files in several pieces
    expect(eq(await store.get(ranged.key), wholeBytes)).toBe(true);
    h.close();
    await store.close();
  });
});

// Sequential round trips of a cold indexed point lookup (open() and one
// `SELECT … WHERE a = ?` through an index), on the run's S3 server behind a recording
// proxy (./recording-proxy.mjs, its own process). With the boot pack: the listing and
// the pack together, then the index's leaf, then the table's leaf. Without it: the
// listing, the tails, then the B-tree levels the head and prefetch do not hold.
// Counts, not times: the proxy's fixed delay only makes overlaps unambiguous.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequentialRoundTrips, type RequestRecord } from '../../bench/support/request-log.js';
import { BOOT_PACK_KEY } from '../../src/boot/read.js';
import { open } from '../../src/open.js';
import { importDatabase } from '../../src/replica/index.js';
import { removeTempDirs, s3Store, tempDir } from '../replica/helpers.js';
import { testS3Config, uniquePrefix } from '../support/s3.js';
import { LOOKUP, expected, keyOf, makeDatabase } from './helpers.js';

const ROWS = 30_000; // ~5 MiB at 1 KiB pages: both B-trees three levels deep
const LATENCY_MS = 25;

let proxy: ChildProcess;
let endpoint: string;
let nextId = 1;
let dbFile: string;
const prefixes = { pack: uniquePrefix('boot-rt'), bare: uniquePrefix('boot-rt-bare') };

function ask(cmd: 'records' | 'clear'): Promise<unknown> {
  const id = nextId++;
  return new Promise((ok) => {
    const on = (m: { id?: number; result?: unknown }) => {
      if (m.id !== id) return;
      proxy.off('message', on);
      ok(m.result);
    };
    proxy.on('message', on);
    proxy.send({ id, cmd });
  });
}

beforeAll(async () => {
  const c = testS3Config();
  proxy = fork(fileURLToPath(new URL('./recording-proxy.mjs', import.meta.url)), [c.endpoint, String(LATENCY_MS)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  endpoint = await new Promise<string>((ok) => proxy.on('message', (m: { ready?: string }) => m.ready && ok(m.ready)));
  dbFile = path.join(tempDir('boot-rt'), 'db.sqlite');
  makeDatabase(dbFile, ROWS);
  for (const prefix of Object.values(prefixes)) {
    const store = s3Store(prefix);
    await importDatabase(dbFile, store);
    if (prefix === prefixes.bare) await store.deleteMany([BOOT_PACK_KEY]); // as Litestream leaves a replica
    await store.close();
  }
}, 120_000);

afterAll(() => {
  proxy?.kill();
  removeTempDirs();
});

/** One cold open and lookup; the requests they made. */
async function coldLookup(prefix: string, key: string): Promise<{ trips: number; requests: number; packUsed: boolean }> {
  const c = testS3Config();
  const query = new URLSearchParams({ endpoint, region: c.region, forcePathStyle: 'true' });
  await ask('clear');
  const db = await open({ replicaUrl: `s3://${c.bucket}/${prefix}?${query}`, s3: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, pollInterval: '1h' });
  try {
    expect(db.get(LOOKUP, [key])).toEqual(expected(dbFile, key));
    const records = (await ask('records')) as RequestRecord[];
    // Every request answered (a pack that is absent answers 404), none still running.
    expect(records.filter((r) => r.end === 0 || (r.status >= 300 && r.status !== 404)).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([]);
    return { trips: sequentialRoundTrips(records), requests: records.length, packUsed: db.openStats.pack?.miss === null };
  } finally {
    await db.close();
  }
}

describe('a cold indexed point lookup', () => {
  it('takes at most 3 sequential round trips with the boot pack, more without', async () => {
    const key = keyOf(17_345);
    const withPack = await coldLookup(prefixes.pack, key);
    const without = await coldLookup(prefixes.bare, key);
    console.log(JSON.stringify({ rows: ROWS, withPack, without }));
    expect(withPack.packUsed).toBe(true);
    expect(without.packUsed).toBe(false);
    expect(withPack.trips).toBeLessThanOrEqual(3);
    expect(without.trips).toBeGreaterThan(withPack.trips);
  }, 60_000);
});

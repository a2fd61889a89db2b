// The boot pack end to end on file:// replicas: import and a compaction snapshot write
// one; a cold open then builds its page index without a tail read and serves page 1,
// the schema and the B-tree interiors from it; a stale, corrupt or missing pack changes
// what is read, never an answer.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_PACK_FRAME_BUDGET } from '../../src/boot/build.js';
import { decodeBootPack } from '../../src/boot/format.js';
import { decodePageFrame } from '../../src/ltx/index.js';
import { BOOT_PACK_KEY } from '../../src/boot/read.js';
import { compactOnce } from '../../src/compact/index.js';
import { open } from '../../src/open.js';
import { importDatabase, listReplica } from '../../src/replica/index.js';
import { diffLtx, fileStore, fileUrl, putLtx, removeTempDirs, tempDir } from '../replica/helpers.js';
import { LOOKUP, PAGE_SIZE, expected, grow, keyOf, makeDatabase } from './helpers.js';

afterAll(removeTempDirs);

const ROWS = 12_000;
let dir: string;
let dbFile: string;
let replicaDir: string;
let images: Uint8Array[];

const packPath = () => path.join(replicaDir, BOOT_PACK_KEY);
const readPack = () => decodeBootPack(new Uint8Array(readFileSync(packPath())));

/** Open cold, check `keys` against better-sqlite3 on a copy of the file at the same state, return what the pack did. */
async function openAndCheck(keys: readonly string[], file: string) {
  const db = await open({ replicaUrl: fileUrl(replicaDir), pollInterval: '1h' });
  try {
    const atOpen = db.replicaStats();
    for (const k of keys) expect(db.get(LOOKUP, [k]) ?? null).toEqual(expected(file, k) ?? null);
    expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    return { pack: db.openStats.pack!, getsAtOpen: db.openStats.store.get.requests, fetchesAtOpen: atOpen.fetches, planFiles: db.openStats.planFiles };
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  dir = tempDir('boot-pack');
  dbFile = path.join(dir, 'db.sqlite');
  replicaDir = path.join(dir, 'replica');
  images = [makeDatabase(dbFile, ROWS)];
  const store = fileStore(replicaDir);
  await importDatabase(dbFile, store);
  await store.close();
}, 60_000);

describe('boot pack', () => {
  const keys = [keyOf(0), keyOf(5_000), keyOf(ROWS - 1), 'absent'];

  it('is written by import: the snapshot\'s tail, page 1, the schema and the B-tree interiors', async () => {
    const pack = readPack();
    expect(pack.txid).toBe(1n);
    expect(pack.pageSize).toBe(PAGE_SIZE);
    expect(pack.files.map((f) => f.key)).toEqual(['ltx/9/0000000000000001-0000000000000001.ltx']);
    expect(pack.files[0].columns.count).toBe(pack.commit); // every page (no lock page below 1 GiB)
    const pgnos = pack.frames.map((f) => f.pgno);
    expect(pgnos[0]).toBe(1);
    // Interior pages of both B-trees (type 0x05 table, 0x02 index), not only the head's low pages.
    const types = new Set(pack.frames.map((f) => decodePageFrame(f.bytes, PAGE_SIZE, f.pgno).data[f.pgno === 1 ? 100 : 0]));
    expect(types.has(0x05) && types.has(0x02)).toBe(true);
    const interior = pack.frames.filter((f) => f.pgno > 1 && [0x02, 0x05].includes(decodePageFrame(f.bytes, PAGE_SIZE, f.pgno).data[0])).length;
    expect(interior).toBeGreaterThan(2); // roots and the level below them
    expect(pack.frames.reduce((n, f) => n + f.bytes.length, 0)).toBeLessThanOrEqual(BOOT_PACK_FRAME_BUDGET);
  });

  it('lets a cold open skip every tail read and serve the first pages from it', async () => {
    const r = await openAndCheck(keys, dbFile);
    expect(r.pack).toMatchObject({ miss: null, packedFiles: 1, fetchedFiles: 0 });
    expect(r.pack.frames).toBe(readPack().frames.length);
    expect(r.getsAtOpen).toBe(1); // the pack; no tail, no head
    expect(r.fetchesAtOpen).toBe(0); // the schema came from the pack's frames
  });

  it('is written by a compaction snapshot and covers the whole new plan', async () => {
    images.push(grow(dbFile, ROWS, ROWS + 500));
    images.push(grow(dbFile, ROWS + 500, ROWS + 1000));
    const store = fileStore(replicaDir);
    for (let i = 1; i < images.length; i++) await putLtx(store, 0, BigInt(i + 1), BigInt(i + 1), diffLtx(images[i - 1], images[i], PAGE_SIZE, BigInt(i + 1), { checksums: false }).bytes);
    const report = await compactOnce(store, { force: true });
    expect(report.written.some((w) => w.level === 9)).toBe(true);
    await store.close();
    const pack = readPack();
    expect(pack.txid).toBe(3n);
    expect(pack.files.map((f) => f.key)).toEqual(['ltx/9/0000000000000001-0000000000000003.ltx']);
    const r = await openAndCheck([...keys, keyOf(ROWS + 700)], dbFile);
    expect(r.pack).toMatchObject({ miss: null, packedFiles: 1, fetchedFiles: 0 });
    expect(r.fetchesAtOpen).toBe(0);
  });

  it('is used for the files it shares with a newer plan (an older pack that landed last), and only those', async () => {
    const older = readFileSync(packPath());
    images.push(grow(dbFile, ROWS + 1000, ROWS + 1300));
    const store = fileStore(replicaDir);
    await putLtx(store, 0, 4n, 4n, diffLtx(images[2], images[3], PAGE_SIZE, 4n, { checksums: false }).bytes);
    const far = 1e12; // only L1 is due
    await compactOnce(store, { now: Date.now() + 1000, policy: { l1IntervalMs: 1, l2IntervalMs: far, l3IntervalMs: far, snapshotIntervalMs: far } });
    expect((await listReplica(store)).some((f) => f.level === 1 && f.maxTXID === 4n)).toBe(true);
    expect(readPack().txid).toBe(4n); // the pass wrote its own
    writeFileSync(packPath(), older); // and a slower writer's older one lands over it
    await store.close();
    const r = await openAndCheck([...keys, keyOf(ROWS + 1200)], dbFile);
    expect(r.pack).toMatchObject({ miss: null, packedFiles: 1 });
    expect(r.pack.fetchedFiles).toBe(r.planFiles - 1);
    expect(r.pack.fetchedFiles).toBeGreaterThan(0);
  });

  it('is ignored when it shares no file with the plan', async () => {
    const saved = readFileSync(packPath());
    const other = path.join(tempDir('boot-pack-other'), 'db.sqlite');
    makeDatabase(other, 50);
    const otherReplica = path.join(path.dirname(other), 'replica');
    const s = fileStore(otherReplica);
    await importDatabase(other, s);
    await s.close();
    // Another database's pack: its snapshot's key (1-1) is still listed here, with another size.
    copyFileSync(path.join(otherReplica, BOOT_PACK_KEY), packPath());
    try {
      const r = await openAndCheck(keys, dbFile);
      expect(r.pack.miss).toBe('stale');
    } finally {
      writeFileSync(packPath(), saved);
    }
  });

  it('is ignored when corrupt', async () => {
    const saved = readFileSync(packPath());
    const bad = Buffer.from(saved);
    bad[bad.length >> 1] ^= 0x40;
    writeFileSync(packPath(), bad);
    try {
      const r = await openAndCheck(keys, dbFile);
      expect(r.pack.miss).toBe('invalid');
      expect(r.pack.error).toMatch(/CRC/);
    } finally {
      writeFileSync(packPath(), saved);
    }
  });

  it('is not needed: a replica without one (Litestream\'s) opens as before', async () => {
    rmSync(packPath());
    const r = await openAndCheck(keys, dbFile);
    expect(r.pack).toMatchObject({ miss: 'absent', packedFiles: 0 });
    expect(r.getsAtOpen).toBeGreaterThan(1); // the tails (and the snapshot's head)
  });
});

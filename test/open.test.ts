// open(): a replica (file:// and the run's S3 server) as a read-only database.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, SqliteError } from '../src/engine/index.js';
import { open, type ReplicaDatabase } from '../src/open.js';
import { importDatabase, isReplicaError } from '../src/replica/index.js';
import { SQLITE_READONLY } from '../src/vfs/codes.js';
import { CLI_MAIN, ensureBuilt } from './support/cli.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from './support/s3.js';
import { diffLtx, fileStore, fileUrl, golden, GOLDEN, makeDb, putLtx, removeTempDirs, s3Store, tempDir } from './replica/helpers.js';

afterAll(removeTempDirs);

const NAME_150 = `row-0150-${'x'.repeat(40)}`;
const ROWS = 20_000;

function s3Creds() {
  const c = testS3Config();
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey };
}

/** The golden snapshot in a file:// replica at ltx/9/…; returns its URL. */
function goldenFileReplica(): string {
  const dir = tempDir('open-golden');
  mkdirSync(path.join(dir, 'ltx/9'), { recursive: true });
  writeFileSync(path.join(dir, 'ltx/9/0000000000000001-0000000000000001.ltx'), golden('sqlite/sqlite-snapshot.ltx'));
  return fileUrl(dir);
}

async function goldenS3Replica(): Promise<string> {
  const prefix = uniquePrefix('open-golden');
  const store = s3Store(prefix);
  const key = await putLtx(store, 9, 1n, 1n, golden('sqlite/sqlite-snapshot.ltx'));
  expect(key).toBe('0009/0000000000000001-0000000000000001.ltx');
  await store.close();
  return testReplicaUrl(prefix);
}

function checkGolden(db: Database): void {
  expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 200 });
  expect(db.get('SELECT name FROM t WHERE id = 42')).toEqual({ name: `row-0042-${'x'.repeat(40)}` });
  expect(db.get('SELECT id FROM t WHERE name = ?', [NAME_150])).toEqual({ id: 150 });
  // The lookup by name really goes through the index.
  expect(JSON.stringify(db.all('EXPLAIN QUERY PLAN SELECT id FROM t WHERE name = ?', [NAME_150]))).toContain('t_name');
  expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
  expect(Object.values(db.get('PRAGMA litestream_txid')!)).toEqual(['1']);
}

describe('open() on the golden snapshot', () => {
  it('answers queries from a file:// replica', async () => {
    const db = await open({ replicaUrl: goldenFileReplica() });
    try {
      checkGolden(db);
      expect(db.plan!.files.map((f) => f.key)).toEqual(['ltx/9/0000000000000001-0000000000000001.ltx']);
    } finally {
      await db.close();
    }
    expect(db.isOpen).toBe(false);
  });

  it('answers queries from an S3 replica', async () => {
    const db = await open({ replicaUrl: await goldenS3Replica(), s3: s3Creds() });
    try {
      checkGolden(db);
    } finally {
      await db.close();
    }
  });

  it('serves the newest version across a snapshot and an incremental file', async () => {
    const dir = tempDir('open-chain');
    const file = path.join(dir, 'db');
    const before = makeDb(file, 4096, (db) => {
      db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
      db.exec('BEGIN');
      for (let i = 1; i <= 500; i++) db.run('INSERT INTO t VALUES (?, ?)', [i, `v${i}`.padEnd(100, '.')]);
      db.exec('COMMIT');
    });
    const store = fileStore(path.join(dir, 'replica'));
    await importDatabase(file, store);
    const local = new Database(file);
    local.exec("UPDATE t SET v = 'changed' WHERE id % 7 = 0; INSERT INTO t VALUES (501, 'new')");
    local.close();
    const after = makeDb(file, 4096, () => {});
    await putLtx(store, 0, 2n, 2n, diffLtx(before, after, 4096, 2n).bytes);
    await store.close();
    const db = await open({ replicaUrl: store.url });
    try {
      expect(Object.values(db.get('PRAGMA litestream_txid')!)).toEqual(['2']);
      expect(db.plan!.files).toHaveLength(2);
      expect(db.get('SELECT count(*) AS n, sum(v = ?) AS changed FROM t', ['changed'])).toEqual({ n: 501, changed: 71 });
      expect(db.get('SELECT v FROM t WHERE id = 501')).toEqual({ v: 'new' });
      expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await db.close();
    }
  });
  it('reads a database that was in WAL mode (header bytes 18-19 served as rollback)', async () => {
    const dir = tempDir('open-wal');
    const file = path.join(dir, 'wal.db');
    const local = new Database(file);
    local.exec("PRAGMA journal_mode = WAL; CREATE TABLE w(x); INSERT INTO w VALUES (1), (2), (3)");
    local.close();
    const store = fileStore(path.join(dir, 'replica'));
    await importDatabase(file, store);
    await store.close();
    const db = await open({ replicaUrl: store.url });
    try {
      expect(db.get('SELECT sum(x) AS s FROM w')).toEqual({ s: 6 });
      expect(db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'delete' });
    } finally {
      await db.close();
    }
  });
});

describe('open() on a bigger database', () => {
  let dbFile: string;
  let fileReplica: string;
  let s3Replica: string;
  const queries: [string, unknown[]][] = [
    ['SELECT count(*) AS n, sum(length(body)) AS bytes FROM items', []],
    ['SELECT * FROM items WHERE id = ?', [12_345]],
    ['SELECT id, body FROM items WHERE name = ?', ['name-017777']],
    ['SELECT name FROM items ORDER BY name DESC LIMIT 5 OFFSET 9000', []],
    ['SELECT count(*) AS n FROM items WHERE name BETWEEN ? AND ?', ['name-001000', 'name-002000']],
  ];

  beforeAll(async () => {
    const dir = tempDir('open-big');
    dbFile = path.join(dir, 'big.db');
    makeDb(dbFile, 4096, (db) => {
      db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL)');
      db.exec('BEGIN');
      const stmt = db.prepare('INSERT INTO items VALUES (?, ?, ?)');
      for (let i = 1; i <= ROWS; i++) stmt.run([i, `name-${String((i * 7919) % ROWS).padStart(6, '0')}`, `body ${i} `.repeat(1 + (i % 30))]);
      stmt.finalize();
      db.exec('COMMIT');
      db.exec('CREATE INDEX items_name ON items(name)');
    });
    const fs = fileStore(path.join(dir, 'replica'));
    const imported = await importDatabase(dbFile, fs);
    expect(imported.dbBytes).toBeGreaterThan(3_000_000);
    fileReplica = fs.url;
    await fs.close();
    const prefix = uniquePrefix('open-big');
    const s3 = s3Store(prefix);
    await importDatabase(dbFile, s3);
    await s3.close();
    s3Replica = testReplicaUrl(prefix);
  }, 120_000);

  const cases = [
    ['file://', () => open({ replicaUrl: fileReplica })],
    ['S3', () => open({ replicaUrl: s3Replica, s3: s3Creds() })],
  ] as const;

  for (const [label, openIt] of cases) {
    it(`gives the local file's answers (${label})`, async () => {
      const local = new Database(dbFile, { readOnly: true });
      const db = await openIt();
      try {
        for (const [sql, params] of queries) expect(db.all(sql, params as never), sql).toEqual(local.all(sql, params as never));
        expect(db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      } finally {
        local.close();
        await db.close();
      }
    });

    it(`reads a row cold in a few requests and warm in none (${label})`, async () => {
      const db: ReplicaDatabase = await openIt();
      try {
        // Open: one LIST per level (0-3, 9) and, beside them, one GET of the boot pack that
        // import wrote (docs/boot-pack.md): it holds the snapshot's tail, page 1, the schema
        // and the B-tree interiors, so no tail, header or head GET follows.
        expect(db.openStats.planFiles).toBe(1);
        expect(db.openStats.pack?.miss).toBeNull();
        expect(db.openStats.store.get.requests).toBe(1);
        const t0 = performance.now();
        expect(db.get('SELECT id, name FROM items WHERE id = ?', [9_999])).toMatchObject({ id: 9_999 });
        const coldMs = performance.now() - t0;
        // A rowid lookup touches page 1 (schema), the table's root and interior pages and
        // one leaf: 3-4 distinct pages for a 2-3 level B-tree. Each miss is one GET that
        // also reads ahead, so page 1's GET brings the schema's neighbours too: at most
        // one GET per level plus page 1.
        const cold = db.storeStats().get.requests;
        const coldBytes = db.storeStats().get.bytes;
        expect(cold).toBeGreaterThanOrEqual(0);
        expect(cold).toBeLessThanOrEqual(4);
        expect(db.replicaStats().fetches).toBe(cold);
        expect(db.get('SELECT id, name FROM items WHERE id = ?', [9_999])).toMatchObject({ id: 9_999 });
        expect(db.storeStats().get.requests).toBe(cold);
        // A full scan reads ahead: far fewer GETs than pages.
        db.get('SELECT sum(length(body)) FROM items');
        const s = db.replicaStats();
        expect(s.fetchedPages).toBeGreaterThan(500); // the rest came with the head fetched at open
        expect(s.fetches).toBeLessThan(s.fetchedPages / 10);
        console.log(`${label}: open ${db.openStats.ms.toFixed(1)} ms; cold rowid lookup ${cold} GETs, ${coldBytes} bytes in ${coldMs.toFixed(1)} ms; full scan ${s.fetches} GETs for ${s.fetchedPages} pages, ${s.fetchedBytes} bytes`);
      } finally {
        await db.close();
      }
    });
  }

  it('keeps within a small cache and still answers right', async () => {
    const db = await open({ replicaUrl: fileReplica, cacheSize: 64 * 1024 });
    const local = new Database(dbFile, { readOnly: true });
    try {
      for (const [sql, params] of queries) expect(db.all(sql, params as never), sql).toEqual(local.all(sql, params as never));
      const { cache } = db.replicaStats();
      expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
      expect(cache.evictions).toBeGreaterThan(0);
    } finally {
      local.close();
      await db.close();
    }
  });
});

describe('open() refusals', () => {
  it('refuses writes with SQLITE_READONLY', async () => {
    const db = await open({ replicaUrl: goldenFileReplica() });
    try {
      for (const sql of ["INSERT INTO t(name) VALUES ('x')", 'CREATE TABLE u(x)', 'DELETE FROM t']) {
        let err: unknown;
        try {
          db.run(sql);
        } catch (e) {
          err = e;
        }
        expect(err, sql).toBeInstanceOf(SqliteError);
        expect((err as SqliteError).code & 0xff).toBe(SQLITE_READONLY);
      }
      expect(() => db.run('PRAGMA litestream_txid = 5')).toThrow(/litestream_txid is read-only/);
      expect(db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 200 });
    } finally {
      await db.close();
    }
  });

  it('fails at once with REPLICA_EMPTY on an empty replica (file:// and S3)', async () => {
    const dir = tempDir('open-empty');
    // One at a time: a second open() started early could reject before it is awaited (an unhandled rejection).
    for (const attempt of [() => open({ replicaUrl: fileUrl(dir) }), () => open({ replicaUrl: testReplicaUrl(uniquePrefix('open-empty')), s3: s3Creds() })]) {
      const err = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isReplicaError(err) && err.code).toBe('REPLICA_EMPTY');
      expect((err as Error).message).toMatch(/is empty/);
    }
  });

  it('fails clearly without a replica URL', async () => {
    const saved = process.env.LITESTREAM_REPLICA_URL;
    delete process.env.LITESTREAM_REPLICA_URL;
    try {
      await expect(open()).rejects.toThrow(/LITESTREAM_REPLICA_URL is not set/);
    } finally {
      if (saved !== undefined) process.env.LITESTREAM_REPLICA_URL = saved;
    }
  });
});

describe('a process using open()', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  for (const close of [true, false]) {
    it(`exits by itself after a query (${close ? 'closed' : 'never closed'})`, () => {
      const url = goldenFileReplica();
      const openJs = path.join(path.dirname(CLI_MAIN), '../open.js');
      const script = `
        const { open } = await import(${JSON.stringify(openJs)});
        const db = await open({ replicaUrl: ${JSON.stringify(url)} });
        console.log(JSON.stringify(db.get('SELECT count(*) AS n FROM t')));
        ${close ? 'await db.close();' : ''}
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.error).toBeUndefined(); // ETIMEDOUT if it hung
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe('{"n":200}');
    });
  }
});

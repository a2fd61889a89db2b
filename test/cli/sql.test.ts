// `ltxvfs sql` through the compiled CLI, on file:// and on S3 (credentials from
// AWS_* variables, endpoint in the URL).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitStatements } from '../../src/cli/sql.js';
import { cli, ensureBuilt } from '../support/cli.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from '../support/s3.js';
import { fileUrl, golden, putLtx, removeTempDirs, s3Store, tempDir } from '../replica/helpers.js';

afterAll(removeTempDirs);
beforeAll(() => ensureBuilt(), 120_000);

const NAME_150 = `row-0150-${'x'.repeat(40)}`;

function goldenFileReplica(): string {
  const dir = tempDir('sql');
  mkdirSync(path.join(dir, 'ltx/9'), { recursive: true });
  writeFileSync(path.join(dir, 'ltx/9/0000000000000001-0000000000000001.ltx'), golden('sqlite/sqlite-snapshot.ltx'));
  return fileUrl(dir);
}

describe('ltxvfs sql on file://', () => {
  it('prints an aligned table, and the time and requests to stderr', () => {
    const r = cli(['sql', goldenFileReplica(), 'SELECT count(*) AS n FROM t; SELECT id, name FROM t WHERE id <= 2']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual(['n', '---', '200', 'id  name', '--  ' + '-'.repeat(49), `1   row-0001-${'x'.repeat(40)}`, `2   row-0002-${'x'.repeat(40)}`, '']);
    expect(r.err).toMatch(/^first row in [\d.]+ ms, done in [\d.]+ ms at txid 1; open [\d.]+ ms: 5 list \+ 3 get, \d+ bytes; pages: 0 get, \d+ bytes\n$/);
  });

  it('prints JSON with --json', () => {
    const r = cli(['sql', goldenFileReplica(), `SELECT id FROM t WHERE name = '${NAME_150}'`, '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const out = JSON.parse(r.out);
    expect(out.results).toEqual([[{ id: 150 }]]);
    // The golden database fits in the head of the snapshot fetched while opening: no page GET.
    // Open's gets: the boot pack (absent from the golden replica: a 404), the tail and the head.
    expect(out.stats).toMatchObject({ txid: '1', open: { list: 5, get: 3 }, pages: { requests: 0 } });
    expect(out.stats.firstRowMs).toBeGreaterThan(0);
    expect(out.stats.requests).toBe(8);
  });

  it('fails in one line on writes, an empty replica and bad usage', () => {
    const w = cli(['sql', goldenFileReplica(), "INSERT INTO t(name) VALUES ('x')"]);
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/^ltxvfs sql: .*readonly/);
    const e = cli(['sql', fileUrl(tempDir('sql-empty')), 'SELECT 1']);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/^ltxvfs sql: replica .* is empty/);
    expect(cli(['sql', goldenFileReplica()]).code).toBe(2);
  });
});

describe('ltxvfs sql on S3', () => {
  it('reads with AWS_* credentials and the endpoint in the URL', async () => {
    const cfg = testS3Config();
    const prefix = uniquePrefix('sql');
    const store = s3Store(prefix);
    await putLtx(store, 9, 1n, 1n, golden('sqlite/sqlite-snapshot.ltx'));
    await store.close();
    const env = { ...process.env, AWS_ACCESS_KEY_ID: cfg.accessKeyId, AWS_SECRET_ACCESS_KEY: cfg.secretAccessKey };
    const r = cli(['sql', testReplicaUrl(prefix), `SELECT count(*) AS n FROM t; SELECT id FROM t WHERE name = '${NAME_150}'; PRAGMA integrity_check`, '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).results).toEqual([[{ n: 200 }], [{ id: 150 }], [{ integrity_check: 'ok' }]]);
  });
});

describe('ltxvfs sql --hydrate', () => {
  it('answers at once, shows progress lines (stderr is no terminal), and with --wait stays until reads are local', () => {
    const url = goldenFileReplica();
    const local = path.join(tempDir('sql-hyd'), 'data', 'copy.db');
    const r = cli(['sql', url, 'SELECT count(*) AS n FROM t', '--hydrate', local, '--wait', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.results).toEqual([[{ n: 200 }]]);
    expect(out.hydration).toMatchObject({ state: 'local', percent: 100, txid: '1', path: local, lastError: null });
    expect(r.err).toMatch(/^hydrating: \d+% \(/m);
    expect(r.err).toMatch(new RegExp(`^hydrated: reads are local from ${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at txid 1, \\d+ ms after open$`, 'm'));
    expect(r.err).not.toMatch(/\r/); // no bar without a terminal
    expect(existsSync(local)).toBe(true);
    expect(JSON.parse(readFileSync(`${local}.ltxvfs.json`, 'utf8'))).toMatchObject({ txid: '1' });
    // The same SQL on the local copy, through the engine, gives the same answer.
    const again = cli(['sql', url, 'SELECT count(*) AS n FROM t', '--hydrate', local, '--wait']);
    expect(again.code).toBe(0);
    expect(again.out.split('\n')).toEqual(['n', '---', '200', '']);
    expect(again.err).toMatch(/^hydrated: reads are local/m);
  });

  it('without --wait prints the rows and exits; usage errors for --wait alone and an empty path', () => {
    const local = path.join(tempDir('sql-hyd2'), 'copy.db');
    const r = cli(['sql', goldenFileReplica(), 'SELECT id FROM t WHERE id = 3', '--hydrate', local]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual(['id', '--', '3', '']);
    expect(cli(['sql', goldenFileReplica(), 'SELECT 1', '--wait']).code).toBe(2);
    expect(cli(['sql', goldenFileReplica(), 'SELECT 1', '--wait']).err).toMatch(/--wait needs --hydrate/);
    expect(cli(['sql', goldenFileReplica(), 'SELECT 1', '--hydrate', '']).code).toBe(2);
  });

  it('--help describes --hydrate and --wait', () => {
    const r = cli(['sql', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--hydrate <path>/);
    expect(r.out).toMatch(/--wait/);
  });
});

describe('splitStatements', () => {
  it("splits at top-level semicolons only", () => {
    expect(splitStatements("SELECT ';'; SELECT \"a;b\" FROM [x;y] -- c;\n; /* ; */ SELECT 2;;")).toEqual([
      "SELECT ';'",
      'SELECT "a;b" FROM [x;y] -- c;',
      '/* ; */ SELECT 2',
    ]);
    expect(splitStatements(' ; -- nothing')).toEqual([]);
  });
});

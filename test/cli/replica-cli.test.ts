// `ltxvfs import`, `restore` and `info` through the compiled CLI, on file:// and on S3
// (credentials from AWS_* variables, endpoint in the URL).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt } from '../support/cli.js';
import { testReplicaUrl, testS3Config, uniquePrefix } from '../support/s3.js';
import { fileUrl, history, makeDb, tempDir, diffLtx, putLtx, removeTempDirs } from '../replica/helpers.js';
import { FileStore } from '../../src/storage/file-store.js';
import { formatBytes, progressLine } from '../../src/cli/progress.js';

afterAll(removeTempDirs);

beforeAll(() => ensureBuilt(), 120_000);

const GOLDEN_DB = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/golden/sqlite/source.db');

describe('ltxvfs import / restore / info on file://', () => {
  it('round-trips a database and describes the replica', () => {
    const dir = tempDir('cli');
    const url = fileUrl(path.join(dir, 'replica'));
    const imp = cli(['import', GOLDEN_DB, url]);
    expect(imp.err).toBe('');
    expect(imp.code).toBe(0);
    expect(imp.out).toMatch(/^imported .* 9 pages of 4096 bytes, snapshot ltx\/9\/0000000000000001-0000000000000001\.ltx/);
    expect(existsSync(path.join(dir, 'replica/ltx/9/0000000000000001-0000000000000001.ltx'))).toBe(true);

    const again = cli(['import', GOLDEN_DB, url]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^ltxvfs import: replica .* already holds 1 LTX file .*--force/);
    expect(cli(['import', GOLDEN_DB, url, '--force']).code).toBe(0);

    const out = path.join(dir, 'out.db');
    const r = cli(['restore', url, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(''); // no progress bar: stderr is not a terminal
    expect(r.out).toMatch(/^restored .* at txid 1 to .*: 9 pages \(36864 bytes\), 1 file \(5 kB\), \d+ requests, \d+ ms, checksum ok, integrity ok\n$/);
    expect(Buffer.compare(readFileSync(out), readFileSync(GOLDEN_DB))).toBe(0);

    const exists = cli(['restore', url, '-o', out]);
    expect(exists.code).toBe(1);
    expect(exists.err).toMatch(/already exists/);
    const forced = cli(['restore', url, '-o', out, '--force', '--json']);
    expect(forced.code).toBe(0);
    const j = JSON.parse(forced.out);
    expect(j).toMatchObject({ ok: true, txid: '1', commit: 9, pageSize: 4096, files: 1, checksumVerified: true, integrityChecked: true });

    const info = cli(['info', url]);
    expect(info.code).toBe(0);
    expect(info.out).toContain('L9         1  1..1');
    expect(info.out).toContain('database at txid 1: 9 pages of 4096 bytes (36864 bytes)');
    expect(info.out).toContain('restore plan: 1 file to txid 1');
    const infoJson = JSON.parse(cli(['info', url, '--json']).out);
    expect(infoJson).toMatchObject({ empty: false, minTXID: '1', maxTXID: '1', pageSize: 4096, commit: 9, plan: { files: 1, txid: '1' } });
  });

  it('restores earlier states with --txid and --timestamp; reports gaps and empty replicas', async () => {
    const dir = tempDir('cli-chain');
    const images = history(dir, 4096, 5);
    const db0 = path.join(dir, 'db0.db');
    writeFileSync(db0, images[0]);
    const url = fileUrl(path.join(dir, 'replica'));
    expect(cli(['import', db0, url]).code).toBe(0);
    const store = new FileStore({ dir: path.join(dir, 'replica') });
    const t0 = Date.UTC(2026, 0, 1);
    for (let t = 2; t <= images.length; t++) {
      await putLtx(store, 0, BigInt(t), BigInt(t), diffLtx(images[t - 2], images[t - 1], 4096, BigInt(t), { timestamp: t0 + t * 1000 }).bytes);
    }
    for (const [arg, want] of [[['--txid', '3'], 3], [['--txid', '0000000000000002'], 2], [[], images.length], [['--timestamp', new Date(t0 + 4500).toISOString()], 4]] as const) {
      const out = path.join(dir, `out-${want}-${arg.length}.db`);
      const r = cli(['restore', url, '-o', out, ...arg]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`at txid ${want} `);
      expect(Buffer.compare(readFileSync(out), images[want - 1])).toBe(0);
    }
    const info = JSON.parse(cli(['info', url, '--json']).out);
    expect(info).toMatchObject({ minTXID: '1', maxTXID: String(images.length), plan: { files: images.length } });
    expect(info.levels[0]).toMatchObject({ level: 0, files: images.length - 1 });

    await store.deleteMany(['ltx/0/0000000000000003-0000000000000003.ltx']);
    const gap = cli(['restore', url, '-o', path.join(dir, 'gap.db')]);
    expect(gap.code).toBe(1);
    expect(gap.err).toMatch(/^ltxvfs restore: replica .* has a gap: TXID 3 /);
    expect(gap.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(dir, 'gap.db'))).toBe(false);
    const gapInfo = cli(['info', url]);
    expect(gapInfo.code).toBe(1);
    expect(gapInfo.out).toMatch(/restore plan: FAIL .*has a gap/);

    const empty = fileUrl(path.join(dir, 'nothing'));
    const e = cli(['restore', empty, '-o', path.join(dir, 'e.db')]);
    expect(e.code).toBe(1);
    expect(e.err).toContain(`replica ${empty} is empty`);
    expect(cli(['info', empty]).out).toContain('is empty');
  });

  it('usage errors exit 2', () => {
    expect(cli(['restore', 'file:///tmp/x']).code).toBe(2);
    expect(cli(['restore', 'file:///tmp/x', '-o', 'a', '--txid', '1', '--timestamp', '2026-01-01T00:00:00Z']).code).toBe(2);
    expect(cli(['restore', 'file:///tmp/x', '-o', 'a', '--txid', 'abc']).err).toMatch(/--txid "abc" is not a TXID/);
    expect(cli(['restore', 'file:///tmp/x', '-o', 'a', '--timestamp', 'yesterday']).code).toBe(2);
    expect(cli(['import', 'only-one']).code).toBe(2);
    expect(cli(['info']).code).toBe(2);
    expect(cli(['import', '--help']).out).toContain('Usage: ltxvfs import');
  });
});

describe('progress line', () => {
  it('draws one line on a terminal, erases it at the end, and is silent elsewhere', () => {
    const writes: string[] = [];
    const tty = { isTTY: true, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const bar = progressLine(tty);
    bar.update(5, 10, '5 B/10 B');
    bar.update(10, 10, 'done');
    bar.done();
    expect(writes[0]).toMatch(/^\r\[#{12}-{12}\]  50% 5 B\/10 B/);
    expect(writes[1]).toMatch(/^\r\[#{24}\] 100% done/);
    expect(writes.at(-1)).toBe('\r\x1b[K');
    const pipe: string[] = [];
    const quiet = progressLine({ isTTY: false, write: (s: string) => pipe.push(s) } as unknown as NodeJS.WriteStream);
    quiet.update(1, 2, 'x');
    quiet.done();
    expect(pipe).toEqual([]);
    expect(formatBytes(169098107)).toBe('169.1 MB');
  });
});

describe('ltxvfs on S3 (AWS_* credentials, endpoint in the URL)', () => {
  it('imports, describes and restores a database', () => {
    const cfg = testS3Config();
    const url = testReplicaUrl(uniquePrefix('cli'));
    const env = { ...process.env, AWS_ACCESS_KEY_ID: cfg.accessKeyId, AWS_SECRET_ACCESS_KEY: cfg.secretAccessKey };
    const dir = tempDir('cli-s3');
    const dbFile = path.join(dir, 'src.db');
    const image = makeDb(dbFile, 4096, (db) => {
      db.exec('CREATE TABLE t(v)');
      db.exec('BEGIN');
      for (let i = 0; i < 2000; i++) db.run('INSERT INTO t VALUES (?)', [`row-${i}`]);
      db.exec('COMMIT');
    });
    const imp = cli(['import', dbFile, url], { env });
    // (Node 20: the AWS SDK may print a NodeVersionSupportWarning on stderr; errors start with "ltxvfs".)
    expect(imp.err).not.toContain('ltxvfs');
    expect(imp.code).toBe(0);
    expect(imp.out).toContain('snapshot 0009/0000000000000001-0000000000000001.ltx');
    const info = cli(['info', url, '--json'], { env });
    expect(info.code).toBe(0);
    expect(JSON.parse(info.out)).toMatchObject({ commit: image.length / 4096, plan: { files: 1 } });
    const out = path.join(dir, 'out.db');
    const r = cli(['restore', url, '-o', out], { env });
    expect(r.code).toBe(0);
    expect(Buffer.compare(readFileSync(out), image)).toBe(0);
    // Without credentials the server refuses, in one line.
    const bad = cli(['info', url], { env: { ...env, AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong' } });
    expect(bad.code).toBe(1);
    expect(bad.err.split('\n').filter((l) => l.startsWith('ltxvfs info:'))).toHaveLength(1);
    expect(bad.err).toMatch(/^ltxvfs info: .*(denied|AccessDenied|InvalidAccessKeyId|credentials|signature)/im);
  });
});

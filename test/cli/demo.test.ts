// The README's first command: it must run the main job (make, import, open through the
// VFS, query) and report the first row with the requests it took.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSidecar } from '../../src/hydrate/index.js';
import { cli, ensureBuilt } from '../support/cli.js';

beforeAll(() => ensureBuilt(), 120_000);

const dirs: string[] = [];
afterAll(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function workDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-demo-test-'));
  dirs.push(dir);
  return dir;
}

const SNAPSHOT = 'ltx/9/0000000000000001-0000000000000001.ltx';

describe('ltxvfs demo', () => {
  it('makes a database, imports it into a file:// replica and queries it through open() (--json)', () => {
    const dir = workDir();
    const r = cli(['demo', '--rows', '3000', '--dir', dir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ ok: true, dir, kept: true, replicaUrl: `file://${dir}/replica` });
    expect(result.make).toMatchObject({ rows: 3000, pageSize: 4096, path: path.join(dir, 'sample.db') });
    expect(result.make.bytes).toBe(result.make.pages * 4096);
    expect(result.import.key).toBe(SNAPSHOT);
    // Row 1500 of 3000, found through the index on name.
    expect(result.query.row).toEqual({ id: 1500, name: 'item-001500', price: (1500 * 7919) % 10_000 });
    expect(result.query.open.planFiles).toBe(1);
    // Opening lists the levels and reads the page index; the query reads pages on demand.
    expect(result.query.open.detail).toMatch(/^\d+ requests \(5 list, \d+ get\)$/);
    // A 3,000-row database fits in the snapshot's first 256 KiB, fetched while opening: no GET for the query.
    expect(result.query.firstQuery.requests).toBe(0);
    expect(result.query.requests).toBe(result.query.open.requests + result.query.firstQuery.requests);
    expect(result.query.firstRowMs).toBeGreaterThanOrEqual(result.query.open.ms);

    // The replica is in Litestream's file layout, and its snapshot passes the strict verifier.
    const ltx = path.join(dir, 'replica', SNAPSHOT);
    expect(readFileSync(ltx).subarray(0, 4).toString('latin1')).toBe('LTX1');
    const v = cli(['ltx', 'verify', ltx]);
    expect(v.code).toBe(0);
    expect(v.out).toContain(`ok  ${ltx}  txid 1-1  ${result.make.pages} pages`);

    // Writes: 5 commits shipped by one sync as one L0 file, one TXID (2: a TXID is one upload); the reader saw them.
    expect(result.write).toMatchObject({ commits: 5, txid: '2', followerSaw: { id: 3005, name: 'item-003005' } });
    expect(result.write.file).toMatchObject({ key: 'ltx/0/0000000000000002-0000000000000002.ltx', minTXID: '2', maxTXID: '2' });
    const l0 = path.join(dir, 'replica', result.write.file.key);
    expect(cli(['ltx', 'verify', l0]).code).toBe(0);
    // Hydration: a first row before the switch, then reads from a complete local copy at TXID 2.
    expect(result.hydrate).toMatchObject({ path: path.join(dir, 'hydrated.db'), txid: '2', row: { id: 1500, name: 'item-001500' } });
    expect(result.hydrate.localReads).toBeGreaterThan(0);
    const sidecar = readSidecar(path.join(dir, 'hydrated.db'));
    expect(sidecar).toMatchObject({ txid: 2n, pageSize: 4096 });
    expect(readFileSync(path.join(dir, 'hydrated.db')).length).toBe(sidecar!.commit * 4096);
  });

  it('prints the steps, the first row and its requests, and starts over in the same --dir', () => {
    const dir = workDir();
    for (let i = 0; i < 2; i++) {
      const r = cli(['demo', '--rows', '2000', '--dir', dir]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const lines = r.out.trimEnd().split('\n');
      expect(lines[0]).toBe(`ltxvfs demo: a SQLite database served from a file:// replica, in ${dir}`);
      expect(lines[1]).toMatch(/^1\. made .*sample\.db: 2000 rows, \d+ pages of 4096 bytes/);
      expect(lines[2]).toContain(`2. imported it into file://${dir}/replica as a snapshot, ${SNAPSHOT}`);
      expect(lines[3]).toBe('3. opened it through the VFS with open() and looked up "item-001000" by its index:');
      expect(lines[4]).toMatch(/^ {2}first row in \d+\.\d ms: \{"id":1000,"name":"item-001000","price":\d+\}$/);
      expect(lines[5]).toMatch(/^ {2}open \d+\.\d ms: \d+ requests \(5 list, \d+ get\), /);
      expect(lines[6]).toMatch(/^ {2}query \d+\.\d ms: \d+ requests?( \(\d+ get\))?, /);
      expect(lines.some((l) => /^4\. opened it for writing .* committed 5 rows/.test(l))).toBe(true);
      expect(lines.some((l) => /^ {2}sync: ltx\/0\/0000000000000002-0000000000000002\.ltx \(.*\) carried the 5 commits as TXID 2, in \d+ ms$/.test(l))).toBe(true);
      expect(lines.some((l) => /^5\. opened it with hydration .* first row in \d+\.\d ms/.test(l))).toBe(true);
      expect(lines.some((l) => /reads switched to it after \d+ ms, at TXID 2/.test(l))).toBe(true);
      expect(lines.at(-1)).toBe('ok');
    }
  });

  it('makes a --dir that does not exist yet', () => {
    const dir = path.join(workDir(), 'new', 'nested');
    const r = cli(['demo', '--rows', '500', '--dir', dir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, dir, kept: true });
    expect(existsSync(path.join(dir, 'replica', SNAPSHOT))).toBe(true);
  });

  it('removes its temp directory unless --keep', () => {
    const r = cli(['demo', '--rows', '500', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.kept).toBe(false);
    expect(existsSync(result.dir)).toBe(false);
  });

  it('rejects a bad --rows with a usage error', () => {
    const r = cli(['demo', '--rows', 'many']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--rows must be a positive integer/);
  });
});

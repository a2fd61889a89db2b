// The README's first command: it must run the whole interim main job and say so.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt } from '../support/cli.js';

beforeAll(() => ensureBuilt(), 120_000);

describe('ltxvfs demo', () => {
  it('makes, ships and reads back a sample database on a file:// replica', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ltxvfs-demo-test-'));
    const r = cli(['demo', '--rows', '3000', '--dir', dir, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out.slice(0, r.out.lastIndexOf('}') + 1));
    expect(result.ok).toBe(true);
    expect(result.rows).toBe(3000);
    expect(result.database.pageSize).toBe(4096);
    expect(result.database.bytes).toBe(result.database.pages * 4096);
    // list + tail + frame: the cold read costs three requests.
    expect(result.coldRead.requests).toBe(3);
    const ltx = path.join(dir, 'replica/ltx/9/0000000000000001-0000000000000001.ltx');
    expect(existsSync(ltx)).toBe(true);
    expect(readFileSync(ltx).subarray(0, 4).toString('latin1')).toBe('LTX1');
    // The shipped file passes the strict verifier too.
    const v = cli(['ltx', 'verify', ltx]);
    expect(v.code).toBe(0);
    expect(v.out).toContain(`ok  ${ltx}  txid 1-1  ${result.database.pages} pages`);
  });

  it('rejects a bad --rows with a usage error', () => {
    const r = cli(['demo', '--rows', 'many']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--rows must be a positive integer/);
  });
});

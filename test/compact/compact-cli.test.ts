// `ltxvfs compact` through the compiled CLI, on file:// and on S3.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { cli, ensureBuilt } from '../support/cli.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';
import { fileUrl, removeTempDirs, tempDir } from '../replica/helpers.js';
import { History, buildReplica, restored } from './helpers.js';

afterAll(removeTempDirs);
beforeAll(() => ensureBuilt(), 120_000);

describe('ltxvfs compact', () => {
  it('--help explains the pass and warns that only the writer should compact', () => {
    const r = cli(['compact', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: ltxvfs compact <replica-url> [--force] [--dry-run] [--json]');
    expect(r.out).toMatch(/WARNING: only the replica's single writer/);
    expect(cli(['--help']).out).toMatch(/compact\s+Run one compaction/);
    expect(cli(['compact']).code).toBe(2);
  });

  it('on file://: --dry-run changes nothing, --force compacts and snapshots, --json reports', async () => {
    const dir = tempDir('compact-cli');
    const replica = path.join(dir, 'replica');
    const h = new History();
    h.advance(24);
    const store = new FileStore({ dir: replica });
    await buildReplica(store, h, 25, Date.now() - 60_000);
    const url = fileUrl(replica);

    const dry = cli(['compact', url, '--force', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('would write L1 ltx/1/0000000000000002-0000000000000019.ltx from 24 files');
    expect(dry.out).toMatch(/dry run: compacted .* at txid 25: would write 4 files, would delete 0 files \(0 B\), plan 25 -> 1 files/);
    expect(eqBytes(await restored(store), h.images[24])).toBe(true);

    const real = cli(['compact', url, '--force']);
    expect(real.code).toBe(0);
    expect(real.err).toBe('');
    expect(real.out).toMatch(/^wrote {3}L1 ltx\/1\/0000000000000002-0000000000000019\.ltx from 24 files \(\d+ (B|kB)\) \[force\]$/m);
    expect(real.out).toMatch(/^wrote {3}L9 ltx\/9\/0000000000000001-0000000000000019\.ltx from 2 files/m);
    expect(real.out).toMatch(/compacted .* at txid 25: wrote 4 files \(\d+ kB\), deleted 0 files \(0 B\), plan 25 -> 1 files, \d+ requests/);

    const json = JSON.parse(cli(['compact', url, '--json']).out);
    expect(json).toMatchObject({ ok: true, latestTXID: '25', written: [], planFilesAfter: 1, dryRun: false });
    expect(eqBytes(await restored(store), h.images[24])).toBe(true);
    h.close();
  });

  it('on S3 with AWS_* credentials', async () => {
    const cfg = testS3Config();
    const prefix = uniquePrefix('compact-cli');
    const store = new S3Store(testS3StoreOptions(prefix));
    const h = new History();
    h.advance(9);
    await buildReplica(store, h, 10, Date.now() - 60_000);
    const env = { ...process.env, AWS_ACCESS_KEY_ID: cfg.accessKeyId, AWS_SECRET_ACCESS_KEY: cfg.secretAccessKey };
    const r = cli(['compact', testReplicaUrl(prefix), '--force', '--json'], { env });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.written.map((w: { key: string }) => w.key)).toEqual([
      '0001/0000000000000002-000000000000000a.ltx',
      '0002/0000000000000002-000000000000000a.ltx',
      '0003/0000000000000002-000000000000000a.ltx',
      '0009/0000000000000001-000000000000000a.ltx',
    ]);
    expect(eqBytes(await restored(store), h.images[9])).toBe(true);
    h.close();
    await store.close();
  });
});

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

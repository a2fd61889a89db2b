// Litestream v0.5 can restore and take over what ltxvfs writes (issue 15), judged by
// the reference Go ltx library and Litestream's own rules (tools/ltxcheck, run as
// WebAssembly): a replica written, synced and compacted by ltxvfs restores with
// Litestream's algorithm byte for byte as ltxvfs restores it, and a fresh Litestream
// primary can take it over. The oracle is checked first on files Go wrote.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compactOnce } from '../../src/compact/index.js';
import { Database } from '../../src/engine/index.js';
import { decodeHeader, hasChecksums } from '../../src/ltx/index.js';
import { open } from '../../src/open.js';
import { parseRecord } from '../../src/replica/checksum-record.js';
import { listReplica, restore } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { fileUrl, GOLDEN, removeTempDirs, tempDir } from '../replica/helpers.js';
import { quiet } from '../sync/helpers.js';
import { ltxcheck } from '../support/ltxcheck.js';
import { testReplicaUrl, testS3Config, testS3StoreOptions, uniquePrefix } from '../support/s3.js';

afterAll(removeTempDirs);

type Report = { ok: boolean; error?: string; branch?: string; outSHA256?: string; verify?: { file: string; ok: boolean; error?: string }[] };
const name = (t: number) => `${t.toString(16).padStart(16, '0')}-${t.toString(16).padStart(16, '0')}.ltx`;

/** Copy every LTX file of `store` into a file-replica root (ltx/<level>/<name>): the layout ltxcheck reads. */
async function mirror(store: ObjectStore, root: string): Promise<void> {
  for (const f of await listReplica(store)) {
    const dir = path.join(root, 'ltx', String(f.level));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, path.basename(f.key)), await store.get(f.key));
  }
}

describe('the oracle (tools/ltxcheck) on files the Go library wrote', () => {
  it('restores a Litestream-shaped chain (NoChecksum) as ltxvfs does, and refuses files with checksums as Litestream did', async () => {
    const root = path.join(tempDir('lt-golden'), 'replica');
    for (const t of [1, 2, 3]) {
      mkdirSync(path.join(root, 'ltx/0'), { recursive: true });
      copyFileSync(path.join(GOLDEN, 'nochecksum', name(t)), path.join(root, 'ltx/0', name(t)));
    }
    const lt = path.join(root, '..', 'litestream.db');
    const r = ltxcheck('restore', root, lt);
    expect(r.code, r.stderr).toBe(0);
    const ours = path.join(root, '..', 'ltxvfs.db');
    await restore(new FileStore({ dir: root }), {}, ours, { integrityCheck: false });
    expect(Buffer.compare(readFileSync(lt), readFileSync(ours))).toBe(0);
    expect(readFileSync(lt).length).toBe(3 * 4096);

    // The files with checksums inline (what ltxvfs wrote before): Litestream's restore refuses them.
    const bad = path.join(tempDir('lt-golden-bad'), 'replica');
    mkdirSync(path.join(bad, 'ltx/0'), { recursive: true });
    for (const t of [1, 2, 3]) copyFileSync(path.join(GOLDEN, 'checksum', name(t)), path.join(bad, 'ltx/0', name(t)));
    const refused = ltxcheck('restore', bad, path.join(bad, '..', 'x.db'));
    expect(refused.code).toBe(1);
    expect(JSON.stringify(refused.report)).toMatch(/post-apply checksum not allowed/);
  });
});

type Target = { kind: string; url: string; store: () => ObjectStore; s3?: { accessKeyId: string; secretAccessKey: string }; root: (store: ObjectStore) => Promise<string> };

const targets: [string, () => Target][] = [
  ['file', () => {
    const dir = path.join(tempDir('lt-rt'), 'replica');
    return { kind: 'file', url: fileUrl(dir), store: () => new FileStore({ dir }), root: async () => dir };
  }],
  ['s3', () => {
    const prefix = uniquePrefix('lt-rt');
    const c = testS3Config();
    return {
      kind: 's3',
      url: testReplicaUrl(prefix),
      store: () => new S3Store(testS3StoreOptions(prefix)),
      s3: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
      root: async (store) => {
        const root = path.join(tempDir('lt-rt-mirror'), 'replica');
        await mirror(store, root);
        return root;
      },
    };
  }],
];

describe.each(targets)('a replica ltxvfs wrote, synced and compacted (%s)', (_kind, make) => {
  it('restores with Litestream byte for byte as with ltxvfs, and a Litestream primary can take it over', async () => {
    const t = make();
    const db = await open({ replicaUrl: t.url, s3: t.s3, writeEnabled: true, bufferPath: tempDir('lt-rt-buf'), syncInterval: 3_600_000 });
    const store = t.store();
    try {
      db.exec('CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)');
      db.exec('BEGIN');
      for (let i = 1; i <= 400; i++) db.run('INSERT INTO items(name, n) VALUES (?, ?)', [`item-${i}-${'x'.repeat(80)}`, i]);
      db.exec('COMMIT');
      await db.sync(); // TXID 1: the snapshot (two commits merged)
      for (let round = 0; round < 3; round++) {
        // Several commits per upload: they share one TXID, so every L0 file is N-N.
        db.run('UPDATE items SET n = n + 1 WHERE id % 5 = ?', [round]);
        db.run('INSERT INTO items(name, n) VALUES (?, ?)', [`round-${round}`, round]);
        await db.sync();
      }
      let report = await compactOnce(store, { force: true, log: quiet });
      expect(report.written.length).toBeGreaterThan(0);
      db.run('DELETE FROM items WHERE id % 3 = 0'); // and a shrink after the compaction
      db.exec('VACUUM');
      await db.sync();
      report = await compactOnce(store, { force: true, log: quiet });
      db.run("INSERT INTO items(name, n) VALUES ('last', 0)");
      await db.sync();
    } finally {
      await db.close();
    }

    const files = await listReplica(store);
    const l0 = files.filter((f) => f.level === 0);
    expect(l0.length).toBeGreaterThan(0);
    for (const f of l0) expect(f.minTXID).toBe(f.maxTXID); // one TXID per L0 file
    expect(files.some((f) => f.level > 0 && f.level < 9)).toBe(true);
    expect(files.some((f) => f.level === 9)).toBe(true);
    // Every file is NoChecksum, and ltxvfs still knows each file's database checksums: the record beside it.
    for (const f of files) {
      const got = await store.getWithMetadata(f.key, { range: { offset: 0, length: 100 } });
      const h = decodeHeader(got.bytes);
      expect(hasChecksums(h), f.key).toBe(false);
      expect(h.walOffset, f.key).toBe(f.level === 0 ? 32n : 0n);
      expect(parseRecord(got.metadata), f.key).not.toBeNull();
    }

    const root = await t.root(store);
    const check = ltxcheck('check', root);
    const rep = check.report as { ok: boolean; verify: Report[]; restore: Report; takeover: Report } | null;
    expect(rep, check.stderr).not.toBeNull();
    expect(rep!.verify.filter((v) => !v.ok)).toEqual([]);
    expect(rep!.restore.ok, rep!.restore.error).toBe(true);
    expect(rep!.takeover.ok, rep!.takeover.error).toBe(true);
    expect(rep!.takeover.branch).toMatch(/salt reset, snapshotting/);
    expect(check.code).toBe(0);

    const lt = path.join(root, '..', 'litestream.db');
    expect(ltxcheck('restore', root, lt).code).toBe(0);
    const ours = path.join(root, '..', 'ltxvfs.db');
    const r = await restore(store, {}, ours);
    expect(r.checksumVerified).toBe(true); // the record keeps our end-to-end check
    expect(Buffer.compare(readFileSync(lt), readFileSync(ours))).toBe(0);
    const back = new Database(lt);
    try {
      expect(back.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
      expect(back.get("SELECT n FROM items WHERE name = 'last'")).toEqual({ n: 0 });
    } finally {
      back.close();
    }
  });
});

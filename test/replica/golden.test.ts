// Compatibility with Litestream's layout and the Go library's golden files: a
// replica holding the golden snapshot restores to source.db byte for byte, on
// file:// (<dir>/ltx/9/…) and on S3 (<prefix>/0009/…).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/storage/file-store.js';
import { restore, isReplicaError } from '../../src/replica/index.js';
import { GOLDEN, golden, s3Store, tempDir, removeTempDirs } from './helpers.js';
import { testS3Client, testS3Config, uniquePrefix } from '../support/s3.js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3-store.js';
import { testS3StoreOptions } from '../support/s3.js';

afterAll(removeTempDirs);

const SOURCE = readFileSync(path.join(GOLDEN, 'sqlite/source.db'));
const NAME = '0000000000000001-0000000000000001.ltx';

describe('golden snapshot in Litestream file:// layout', () => {
  for (const variant of ['sqlite-snapshot.ltx', 'sqlite-snapshot-nochecksum.ltx']) {
    it(`restores ${variant} to source.db byte for byte`, async () => {
      const dir = tempDir('golden');
      mkdirSync(path.join(dir, 'replica/ltx/9'), { recursive: true });
      writeFileSync(path.join(dir, 'replica/ltx/9', NAME), golden(`sqlite/${variant}`));
      const store = new FileStore({ dir: path.join(dir, 'replica') });
      const out = path.join(dir, 'out.db');
      const r = await restore(store, {}, out);
      expect(Buffer.compare(readFileSync(out), SOURCE)).toBe(0);
      expect(r.txid).toBe(1n);
      expect(r.commit).toBe(9);
      expect(r.checksumVerified).toBe(!variant.includes('nochecksum'));
      expect(r.integrityChecked).toBe(true);
    });
  }

  it('restores the checksum/ chain 1..3 to each known state by TXID', async () => {
    const dir = tempDir('golden-chain');
    const store = new FileStore({ dir: path.join(dir, 'replica') });
    for (const t of [1, 2, 3]) {
      const name = `000000000000000${t}-000000000000000${t}.ltx`;
      const level = t === 1 ? 9 : 0;
      mkdirSync(path.join(dir, `replica/ltx/${level}`), { recursive: true });
      writeFileSync(path.join(dir, `replica/ltx/${level}`, name), golden(`checksum/${name}`));
    }
    // The golden pages are not a real SQLite database (integrity_check is off); the
    // states are golden/README.md's: restore verifies the page and chain checksums.
    const Z = Buffer.alloc(4096);
    Z.write('SQLite format 3\0', 'latin1');
    const Z3 = Buffer.from(Z);
    Z3.write('txid-3', 100, 'latin1');
    const pat = (m: number, a: number) => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * m + a) & 0xff));
    const sha = Buffer.concat(
      Array.from({ length: 128 }, (_, k) => {
        const be = Buffer.alloc(4);
        be.writeUInt32BE(k);
        return createHash('sha256').update(Buffer.concat([Buffer.from('ltx-page-3'), be])).digest();
      }),
    );
    const states: Record<number, Buffer> = {
      1: Buffer.concat([Z, pat(7, 2), sha]),
      2: Buffer.concat([Z, Buffer.alloc(4096, 0xab), sha, pat(1, 0)]),
      3: Buffer.concat([Z3, Buffer.alloc(4096, 0xab), sha]),
    };
    for (const t of [1, 2, 3]) {
      const out = path.join(dir, `out-${t}.db`);
      const r = await restore(store, { txid: BigInt(t) }, out, { integrityCheck: false });
      expect(r.files).toBe(t);
      expect(r.checksumVerified).toBe(true);
      expect(Buffer.compare(readFileSync(out), states[t])).toBe(0);
    }
    // TXID 4 deletes the database (commit 0): the result is an empty file.
    mkdirSync(path.join(dir, 'replica/ltx/0'), { recursive: true });
    writeFileSync(path.join(dir, 'replica/ltx/0/0000000000000004-0000000000000004.ltx'), golden('checksum/0000000000000004-0000000000000004.ltx'));
    const empty = await restore(store, {}, path.join(dir, 'deleted.db'));
    expect(empty).toMatchObject({ txid: 4n, commit: 0, dbBytes: 0, integrityChecked: false });
    expect(readFileSync(path.join(dir, 'deleted.db')).length).toBe(0);
    await store.deleteMany(['ltx/0/0000000000000004-0000000000000004.ltx']);
    // With the integrity check on (the default), these non-SQLite pages are refused and nothing is left behind.
    const out = path.join(dir, 'checked.db');
    await expect(restore(store, {}, out)).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_VERIFY'));
    expect(existsSync(out)).toBe(false);
  });
});

describe('golden snapshot in Litestream S3 layout', () => {
  const stores: S3Store[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
  });

  it('restores <prefix>/0009/<name> to source.db byte for byte (written with the raw SDK)', async () => {
    const cfg = testS3Config();
    const prefix = uniquePrefix('golden');
    const client = testS3Client(cfg);
    await client.send(
      new PutObjectCommand({
        Bucket: cfg.bucket,
        Key: `${prefix}0009/${NAME}`,
        Body: golden('sqlite/sqlite-snapshot.ltx'),
        Metadata: { 'litestream-timestamp': '2023-11-14T22:13:20Z' },
      }),
    );
    client.destroy();
    const store = new S3Store(testS3StoreOptions(prefix));
    stores.push(store);
    const out = path.join(tempDir('golden-s3'), 'out.db');
    const r = await restore(store, {}, out);
    expect(Buffer.compare(readFileSync(out), SOURCE)).toBe(0);
    expect(r.checksumVerified).toBe(true);
    // Timestamp targets read the metadata: before it there is no state, at it there is.
    const out2 = path.join(tempDir('golden-s3'), 'out.db');
    await restore(store, { timestamp: new Date('2023-11-14T22:13:20Z') }, out2);
    expect(Buffer.compare(readFileSync(out2), SOURCE)).toBe(0);
    await expect(restore(store, { timestamp: new Date('2023-11-14T22:13:19Z') }, out2 + '.x')).rejects.toSatisfy((e) => isReplicaError(e, 'REPLICA_TARGET'));
  });

  it('restores the nochecksum variant from S3', async () => {
    const store = s3Store();
    stores.push(store);
    await store.put(`0009/${NAME}`, golden('sqlite/sqlite-snapshot-nochecksum.ltx'));
    const out = path.join(tempDir('golden-s3'), 'out.db');
    const r = await restore(store, {}, out);
    expect(Buffer.compare(readFileSync(out), SOURCE)).toBe(0);
    expect(r.checksumVerified).toBe(false);
  });
});

// No credentials in URLs, errors, logs or files: a replica URL with user info is
// refused by the CLI and by openStore without echoing it, and whatever URL the write
// buffer stores (its log, REASON.txt after a set-aside) has user info redacted.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/redact.js';
import { openStore } from '../../src/storage/open-store.js';
import { WriteBuffer } from '../../src/sync/index.js';
import { cli, ensureBuilt } from '../support/cli.js';
import { quiet, removeTempDirs, tempDir } from '../sync/helpers.js';

const SECRET = /AKIAKEY|SECRETVALUE/;
const WITH_CREDS = 's3://AKIAKEY:SECRETVALUE@bucket/db?endpoint=http://127.0.0.1:9&forcePathStyle=true';

beforeAll(() => ensureBuilt(), 120_000);
afterAll(removeTempDirs);

describe('credentials', () => {
  it('the CLI refuses a replica URL with user info (non-zero exit) without echoing the secret', () => {
    for (const cmd of [['info', WITH_CREDS], ['sql', WITH_CREDS, 'SELECT 1'], ['info', 's3://AKIAKEY:SECRET/VALUE@bucket/db']]) {
      const r = cli(cmd);
      expect(r.code, cmd.join(' ')).not.toBe(0);
      expect(r.err).toMatch(/user info|not a URL/);
      expect(r.err + r.out).not.toMatch(/AKIAKEY|SECRETVALUE|SECRET\/VALUE/);
    }
  });

  it('openStore refuses user info, in the URL or its endpoint, without echoing it', () => {
    for (const url of [WITH_CREDS, 's3://bucket/db?endpoint=http://AKIAKEY:SECRETVALUE@127.0.0.1:9', 's3://AKIAKEY:SECRETVALUE/x@bucket/db']) {
      expect(() => openStore(url)).toThrow(TypeError);
      try {
        openStore(url);
      } catch (err) {
        expect((err as Error).message).not.toMatch(SECRET);
      }
    }
  });

  it('the write buffer stores and reports the URL redacted', () => {
    const dir = tempDir('creds');
    const b = WriteBuffer.open(dir, { replicaUrl: WITH_CREDS, pageSize: 512, maxBytes: 1 << 20, log: quiet });
    b.setBase({ txid: 0n, checksum: null, commit: 0, pageSize: 512 });
    b.append({ pages: [[1, new Uint8Array(512).fill(1)]], commit: 1, checksum: null });
    expect(b.replicaUrl).toBe(redactUrl(WITH_CREDS));
    expect(readFileSync(path.join(dir, 'buffer.log')).toString('latin1')).not.toMatch(SECRET);
    const aside = b.setAside('test');
    const reason = readFileSync(path.join(aside, 'REASON.txt'), 'utf8');
    expect(reason).toMatch(/replica: s3:\/\/\*\*\*@bucket\/db/);
    expect(reason).not.toMatch(SECRET);
    for (const f of readdirSync(aside)) expect(readFileSync(path.join(aside, f)).toString('latin1')).not.toMatch(SECRET);
    b.close();
  });

  it('redactUrl hides user info, nested and percent-encoded too, and keeps the rest', () => {
    expect(redactUrl('s3://K:S@b/p?region=x')).toBe('s3://***@b/p?region=x');
    expect(redactUrl('s3://b/p?endpoint=http://K:S@h:9000')).toBe('s3://b/p?endpoint=http://***@h:9000');
    expect(redactUrl('s3://b/p?endpoint=http%3A%2F%2FK%3AS%40h')).toBe('s3://b/p?endpoint=http%3A%2F%2F***%40h');
    expect(redactUrl('s3://b/p?endpoint=http://h:9000')).toBe('s3://b/p?endpoint=http://h:9000');
    expect(redactUrl('file:///data/a@b')).toBe('file:///data/a@b');
  });
});

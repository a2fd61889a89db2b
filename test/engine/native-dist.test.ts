// native/dist is committed so that installs need no compiler; this fails when
// it no longer matches its sources (native/build.sh records their sha256 in
// native/dist/SOURCES.sha256), or when the build is not the one we load.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqliteVersion } from '../../src/engine/index.js';
import { packageRoot } from '../../src/engine/wasm.js';

const root = packageRoot();
const STALE = 'native/dist is stale: run npm run build:native';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(join(root, file))).digest('hex');
}

function recorded(): Map<string, string> {
  const lines = readFileSync(join(root, 'native/dist/SOURCES.sha256'), 'utf8').trim().split('\n');
  return new Map(lines.map((l) => {
    const [hash, file] = l.split(/\s+\*?/);
    return [file, hash];
  }));
}

describe('native/dist', () => {
  it('was built from the committed sources', () => {
    const sums = recorded();
    const inputs = ['native/build.sh', ...readdirSync(join(root, 'native/src')).map((f) => `native/src/${f}`)];
    for (const file of inputs) {
      expect(sums.has(file), `${STALE} (${file} is new)`).toBe(true);
      expect(sha256(file), `${STALE} (${file} changed)`).toBe(sums.get(file));
    }
    for (const file of sums.keys()) {
      if (file.startsWith('native/src/')) expect(inputs, `${STALE} (${file} was removed)`).toContain(file);
    }
  });

  it('holds the outputs that build produced', () => {
    const sums = recorded();
    for (const file of ['native/dist/sqlite3.cjs', 'native/dist/sqlite3.wasm']) {
      expect(sha256(file), `${STALE} (${file} differs from what the build wrote)`).toBe(sums.get(file));
    }
  });

  it('is the pinned SQLite version, 3.46 or newer', () => {
    const pinned = /^SQLITE_VERSION=(\S+)$/m.exec(readFileSync(join(root, 'native/build.sh'), 'utf8'))![1];
    expect(sqliteVersion()).toBe(pinned);
    const [major, minor] = pinned.split('.').map(Number);
    expect(major * 1000 + minor).toBeGreaterThanOrEqual(3046);
  });
});

// The worker starts from TypeScript source (here, under vitest) and from the compiled
// dist/ under plain node, where no TypeScript loader is involved.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workerEntry } from '../../src/io/spawn.js';
import { SyncStore } from '../../src/io/sync-store.js';
import { ROOT, ensureBuilt } from '../support/cli.js';

function replica(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ltxvfs-io-load-'));
  writeFileSync(path.join(dir, 'k'), 'value of k');
  return pathToFileURL(dir).href;
}

describe('worker loading', () => {
  it('from source: worker.ts through tsx', async () => {
    expect(workerEntry().kind).toBe('source');
    const s = new SyncStore(replica());
    expect(Buffer.from(s.getSync('k')).toString()).toBe('value of k');
    await s.close();
  });

  it('from dist/ under plain node: worker.js, no loader', () => {
    ensureBuilt();
    const script = `
      import { SyncStore } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/io/sync-store.js')).href)};
      import { workerEntry } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/src/io/spawn.js')).href)};
      const s = new SyncStore(${JSON.stringify(replica())});
      const got = Buffer.from(s.getSync('k', { offset: 9, length: 1 })).toString();
      let code;
      try { s.getSync('missing'); } catch (e) { code = e.code; }
      await s.close();
      console.log(JSON.stringify({ kind: workerEntry().kind, got, code, loaders: process.execArgv.filter((a) => /^--(import|loader|experimental-loader|require)/.test(a)) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(JSON.parse(out)).toEqual({ kind: 'compiled', got: 'k', code: 'NOT_FOUND', loaders: [] });
  });
});

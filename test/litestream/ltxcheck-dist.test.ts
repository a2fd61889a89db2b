// tools/ltxcheck/dist is committed (tests run it with Node alone); this fails when it
// no longer matches its sources (build.sh records their sha256 in dist/SOURCES.sha256).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TOOL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tools/ltxcheck');
const STALE = 'tools/ltxcheck/dist is stale: run tools/ltxcheck/build.sh (needs Go)';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function walk(rel: string): string[] {
  const abs = path.join(TOOL, rel);
  if (statSync(abs).isFile()) return [rel];
  return readdirSync(abs).flatMap((e) => walk(path.join(rel, e)));
}

describe('tools/ltxcheck/dist', () => {
  it('was built from the committed sources, and holds what the build wrote', () => {
    const lines = readFileSync(path.join(TOOL, 'dist/SOURCES.sha256'), 'utf8').trim().split('\n');
    const sums = new Map(lines.map((l) => {
      const [hash, file] = l.split(/\s+\*?/);
      return [file, hash] as const;
    }));
    const sources = ['build.sh', ...walk('cmd'), ...walk('src')];
    for (const f of sources) expect(sha256(path.join(TOOL, f)), `${STALE} (${f})`).toBe(sums.get(f));
    for (const f of sums.keys()) {
      const at = ['ltxcheck.wasm', 'wasm_exec.cjs', 'run.cjs'].includes(f) ? path.join(TOOL, 'dist', f) : path.join(TOOL, f);
      expect(sha256(at), `${STALE} (${f})`).toBe(sums.get(f));
    }
  });
});

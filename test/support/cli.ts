// Run the compiled CLI (dist/) as a user would. `npm test` compiles first; when a
// test file is run alone and dist/ is older than src/, build once here.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_MAIN = path.join(ROOT, 'dist/src/cli/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Compile src/ unless dist/ is already newer than every source file. */
export function ensureBuilt(): void {
  if (existsSync(CLI_MAIN) && statSync(CLI_MAIN).mtimeMs >= newestMtime(path.join(ROOT, 'src'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { stdio: 'pipe' });
}

export function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', env: options.env ?? process.env, cwd: options.cwd });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

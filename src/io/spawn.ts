// Starting the worker thread from compiled code (dist/src/io/worker.js, plain node) or
// from TypeScript source (src/io/worker.ts under vitest or tsx). Node 20 does not apply
// `--import tsx` from a Worker's execArgv to the worker's entry (measured: "Unknown
// file extension .ts"), so from source a tiny bootstrap loads the entry through tsx's
// `tsImport`. tsx is a devDependency: only development takes that path.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Which worker entry this module will start: the compiled one next to it, else the source. */
export function workerEntry(): { kind: 'compiled' | 'source'; url: URL } {
  const compiled = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return { kind: 'compiled', url: compiled };
  const source = new URL('./worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(source))) return { kind: 'source', url: source };
  throw new Error(`io worker not found next to ${import.meta.url}`);
}

export function spawnWorker(options: WorkerOptions): Worker {
  const entry = workerEntry();
  // A worker inherits the process's execArgv; `--input-type` (from `node --input-type=module
  // -e …`) makes a file entry fail to load, so it is left out.
  options = { execArgv: process.execArgv.filter((arg) => !arg.startsWith('--input-type')), ...options };
  if (entry.kind === 'compiled') return new Worker(entry.url, options);
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.url.href)}, ${JSON.stringify(entry.url.href)}))`;
  return new Worker(boot, { ...options, eval: true });
}

/** tsx's ESM API entry (require.resolve would give its CommonJS twin, which cannot load ESM hooks). */
function tsxApiUrl(): string {
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgPath), pkg.exports['./esm/api'].import.default)).href;
}

// Starting a worker thread (the I/O worker, the hydrator's) from compiled code
// (dist/src/…/worker.js, plain node) or from TypeScript source (…/worker.ts under
// vitest or tsx). Node 20 does not apply `--import tsx` from a Worker's execArgv to
// the worker's entry (measured: "Unknown file extension .ts"), so from source a tiny
// bootstrap loads the entry through tsx's `tsImport`. tsx is a devDependency: only
// development takes that path.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

const IO_WORKER = new URL('./worker.js', import.meta.url);

/** Which entry will start for `compiled` (a .js URL): that file when it exists, else the .ts beside it. */
export function workerEntry(compiled: URL = IO_WORKER): { kind: 'compiled' | 'source'; url: URL } {
  if (existsSync(fileURLToPath(compiled))) return { kind: 'compiled', url: compiled };
  const source = new URL(compiled.href.replace(/\.js$/, '.ts'));
  if (existsSync(fileURLToPath(source))) return { kind: 'source', url: source };
  throw new Error(`worker ${fileURLToPath(compiled)} not found (nor its .ts source)`);
}

/** Start the worker at `compiled` (default: the I/O worker). */
export function spawnWorker(options: WorkerOptions, compiled: URL = IO_WORKER): Worker {
  const entry = workerEntry(compiled);
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

// What importing the package costs, per module, in fresh processes on dist/:
//   node bench/support/import-cost.mjs [--runs 5] [module ...]
// For each module (default: the package entry and the modules open() needs), the
// median time to import it alone in a fresh `node` (its whole subgraph, inclusive),
// and which of the package's modules and ES-module dependencies that import loaded
// (CommonJS loaded with require, e.g. the AWS SDK and the SQLite glue, is not listed). Plus a
// worker thread importing the I/O worker's modules, and `node -e ""` spawn to exit.
// JSON on stdout. Plain JS: no loader in the measured processes but the one recording
// module URLs (its own run, not a timed one).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');
const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '5' } }, allowPositionals: true });
const RUNS = Number(values.runs);
const DEFAULT = [
  'src/index.js',
  'src/open.js',
  'src/engine/index.js',
  'src/io/index.js',
  'src/replica/index.js',
  'src/replica/linked-plan.js',
  'src/vfs/replica-vfs.js',
  'src/storage/open-store.js',
  'src/storage/s3-store.js',
  'src/writer.js',
  'src/hydration.js',
  'src/compact/index.js',
  'src/config.js',
  'src/log.js',
  'pino',
  '@aws-sdk/client-s3',
];
const modules = positionals.length > 0 ? positionals : DEFAULT;
const spec = (m) => (m.startsWith('src/') ? pathToFileURL(path.join(DIST, m)).href : m);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const node = (args) => execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });

/** ms to import `m` in a fresh process (the import alone, not node's start). */
function importMs(m) {
  const code = `const t = performance.now(); await import(${JSON.stringify(spec(m))}); process.stdout.write(String(performance.now() - t));`;
  return Number(node(['--input-type=module', '-e', code]));
}

/** The module URLs importing `m` loads, grouped: the package's own, and per dependency. */
function loaded(m) {
  const hooks = pathToFileURL(path.join(ROOT, 'bench/support/import-hooks.mjs')).href;
  const body = `await import(${JSON.stringify(spec(m))});`;
  const code = `import { register } from 'node:module'; import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel(); const urls = new Set(); port1.on('message', (u) => urls.add(u)); port1.unref();
    register(${JSON.stringify(hooks)}, { data: { port: port2 }, transferList: [port2] });
    ${body}
    await new Promise((ok) => setTimeout(ok, 100));
    process.stdout.write(JSON.stringify([...urls]));`;
  const urls = JSON.parse(node(['--input-type=module', '-e', code]));
  const own = [];
  const deps = {};
  for (const u of urls) {
    if (u.startsWith('node:')) continue;
    const p = u.startsWith('file:') ? fileURLToPath(u) : u;
    const nm = p.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const rest = p.slice(nm + 'node_modules/'.length).split('/');
      const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
      deps[name] = (deps[name] ?? 0) + 1;
    } else own.push(path.relative(DIST, p));
  }
  return { ownModules: own.length, own: own.sort(), dependencies: deps };
}

const out = { runs: RUNS, node: process.version, loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100), modules: {} };
for (const m of modules) {
  const ms = [];
  for (let i = 0; i < RUNS; i++) ms.push(importMs(m));
  const g = loaded(m);
  out.modules[m] = { medianMs: Math.round(median(ms) * 10) / 10, runsMs: ms.map((x) => Math.round(x)), ownModules: g.ownModules, dependencies: g.dependencies, ...(m === 'src/index.js' || m === 'src/open.js' ? { own: g.own } : {}) };
  process.stderr.write(`[import-cost] ${m}: ${out.modules[m].medianMs} ms, ${g.ownModules} own modules, deps ${JSON.stringify(g.dependencies)}\n`);
}
// The I/O worker: from \`new SyncStore\` to its first answer (an echo: thread start and
// the worker's modules), and to a first S3 request's answer (a refused connection: adds
// the S3 client's load). The main thread has imported src/io/index.js already.
const io = pathToFileURL(path.join(DIST, 'src/io/index.js')).href;
const worker = (url, call) =>
  Number(node(['--input-type=module', '-e', `const { SyncStore } = await import(${JSON.stringify(io)});
    const t = performance.now(); const s = new SyncStore(${JSON.stringify(url)}, { testHooks: true, store: { retry: { maxAttempts: 1 } } });
    try { ${call} } catch {} process.stdout.write(String(performance.now() - t)); await s.close();`]));
for (const [name, url, call] of [
  ['io worker: start to first answer (echo)', 'file:///tmp', "s.testSync({ kind: 'echo' });"],
  ['io worker: start to first S3 answer (connection refused)', 's3://b/p?endpoint=http://127.0.0.1:9&region=us-east-1&forcePathStyle=true', "s.headSync('x');"],
]) {
  const ms = [];
  for (let i = 0; i < RUNS; i++) ms.push(worker(url, call));
  out.modules[name] = { medianMs: Math.round(median(ms) * 10) / 10, runsMs: ms.map((x) => Math.round(x)) };
  process.stderr.write(`[import-cost] ${name}: ${out.modules[name].medianMs} ms\n`);
}
const spawnMs = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  node(['-e', '']);
  spawnMs.push(performance.now() - t);
}
out.nodeSpawnToExitMs = Math.round(median(spawnMs) * 10) / 10;
out.loadAverageAfter = (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100);
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);

// One cold start, in a fresh `node` process running the built package (dist/), as an
// application would: import the package, open, run one query, print one JSON line.
// Plain JavaScript on purpose: no tsx, no TypeScript loader in the measured process.
//
//   node bench/support/coldstart-child.mjs '<json task>'
//   task.mode: 'open'   open({replicaUrl}) then task.sql with task.params
//              'local'  new Database(task.dbPath) (our engine, local VFS) then task.sql
//              'probe'  import task.modules one after another, timing each
//              'worker' start a worker thread that imports task.modules, timing until it answers
// Every time is ms since this process's time origin (its start); `timeOrigin` is absolute.
// Also reported: every thread started (threadsStartedMs) and, with 'open', the I/O
// workers' spawn and ready times (ioWorkers, absolute) when the package records them.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const mainAt = performance.now();
const task = JSON.parse(process.argv[2]);
const dist = (rel) => pathToFileURL(`${task.dist}/${rel}`).href;
const out = { timeOrigin: performance.timeOrigin, bootstrapMs: performance.nodeTiming.bootstrapComplete, mainMs: mainAt };
// Every thread this process starts (the I/O worker, a hydrator's): when the 'worker' event was
// seen, in ms since the origin (it can come well after the spawn: count them, do not time them).
out.threadsStartedMs = [];
process.on('worker', () => out.threadsStartedMs.push(performance.now()));

if (task.mode === 'probe') {
  out.imports = [];
  for (const m of task.modules) {
    const t = performance.now();
    await import(m.startsWith('@') ? m : dist(m));
    out.imports.push({ module: m, ms: performance.now() - t });
  }
} else if (task.mode === 'worker') {
  const { Worker } = await import('node:worker_threads');
  const urls = task.modules.map((m) => (m.startsWith('@') ? m : dist(m)));
  const code = `const { parentPort } = require('node:worker_threads');
    Promise.all(${JSON.stringify(urls)}.map((u) => import(u))).then(() => parentPort.postMessage('ready'));`;
  const t = performance.now();
  const w = new Worker(code, { eval: true });
  await new Promise((ok, fail) => {
    w.once('message', ok);
    w.once('error', fail);
  });
  out.imports = [{ module: `worker+${task.modules.join('+') || 'nothing'}`, ms: performance.now() - t }];
  await w.terminate();
} else {
  const pkg = await import(dist('src/index.js'));
  out.importedMs = performance.now();
  let db;
  if (task.mode === 'open') db = await pkg.open({ replicaUrl: task.replicaUrl });
  else db = new pkg.Database(task.dbPath, { readOnly: true });
  out.openedMs = performance.now();
  const row = db.get(task.sql, task.params);
  out.firstRowMs = performance.now();
  out.row = row === undefined ? null : { id: row.id, account: row.account };
  if (task.mode === 'open') {
    out.openStats = db.openStats;
    out.storeStats = db.storeStats();
    const r = db.replicaStats();
    out.replicaStats = { ...r, txid: String(r.txid) };
    // When each I/O worker was spawned and up (absolute ms), where the package records it.
    const io = await import(dist('src/io/index.js'));
    if (typeof io.workerStarts === 'function') out.ioWorkers = io.workerStarts();
  }
  await db.close();
}
out.endMs = performance.now();
process.stdout.write(`${JSON.stringify(out)}\n`);

// One hydration run in a fresh `node` process on the built package (dist/), for
// bench:hydrate and bench:boot. Plain JavaScript: no TypeScript loader in the measured process.
//
//   node bench/support/child-hydrate.mjs '<json task>'
//   task.mode: 'hydrate'  open({replicaUrl, hydrationPath}); one point lookup at once; wait for
//                         the switch; then warm rowid lookups on the switched database vs
//                         `new Database(copy)` (same engine, local-file VFS), rounds alternating
//              'boot'     open with hydration; run the metadata query mix at once and then in a
//                         loop until the switch; then once more on local reads
//              'build'    hydrate() alone (no VFS) with task.chunkBytes / task.concurrency: tuning
// Times are ms since this process's time origin; `timeOrigin` is absolute.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const mainAt = performance.now();
const task = JSON.parse(process.argv[2]);
const dist = (rel) => pathToFileURL(`${task.dist}/${rel}`).href;
const out = { timeOrigin: performance.timeOrigin, mainMs: mainAt };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const randomId = (rows) => 1 + Math.floor(Math.random() * rows);

/** `n` random rowid lookups; returns lookups/s by wall clock. Checks every answer. */
function lookups(db, rows, n) {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const id = randomId(rows);
    const r = db.get('SELECT * FROM events WHERE id = ?', [id]);
    if (r?.id !== id) throw new Error(`lookup ${id}: got ${JSON.stringify(r)}`);
  }
  return n / ((performance.now() - t) / 1000);
}

/** A typical metadata mix: point lookups, an indexed range, a group-by, a count. */
function mix(db, rows, accounts) {
  const answers = [];
  for (let i = 0; i < 3; i++) {
    const id = randomId(rows);
    const r = db.get('SELECT id, account, kind FROM events WHERE id = ?', [id]);
    if (r?.id !== id) throw new Error(`mix lookup ${id}: got ${JSON.stringify(r)}`);
    answers.push(performance.now());
  }
  const a = db.get('SELECT id FROM events WHERE account = ?', [accounts[0].account]);
  if (a?.id !== accounts[0].id) throw new Error(`mix account lookup: got ${JSON.stringify(a)}`);
  answers.push(performance.now());
  const lo = randomId(Math.max(1, rows - 100));
  const range = db.all('SELECT id, ts FROM events WHERE id BETWEEN ? AND ? ORDER BY id', [lo, lo + 49]);
  if (range.length !== 50) throw new Error(`mix range: ${range.length} rows`);
  answers.push(performance.now());
  const g = db.all('SELECT kind, count(*) AS n, max(ts) AS last FROM events WHERE id BETWEEN ? AND ? GROUP BY kind', [lo, lo + 99]);
  if (g.length === 0) throw new Error('mix group-by: no rows');
  answers.push(performance.now());
  const c = db.get('SELECT count(*) AS n FROM events WHERE account >= ? AND account < ?', ['0000', '0010']);
  if (typeof c?.n !== 'number') throw new Error('mix count: no answer');
  answers.push(performance.now());
  return answers;
}

if (task.mode === 'build') {
  const { hydrate } = await import(dist('src/hydrate/index.js'));
  const { openStore } = await import(dist('src/index.js'));
  const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
  const store = openStore(task.replicaUrl, { credentials, concurrency: Math.max(16, task.concurrency ?? 8), timeoutMs: 600_000 });
  const c0 = cpu();
  const t = performance.now();
  const f = await hydrate({ store, path: task.hydrationPath, chunkBytes: task.chunkBytes, concurrency: task.concurrency });
  out.buildMs = performance.now() - t;
  out.cpuMs = cpu() - c0;
  out.stats = f.stats;
  out.txid = String(f.txid);
  await store.close();
} else {
  const pkg = await import(dist('src/index.js'));
  out.importedMs = performance.now();
  const events = [];
  const db = await pkg.open({ replicaUrl: task.replicaUrl, hydrationPath: task.hydrationPath ?? undefined, onHydration: (e) => events.push({ type: e.type, atMs: performance.now() }) });
  out.openedMs = performance.now();
  if (task.mode === 'hydrate') {
    const id = randomId(task.rows);
    const row = db.get('SELECT * FROM events WHERE id = ?', [id]);
    out.firstRowMs = performance.now();
    if (row?.id !== id) throw new Error(`first lookup ${id}: got ${JSON.stringify(row)}`);
    if (!task.hydrationPath) {
      // The control: the same first query with hydration off.
      await db.close();
      process.stdout.write(`${JSON.stringify(out)}\n`);
      process.exit(0);
    }
    await db.hydrated();
    out.switchedMs = performance.now();
  } else {
    out.mixes = [];
    let first = true;
    let switched = false;
    void db.hydrated().then(() => (switched = true));
    while (!switched) {
      const t = performance.now();
      const answers = mix(db, task.rows, task.accounts);
      if (first) out.firstAnswerMs = answers[0];
      out.mixes.push({ atMs: t, ms: performance.now() - t, local: false });
      first = false;
      await new Promise((ok) => setTimeout(ok, 25)); // a server between requests: the hydrator runs meanwhile
    }
    out.switchedMs = performance.now();
    const t = performance.now();
    mix(db, task.rows, task.accounts);
    out.mixes.push({ atMs: t, ms: performance.now() - t, local: true });
  }
  out.status = { ...db.hydrationStatus(), txid: String(db.hydrationStatus().txid) };
  out.storeStats = db.storeStats();
  out.events = { count: events.length, switchedAtMs: events.find((e) => e.type === 'switched')?.atMs ?? null, errors: events.filter((e) => e.type === 'error').length };
  out.cpuMsToSwitch = cpu();
  if (task.mode === 'hydrate' && task.lookups > 0) {
    const local = new pkg.Database(task.hydrationPath, { readOnly: true });
    lookups(db, task.rows, task.lookups); // warm both
    lookups(local, task.rows, task.lookups);
    const before = db.replicaStats().localReads;
    const rounds = { replica: [], local: [] };
    for (let r = 0; r < task.rounds; r++) {
      rounds.replica.push(lookups(db, task.rows, task.lookups));
      rounds.local.push(lookups(local, task.rows, task.lookups));
    }
    out.lookupRounds = rounds;
    out.localReadsDuringRounds = db.replicaStats().localReads - before;
    out.replicaStats = { ...db.replicaStats(), txid: String(db.replicaStats().txid) };
    local.close();
  }
  await db.close();
}
out.endMs = performance.now();
process.stdout.write(`${JSON.stringify(out)}\n`);

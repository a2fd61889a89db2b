// A soak reader: a follower (or a hydrating reader) in a process of its own, as a
// real one is, so its synchronous reads never hold up the writer's event loop. It
// reads every readEveryMs and prints what it saw; the soak checks it against the
// oracle. Lines on stdout (JSON): {t:'ready'}, {t:'read', db, seq, digest, rows, txid},
// {t:'error', message}, {t:'expired', message, queryMs, sincePollMs, pollFailures} (a
// query failed with REPLICA_EXPIRED and was retried, as the error says to),
// {t:'stats', ...} (after `stop` on stdin). `refresh` on stdin:
// poll now, then read (with a full scan).
//   node scripts/soak/reader.mjs '<json: { dist, url, name, cacheSize, pollInterval, hydrationPath, readEveryMs, fullEvery, durationMs }>'
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const task = JSON.parse(process.argv[2]);
const { open } = await import(pathToFileURL(`${task.dist}/src/open.js`).href);
const out = (o) => process.stdout.write(`${JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n`);
const META = "(SELECT v FROM meta WHERE k = 'db') AS db, (SELECT v FROM meta WHERE k = 'seq') AS seq, (SELECT v FROM meta WHERE k = 'digest') AS digest";
const QUICK = `SELECT ${META}`;
const FULL = `SELECT ${META}, count(*) || '/' || sum(length(v)) || '/' || sum(id * gen) AS rows FROM t`;

const db = await open({
  replicaUrl: task.url,
  cacheSize: task.cacheSize,
  pollInterval: task.pollInterval,
  logLevel: 'warn',
  ...(task.hydrationPath ? { hydrationPath: task.hydrationPath } : {}),
});
const started = Date.now();
let memStart = null;
let reads = 0;
let stopping = false;

function check(full, retry = true) {
  reads++;
  const t0 = Date.now();
  try {
    const row = db.get(full ? FULL : QUICK);
    out({ t: 'read', db: row.db, seq: Number(row.seq), digest: row.digest, rows: full ? row.rows : null, txid: db.txid });
  } catch (err) {
    const message = String(err?.message ?? err);
    if (retry && message.includes('REPLICA_EXPIRED')) {
      // The files of this state are gone (a reader further behind than the readers' grace,
      // or a replacement that left a gap): the error tells an application to retry. How
      // long since its poller last polled tells the two apart.
      const p = db.pollerStats();
      out({ t: 'expired', message, queryMs: Date.now() - t0, sincePollMs: p?.lastPollMs == null ? null : t0 - p.lastPollMs, pollFailures: p?.failures ?? 0 });
      check(full, false);
      return;
    }
    out({ t: 'error', message });
  }
}

out({ t: 'ready' });
(async () => {
  while (!stopping) {
    if (memStart === null && Date.now() - started >= task.durationMs * 0.1) memStart = process.memoryUsage().rss;
    check(reads % task.fullEvery === 0);
    await new Promise((ok) => setTimeout(ok, task.readEveryMs));
  }
})();

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'refresh') {
    await db.refresh();
    check(true);
  } else if (line === 'stop') {
    stopping = true;
    const s = db.replicaStats();
    const p = db.pollerStats();
    const h = db.hydrationStatus();
    out({
      t: 'stats',
      reads,
      replans: s.replans,
      caughtUp: s.caughtUp,
      reloads: p?.reloads ?? 0,
      replaced: p?.replaced ?? 0,
      hydration: h === null ? null : { state: h.state, switched: h.switchedAfterMs !== null },
      rssMB: { start: Math.round((memStart ?? process.memoryUsage().rss) / 2 ** 20), end: Math.round(process.memoryUsage().rss / 2 ** 20) },
    });
    await db.close();
    process.exit(0);
  }
}

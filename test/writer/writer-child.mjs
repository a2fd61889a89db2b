// A writer process for the tests in this folder: the built package (dist/, plain
// node: it starts in a fraction of tsx's time, and 50 restarts add up) opened with
// writeEnabled, running seeded random transactions until it is killed or its budget
// is spent. Every line on stdout is one event:
//   open <recovery status> <synced txid> <committed txid>
//   check ok <maxSeq> <digest>       after open: integrity_check and the invariants below
//   check FAIL <reason>
//   ready                            (with task.gate) open; waiting for the gate file to exist
//   intent <seq> <tag> <kind>        before COMMIT (the transaction may or may not land)
//   ack <seq> <txid>                 after COMMIT returned (TXID of that commit)
//   fenced <txid> <json status>      a commit failed with the second-writer error
//   status <state> <unsyncedBytes> <oldestUnsyncedAgeMs> <synced> <committed> <puts> <failures>   every statusEveryMs
//   held <synced> <committed>        (with task.hold) done writing; waiting for the hold file to exist
//   synced <txid>                    (final) after db.sync() / PRAGMA litestream_sync
//   image <bytes> <sha256> <content sha256>   (final) the writer's view of the file
//   done
// Rows are designed so that a partial transaction is visible: a transaction touches
// one tag's rows, the tag's `tx` row (count n, version) and one `log` row, all
// together; the invariants say rows(tag) = n, every row has the tag's version, and
// log seqs of this writer are 1..max without a gap.
//
//   node test/writer/writer-child.mjs '<json task>'
//   task: { dist, url, bufferPath, syncInterval, seed, writer ('A'), maxTx, durationMs, pauseMs, statusEveryMs, noLarge, gate,
//           syncEach (db.sync() after every commit: one L0 file each), hold (a file to wait for after the last commit),
//           final (sync, print image, close), pragmaSync (final sync via PRAGMA) }
// S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const task = JSON.parse(process.argv[2]);
const dist = (rel) => pathToFileURL(`${task.dist}/${rel}`).href;
const { open } = await import(dist('src/open.js'));
const { facade } = await import(dist('src/engine/vfs-facade.js'));
const W = task.writer ?? 'A';
const out = (line) => process.stdout.write(`${line}\n`);

// mulberry32, as test/support/prng.ts
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(task.seed ?? 1);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const payload = (n) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
};

const db = await open({ replicaUrl: task.url, writeEnabled: true, bufferPath: task.bufferPath, syncInterval: task.syncInterval, logLevel: task.logLevel ?? 'warn' });
const status = () => db.writerStatus();
const st = status();
out(`open ${st.recovery.status} ${st.txid.synced} ${st.txid.committed}`);
const one = (sql, params) => Object.values(db.get(sql, params))[0];

db.exec('PRAGMA cache_size=50'); // large transactions spill: the journal path, not only batch-atomic
db.exec(`CREATE TABLE IF NOT EXISTS tx(tag TEXT PRIMARY KEY, n INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rows(tag TEXT NOT NULL, i INTEGER NOT NULL, version INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY(tag, i));
CREATE TABLE IF NOT EXISTS log(w TEXT NOT NULL, seq INTEGER NOT NULL, tag TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY(w, seq));`);

/** integrity_check and the invariants; returns this writer's max seq and a digest of its log. */
function check() {
  const ic = one('PRAGMA integrity_check');
  if (ic !== 'ok') return { fail: `integrity_check: ${ic}` };
  const badCount = db.get('SELECT t.tag, t.n, (SELECT count(*) FROM rows r WHERE r.tag = t.tag) AS c FROM tx t WHERE t.n <> (SELECT count(*) FROM rows r WHERE r.tag = t.tag) LIMIT 1');
  if (badCount) return { fail: `tag ${badCount.tag}: n=${badCount.n} but ${badCount.c} rows` };
  const badVersion = db.get('SELECT r.tag, r.version, t.version AS tv FROM rows r LEFT JOIN tx t ON t.tag = r.tag WHERE t.tag IS NULL OR r.version <> t.version LIMIT 1');
  if (badVersion) return { fail: `tag ${badVersion.tag}: a row at version ${badVersion.version}, the tag at ${badVersion.tv}` };
  const missingTag = db.get("SELECT l.seq, l.tag FROM log l LEFT JOIN tx t ON t.tag = l.tag WHERE l.kind = 'insert' AND t.tag IS NULL LIMIT 1");
  if (missingTag) return { fail: `log seq ${missingTag.seq} inserted ${missingTag.tag}, which is missing` };
  const rows = db.all('SELECT seq, tag, kind FROM log WHERE w = ? ORDER BY seq', [W]);
  const h = createHash('sha256');
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].seq !== i + 1) return { fail: `log of ${W}: seq ${i + 1} missing (found ${rows[i].seq})` };
    h.update(`${rows[i].seq} ${rows[i].tag} ${rows[i].kind}\n`);
  }
  return { maxSeq: rows.length, digest: h.digest('hex') };
}

const c = check();
if (c.fail) {
  out(`check FAIL ${c.fail}`);
  process.exit(2);
}
out(`check ok ${c.maxSeq} ${c.digest}`);

// Two writers start writing together: each says `ready` once open, then waits for the gate file.
if (task.gate) {
  out('ready');
  while (!existsSync(task.gate)) await new Promise((ok) => setTimeout(ok, 5));
}

if (task.statusEveryMs) {
  setInterval(() => {
    const s = status();
    out(`status ${s.state} ${s.sync.unsyncedBytes} ${s.sync.oldestUnsyncedAgeMs} ${s.txid.synced} ${s.txid.committed} ${s.sync.puts} ${s.sync.failures}`);
  }, task.statusEveryMs).unref();
}

let seq = c.maxSeq;
const budget = task.maxTx ?? Infinity;
const until = task.durationMs === undefined ? Infinity : Date.now() + task.durationMs;
for (let done = 0; done < budget && Date.now() < until; done++) {
  seq++;
  const r = rand();
  let kind = r < 0.55 ? 'insert' : r < 0.75 ? 'update' : r < 0.85 ? 'delete' : r < 0.93 ? 'large' : 'multi';
  if (kind === 'large' && task.noLarge) kind = 'insert';
  const victim = kind === 'update' || kind === 'delete' ? db.get('SELECT tag, n, version FROM tx WHERE n > 0 ORDER BY tag LIMIT 1 OFFSET ?', [int(0, 50)]) : null;
  if ((kind === 'update' || kind === 'delete') && !victim) kind = 'insert';
  const tag = victim ? victim.tag : `${W}${seq}`;
  out(`intent ${seq} ${tag} ${kind}`);
  try {
    db.exec('BEGIN');
    if (kind === 'insert' || kind === 'large' || kind === 'multi') {
      // large: ~50-120 pages of rows plus the index, past cache_size=50 (SQLite spills, the journal path); multi: an insert and an update of another tag in one transaction
      const n = kind === 'large' ? int(150, 250) : int(1, 30);
      db.run('INSERT INTO tx(tag, n, version) VALUES (?, ?, 1)', [tag, n]);
      for (let i = 0; i < n; i++) db.run('INSERT INTO rows(tag, i, version, payload) VALUES (?, ?, 1, ?)', [tag, i, payload(kind === 'large' ? int(1200, 2000) : int(10, 2000))]);
      if (kind === 'multi') {
        const other = db.get('SELECT tag FROM tx WHERE n > 0 AND tag <> ? ORDER BY tag DESC LIMIT 1', [tag]);
        if (other) {
          db.run('UPDATE tx SET version = version + 1 WHERE tag = ?', [other.tag]);
          db.run('UPDATE rows SET version = version + 1, payload = zeroblob(?) WHERE tag = ?', [int(1, 500), other.tag]);
        }
      }
    } else if (kind === 'update') {
      db.run('UPDATE tx SET version = version + 1 WHERE tag = ?', [tag]);
      const rows = db.all('SELECT i FROM rows WHERE tag = ?', [tag]);
      for (const row of rows) db.run('UPDATE rows SET version = version + 1, payload = ? WHERE tag = ? AND i = ?', [payload(int(10, 3000)), tag, row.i]);
    } else {
      db.run('DELETE FROM rows WHERE tag = ?', [tag]);
      db.run('UPDATE tx SET n = 0, version = version + 1 WHERE tag = ?', [tag]);
    }
    db.run('INSERT INTO log(w, seq, tag, kind) VALUES (?, ?, ?, ?)', [W, seq, tag, kind]);
    db.exec('COMMIT');
  } catch (err) {
    if (/second writer/i.test(err.message)) {
      if (db.inTransaction) db.exec('ROLLBACK');
      const s = status();
      out(`fenced ${s.txid.committed} ${JSON.stringify({ state: s.state, lastError: s.lastError, synced: String(s.txid.synced), committed: String(s.txid.committed), unsyncedBytes: s.sync.unsyncedBytes })}`);
      process.stderr.write(`writer ${W} stopped: ${err.message}\n`);
      await db.close().catch(() => undefined);
      process.exit(3);
    }
    throw err;
  }
  out(`ack ${seq} ${status().txid.committed}`);
  if (task.syncEach) await db.sync();
  // Yield to the event loop (the syncer runs there), sometimes for a while.
  const pause = task.pauseMs ?? 3;
  await new Promise((ok) => setTimeout(ok, rand() < 0.1 ? int(0, pause * 10) : int(0, pause)));
}

// Done writing, commits maybe unsynced: the test may SIGSTOP us here (a suspended VM), then create the file.
if (task.hold) {
  out(`held ${status().txid.synced} ${status().txid.committed}`);
  while (!existsSync(task.hold)) await new Promise((ok) => setTimeout(ok, 5));
}

if (task.final) {
  if (task.pragmaSync) out(`synced ${one('PRAGMA litestream_sync')}`);
  else {
    try {
      await db.sync();
    } catch (err) {
      if (!/second writer/i.test(err.message)) throw err;
      const s = status();
      out(`fenced ${s.txid.committed} ${JSON.stringify({ state: s.state, synced: String(s.txid.synced), committed: String(s.txid.committed) })}`);
      process.stderr.write(`writer ${W} stopped: ${err.message}\n`);
      await db.close().catch(() => undefined);
      process.exit(3);
    }
    out(`synced ${status().txid.synced}`);
  }
  const fin = check();
  if (fin.fail) {
    out(`check FAIL ${fin.fail}`);
    process.exit(2);
  }
  out(`image ${imageOf()} ${contentDigest()}`);
}
await db.close();
out('done');

/** The writer's view of the database file, byte for byte: read through its own VFS file (a test-only peek at the engine's open files). */
function imageOf() {
  const ids = [...facade.ids].filter(([name]) => name.startsWith('ltxvfs-writer-')).map(([, id]) => id);
  const files = facade.files.filter((f, i) => f !== undefined && ids.includes(facade.fileVfs[i]));
  if (files.length !== 1) throw new Error(`expected one open writer file, found ${files.length}`);
  const size = files[0].fileSize();
  const buf = new Uint8Array(size);
  files[0].read(buf, 0);
  return `${size} ${createHash('sha256').update(buf).digest('hex')}`;
}

/** Every table's rows in order: what a restore must reproduce. */
function contentDigest() {
  const h = createHash('sha256');
  for (const t of ['tx', 'rows', 'log']) for (const row of db.all(`SELECT * FROM ${t} ORDER BY 1, 2`)) h.update(JSON.stringify(row, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)));
  return h.digest('hex');
}

// The soak's paused writer: a second writer process that commits while the main
// writer is away, is suspended (SIGSTOP, as a VM is) before it syncs, and resumes
// after another writer took over. Its commits set meta.seq to 1,000,000 + i: a state
// the winner never committed, which no reader may ever see. Lines on stdout:
//   committed <txid>               the commits are acknowledged (in its buffer only)
//   result <json>                  after `sync` on stdin: { fenced, message }
// Plain node on the built package (dist/), like the writer tests' children.
//   node scripts/soak/paused-writer.mjs '<json: { dist, url, bufferPath, commits }>'
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const task = JSON.parse(process.argv[2]);
const { open } = await import(pathToFileURL(`${task.dist}/src/open.js`).href);
const db = await open({ replicaUrl: task.url, writeEnabled: true, bufferPath: task.bufferPath, syncInterval: 3_600_000, logLevel: 'error' });
for (let i = 1; i <= task.commits; i++) {
  db.exec('BEGIN');
  db.run("UPDATE meta SET v = ? WHERE k = 'seq'", [String(1_000_000 + i)]);
  db.run('UPDATE t SET gen = gen + 1000000 WHERE id % 7 = ?', [i % 7]);
  db.exec('COMMIT');
}
process.stdout.write(`committed ${db.writerStatus().txid.committed}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'sync') continue;
  let result;
  try {
    await db.sync();
    result = { fenced: false, message: 'synced' };
  } catch (err) {
    result = { fenced: err?.code === 'SECOND_WRITER', message: String(err?.message ?? err) };
  }
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  await db.close().catch(() => undefined);
  process.exit(0);
}

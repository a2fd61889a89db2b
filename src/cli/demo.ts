// `ltxvfs demo`: the README's first command. With nothing but `npm ci` it runs the
// pieces that exist end to end on the embedded default (a file:// replica):
// makes a sample database with our SQLite engine, ships it as an L9 snapshot LTX
// file in Litestream v0.5's file layout, then reads one page back cold the way
// the read path will (list, one tail request for the page index, one range
// request for the frame) and verifies the whole file against the database.
// Opening the replica through the VFS replaces the last steps with issue #4.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Database } from '../engine/index.js';
import { decodeLtx, decodePageFrame, encodeLtx, formatLtxFilename, readTailIndex } from '../ltx/index.js';
import { openStore } from '../storage/open-store.js';
import { totalOf } from '../storage/stats.js';
import { type Command, EXIT_FAIL, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';

const SNAPSHOT_LEVEL = 9;
// One request for the last 32 KiB holds the whole index of files up to ~4,000
// pages; larger indexes take a second request (Litestream reads the same 32 KiB).
const TAIL_BYTES = 32 * 1024;

export const demo: Command = {
  summary: 'Run the main job on a local file:// replica: make, ship and read back a sample database',
  help: `Make a sample SQLite database with ltxvfs's own engine, write it as a snapshot
LTX file into a file:// replica in Litestream v0.5's layout (<dir>/ltx/9/...), read
one page back cold as the read path does (list, page index from the file's tail,
one range read), and verify every page against the database. Nothing to install.

Usage: ltxvfs demo [--rows N] [--dir DIR] [--keep] [--json]

Options:
  --rows N    rows in the sample table (default 20000)
  --dir DIR   work directory (default: a new temp directory, removed afterwards)
  --keep      keep the work directory
  --json      print the result as JSON
  -h, --help  this text`,

  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      rows: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
    });
    const rows = values.rows === undefined ? 20_000 : Number(values.rows);
    if (!Number.isSafeInteger(rows) || rows < 1) throw new UsageError(`--rows must be a positive integer, got ${String(values.rows)}`);
    const dir = typeof values.dir === 'string' ? resolve(values.dir) : mkdtempSync(join(tmpdir(), 'ltxvfs-demo-'));
    const say = (line: string) => {
      if (!values.json) io.out(line);
    };
    try {
      const result = await runDemo(dir, rows, say);
      if (values.json) io.out(toJson(result));
      else say(result.ok ? 'ok: every page of the snapshot matches the database' : 'FAIL: the snapshot does not match the database');
      return result.ok ? EXIT_OK : EXIT_FAIL;
    } finally {
      if (!values.keep && values.dir === undefined) rmSync(dir, { recursive: true, force: true });
      else say(`kept ${dir}`);
    }
  },
};

async function runDemo(dir: string, rows: number, say: (line: string) => void) {
  const dbPath = join(dir, 'sample.db');
  const replicaUrl = pathToFileURL(join(dir, 'replica')).href;

  let t = performance.now();
  const db = new Database(dbPath);
  db.exec(`PRAGMA page_size = 4096; PRAGMA journal_mode = DELETE;
    CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, body BLOB);
    CREATE INDEX IF NOT EXISTS items_name ON items(name);`);
  db.exec('BEGIN');
  const insert = db.prepare('INSERT OR REPLACE INTO items(id, name, body) VALUES (?, ?, ?)');
  for (let i = 1; i <= rows; i++) insert.run([i, `item-${String(i).padStart(6, '0')}`, new Uint8Array(32).fill(i & 0xff)]);
  insert.finalize();
  db.exec('COMMIT');
  const probe = db.get('SELECT id, name FROM items WHERE id = ?', [Math.ceil(rows / 2)]);
  db.close();
  const makeMs = performance.now() - t;
  const image = readFileSync(dbPath);
  const pageSize = image.readUInt16BE(16) === 1 ? 65536 : image.readUInt16BE(16);
  const pageCount = image.length / pageSize;
  say(`made ${dbPath}: ${rows} rows, ${pageCount} pages of ${pageSize} bytes, in ${makeMs.toFixed(0)} ms (row ${JSON.stringify(probe)})`);

  t = performance.now();
  const pages = Array.from({ length: pageCount }, (_, i) => ({ pgno: i + 1, data: image.subarray(i * pageSize, (i + 1) * pageSize) }));
  const ltx = encodeLtx({ pageSize, commit: pageCount, minTXID: 1n, maxTXID: 1n, timestamp: BigInt(Date.now()) }, pages);
  const key = `ltx/${SNAPSHOT_LEVEL}/${formatLtxFilename(1n, 1n)}`;
  const writer = openStore(replicaUrl);
  await writer.putIfAbsent(key, ltx.bytes);
  await writer.close();
  const shipMs = performance.now() - t;
  say(`shipped ${replicaUrl}/${key}: ${ltx.bytes.length} bytes (${((100 * ltx.bytes.length) / image.length).toFixed(0)}% of the database), in ${shipMs.toFixed(0)} ms`);

  // Cold read of page 1, counting requests as the read path will.
  t = performance.now();
  const reader = openStore(replicaUrl);
  const listed = [];
  for await (const o of reader.list(`ltx/${SNAPSHOT_LEVEL}/`)) listed.push(o);
  const file = listed[listed.length - 1];
  let tail = await reader.get(file.key, { range: { suffix: Math.min(TAIL_BYTES, file.size) } });
  let index = readTailIndex(tail, file.size);
  if (!index.ok) {
    tail = await reader.get(file.key, { range: { suffix: index.needBytes } });
    index = readTailIndex(tail, file.size);
  }
  if (!index.ok) throw new Error(`page index of ${file.key} needs ${index.needBytes} bytes after a second read`);
  const entry = index.entries.find((e) => e.pgno === 1);
  if (!entry) throw new Error(`page 1 is missing from the index of ${file.key}`);
  const frame = await reader.get(file.key, { range: { offset: entry.offset, length: entry.size } });
  const page1 = decodePageFrame(frame, pageSize, 1).data;
  const readMs = performance.now() - t;
  const stats = reader.stats();
  const requests = totalOf(stats, 'requests');
  const page1Ok = Buffer.compare(Buffer.from(page1), image.subarray(0, pageSize)) === 0;
  say(`read page 1 cold in ${readMs.toFixed(1)} ms with ${requests} requests (list ${stats.list.requests}, get ${stats.get.requests}), ${totalOf(stats, 'bytes')} bytes: ${page1Ok ? 'matches' : 'DIFFERS'}`);

  // Whole-file strict decode and page-by-page comparison.
  const whole = await reader.get(file.key);
  await reader.close();
  const decoded = decodeLtx(whole);
  const pagesOk =
    decoded.pages.length === pageCount &&
    decoded.pages.every((p) => Buffer.compare(Buffer.from(p.data), image.subarray((p.pgno - 1) * pageSize, p.pgno * pageSize)) === 0);
  say(`verified ${file.key}: ${decoded.pages.length} pages, checksums ok, ${pagesOk ? 'identical to the database' : 'DIFFERENT from the database'}`);

  return {
    ok: page1Ok && pagesOk,
    rows,
    database: { path: dbPath, bytes: image.length, pageSize, pages: pageCount, makeMs },
    snapshot: { url: `${replicaUrl}/${key}`, bytes: ltx.bytes.length, shipMs },
    coldRead: { page: 1, ms: readMs, requests, bytes: totalOf(stats, 'bytes') },
  };
}

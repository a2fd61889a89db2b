// bench:ltx — LTX encode/decode throughput of a ~100 MiB SQLite database, the
// LZ4 block codecs we could use, on 4 KiB pages, and CRC-64 on 64 MiB. Each
// contender runs in a fresh process; every figure is the median of RUNS runs.
// Prints one JSON object.
//
//   npm run bench:ltx            (generates the database under the OS temp dir)
//   npm run bench:ltx -- --mib 20   (smaller database, for a quick look)

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Crc64, LtxDecoder, decodeLtx, encodeLtx } from '../src/ltx/index.js';
import { lz4CompressBlock, lz4CompressBound, lz4DecompressBlock } from '../src/ltx/lz4.js';

const require = createRequire(import.meta.url);
const RUNS = 5;
const ROUNDS = 3;
const PAGE = 4096;
const SELF = fileURLToPath(import.meta.url);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Rate {
  wall: number; // MB/s of elapsed time
  cpu: number; // MB/s of process CPU time: steadier when other work shares the cores
}

/** MB/s (10^6 bytes) of `bytes` processed by fn, median of RUNS after one warm-up. */
function rate(bytes: number, fn: () => void): Rate {
  fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    fn();
    wall.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t) / 1e9));
    const used = process.cpuUsage(c);
    cpu.push(bytes / 1e6 / ((used.user + used.system) / 1e6));
  }
  return { wall: Math.round(median(wall)), cpu: Math.round(median(cpu)) };
}

// A realistic database: a table of users with text and small blobs, two indexes.
function makeDatabase(file: string, mib: number): void {
  const Database = require('better-sqlite3') as new (p: string) => {
    pragma(s: string): unknown;
    exec(s: string): void;
    prepare(s: string): { run(...a: unknown[]): void };
    transaction(f: () => void): () => void;
    close(): void;
  };
  const db = new Database(file);
  db.pragma('page_size = 4096');
  db.pragma('journal_mode = OFF');
  db.exec('CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, name TEXT, bio TEXT, score REAL, avatar BLOB, created INTEGER)');
  db.exec('CREATE INDEX users_email ON users(email); CREATE INDEX users_created ON users(created)');
  const ins = db.prepare('INSERT INTO users(email, name, bio, score, avatar, created) VALUES (?, ?, ?, ?, ?, ?)');
  const words = 'alpha beta gamma delta sqlite page replica object storage lazy read write buffer commit'.split(' ');
  let seed = 1;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const batch = db.transaction(() => {
    for (let i = 0; i < 20000; i++) {
      const n = (rnd() * 1e9) | 0;
      const bio = Array.from({ length: 5 + ((rnd() * 20) | 0) }, () => words[(rnd() * words.length) | 0]).join(' ');
      ins.run(`user${n}@example.com`, `User ${n}`, bio, rnd() * 100, randomBytes(16 + ((rnd() * 48) | 0)), 1700000000 + i);
    }
  });
  while (statSync(file).size < mib * 1024 * 1024) batch();
  db.close();
}

function pagesOf(img: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o + PAGE <= img.length; o += PAGE) out.push(img.slice(o, o + PAGE));
  return out;
}

interface Codec {
  encode(p: Uint8Array): Uint8Array; // raw block
  decode(block: Uint8Array, size: number): Uint8Array;
}

function codec(name: string): Codec {
  if (name === 'ltxvfs-js') {
    const out = new Uint8Array(lz4CompressBound(PAGE));
    const page = new Uint8Array(PAGE);
    return {
      encode: (p) => out.subarray(0, lz4CompressBlock(p, out)),
      decode: (b, n) => (lz4DecompressBlock(b, 0, b.length, page, 0, n), page),
    };
  }
  if (name === 'lz4-napi') {
    const napi = require('lz4-napi') as { compressSync(b: Buffer): Buffer; uncompressSync(b: Uint8Array): Buffer };
    const pre = Buffer.alloc(4 + lz4CompressBound(PAGE));
    return {
      encode: (p) => napi.compressSync(p as Buffer).subarray(4),
      decode: (b, n) => (pre.writeUInt32LE(n, 0), pre.set(b, 4), napi.uncompressSync(pre.subarray(0, 4 + b.length))),
    };
  }
  if (name === 'lz4-wasm-nodejs') {
    const wasm = require('lz4-wasm-nodejs') as { compress(b: Uint8Array): Uint8Array; decompress(b: Uint8Array): Uint8Array };
    const pre = new Uint8Array(4 + lz4CompressBound(PAGE));
    return {
      encode: (p) => wasm.compress(p).subarray(4),
      decode: (b, n) => (new DataView(pre.buffer).setUint32(0, n, true), pre.set(b, 4), wasm.decompress(pre.subarray(0, 4 + b.length))),
    };
  }
  if (name === 'lz4js') {
    const lz4js = require('lz4js') as {
      compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
      decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
    };
    const out = new Uint8Array(lz4CompressBound(PAGE));
    const table = new Uint32Array(1 << 16);
    const page = new Uint8Array(PAGE);
    return {
      encode: (p) => {
        table.fill(0);
        const n = lz4js.compressBlock(p, out, 0, p.length, table);
        if (n === 0) throw new Error('lz4js returns no block for an incompressible page (LTX needs a literal-only block)');
        return out.subarray(0, n);
      },
      decode: (b) => (lz4js.decompressBlock(b, page, 0, b.length, 0), page),
    };
  }
  throw new Error(`unknown codec ${name}`);
}

function codecWorker(name: string, dbFile: string): unknown {
  const img = new Uint8Array(readFileSync(dbFile));
  const sets: Record<string, Uint8Array[]> = {
    sqlite: pagesOf(img).slice(0, 8192), // 32 MiB of the database's own pages
    random: Array.from({ length: 1024 }, () => new Uint8Array(randomBytes(PAGE))),
    zero: Array.from({ length: 1024 }, () => new Uint8Array(PAGE)),
  };
  let c: Codec;
  try {
    c = codec(name);
  } catch (err) {
    return { error: `unavailable: ${(err as Error).message.split('\n')[0]}` }; // e.g. a package removed from devDependencies
  }
  const result: Record<string, unknown> = {};
  for (const [set, pages] of Object.entries(sets)) {
    const bytes = pages.length * PAGE;
    let blocks: Uint8Array[];
    try {
      blocks = pages.map((p) => c.encode(p).slice());
    } catch (err) {
      result[set] = { error: (err as Error).message };
      continue;
    }
    // Every codec's blocks must decode to the page, with our strict decoder too.
    const check = new Uint8Array(PAGE);
    blocks.forEach((b, i) => {
      lz4DecompressBlock(b, 0, b.length, check, 0, PAGE);
      if (!Buffer.from(check).equals(pages[i]) || !Buffer.from(c.decode(b, PAGE)).equals(pages[i])) throw new Error(`${name}: round trip failed on ${set} page ${i}`);
    });
    result[set] = {
      ratio: Number((blocks.reduce((a, b) => a + b.length, 0) / bytes).toFixed(3)),
      encode: rate(bytes, () => pages.forEach((p) => c.encode(p))),
      decode: rate(bytes, () => blocks.forEach((b) => c.decode(b, PAGE))),
    };
  }
  return result;
}

function ltxWorker(dbFile: string): unknown {
  const img = new Uint8Array(readFileSync(dbFile));
  const commit = img.length / PAGE;
  const pages = Array.from({ length: commit }, (_, i) => ({ pgno: i + 1, data: img.subarray(i * PAGE, (i + 1) * PAGE) }));
  const header = { pageSize: PAGE, commit, minTXID: 1n, maxTXID: 1n, flags: 2, timestamp: BigInt(Date.now()) };
  let file = encodeLtx(header, pages).bytes;
  const encode = rate(img.length, () => (file = encodeLtx(header, pages).bytes));
  const decode = rate(img.length, () => decodeLtx(file));
  // As restore reads a GET body: 1 MiB chunks, each page dropped once written.
  const decodeStream = rate(img.length, () => {
    const d = new LtxDecoder();
    for (let at = 0; at < file.length; at += 1 << 20) d.write(file.subarray(at, at + (1 << 20)));
    d.end();
  });
  return { databaseBytes: img.length, pages: commit, ltxBytes: file.length, encode, decode, decodeStream };
}

// CRC-64 over 64 MiB of the database: one update call, 4 KiB pages, and LTX frames
// as the decoder hashes them (10-byte prefix, then updatePage: file CRC + page checksum).
function crcWorker(dbFile: string): unknown {
  const img = new Uint8Array(readFileSync(dbFile)).subarray(0, 64 << 20);
  const n = img.length;
  const prefix = new Uint8Array(10);
  return {
    bytes: n,
    oneCall: rate(n, () => new Crc64().update(img).digest()),
    pages4KiB: rate(n, () => {
      const c = new Crc64();
      for (let at = 0; at < n; at += PAGE) c.update(img, at, at + PAGE);
    }),
    framesWithPageChecksum: rate(n, () => {
      const c = new Crc64();
      for (let at = 0; at < n; at += PAGE) c.update(prefix).updatePage(at / PAGE + 1, img.subarray(at, at + PAGE));
    }),
  };
}

/** Median, field by field, of the numeric leaves of several rounds' results. */
function medianRound(results: unknown[]): unknown {
  const first = results[0];
  if (typeof first === 'number') return median(results as number[]);
  if (first && typeof first === 'object') {
    return Object.fromEntries(Object.keys(first).map((k) => [k, medianRound(results.map((r) => (r as Record<string, unknown>)[k]))]));
  }
  return first;
}

function runWorker(args: string[]): unknown {
  const out = execFileSync(process.execPath, ['--import', 'tsx', SELF, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out);
}

const { values } = parseArgs({ options: { worker: { type: 'string' }, db: { type: 'string' }, mib: { type: 'string', default: '100' } } });
if (values.worker) {
  const r = values.worker === 'ltx' ? ltxWorker(values.db!) : values.worker === 'crc64' ? crcWorker(values.db!) : codecWorker(values.worker, values.db!);
  process.stdout.write(JSON.stringify(r));
} else {
  const mib = Number(values.mib);
  const dbFile = values.db ?? path.join(os.tmpdir(), `ltxvfs-bench-${mib}mib.db`);
  if (!existsSync(dbFile)) makeDatabase(dbFile, mib);
  // Contenders take turns for ROUNDS rounds (one fresh process each time), so a burst
  // of other load on the machine hits all of them; we report the median round.
  const names = ['ltxvfs-js', 'lz4-napi', 'lz4-wasm-nodejs', 'lz4js'];
  const rounds: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) for (const name of names) rounds[name].push(runWorker(['--worker', name, '--db', dbFile]));
  const lz4 = Object.fromEntries(names.map((n) => [n, medianRound(rounds[n])]));
  const ltxRounds = Array.from({ length: ROUNDS }, () => runWorker(['--worker', 'ltx', '--db', dbFile]));
  const crcRounds = Array.from({ length: ROUNDS }, () => runWorker(['--worker', 'crc64', '--db', dbFile]));
  const result = {
    bench: 'ltx',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.arch()}` },
    runs: RUNS,
    rounds: ROUNDS,
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    statistic: 'MB/s = 10^6 bytes of uncompressed pages per second; wall = elapsed time, cpu = process CPU time; median of runs, then median of rounds',
    ltx: {
      what: 'whole-file encodeLtx / decodeLtx of the database as one snapshot: LZ4, CRC-64 file and page checksums, index; decode keeps all pages (fresh memory), decodeStream feeds 1 MiB chunks and drops pages',
      ...(medianRound(ltxRounds) as object),
    },
    crc64: { what: 'Crc64 over the first 64 MiB of the database', ...(medianRound(crcRounds) as object) },
    lz4PerPage4KiB: lz4,
    chosen: 'ltxvfs-js (src/ltx/lz4.ts)',
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

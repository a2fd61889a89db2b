// `ltxvfs sql <replica-url> "<SQL>"`: run SQL on a replica through the read-only VFS.
import type { Row, SqlValue } from '../engine/index.js';
import { open } from '../open.js';
import { totalOf, type StoreStats } from '../storage/stats.js';
import { type Command, EXIT_OK, UsageError, parseCommandArgs, toJson } from './args.js';

export const sqlCommand: Command = {
  summary: 'Run SQL on a replica, read-only, fetching only the pages it needs',
  help: `Open a replica read-only through the replica VFS (a listing, the tails of the
restore plan's files, then the pages the statements touch) and run the statement(s).
Rows are printed as an aligned table; the time to the first row and the requests and
bytes it took go to stderr (with --json: one JSON object with "results" and "stats").

Usage: ltxvfs sql <replica-url> "<SQL>" [--json]

Options:
  --json      print {"results": [[row, ...] per statement], "stats": {...}}
  -h, --help  this text

Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, LITESTREAM_CACHE_SIZE.

Example:
  ltxvfs sql file:///var/replicas/app "SELECT count(*) FROM t"`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (positionals.length !== 2) throw new UsageError('expected <replica-url> and "<SQL>"');
    const [replicaUrl, sql] = positionals;
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new UsageError('no SQL statement given');
    const t0 = performance.now();
    const db = await open({ replicaUrl });
    try {
      const openMs = performance.now() - t0;
      let firstRowMs: number | null = null;
      const results: Row[][] = [];
      for (const text of statements) {
        const stmt = db.prepare(text);
        const rows: Row[] = [];
        try {
          for (const row of stmt.iterate()) {
            firstRowMs ??= performance.now() - t0;
            rows.push(row);
          }
        } finally {
          stmt.finalize();
        }
        results.push(rows);
      }
      const totalMs = performance.now() - t0;
      const atOpen = db.openStats.store;
      const pages = db.storeStats();
      const vfs = db.replicaStats();
      const stats = {
        openMs: round(openMs),
        firstRowMs: firstRowMs === null ? null : round(firstRowMs),
        totalMs: round(totalMs),
        requests: totalOf(atOpen, 'requests') + totalOf(pages, 'requests'),
        bytes: totalOf(atOpen, 'bytes') + totalOf(pages, 'bytes'),
        open: { requests: totalOf(atOpen, 'requests'), list: atOpen.list.requests, get: atOpen.get.requests, bytes: totalOf(atOpen, 'bytes') },
        pages: { requests: totalOf(pages, 'requests'), bytes: totalOf(pages, 'bytes'), fetched: vfs.fetchedPages, cacheHits: vfs.cache.hits, cacheMisses: vfs.cache.misses },
        txid: vfs.txid,
      };
      if (values.json) {
        io.out(toJson({ results: results.map((rows) => rows.map(jsonRow)), stats }));
      } else {
        for (const rows of results) if (rows.length > 0) for (const line of table(rows)) io.out(line);
        io.err(describe(stats, atOpen, pages));
      }
      return EXIT_OK;
    } finally {
      await db.close();
    }
  },
};

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function describe(s: { openMs: number; firstRowMs: number | null; totalMs: number; txid: bigint }, atOpen: StoreStats, pages: StoreStats): string {
  const first = s.firstRowMs === null ? 'no rows' : `first row in ${s.firstRowMs} ms`;
  return (
    `${first}, done in ${s.totalMs} ms at txid ${s.txid}; open ${s.openMs} ms: ${atOpen.list.requests} list + ${atOpen.get.requests} get, ` +
    `${totalOf(atOpen, 'bytes')} bytes; pages: ${pages.get.requests} get, ${pages.get.bytes} bytes`
  );
}

/** Blobs as hex, for JSON (bigints are handled by toJson). */
function jsonRow(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
  return out;
}

function text(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (v instanceof Uint8Array) return `x'${Buffer.from(v).toString('hex')}'`;
  return String(v);
}

/** Header, rule and rows, columns padded to their widest value. */
function table(rows: Row[]): string[] {
  const cols = Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => text(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
}

/** Split SQL at top-level `;`, minding quotes ('', "", ``, []) and comments. Empty statements are dropped. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const close: Record<string, string> = { "'": "'", '"': '"', '`': '`', '[': ']' };
  while (i < sql.length) {
    const c = sql[i];
    if (c in close) {
      const end = sql.indexOf(close[c], i + 1);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === ';') {
      out.push(sql.slice(start, i));
      start = ++i;
    } else i++;
  }
  out.push(sql.slice(start));
  return out.map((s) => s.trim()).filter((s) => s !== '' && !/^(--[^\n]*\n?|\/\*[\s\S]*?\*\/|\s)*$/.test(s));
}

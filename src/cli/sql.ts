// `ltxvfs sql <replica-url> "<SQL>"`: run SQL on a replica through the read-only VFS.
// With --hydrate <path> it also pulls a verified local copy in the background (the
// SQL runs at once, remotely), shows the progress, and with --wait stays until reads
// have switched to the copy.
import type { Row, SqlValue } from '../engine/index.js';
import type { HydrationEvent } from '../hydration.js';
import { open, type ReplicaDatabase } from '../open.js';
import { totalOf, type StoreStats } from '../storage/stats.js';
import { type Command, EXIT_FAIL, EXIT_OK, type Io, UsageError, parseCommandArgs, toJson } from './args.js';
import { formatBytes, progressLine } from './progress.js';

export const sqlCommand: Command = {
  summary: 'Run SQL on a replica, read-only, fetching only the pages it needs',
  help: `Open a replica read-only through the replica VFS (a listing, the tails of the
restore plan's files, then the pages the statements touch) and run the statement(s).
Rows are printed as an aligned table; the time to the first row and the requests and
bytes it took go to stderr (with --json: one JSON object with "results" and "stats").

With --hydrate <path>, the whole database is also pulled to a verified local file in
the background (resumed if an earlier run was interrupted, reused if current); the SQL
is answered at once from object storage meanwhile. Progress goes to stderr: a bar on a
terminal, plain lines otherwise. With --wait the command stays until reads have
switched to the local file (and says how long that took); without it, it exits after
the SQL and the next run resumes the download.

Usage: ltxvfs sql <replica-url> "<SQL>" [--json] [--hydrate <path> [--wait]]

Options:
  --json            print {"results": [[row, ...] per statement], "stats": {...}}
  --hydrate <path>  hydrate to this local file (as LITESTREAM_HYDRATION_PATH does)
  --wait            with --hydrate: wait for the switch to local reads before exiting
  -h, --help        this text

Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, LITESTREAM_CACHE_SIZE.

Examples:
  ltxvfs sql file:///var/replicas/app "SELECT count(*) FROM t"
  ltxvfs sql s3://bucket/app "SELECT * FROM users WHERE id = 1" --hydrate /var/lib/app/db.sqlite --wait"`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { hydrate: { type: 'string' }, wait: { type: 'boolean' } });
    if (positionals.length !== 2) throw new UsageError('expected <replica-url> and "<SQL>"');
    const [replicaUrl, sql] = positionals;
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new UsageError('no SQL statement given');
    const hydrationPath = typeof values.hydrate === 'string' ? values.hydrate : undefined;
    if (values.wait && hydrationPath === undefined) throw new UsageError('--wait needs --hydrate <path>');
    if (hydrationPath === '') throw new UsageError('--hydrate needs a path');
    const t0 = performance.now();
    const shown = hydrationPath === undefined ? null : hydrationReporter(io);
    const db = await open({ replicaUrl, hydrationPath, onHydration: shown?.event });
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
        const hydration = shown !== null && !values.wait ? db.hydrationStatus() : null;
        if (!values.wait) io.out(toJson({ results: results.map((rows) => rows.map(jsonRow)), stats, ...(hydration ? { hydration } : {}) }));
        if (values.wait) {
          const code = await waitForSwitch(db, shown!);
          io.out(toJson({ results: results.map((rows) => rows.map(jsonRow)), stats, hydration: db.hydrationStatus() }));
          return code;
        }
      } else {
        for (const rows of results) if (rows.length > 0) for (const line of table(rows)) io.out(line);
        io.err(describe(stats, atOpen, pages));
        if (values.wait) return await waitForSwitch(db, shown!);
        if (shown !== null) shown.summary(db);
      }
      return EXIT_OK;
    } finally {
      shown?.done();
      await db.close();
    }
  },
};

interface HydrationReporter {
  event: (e: HydrationEvent) => void;
  /** Resolves true at the switch, false on an unrecoverable state (never: errors are retried). */
  switched: Promise<void>;
  summary: (db: ReplicaDatabase) => void;
  done: () => void;
}

/** Progress on stderr: a bar on a terminal, a plain line per 10 % (and per error) elsewhere. */
function hydrationReporter(io: Io): HydrationReporter {
  const bar = progressLine();
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  let resolve!: () => void;
  const switched = new Promise<void>((r) => (resolve = r));
  return {
    switched,
    event(e) {
      if (e.type === 'progress') {
        const p = e.progress;
        if (tty) bar.update(p.bytesDone, p.bytesTotal, `hydrating: ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${p.phase})`);
        else if (p.phase === 'fetch' && Math.floor(p.percent / 10) > lastTenth) {
          lastTenth = Math.floor(p.percent / 10);
          io.err(`hydrating: ${Math.floor(p.percent)}% (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)})`);
        }
      } else if (e.type === 'switched') {
        bar.done();
        io.err(`hydrated: reads are local from ${e.path} at txid ${e.txid}, ${Math.round(e.ms)} ms after open`);
        resolve();
      } else {
        bar.done();
        io.err(`hydration failed (retrying in ${Math.round(e.retryInMs)} ms): ${e.error.message}`);
      }
    },
    summary(db) {
      const s = db.hydrationStatus();
      if (s !== null && s.state !== 'local') io.err(`hydration: ${Math.floor(s.percent)}% when the SQL was done; run again to resume, or pass --wait`);
    },
    done: () => bar.done(),
  };
}

/** --wait: until reads are local; a failure keeps being retried (and shown) meanwhile. */
async function waitForSwitch(db: ReplicaDatabase, shown: HydrationReporter): Promise<number> {
  await shown.switched;
  return db.hydrationStatus()?.state === 'local' ? EXIT_OK : EXIT_FAIL;
}

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

// Environment variables and API options into one typed, validated config.
// This is the only module that reads process.env (STYLE.md): everything below
// it takes explicit values. Options win over the environment; a bad value
// throws a TypeError naming the variable (or option) and what it accepts.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_POLICY, resolvePolicy, type CompactionPolicy } from './compact/policy.js';
import { redactUrl } from './redact.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What `open()` accepts; every field overrides its environment variable. */
export interface OpenOptions {
  /** `LITESTREAM_REPLICA_URL`: `s3://bucket/path?endpoint=…&region=…&forcePathStyle=true` or `file:///dir`. */
  replicaUrl?: string;
  /** `LITESTREAM_WRITE_ENABLED`: this process is the single writer. */
  writeEnabled?: boolean;
  /** `LITESTREAM_SYNC_INTERVAL`: milliseconds, or a duration string such as `'1s'`. */
  syncInterval?: number | string;
  /** `LITESTREAM_BUFFER_PATH`: where unsynced commits are kept (default: `$XDG_STATE_HOME/ltxvfs/buffer`, else `~/.local/state/ltxvfs/buffer`). */
  bufferPath?: string;
  /** `LITESTREAM_HYDRATION_PATH`: setting it turns hydration on. */
  hydrationPath?: string;
  /** `LITESTREAM_HYDRATION_ENABLED`: hydration on, to a default path (`$XDG_CACHE_HOME/ltxvfs/…`, else `~/.cache/ltxvfs/…`) when no path is given. */
  hydrationEnabled?: boolean;
  /** `LITESTREAM_POLL_INTERVAL`: milliseconds, or a duration string. */
  pollInterval?: number | string;
  /** `LITESTREAM_CACHE_SIZE`: bytes, or a size string such as `'64MiB'`. */
  cacheSize?: number | string;
  /** `LITESTREAM_LOG_LEVEL`. */
  logLevel?: LogLevel;
  /** S3 credentials and endpoint; default from the `AWS_*` variables. */
  s3?: Partial<S3Credentials>;
  /** A writer's compaction and retention; each field overrides its variable. */
  compaction?: CompactionOptions;
}

/** Durations: milliseconds, or strings such as `'30s'`. Defaults are Litestream v0.5's. */
export interface CompactionOptions {
  /** `LITESTREAM_L1_INTERVAL` (30s): L0 files merged into an L1 file this often. */
  l1Interval?: number | string;
  /** `LITESTREAM_L2_INTERVAL` (5m): L1 into L2. */
  l2Interval?: number | string;
  /** `LITESTREAM_L3_INTERVAL` (1h): L2 into L3. */
  l3Interval?: number | string;
  /** `LITESTREAM_SNAPSHOT_INTERVAL` (24h): a full snapshot (L9) this often. */
  snapshotInterval?: number | string;
  /** `LITESTREAM_SNAPSHOT_RETENTION` (24h): history kept; older snapshots and the files they cover go. */
  snapshotRetention?: number | string;
  /** `LITESTREAM_L0_RETENTION` (5m): L0 files kept this long after an L1 file covers them. */
  l0Retention?: number | string;
  /** `LITESTREAM_READER_GRACE` (5m): no file is deleted sooner than this after the file that replaced it was written. */
  readerGrace?: number | string;
}

export interface S3Credentials {
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  sessionToken: string | undefined;
  region: string | undefined;
  /** Endpoint for S3-compatible servers; a `?endpoint=` in the replica URL wins. */
  endpoint: string | undefined;
}

export interface Config {
  replicaUrl: string;
  writeEnabled: boolean;
  /** Milliseconds. */
  syncInterval: number;
  bufferPath: string;
  /** Null when hydration is off. */
  hydrationPath: string | null;
  /** Milliseconds. */
  pollInterval: number;
  /** Bytes. */
  cacheSize: number;
  logLevel: LogLevel;
  s3: S3Credentials;
  /** The writer's compaction and retention, in ms. */
  compaction: CompactionPolicy;
}

/** Defaults from DESIGN.md. 1 s sync and poll match Litestream's VFS, so lag expectations carry over. */
export const DEFAULTS = {
  syncInterval: 1000,
  pollInterval: 1000,
  cacheSize: 64 * 1024 * 1024,
  logLevel: 'info' as LogLevel,
};

/**
 * Upper bounds, refused above (naming the variable). Node's timers hold at most
 * 2^31-1 ms (~24.8 days); a longer delay fires at once, so `600h` polled in a loop.
 * The bounds sit well below that: a sync interval beyond an hour leaves commits
 * unsynced longer than anyone means to (and fills the 1 GiB buffer), a poll interval
 * beyond a day is a replica nobody follows; a cache beyond 64 GiB is a typo.
 */
export const LIMITS = {
  syncInterval: 3_600_000,
  pollInterval: 86_400_000,
  cacheSize: 64 * 1024 ** 3,
};

/** The longest delay Node's setTimeout/setInterval can hold (larger ones fire after 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

type Env = Record<string, string | undefined>;

/**
 * Where local state lives by default: per user, on persistent storage (not the
 * shared, often tmpfs, temp dir). XDG base directories when set (absolute paths
 * only, as the spec says), else under the home directory.
 */
export function defaultDirs(env: Env = process.env): { state: string; cache: string } {
  const home = nonEmpty(env.HOME) ?? os.homedir();
  const xdg = (name: string, fallback: string): string => {
    const v = nonEmpty(env[name]);
    return v !== undefined && path.isAbsolute(v) ? v : path.join(home, fallback);
  };
  return { state: path.join(xdg('XDG_STATE_HOME', '.local/state'), 'ltxvfs'), cache: path.join(xdg('XDG_CACHE_HOME', '.cache'), 'ltxvfs') };
}

/** Whether `env` names a replica (LITESTREAM_REPLICA_URL): the process will open one (src/io/prestart.ts starts the I/O worker early). */
export function replicaInEnv(env: Env = process.env): boolean {
  return (env.LITESTREAM_REPLICA_URL ?? '') !== '';
}

/** Build the config from `options`, falling back to `env` (process.env by default). */
export function loadConfig(options: OpenOptions = {}, env: Env = process.env): Config {
  const pick = <T>(option: T | undefined, name: string): T | string | undefined => {
    if (option !== undefined) return option;
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  const replicaUrl = pick(options.replicaUrl, 'LITESTREAM_REPLICA_URL');
  if (replicaUrl === undefined) {
    throw new TypeError(
      'LITESTREAM_REPLICA_URL is not set: give a replica URL (s3://bucket/path or file:///dir) in the environment or as the replicaUrl option',
    );
  }
  const writeEnabled = parseBoolean(pick(options.writeEnabled, 'LITESTREAM_WRITE_ENABLED'), 'LITESTREAM_WRITE_ENABLED', false);
  const hydrationEnabled = parseBoolean(pick(options.hydrationEnabled, 'LITESTREAM_HYDRATION_ENABLED'), 'LITESTREAM_HYDRATION_ENABLED', false);
  const hydrationPathRaw = pick(options.hydrationPath, 'LITESTREAM_HYDRATION_PATH');
  const dirs = defaultDirs(env);

  return {
    replicaUrl: parseReplicaUrl(replicaUrl, 'LITESTREAM_REPLICA_URL'),
    writeEnabled,
    syncInterval: parseDuration(pick(options.syncInterval, 'LITESTREAM_SYNC_INTERVAL'), 'LITESTREAM_SYNC_INTERVAL', DEFAULTS.syncInterval, LIMITS.syncInterval),
    bufferPath: path.resolve(parsePath(pick(options.bufferPath, 'LITESTREAM_BUFFER_PATH'), 'LITESTREAM_BUFFER_PATH') ?? path.join(dirs.state, 'buffer')),
    hydrationPath:
      hydrationPathRaw !== undefined
        ? path.resolve(parsePath(hydrationPathRaw, 'LITESTREAM_HYDRATION_PATH')!)
        : hydrationEnabled
          ? path.join(dirs.cache, `hydrated-${createHash('sha256').update(replicaUrl).digest('hex').slice(0, 16)}.db`) // one per replica
          : null,
    pollInterval: parseDuration(pick(options.pollInterval, 'LITESTREAM_POLL_INTERVAL'), 'LITESTREAM_POLL_INTERVAL', DEFAULTS.pollInterval, LIMITS.pollInterval),
    cacheSize: parseSize(pick(options.cacheSize, 'LITESTREAM_CACHE_SIZE'), 'LITESTREAM_CACHE_SIZE', DEFAULTS.cacheSize, LIMITS.cacheSize),
    logLevel: parseLogLevel(pick(options.logLevel, 'LITESTREAM_LOG_LEVEL'), 'LITESTREAM_LOG_LEVEL'),
    compaction: loadCompaction(options.compaction ?? {}, pick),
    s3: {
      accessKeyId: options.s3?.accessKeyId ?? nonEmpty(env.AWS_ACCESS_KEY_ID),
      secretAccessKey: options.s3?.secretAccessKey ?? nonEmpty(env.AWS_SECRET_ACCESS_KEY),
      sessionToken: options.s3?.sessionToken ?? nonEmpty(env.AWS_SESSION_TOKEN),
      region: options.s3?.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION),
      endpoint: parseEndpoint(options.s3?.endpoint, 's3.endpoint') ?? parseEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_S3), 'AWS_ENDPOINT_URL_S3') ?? parseEndpoint(nonEmpty(env.AWS_ENDPOINT_URL), 'AWS_ENDPOINT_URL'),
    },
  };
}

/** The compaction variables, each a duration; the policy's own checks run on the result. */
function loadCompaction(o: CompactionOptions, pick: <T>(option: T | undefined, name: string) => T | string | undefined): CompactionPolicy {
  const d = (option: number | string | undefined, name: string, dflt: number) => parseDuration(pick(option, name), name, dflt);
  return resolvePolicy({
    l1IntervalMs: d(o.l1Interval, 'LITESTREAM_L1_INTERVAL', DEFAULT_POLICY.l1IntervalMs),
    l2IntervalMs: d(o.l2Interval, 'LITESTREAM_L2_INTERVAL', DEFAULT_POLICY.l2IntervalMs),
    l3IntervalMs: d(o.l3Interval, 'LITESTREAM_L3_INTERVAL', DEFAULT_POLICY.l3IntervalMs),
    snapshotIntervalMs: d(o.snapshotInterval, 'LITESTREAM_SNAPSHOT_INTERVAL', DEFAULT_POLICY.snapshotIntervalMs),
    retentionMs: d(o.snapshotRetention, 'LITESTREAM_SNAPSHOT_RETENTION', DEFAULT_POLICY.retentionMs),
    l0RetentionMs: d(o.l0Retention, 'LITESTREAM_L0_RETENTION', DEFAULT_POLICY.l0RetentionMs),
    readerGraceMs: d(o.readerGrace, 'LITESTREAM_READER_GRACE', DEFAULT_POLICY.readerGraceMs),
  });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** `true`/`false` (any case), `1`/`0`, `yes`/`no`. */
export function parseBoolean(v: boolean | string | undefined, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  throw new TypeError(`${name}=${JSON.stringify(v)} is not a boolean: use true or false`);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from a number, or from Go-style strings: `500ms`, `1s`, `1.5s`, `2m`, `1h30m`; at most `max`. */
export function parseDuration(v: number | string | undefined, name: string, dflt: number, max = MAX_TIMER_MS): number {
  if (v === undefined) return dflt;
  let ms: number;
  if (typeof v === 'number') {
    ms = v;
  } else {
    const s = v.trim();
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    let total = 0;
    let end = 0;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      total += Number(m[1]) * DURATION_UNITS[m[2]];
      end = re.lastIndex;
    }
    ms = s.length > 0 && end === s.length ? total : NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(`${name}=${JSON.stringify(v)} is not a positive duration: use e.g. 500ms, 1s, 2m or 1h`);
  }
  if (ms > Math.min(max, MAX_TIMER_MS)) throw new TypeError(`${name}=${JSON.stringify(v)} is too long: at most ${formatMs(Math.min(max, MAX_TIMER_MS))}`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3,
};

/** Bytes from a number, or from `65536`, `512KiB`, `64MiB`, `1GiB`, `100MB`; at most `max`. */
export function parseSize(v: number | string | undefined, name: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  let bytes = NaN;
  if (typeof v === 'number') {
    bytes = v;
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
    const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
    if (m && unit !== undefined) bytes = Math.floor(Number(m[1]) * unit);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new TypeError(`${name}=${JSON.stringify(v)} is not a size: use bytes or e.g. 512KiB, 64MiB, 1GiB`);
  }
  if (bytes > max) throw new TypeError(`${name}=${JSON.stringify(v)} is too large: at most ${max % 1024 ** 3 === 0 ? `${max / 1024 ** 3}GiB` : `${max} bytes`}`);
  return bytes;
}

function parseLogLevel(v: string | undefined, name: string): LogLevel {
  if (v === undefined) return DEFAULTS.logLevel;
  const s = v.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(s)) return s as LogLevel;
  throw new TypeError(`${name}=${JSON.stringify(v)} is not a log level: use one of ${LOG_LEVELS.join(', ')}`);
}

function parsePath(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (v.includes('\0')) throw new TypeError(`${name} contains a NUL byte: give a file path`);
  return v;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const NO_CREDENTIALS = 'credentials are never read from a URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the value is not shown)';

/** A URL to show: user info hidden, and nothing at all of a value that did not parse but may hold a secret. */
function shown(v: string): string {
  return v.includes('@') ? '(not shown: it has an @ and may hold a secret)' : JSON.stringify(redactUrl(v));
}

/**
 * Accepts `s3://bucket[/path][?query]` and `file:///absolute/dir`; returns it unchanged.
 * User info (`s3://KEY:SECRET@bucket`, also in `?endpoint=`) is refused, never echoed.
 */
export function parseReplicaUrl(v: string, name: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new TypeError(`${name}=${shown(v)} is not a URL: use s3://bucket/path or file:///dir`);
  }
  if (url.username !== '' || url.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/@/i.test(v)) throw new TypeError(`${name} has user info (user:password@) in it: ${NO_CREDENTIALS}`);
  if (url.protocol === 's3:') {
    if (!url.hostname) throw new TypeError(`${name}=${shown(v)} has no bucket: use s3://bucket/path`);
    const endpoint = url.searchParams.get('endpoint');
    if (endpoint !== null) parseEndpoint(endpoint, `${name}'s endpoint parameter`);
    return v;
  }
  if (url.protocol === 'file:') {
    if (url.host !== '' || !url.pathname || url.pathname === '/') {
      throw new TypeError(`${name}=${shown(v)} needs an absolute directory: use file:///dir`);
    }
    return v;
  }
  throw new TypeError(`${name}=${shown(v)} has unsupported scheme ${url.protocol}: use s3:// or file://`);
}

/** An S3 endpoint (`http://host:port`, or `host:port`); user info is refused, never echoed. */
function parseEndpoint(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (v.includes('@')) {
    let url: URL | null = null;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `https://${v}`);
    } catch {
      // not a URL: the store reports it; the @ alone is reason enough here
    }
    if (url === null || url.username !== '' || url.password !== '' || /\/\/@/.test(v)) throw new TypeError(`${name} has user info (user:password@) in it: ${NO_CREDENTIALS}`);
  }
  return v;
}

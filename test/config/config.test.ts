import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration, parseSize, DEFAULTS, LIMITS, MAX_TIMER_MS, defaultDirs } from '../../src/config.js';

const URL_ENV = { LITESTREAM_REPLICA_URL: 'file:///tmp/replica' };

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({}, URL_ENV);
    expect(c.replicaUrl).toBe('file:///tmp/replica');
    expect(c.writeEnabled).toBe(false);
    expect(c.syncInterval).toBe(1000);
    expect(c.pollInterval).toBe(1000);
    expect(c.cacheSize).toBe(64 * 1024 * 1024);
    expect(c.hydrationPath).toBeNull();
    expect(c.logLevel).toBe('info');
    expect(c.cacheSize).toBe(DEFAULTS.cacheSize);
  });

  it('reads every variable from the environment', () => {
    const c = loadConfig({}, {
      LITESTREAM_REPLICA_URL: 's3://bucket/db?endpoint=http://127.0.0.1:9000&forcePathStyle=true',
      LITESTREAM_WRITE_ENABLED: 'TRUE',
      LITESTREAM_SYNC_INTERVAL: '250ms',
      LITESTREAM_BUFFER_PATH: '/var/tmp/buf',
      LITESTREAM_HYDRATION_PATH: '/var/tmp/h.db',
      LITESTREAM_POLL_INTERVAL: '1m30s',
      LITESTREAM_CACHE_SIZE: '10MiB',
      LITESTREAM_LOG_LEVEL: 'DEBUG',
      AWS_ACCESS_KEY_ID: 'ak',
      AWS_SECRET_ACCESS_KEY: 'sk',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7480',
    });
    expect(c.writeEnabled).toBe(true);
    expect(c.syncInterval).toBe(250);
    expect(c.bufferPath).toBe('/var/tmp/buf');
    expect(c.hydrationPath).toBe('/var/tmp/h.db');
    expect(c.pollInterval).toBe(90_000);
    expect(c.cacheSize).toBe(10 * 1024 * 1024);
    expect(c.logLevel).toBe('debug');
    expect(c.s3).toEqual({ accessKeyId: 'ak', secretAccessKey: 'sk', sessionToken: undefined, region: 'eu-west-1', endpoint: 'http://127.0.0.1:7480' });
  });

  it('lets options win over the environment', () => {
    const c = loadConfig(
      { replicaUrl: 'file:///other', writeEnabled: false, syncInterval: 50, cacheSize: '1KiB', s3: { region: 'us-east-1' } },
      { ...URL_ENV, LITESTREAM_WRITE_ENABLED: 'true', LITESTREAM_SYNC_INTERVAL: '5s', AWS_REGION: 'eu-west-1' },
    );
    expect(c.replicaUrl).toBe('file:///other');
    expect(c.writeEnabled).toBe(false);
    expect(c.syncInterval).toBe(50);
    expect(c.cacheSize).toBe(1024);
    expect(c.s3.region).toBe('us-east-1');
  });

  it('turns hydration on with LITESTREAM_HYDRATION_ENABLED alone, to a default path', () => {
    const c = loadConfig({}, { ...URL_ENV, LITESTREAM_HYDRATION_ENABLED: 'true' });
    expect(c.hydrationPath).toMatch(/hydrated-[0-9a-f]{16}\.db$/); // one per replica URL
  });

  it('keeps default state per user on persistent storage: XDG state and cache directories, else under HOME; never the shared temp dir', () => {
    const home = { ...URL_ENV, HOME: '/home/ann', LITESTREAM_HYDRATION_ENABLED: 'true' };
    const c = loadConfig({}, home);
    expect(c.bufferPath).toBe('/home/ann/.local/state/ltxvfs/buffer');
    expect(c.hydrationPath).toMatch(/^\/home\/ann\/\.cache\/ltxvfs\/hydrated-[0-9a-f]{16}\.db$/);
    const xdg = loadConfig({}, { ...home, XDG_STATE_HOME: '/srv/state', XDG_CACHE_HOME: '/srv/cache' });
    expect(xdg.bufferPath).toBe('/srv/state/ltxvfs/buffer');
    expect(xdg.hydrationPath!.startsWith('/srv/cache/ltxvfs/hydrated-')).toBe(true);
    // A relative XDG path is ignored, as the XDG spec says.
    expect(defaultDirs({ HOME: '/home/ann', XDG_STATE_HOME: 'rel' }).state).toBe('/home/ann/.local/state/ltxvfs');
    for (const p of [c.bufferPath, c.hydrationPath!]) expect(p.startsWith('/tmp')).toBe(false);
  });

  it('refuses durations and sizes above their documented bounds, naming the variable; nothing reaches a timer above 2^31-1 ms', () => {
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_POLL_INTERVAL: '600h' })).toThrow(/LITESTREAM_POLL_INTERVAL="600h" is too long: at most 24h/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_SYNC_INTERVAL: '600h' })).toThrow(/LITESTREAM_SYNC_INTERVAL="600h" is too long: at most 1h/);
    expect(() => loadConfig({ syncInterval: 2 ** 31 }, URL_ENV)).toThrow(/LITESTREAM_SYNC_INTERVAL=2147483648 is too long/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_CACHE_SIZE: '65GiB' })).toThrow(/LITESTREAM_CACHE_SIZE="65GiB" is too large: at most 64GiB/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_CACHE_SIZE: '1e30' })).toThrow(/LITESTREAM_CACHE_SIZE/);
    // The bounds themselves are accepted.
    const c = loadConfig({}, { ...URL_ENV, LITESTREAM_SYNC_INTERVAL: '1h', LITESTREAM_POLL_INTERVAL: '24h', LITESTREAM_CACHE_SIZE: '64GiB' });
    expect([c.syncInterval, c.pollInterval, c.cacheSize]).toEqual([LIMITS.syncInterval, LIMITS.pollInterval, LIMITS.cacheSize]);
    expect(Math.max(LIMITS.syncInterval, LIMITS.pollInterval)).toBeLessThanOrEqual(MAX_TIMER_MS);
    // Without a bound of its own, a duration still fits a timer.
    expect(parseDuration(MAX_TIMER_MS, 'X', 0)).toBe(MAX_TIMER_MS);
    expect(() => parseDuration('597h', 'X', 0)).toThrow(/X="597h" is too long/);
  });

  it('refuses credentials in the replica URL (or its endpoint) without echoing them', () => {
    const cases = [
      's3://AKIAKEY:SECRETVALUE@bucket/db',
      's3://AKIAKEY:SECRET/VALUE+x@bucket/db', // a secret with a slash: not even a URL any more
      's3://AKIAKEY@bucket/db',
      's3://bucket/db?endpoint=http://AKIAKEY:SECRETVALUE@127.0.0.1:9000',
      's3://bucket/db?endpoint=http%3A%2F%2FAKIAKEY%3ASECRETVALUE%40127.0.0.1%3A9000',
    ];
    for (const url of cases) {
      let err: Error | undefined;
      try {
        loadConfig({}, { LITESTREAM_REPLICA_URL: url });
      } catch (e) {
        err = e as Error;
      }
      expect(err, url).toBeInstanceOf(TypeError);
      expect(err!.message).toMatch(/^LITESTREAM_REPLICA_URL/);
      expect(err!.message).not.toMatch(/AKIAKEY|SECRETVALUE|VALUE\+x/);
    }
    expect(() => loadConfig({}, { ...URL_ENV, AWS_ENDPOINT_URL_S3: 'http://AKIAKEY:SECRETVALUE@127.0.0.1:9000' })).toThrow(/^AWS_ENDPOINT_URL_S3 has user info/);
    // An @ in a path is not user info.
    expect(loadConfig({}, { LITESTREAM_REPLICA_URL: 's3://bucket/team@example/db' }).replicaUrl).toBe('s3://bucket/team@example/db');
  });

  it('names the variable and what it accepts on bad values', () => {
    expect(() => loadConfig({}, {})).toThrow(/LITESTREAM_REPLICA_URL is not set/);
    expect(() => loadConfig({}, { LITESTREAM_REPLICA_URL: 'ftp://x/y' })).toThrow(/LITESTREAM_REPLICA_URL.*unsupported scheme ftp:/);
    expect(() => loadConfig({}, { LITESTREAM_REPLICA_URL: 'not a url' })).toThrow(TypeError);
    expect(() => loadConfig({}, { LITESTREAM_REPLICA_URL: 'file:///' })).toThrow(/absolute directory/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_WRITE_ENABLED: 'maybe' })).toThrow(/LITESTREAM_WRITE_ENABLED="maybe" is not a boolean/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_SYNC_INTERVAL: '1 sec' })).toThrow(/LITESTREAM_SYNC_INTERVAL.*positive duration/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_POLL_INTERVAL: '0s' })).toThrow(/LITESTREAM_POLL_INTERVAL/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_CACHE_SIZE: '64 parsecs' })).toThrow(/LITESTREAM_CACHE_SIZE.*is not a size/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_LOG_LEVEL: 'loud' })).toThrow(/LITESTREAM_LOG_LEVEL.*one of fatal/);
  });

  it('parses durations and sizes', () => {
    expect(parseDuration('1h30m', 'X', 0)).toBe(5_400_000);
    expect(parseDuration('1.5s', 'X', 0)).toBe(1500);
    expect(parseDuration(undefined, 'X', 7)).toBe(7);
    expect(() => parseDuration('5', 'X', 0)).toThrow(/X="5"/);
    expect(parseSize('100MB', 'X', 0)).toBe(100_000_000);
    expect(parseSize('2g', 'X', 0)).toBe(2 * 1024 ** 3);
    expect(parseSize('4096', 'X', 0)).toBe(4096);
    expect(() => parseSize(-1, 'X', 0)).toThrow(TypeError);
  });
});

// Local state with the default settings, as a new user (and another user of the same
// machine) meets it: the buffer and the hydrated copy live in per-user XDG
// directories created 0700, every file 0600; a directory another uid owns, or that
// others can write, fails the open naming the variable; planted symlinks are never
// followed; a buffer on tmpfs is warned about. Each open runs in a child process as a
// user would run it (environment only), on a file:// replica.
import { spawnSync } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferDirFor } from '../../src/writer.js';
import { volatileFs } from '../../src/private-fs.js';
import { ensureBuilt, ROOT } from '../support/cli.js';
import { fileUrl, removeTempDirs, tempDir } from '../replica/helpers.js';

const INDEX = pathToFileURL(path.join(ROOT, 'dist/src/index.js')).href;
const OTHER_UID = 54_321;

// Opens a writer (commits one row, closes), or a hydrating reader (waits for the
// switch); prints `ok` or the error's message on one line.
const CHILD = `
const { open } = await import(${JSON.stringify(INDEX)});
const mode = process.argv[1];
try {
  if (mode === 'write') {
    const db = await open({ writeEnabled: true, syncInterval: 50 });
    db.exec('CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1)');
    await db.close();
  } else {
    const db = await open({ hydrationEnabled: true });
    await db.hydrated();
    await db.close();
  }
  console.log('ok');
} catch (err) {
  console.log('error: ' + err.message);
}`;

function run(mode: 'write' | 'hydrate', env: NodeJS.ProcessEnv): { out: string; err: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, mode], { encoding: 'utf8', env: { PATH: process.env.PATH, LITESTREAM_LOG_LEVEL: 'warn', ...env } });
  return { out: r.stdout.trim(), err: r.stderr };
}

/** A fresh HOME with XDG dirs unset (the documented fallback) and a replica. */
function user(): { home: string; url: string; env: NodeJS.ProcessEnv } {
  const home = tempDir('home');
  const url = fileUrl(path.join(tempDir('replica'), 'r'));
  return { home, url, env: { HOME: home, LITESTREAM_REPLICA_URL: url } };
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

beforeAll(() => ensureBuilt(), 120_000);
afterAll(removeTempDirs);

describe('private local state', () => {
  it('defaults: buffer under ~/.local/state/ltxvfs, hydrated copy under ~/.cache/ltxvfs, directories 0700, files 0600', () => {
    const u = user();
    expect(run('write', u.env).out).toBe('ok');
    const state = path.join(u.home, '.local/state/ltxvfs');
    const buffer = path.join(state, 'buffer');
    const dir = bufferDirFor(buffer, u.url);
    for (const d of [state, buffer, dir]) expect(mode(d), d).toBe(0o700);
    expect(files(dir).length).toBeGreaterThan(0); // the lock, and the log once a commit was made
    for (const f of files(dir)) expect(mode(f), f).toBe(0o600);

    expect(run('hydrate', u.env).out).toBe('ok');
    const cache = path.join(u.home, '.cache/ltxvfs');
    expect(mode(cache)).toBe(0o700);
    const copies = files(cache);
    expect(copies.some((f) => /hydrated-[0-9a-f]{16}\.db$/.test(f))).toBe(true);
    expect(copies.some((f) => f.endsWith('.ltxvfs.json'))).toBe(true);
    for (const f of copies) expect(mode(f), f).toBe(0o600);
  });

  it('XDG_STATE_HOME and XDG_CACHE_HOME are used when set', () => {
    const u = user();
    const xdg = tempDir('xdg');
    const env = { ...u.env, XDG_STATE_HOME: path.join(xdg, 'state'), XDG_CACHE_HOME: path.join(xdg, 'cache') };
    expect(run('write', env).out).toBe('ok');
    expect(run('hydrate', env).out).toBe('ok');
    expect(existsSync(bufferDirFor(path.join(xdg, 'state/ltxvfs/buffer'), u.url))).toBe(true);
    expect(readdirSync(path.join(xdg, 'cache/ltxvfs')).some((n) => n.startsWith('hydrated-'))).toBe(true);
    expect(existsSync(path.join(u.home, '.local'))).toBe(false);
  });

  it("another user's directory is refused, naming the variable; nothing is written into it", () => {
    const u = user();
    // As root: a directory made first by "another user" (chowned to a uid that is not ours).
    // Otherwise: a directory that is not ours already exists (/ is root's).
    let buffer: string;
    let cache: string;
    if (process.getuid!() === 0) {
      buffer = path.join(u.home, '.local/state/ltxvfs/buffer');
      cache = path.join(u.home, '.cache/ltxvfs');
      for (const d of [buffer, cache]) {
        mkdirSync(d, { recursive: true, mode: 0o755 });
        chownSync(d, OTHER_UID, OTHER_UID);
      }
    } else {
      buffer = '/';
      cache = '/';
    }
    const env = process.getuid!() === 0 ? u.env : { ...u.env, LITESTREAM_BUFFER_PATH: buffer, LITESTREAM_HYDRATION_PATH: '/ltxvfs-hydrated.db' };
    const w = run('write', env).out;
    expect(w).toMatch(/^error: .* is owned by uid \d+, not by this user .*set LITESTREAM_BUFFER_PATH/);
    const h = run('hydrate', env).out;
    expect(h).toMatch(/^error: .* is owned by uid \d+, not by this user .*set LITESTREAM_HYDRATION_PATH/);
    if (process.getuid!() === 0) {
      expect(readdirSync(buffer)).toEqual([]);
      expect(readdirSync(cache)).toEqual([]);
    }
  });

  it('a directory that cannot be made (HOME=/ for a service user, or under a file) names the variable', () => {
    const u = user();
    const file = path.join(tempDir('file'), 'plain');
    writeFileSync(file, '');
    expect(run('write', { ...u.env, LITESTREAM_BUFFER_PATH: path.join(file, 'buf') }).out).toMatch(/^error: cannot create .*\(ENOTDIR\): set LITESTREAM_BUFFER_PATH/);
    expect(run('hydrate', { ...u.env, HOME: file }).out).toMatch(/^error: cannot create .*\(ENOTDIR\): set LITESTREAM_HYDRATION_PATH/);
  });

  it('a directory others can write to is refused (an explicit path too)', () => {
    const u = user();
    const open = path.join(tempDir('shared'), 'buf');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = run('write', { ...u.env, LITESTREAM_BUFFER_PATH: open });
    expect(r.out).toMatch(/^error: .* is writable by other users \(mode 777\).*set LITESTREAM_BUFFER_PATH/);
    expect(readdirSync(open)).toEqual([]);
  });

  it('planted symlinks are not followed: a temp name is replaced, not written through; a symlinked log is refused', () => {
    const u = user();
    const buffer = path.join(tempDir('buf'), 'b');
    const env = { ...u.env, LITESTREAM_BUFFER_PATH: buffer };
    expect(run('write', env).out).toBe('ok');
    const dir = bufferDirFor(buffer, u.url);
    const victim = path.join(tempDir('victim'), 'precious');
    writeFileSync(victim, 'do not overwrite\n');
    // The rewrite's temp file: a symlink there is removed and a new file made in its place.
    symlinkSync(victim, path.join(dir, 'buffer.log.tmp'));
    expect(run('write', env).out).toBe('ok');
    expect(readFileSync(victim, 'utf8')).toBe('do not overwrite\n');
    // The log itself swapped for a symlink: the open fails rather than read or write through it.
    const log = path.join(dir, 'buffer.log');
    expect(existsSync(log)).toBe(true);
    writeFileSync(victim, 'do not overwrite\n');
    rmSync(log);
    symlinkSync(victim, log);
    expect(run('write', env).out).toMatch(/^error: .*(ELOOP|symbolic link)/i);
    expect(readFileSync(victim, 'utf8')).toBe('do not overwrite\n');
  });

  it('a writer whose buffer is on tmpfs warns that durability ends at reboot', () => {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'tmpfs' && f[3]?.startsWith('rw'));
    const tmpfs = mounts.map((f) => f[1]).find((m) => {
      try {
        mkdirSync(path.join(m, `ltxvfs-probe-${process.pid}`));
        return true;
      } catch {
        return false;
      }
    });
    expect(tmpfs, 'a writable tmpfs mount (such as /dev/shm) to test with').toBeDefined();
    const buffer = path.join(tmpfs!, `ltxvfs-probe-${process.pid}`, 'buf');
    expect(volatileFs(path.dirname(buffer))).toBe('tmpfs');
    const u = user();
    try {
      const r = run('write', { ...u.env, LITESTREAM_BUFFER_PATH: buffer });
      expect(r.out).toBe('ok');
      expect(r.err).toMatch(/"msg":"the write buffer is on tmpfs: commits are durable until the machine reboots, not after; set LITESTREAM_BUFFER_PATH/);
      // And not on persistent storage.
      const p = run('write', { ...u.env, LITESTREAM_BUFFER_PATH: path.join(tempDir('buf'), 'b') });
      expect(p.out).toBe('ok');
      expect(p.err).not.toMatch(/tmpfs/);
    } finally {
      rmSync(path.dirname(buffer), { recursive: true, force: true });
    }
  });
});

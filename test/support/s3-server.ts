// Starts and stops the test S3 server (Ceph radosgw, scripts/s3/start-rgw.sh) from code.
// Each run gets its own state dir `.rgw/test-<pid>` and its own ports, so test runs in
// the same checkout do not disturb each other; dirs left by runs that were killed
// (their pid is gone) are stopped and removed on the next start.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTS = join(PROJECT_ROOT, 'scripts/s3');
const STATE_ROOT = join(PROJECT_ROOT, '.rgw');

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The cluster's state dir (logs in `log/`). */
  dir: string;
  stop(): Promise<void>;
}

/** Start a throwaway radosgw on 127.0.0.1; installs the Debian packages if missing (root). */
export async function startRgw(options: { log?: (line: string) => void } = {}): Promise<S3Server> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  stopLeftovers(log);
  const dir = join(STATE_ROOT, `test-${process.pid}`);
  const [s3Port, monPort] = await freePorts(2);
  const env = { ...process.env, RGW_DIR: dir, RGW_PORT: String(s3Port), RGW_MON_PORT: String(monPort) };
  const killOnExit = (): void => killDaemons(dir);
  process.once('exit', killOnExit); // a crashed test runner must not leave daemons behind
  const stdout = await run(join(SCRIPTS, 'start-rgw.sh'), env, log).catch((err: Error) => {
    process.removeListener('exit', killOnExit);
    throw err;
  });
  const vars = Object.fromEntries(
    stdout
      .split('\n')
      .map((line) => /^(S3_[A-Z_]+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return {
    endpoint: vars.S3_ENDPOINT,
    accessKeyId: vars.S3_ACCESS_KEY,
    secretAccessKey: vars.S3_SECRET_KEY,
    region: vars.S3_REGION,
    dir,
    stop: async () => {
      await run(join(SCRIPTS, 'stop-rgw.sh'), { ...process.env, RGW_DIR: dir }, () => undefined);
      process.removeListener('exit', killOnExit);
    },
  };
}

/** Run a script; resolve with its stdout, reject with its stderr's tail. Progress lines go to `log`. */
function run(script: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split('\n')) if (/^\[start-rgw|ERROR|install/.test(line)) log(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(stdout);
      else reject(new Error(`${script} exited with ${code}:\n${stderr.split('\n').slice(-40).join('\n')}`));
    });
  });
}

// The OSD's messengers take ports from this range (start-rgw.sh, RGW_MSG_PORT_MIN/MAX).
const MSG_PORTS = { min: 40310, max: 40379 };

/** Ports free on 127.0.0.1 right now, outside the OSD's range (held together, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  for (;;) {
    const ports = await ephemeralPorts(n);
    if (ports.every((p) => p < MSG_PORTS.min || p > MSG_PORTS.max)) return ports;
  }
}

async function ephemeralPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const s = createServer();
      s.once('error', fail);
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

function stopLeftovers(log: (line: string) => void): void {
  if (!existsSync(STATE_ROOT)) return;
  for (const name of readdirSync(STATE_ROOT)) {
    const m = /^test-(\d+)$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    log(`[s3-server] stopping leftovers of a killed run in .rgw/${name}`);
    try {
      execFileSync('bash', [join(SCRIPTS, 'stop-rgw.sh')], { env: { ...process.env, RGW_DIR: join(STATE_ROOT, name) }, stdio: 'ignore' });
    } catch {
      // not a cluster dir after all: leave it
    }
  }
}

/**
 * SIGKILL this dir's daemons and remove the dir, synchronously (usable in an 'exit'
 * handler). SIGKILL: the cluster is thrown away, and radosgw ignores SIGTERM when its
 * OSD is stopped at the same time.
 */
function killDaemons(dir: string): void {
  const pids = join(dir, 'pids');
  if (!existsSync(pids)) return;
  for (const file of readdirSync(pids)) {
    const pid = Number(readFileSafe(join(pids, file)).trim());
    const cmdline = readFileSafe(`/proc/${pid}/cmdline`);
    if (pid > 0 && cmdline.includes(join(dir, 'ceph.conf'))) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The benches' link seen from the bench process: forks link-server.ts (one proxy hop with
// first-byte latency, per-connection pacing and a request log, in its own process) and
// talks to it over IPC. The link and the floor's client get the same glibc malloc tuning
// as the ceph daemons (scripts/s3/start-rgw.sh): a Node process streaming a GET otherwise
// spends 2-3x the CPU on first-touch page faults (256 MiB: ~1.1 s -> ~0.4 s here).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LinkCommand, LinkCpu } from './link-server.js';
import type { RequestRecord } from './request-log.js';

export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=4294967296';
const SERVER = fileURLToPath(new URL('./link-server.ts', import.meta.url));

export interface LinkOptions {
  latencyMs: number;
  /** Per client connection; 0: unpaced. */
  bandwidthBytesPerSec: number;
}

export class Link {
  private nextId = 1;
  private readonly waiting = new Map<number, { ok: (result: unknown) => void; fail: (err: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    readonly options: LinkOptions,
  ) {
    child.on('message', (m: { id?: number; result?: unknown }) => {
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (w) {
        this.waiting.delete(m.id!);
        w.ok(m.result);
      }
    });
    child.on('exit', (code, signal) => {
      const err = new Error(`link process (pid ${child.pid}) exited (${code ?? signal}); its stderr is above`);
      for (const w of this.waiting.values()) w.fail(err);
      this.waiting.clear();
      if (code !== 0) process.stderr.write(`[link] ${err.message}\n`);
    });
  }

  /** Start the link process in front of `upstream`; resolves once it listens. */
  static async start(upstream: string, options: LinkOptions): Promise<Link> {
    // fork() passes this process's execArgv (the tsx loader) on, so the child runs TypeScript too.
    const child = fork(SERVER, [upstream, String(options.latencyMs), String(options.bandwidthBytesPerSec)], {
      env: { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const endpoint = await new Promise<string>((ok, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`link process exited (${code ?? signal}) before listening; see its stderr above`)));
      child.on('message', (m: { ready?: string }) => m.ready && ok(m.ready));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    return new Link(child, endpoint, options);
  }

  /** Every request so far (finished or not: `end` 0), in arrival order. */
  records(): Promise<RequestRecord[]> {
    return this.ask('records') as Promise<RequestRecord[]>;
  }

  async clear(): Promise<void> {
    await this.ask('clear');
  }

  /** The link process's CPU since it started (diff two readings for a phase). */
  cpu(): Promise<LinkCpu> {
    return this.ask('cpu') as Promise<LinkCpu>;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((ok) => this.child.once('exit', ok));
    this.child.disconnect();
    await exited;
  }

  private ask(cmd: LinkCommand['cmd']): Promise<unknown> {
    if (!this.child.connected) return Promise.reject(new Error(`link process (pid ${this.child.pid}) is gone; cannot ask for ${cmd}`));
    const id = this.nextId++;
    return new Promise((ok, fail) => {
      this.waiting.set(id, { ok, fail });
      this.child.send({ id, cmd } satisfies LinkCommand);
    });
  }
}

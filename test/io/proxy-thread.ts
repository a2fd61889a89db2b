// The fault proxy in a thread of its own. SyncStore blocks the calling thread in
// Atomics.wait, so a proxy running on that thread's event loop could never answer:
// here it runs in a worker and is driven by messages between synchronous calls.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FaultProxy, type FaultOptions, type FaultProxyStats } from '../support/fault-proxy.js';

type Cmd = { cmd: 'set'; options: Partial<FaultOptions> } | { cmd: 'stats' } | { cmd: 'resetStats' } | { cmd: 'close' };
type Command = Cmd & { id: number };

export class ProxyThread {
  private nextId = 0;
  private constructor(
    private readonly worker: Worker,
    readonly endpoint: string,
  ) {}

  static async start(upstream: string, options: Partial<FaultOptions> = {}): Promise<ProxyThread> {
    const self = new URL(import.meta.url);
    const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
    const api = pathToFileURL(path.join(path.dirname(pkgPath), pkg.exports['./esm/api'].import.default)).href;
    const boot = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(self.href)}, ${JSON.stringify(self.href)}))`;
    const worker = new Worker(boot, { eval: true, workerData: { upstream, options } });
    const endpoint = await new Promise<string>((ok, fail) => {
      worker.once('message', (m: { endpoint: string }) => ok(m.endpoint));
      worker.once('error', fail);
    });
    return new ProxyThread(worker, endpoint);
  }

  set(options: Partial<FaultOptions>): Promise<void> {
    return this.ask({ cmd: 'set', options }) as Promise<void>;
  }
  stats(): Promise<FaultProxyStats> {
    return this.ask({ cmd: 'stats' }) as Promise<FaultProxyStats>;
  }
  resetStats(): Promise<void> {
    return this.ask({ cmd: 'resetStats' }) as Promise<void>;
  }
  async close(): Promise<void> {
    await this.ask({ cmd: 'close' });
    await this.worker.terminate();
  }

  private ask(command: Cmd): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((ok) => {
      const onMessage = (m: { id: number; value: unknown }): void => {
        if (m.id !== id) return;
        this.worker.off('message', onMessage);
        ok(m.value);
      };
      this.worker.on('message', onMessage);
      this.worker.postMessage({ ...command, id });
    });
  }
}

if (!isMainThread && parentPort && (workerData as { upstream?: string })?.upstream) {
  const port = parentPort;
  const { upstream, options } = workerData as { upstream: string; options: Partial<FaultOptions> };
  const proxy = await FaultProxy.start(upstream, options);
  port.on('message', async (c: Command) => {
    let value: unknown;
    if (c.cmd === 'set') proxy.set(c.options);
    else if (c.cmd === 'stats') value = proxy.stats();
    else if (c.cmd === 'resetStats') proxy.resetStats();
    else await proxy.close();
    port.postMessage({ id: c.id, value });
  });
  port.postMessage({ endpoint: proxy.endpoint });
}

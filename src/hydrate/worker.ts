// The hydrator's worker thread: hydrate() and applyLtxFiles() run here, on a store of
// their own, so that their CPU (HTTP bodies, CRC-64, LZ4, page writes) never stalls
// the thread that answers queries, and a remote query (which blocks that thread until
// its pages arrive) never stalls the download. The protocol is hydrate-thread.ts's.
import { parentPort, workerData } from 'node:worker_threads';
import { setLogLevel } from '../log.js';
import { continueChain } from '../replica/chain.js';
import { listReplica } from '../replica/listing.js';
import { openStore } from '../storage/open-store.js';
import { applyLtxFiles } from './apply.js';
import { hydrate } from './hydrator.js';
import type { ThreadReply, ThreadRequest, ThreadWorkerData } from './hydrate-thread.js';
import type { HydratedFile } from './types.js';

const data = workerData as ThreadWorkerData;
const port = parentPort!;
setLogLevel(data.logLevel);
const store = openStore(data.url, data.store);
const abort = new AbortController();

port.on('message', (msg: ThreadRequest | 'abort' | 'close') => {
  if (msg === 'abort') abort.abort();
  else if (msg === 'close') void store.close().finally(() => port.close());
  else void serve(msg);
});

async function serve(req: ThreadRequest): Promise<void> {
  let reply: ThreadReply;
  try {
    reply = { seq: req.seq, ok: true, value: await run(req) };
  } catch (err) {
    const e = err as Error & { code?: string };
    reply = { seq: req.seq, ok: false, error: { name: e.name ?? 'Error', message: e.message ?? String(err), code: typeof e.code === 'string' ? e.code : undefined, stack: e.stack } };
  }
  port.postMessage(reply);
}

async function run(req: ThreadRequest): Promise<HydratedFile> {
  const signal = abort.signal;
  switch (req.op) {
    case 'build':
      return hydrate({ store, path: data.path, signal, onProgress: (progress) => port.postMessage({ type: 'progress', progress } satisfies ThreadReply) });
    case 'forward': {
      // From the copy's TXID to `target` (or the latest): the files that continue it, from whatever level holds them.
      const files = await listReplica(store);
      const chain = continueChain(files, req.file.txid, req.target ?? undefined);
      if (chain.files.length === 0 || (req.target !== null && chain.txid !== req.target)) {
        throw new Error(`hydration: no chain of files from TXID ${req.file.txid} to ${req.target ?? 'the latest'} in ${store.url}${chain.gap ? ' (a gap)' : ''}`);
      }
      return applyLtxFiles(req.file, store, chain.files, { signal });
    }
  }
}

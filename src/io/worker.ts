// The I/O worker thread: opens its own ObjectStore and answers requests from the port
// the caller handed over. After posting each answer it bumps the EVENT word and
// notifies, so a caller blocked in Atomics.wait wakes and takes the message with
// receiveMessageOnPort. Bytes are transferred (moved), not copied, when they own
// their whole ArrayBuffer.
import { workerData, type MessagePort } from 'node:worker_threads';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore, type OpenStoreOptions } from '../storage/open-store.js';
import { EVENT, EXIT_CODE, EXITED, HEARTBEAT, HEARTBEAT_MS, READY, STATE, errorToData, statsView, writeStats, type Envelope, type GetResult, type Response, type TestAction } from './protocol.js';

export interface WorkerData {
  url: string;
  store: OpenStoreOptions;
  control: SharedArrayBuffer;
  port: MessagePort;
  testHooks: boolean;
}

const data = workerData as WorkerData;
const control = new Int32Array(data.control);
const stats = statsView(data.control);
const port = data.port;

function signal(): void {
  Atomics.add(control, EVENT, 1);
  Atomics.notify(control, EVENT);
}

// Runs on process.exit() and after an uncaught exception, so the caller learns at once.
process.on('exit', (code) => {
  Atomics.store(control, EXIT_CODE, code);
  Atomics.store(control, STATE, EXITED);
  signal();
});

let store: ObjectStore;
try {
  store = openStore(data.url, data.store);
} catch (err) {
  // A bad URL or option: answer every request with it rather than dying unexplained.
  store = failingStore(err);
}

setInterval(() => Atomics.add(control, HEARTBEAT, 1), HEARTBEAT_MS).unref();
Atomics.store(control, STATE, READY);

// 'close' (a plain string) closes the store, then the port: the thread then has nothing
// left to do and exits.
port.on('message', (msg: Envelope | 'close') => {
  if (msg === 'close') void store.close().finally(() => port.close());
  else void serve(msg);
});

async function serve(req: Envelope): Promise<void> {
  let answer: Response;
  const transfer: ArrayBuffer[] = [];
  try {
    answer = { seq: req.seq, ok: true, value: await run(req, transfer) };
  } catch (err) {
    answer = { seq: req.seq, ok: false, error: errorToData(err) };
  }
  writeStats(stats, store.stats());
  port.postMessage(answer, transfer);
  signal();
}

async function run(req: Envelope, transfer: ArrayBuffer[]): Promise<unknown> {
  switch (req.op) {
    case 'get': {
      const settled = await Promise.allSettled(
        req.items.map((item) => (item.metadata ? store.getWithMetadata(item.key, { range: item.range }) : store.get(item.key, { range: item.range }).then((bytes) => ({ bytes, metadata: undefined })))),
      );
      return settled.map((s): GetResult => {
        if (s.status === 'rejected') return { ok: false, error: errorToData(s.reason) };
        movable(s.value.bytes, transfer);
        return s.value.metadata === undefined ? { ok: true, bytes: s.value.bytes } : { ok: true, bytes: s.value.bytes, metadata: s.value.metadata };
      });
    }
    case 'head':
      return store.head(req.key);
    case 'list':
      return store.listPage(req.prefix, req.options);
    case 'plan': {
      // Loaded on first use (a writer's worker plans only to re-point after compaction),
      // and only this module: the replica's index would load restore's engine, a second SQLite instance.
      const { planRestoreLinked } = await import('../replica/linked-plan.js');
      const target = req.target.timestampMs === undefined ? { txid: req.target.txid } : { timestamp: new Date(req.target.timestampMs) };
      // The snapshot's head (page 1, the schema, early B-tree roots) in the same round trip as the tails.
      let headP: Promise<{ key: string; bytes: Uint8Array }> | null = null;
      const { plan, index } = await planRestoreLinked(store, target, {
        onPlan: (first) => {
          if (req.target.headBytes) headP = store.get(first.key, { range: { offset: 0, length: Math.min(req.target.headBytes, first.size) } }).then((bytes) => ({ key: first.key, bytes }));
        },
      });
      const head = headP === null ? null : await (headP as Promise<{ key: string; bytes: Uint8Array }>);
      // Moved, not copied: a 1 GiB database's index is 4 MB of typed arrays, and this worker drops them.
      const data = index.toData();
      for (const a of [data.fileOf, data.offsets, data.sizes, head?.bytes]) if (a !== undefined) movable(a, transfer);
      return { plan, index: data, head };
    }
    case 'put': {
      // The writer's synchronous flush (PRAGMA litestream_sync): same semantics as the async store.
      const options = req.metadata === undefined ? undefined : { metadata: req.metadata };
      if (req.ifAbsent) await store.putIfAbsent(req.key, req.bytes, options);
      else await store.put(req.key, req.bytes, options);
      return null;
    }
    case 'delete':
      await store.deleteMany(req.keys);
      return null;
    case 'test':
      if (!data.testHooks) throw new TypeError('test hooks are off in this worker');
      return test(req.action, req.seq);
  }
}

/** Move `view`'s buffer with the answer when the view is all of it (never Buffer's shared pool). */
function movable(view: ArrayBufferView, transfer: ArrayBuffer[]): void {
  const { buffer } = view;
  if (view.byteOffset === 0 && view.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
}

async function test(action: TestAction, seq: number): Promise<string> {
  switch (action.kind) {
    case 'echo':
      return 'echo';
    case 'sleep':
      await new Promise((ok) => setTimeout(ok, action.ms));
      return 'slept';
    case 'block': {
      const end = Date.now() + action.ms;
      while (Date.now() < end) {
        // the event loop (and its heartbeat) stands still
      }
      return 'blocked';
    }
    case 'exit':
      if (action.afterMs === undefined) process.exit(action.code);
      setTimeout(() => process.exit(action.code), action.afterMs);
      return 'exiting';
    case 'stale':
      port.postMessage({ seq: seq - 1, ok: true, value: 'stale' } satisfies Response);
      signal();
      await new Promise((ok) => setTimeout(ok, 5));
      return 'fresh';
  }
}

function failingStore(err: unknown): ObjectStore {
  const fail = async (): Promise<never> => {
    throw err;
  };
  const zero = { requests: 0, bytes: 0, retries: 0, errors: 0 };
  return {
    url: data.url,
    listPage: fail,
    list: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
    get: fail,
    getWithMetadata: fail,
    head: fail,
    put: fail,
    putIfAbsent: fail,
    deleteMany: fail,
    stats: () => ({ list: { ...zero }, get: { ...zero }, head: { ...zero }, put: { ...zero }, delete: { ...zero } }),
    close: async () => undefined,
  };
}

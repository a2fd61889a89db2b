// The I/O worker thread, one per process (./host.ts): each caller attaches a channel
// (a message on parentPort: its URL and store options, its control SharedArrayBuffer,
// its port), for which this thread opens an ObjectStore and answers requests from
// that port. After posting each answer it bumps the channel's EVENT word and
// notifies, so a caller blocked in Atomics.wait wakes and takes the message with
// receiveMessageOnPort. Bytes are transferred (moved), not copied, when they own
// their whole ArrayBuffer.
import { parentPort, type MessagePort } from 'node:worker_threads';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore, type OpenStoreOptions } from '../storage/open-store.js';
import { EVENT, EXIT_CODE, EXITED, HEARTBEAT, HEARTBEAT_MS, READY, STATE, errorToData, readyAtView, statsView, writeStats, type Envelope, type GetResult, type Response, type TestAction } from './protocol.js';

/** What a caller sends to attach a channel (./host.ts ChannelData). */
export interface WorkerData {
  url: string;
  store: OpenStoreOptions;
  control: SharedArrayBuffer;
  port: MessagePort;
  testHooks: boolean;
}

interface Channel {
  data: WorkerData;
  control: Int32Array;
  stats: Float64Array;
  port: MessagePort;
  store: ObjectStore;
}

const channels = new Set<Channel>();

// A read-only open plans first thing: its module loads while the thread waits for a channel.
const linkedPlan = import('../replica/linked-plan.js');
linkedPlan.catch(() => undefined); // a failure shows at the first plan

function signal(control: Int32Array): void {
  Atomics.add(control, EVENT, 1);
  Atomics.notify(control, EVENT);
}

// Runs on process.exit() and after an uncaught exception, so every caller learns at once.
process.on('exit', (code) => {
  for (const ch of channels) {
    Atomics.store(ch.control, EXIT_CODE, code);
    Atomics.store(ch.control, STATE, EXITED);
    signal(ch.control);
  }
});

setInterval(() => {
  for (const ch of channels) Atomics.add(ch.control, HEARTBEAT, 1);
}, HEARTBEAT_MS).unref();

parentPort!.on('message', (data: WorkerData) => {
  let store: ObjectStore;
  try {
    store = openStore(data.url, data.store);
  } catch (err) {
    // A bad URL or option: answer every request with it rather than dying unexplained.
    store = failingStore(data.url, err);
  }
  const ch: Channel = { data, control: new Int32Array(data.control), stats: statsView(data.control), port: data.port, store };
  channels.add(ch);
  readyAtView(data.control)[0] = performance.timeOrigin + performance.now(); // before READY: seen with it
  Atomics.store(ch.control, STATE, READY);
  // 'close' (a plain string), or the caller closing its end: close the store, then the port.
  let closing = false;
  const close = (): void => {
    if (closing) return;
    closing = true;
    channels.delete(ch);
    void store.close().finally(() => ch.port.close());
  };
  ch.port.on('message', (msg: Envelope | 'close') => {
    if (msg === 'close') close();
    else void serve(ch, msg);
  });
  ch.port.on('close', close);
});

async function serve(ch: Channel, req: Envelope): Promise<void> {
  let answer: Response;
  const transfer: ArrayBuffer[] = [];
  try {
    answer = { seq: req.seq, ok: true, value: await run(ch, req, transfer) };
  } catch (err) {
    answer = { seq: req.seq, ok: false, error: errorToData(err) };
  }
  writeStats(ch.stats, ch.store.stats());
  ch.port.postMessage(answer, transfer);
  signal(ch.control);
}

async function run(ch: Channel, req: Envelope, transfer: ArrayBuffer[]): Promise<unknown> {
  const store = ch.store;
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
      // Only this module: the replica's index would load restore's engine, a second SQLite instance.
      const { planRestoreLinked } = await linkedPlan;
      const target = req.target.timestampMs === undefined ? { txid: req.target.txid } : { timestamp: new Date(req.target.timestampMs) };
      // The snapshot's head (page 1, the schema, early B-tree roots) in the same round trip as the tails.
      let headP: Promise<{ key: string; bytes: Uint8Array }> | null = null;
      const planOptions = {
        onPlan: (first: { key: string; size: number }) => {
          if (req.target.headBytes) headP = store.get(first.key, { range: { offset: 0, length: Math.min(req.target.headBytes, first.size) } }).then((bytes) => ({ key: first.key, bytes }));
        },
      };
      // Boot pack hook (issue 14): the latest plan with the pack's tails and frames (src/boot/cold-plan.ts).
      const latest = req.target.txid === undefined && req.target.timestampMs === undefined;
      const cold = req.target.bootPack && latest ? await (await import('../boot/cold-plan.js')).planWithBootPack(store, planOptions) : null;
      const { plan, index } = cold ?? (await planRestoreLinked(store, target, planOptions));
      const head = headP === null ? null : await (headP as Promise<{ key: string; bytes: Uint8Array }>);
      // Moved, not copied: a 1 GiB database's index is 4 MB of typed arrays, and this worker drops them.
      const data = index.toData();
      for (const a of [data.fileOf, data.offsets, data.sizes, head?.bytes, ...(cold?.frames.map((f) => f.bytes) ?? [])]) if (a !== undefined) movable(a, transfer);
      return { plan, index: data, head, ...(cold === null ? {} : { frames: cold.frames, pack: cold.use }) };
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
      if (!ch.data.testHooks) throw new TypeError('test hooks are off in this worker');
      return test(ch, req.action, req.seq);
  }
}

/** Move `view`'s buffer with the answer when the view is all of it (never Buffer's shared pool). */
function movable(view: ArrayBufferView, transfer: ArrayBuffer[]): void {
  const { buffer } = view;
  if (view.byteOffset === 0 && view.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
}

async function test(ch: Channel, action: TestAction, seq: number): Promise<string> {
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
      ch.port.postMessage({ seq: seq - 1, ok: true, value: 'stale' } satisfies Response);
      signal(ch.control);
      await new Promise((ok) => setTimeout(ok, 5));
      return 'fresh';
  }
}

function failingStore(url: string, err: unknown): ObjectStore {
  const fail = async (): Promise<never> => {
    throw err;
  };
  const zero = { requests: 0, bytes: 0, retries: 0, errors: 0 };
  return {
    url,
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

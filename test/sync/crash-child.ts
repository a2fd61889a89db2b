// Child process for crash.test.ts: a writer that appends deterministic commits to a
// write buffer (printing `ack <n> <txid>` after append returned for commit n) while a
// syncer ships them to a file:// replica every 20 ms, until it is SIGKILLed.
//
// TXIDs count uploads, not commits, so the workload is keyed by a commit number n kept
// in the database itself: every commit also writes page COUNTER_PAGE holding n. At start
// the child reads the newest n back (from the buffer, else from the replica's newest L0
// file) and goes on from n + 1; it prints it as `reconciled … from <n>`.
import { decodeLtx } from '../../src/ltx/index.js';
import { layoutFor } from '../../src/replica/index.js';
import { FileStore } from '../../src/storage/file-store.js';
import { Syncer, WriteBuffer, reconcileBuffer, type Batch } from '../../src/sync/index.js';
import { pageBytes, pagesOf, quiet } from './helpers.js';

const [bufferDir, replicaDir] = process.argv.slice(2);
const PS = 512;
const COUNTER_PAGE = 41; // pagesOf writes pages 1..40
const store = new FileStore({ dir: replicaDir });
const buffer = WriteBuffer.open(bufferDir, { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
const r = await reconcileBuffer(store, buffer, quiet);

const counterOf = (page: Uint8Array) => new DataView(page.buffer, page.byteOffset, 8).getBigUint64(0);
let n: bigint;
const buffered = buffer.page(COUNTER_PAGE);
if (buffered) n = counterOf(buffered);
else if (r.base.txid === 0n) n = 0n;
else {
  const newest = decodeLtx(await store.get(layoutFor(store).fileKey(0, r.base.txid, r.base.txid)));
  n = counterOf(newest.pages.find((p) => p.pgno === COUNTER_PAGE)!.data);
}
process.stdout.write(`reconciled ${r.status} ${r.base.txid} ${buffer.lastTXID} from ${n}\n`);

// The pending-TXID rule: what open recovered is frozen, and so is each TXID the syncer takes
// (batch); a commit joins the newest TXID unless it is frozen, else starts the next one.
let frozen = buffer.lastTXID;
const batch = buffer.batch.bind(buffer);
buffer.batch = (): Batch | null => {
  const b = batch();
  if (b && b.maxTXID > frozen) frozen = b.maxTXID;
  return b;
};

const syncer = new Syncer({ store, buffer, intervalMs: 20, log: quiet });
syncer.start();
for (;;) {
  n++;
  const counter = new Uint8Array(PS);
  new DataView(counter.buffer).setBigUint64(0, n);
  const pages = pagesOf(n).map((p) => [p, pageBytes(n, p, PS)] as [number, Uint8Array]);
  pages.push([COUNTER_PAGE, counter]);
  const last = buffer.lastTXID;
  const expected = last > frozen ? last : last + 1n;
  const got = buffer.append({ pages, commit: COUNTER_PAGE, checksum: null });
  if (got !== expected) throw new Error(`append of commit ${n} returned TXID ${got}, expected ${expected} (newest ${last}, frozen through ${frozen})`);
  process.stdout.write(`ack ${n} ${got}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(n % 3n)));
}

// Child process for crash.test.ts: a writer that appends deterministic commits to a
// write buffer (printing `ack <txid>` after each append returned) while a syncer ships
// them to a file:// replica every 20 ms, until it is SIGKILLed.
import { FileStore } from '../../src/storage/file-store.js';
import { Syncer, WriteBuffer, reconcileBuffer } from '../../src/sync/index.js';
import { pageBytes, pagesOf, quiet } from './helpers.js';

const [bufferDir, replicaDir] = process.argv.slice(2);
const PS = 512;
const store = new FileStore({ dir: replicaDir });
const buffer = WriteBuffer.open(bufferDir, { replicaUrl: store.url, pageSize: PS, maxBytes: 64 << 20, log: quiet });
const r = await reconcileBuffer(store, buffer, quiet);
process.stdout.write(`reconciled ${r.status} ${r.base.txid} ${buffer.lastTXID}\n`);
const syncer = new Syncer({ store, buffer, intervalMs: 20, log: quiet });
syncer.start();
for (;;) {
  const txid = buffer.lastTXID + 1n;
  const pages = pagesOf(txid).map((p) => [p, pageBytes(txid, p, PS)] as [number, Uint8Array]);
  const got = buffer.append({ pages, commit: 40, checksum: null });
  if (got !== txid) throw new Error(`append returned ${got}, expected ${txid}`);
  process.stdout.write(`ack ${got}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(txid % 3n)));
}

// On open in write mode: line the buffer up with the replica before any commit.
// - remote still at the buffer's base: its commits (if any) are uploaded by the syncer;
// - remote moved on because of our own upload (a crash between PUT and markSynced):
//   recognised by the upload record's key and file checksum, then marked synced;
// - remote moved on otherwise, went back, or is another database: the buffer's commits
//   are set aside (kept, reported); an empty buffer just takes the remote's state;
// - empty replica and new buffer: base 0.
import type { Logger } from 'pino';
import { CHECKSUM_FLAG, HEADER_FLAG_NO_CHECKSUM, hex64 } from '../ltx/index.js';
import { log as rootLog } from '../log.js';
import { listReplica, readLtxHeader, readPostApplyChecksum, type LtxFileInfo } from '../replica/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { BufferBase, WriteBuffer } from './write-buffer.js';

export interface ReconcileResult {
  status: 'clean' | 'pending' | 'set-aside';
  base: BufferBase;
  setAsideDir?: string;
  message?: string;
}

interface RemoteState {
  txid: bigint;
  commit: number;
  checksum: bigint | null;
  pageSize: number | null;
  files: LtxFileInfo[];
}

export async function reconcileBuffer(store: ObjectStore, buffer: WriteBuffer, log: Logger = rootLog): Promise<ReconcileResult> {
  const lg = log.child({ component: 'reconcile' });
  const remote = await remoteState(store);
  if (remote.pageSize !== null && remote.pageSize !== buffer.pageSize) {
    throw new Error(`replica ${store.url} has page size ${remote.pageSize}, the write buffer ${buffer.dir} was opened with ${buffer.pageSize}; open it with the replica's page size`);
  }
  const asideOnOpen = buffer.setAsideOnOpen;
  let asideDir = asideOnOpen?.dir;
  let message = asideOnOpen ? `write buffer set aside to ${asideOnOpen.dir}: ${asideOnOpen.reason}` : undefined;

  // Our own uploads that landed before a crash: move the base past them.
  for (let again = true; again && buffer.base && remote.txid > buffer.base.txid; ) {
    again = false;
    const base = buffer.base;
    for (const u of buffer.uploads()) {
      if (u.minTXID !== base.txid + 1n || u.maxTXID > buffer.lastTXID) continue;
      const f = remote.files.find((x) => x.key === u.key);
      if (!f) continue;
      const tail = await store.get(u.key, { range: { suffix: 8 } });
      if (new DataView(tail.buffer, tail.byteOffset, 8).getBigUint64(0) !== u.fileChecksum) continue;
      lg.info({ key: u.key }, 'reconcile: our upload landed before the crash; marking it synced');
      buffer.markSynced(u.maxTXID, u.postApplyChecksum, u.commit);
      again = true;
      break;
    }
  }

  const base = buffer.base;
  const pending = buffer.unsynced().commits;
  let why: string | null = null;
  if (base) {
    if (remote.txid !== base.txid) {
      why = remote.txid > base.txid ? `the replica moved on to TXID ${remote.txid} past the buffer's base ${base.txid} (another writer)` : `the replica is at TXID ${remote.txid}, behind the buffer's base ${base.txid} (it was reset or restored)`;
    } else if (base.txid > 0n && remote.commit !== base.commit) {
      why = `the replica's TXID ${remote.txid} has ${remote.commit} pages, the buffer's base ${base.commit} (another database)`;
    } else if (base.txid > 0n && remote.checksum !== null && base.checksum !== null && remote.checksum !== base.checksum) {
      why = `the replica's TXID ${remote.txid} has checksum ${hex64(remote.checksum)}, the buffer's base ${hex64(base.checksum)} (another database)`;
    }
  }
  if (why !== null && pending > 0) {
    asideDir = buffer.setAside(why);
    message = `${pending} unsynced commits kept aside in ${asideDir}: ${why}`;
    lg.warn({ dir: asideDir }, message);
  } else if (why !== null) {
    lg.info({ why }, 'reconcile: the buffer was empty; taking the replica state');
  }
  if (!buffer.base || why !== null) {
    buffer.setBase({ txid: remote.txid, checksum: remote.checksum, commit: remote.commit, pageSize: buffer.pageSize });
  }
  const status = asideDir !== undefined ? 'set-aside' : buffer.unsynced().commits > 0 ? 'pending' : 'clean';
  return { status, base: buffer.base!, ...(asideDir !== undefined ? { setAsideDir: asideDir } : {}), ...(message !== undefined ? { message } : {}) };
}

/** The replica's latest TXID and the size and checksum after it (from one file ending there). */
async function remoteState(store: ObjectStore): Promise<RemoteState> {
  const files = await listReplica(store);
  if (files.length === 0) return { txid: 0n, commit: 0, checksum: CHECKSUM_FLAG, pageSize: null, files };
  const txid = files.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
  const last = files.filter((f) => f.maxTXID === txid).sort((a, b) => b.level - a.level)[0];
  // Header and trailer with the checksum record applied (ours carry it beside the file).
  const [header, post] = await Promise.all([readLtxHeader(store, last.key), readPostApplyChecksum(store, last.key)]);
  const checksum = header.flags & HEADER_FLAG_NO_CHECKSUM || !post ? null : post;
  return { txid, commit: header.commit, checksum, pageSize: header.pageSize, files };
}

// Restore: rebuild the database of a plan into a local file. Downloads run ahead
// of the decoder with bounded concurrency (files above 8 MiB as parallel ranged
// GETs); files are decoded strictly in plan order (every file checksum is
// verified) and applied newest-page-wins into a temp file beside the output.
// Then: the chain's pre/post-apply checksums must link up; the result's database
// checksum must equal the last file's post-apply checksum (unless NoChecksum);
// SQLite's `PRAGMA integrity_check` must say ok; only then is the temp file
// fsynced and renamed into place. Nothing is ever left at the output path on failure.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Database } from '../engine/index.js';
import { parseRecord, postWithRecord, withRecord, type ChecksumRecord } from './checksum-record.js';
import { DatabaseChecksum, LtxDecoder, LtxError, hasChecksums, hex64, isSnapshot, lockPage, type LtxHeader, type LtxSummary } from '../ltx/index.js';
import type { ObjectStore } from '../storage/object-store.js';
import { syncDirSync } from '../storage/sync-dir.js';
import { totalOf } from '../storage/stats.js';
import { ReplicaError } from './errors.js';
import { planRestoreChecked } from './linked-plan.js';
import type { RestorePlan, RestoreTarget } from './plan.js';

// 8 MiB ranges, 8 in flight: enough to fill a loopback or LAN link from one client
// while holding at most 64 MiB of downloaded bytes in memory.
export const RESTORE_CHUNK_BYTES = 8 * 1024 * 1024;
export const RESTORE_CONCURRENCY = 8;

export interface RestoreProgress {
  files: number;
  filesDone: number;
  bytes: number; // LTX bytes to download
  bytesDone: number;
  pages: number; // pages written so far
}

export interface RestoreOptions {
  onProgress?: (p: RestoreProgress) => void;
  /** GETs in flight (default 8). */
  concurrency?: number;
  /** Range size for large files in bytes (default 8 MiB). */
  chunkBytes?: number;
  /** Replace an existing file at the output path (and its -journal/-wal/-shm). */
  overwrite?: boolean;
  /** Run `PRAGMA integrity_check` on the result (default true; off only for non-SQLite test images). */
  integrityCheck?: boolean;
  /** Use this plan instead of computing one from `target`. */
  plan?: RestorePlan;
}

export interface RestoreResult {
  url: string;
  path: string;
  txid: bigint;
  pageSize: number;
  commit: number; // pages
  dbBytes: number;
  pagesWritten: number;
  files: number;
  ltxBytes: number; // downloaded
  requests: number; // store requests, including listing
  checksumVerified: boolean; // false only for NoChecksum files (Litestream's default)
  integrityChecked: boolean; // false for an empty database (or when turned off)
  ms: number;
}

interface Chunk {
  file: number;
  offset: number;
  length: number;
  last: boolean; // last chunk of its file
}

const SIDE_FILES = ['-journal', '-wal', '-shm'];

export async function restore(store: ObjectStore, target: RestoreTarget, outPath: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const t0 = performance.now();
  const statsBefore = store.stats();
  const out = resolve(outPath);
  if (!options.overwrite && existsSync(out)) throw new ReplicaError('REPLICA_OUTPUT_EXISTS', `output ${out} already exists; remove it or pass overwrite (--force)`);
  // The plan whose checksums link (a leftover of a fenced writer is not taken).
  const plan = options.plan ?? (await planRestoreChecked(store, target));
  const chunkBytes = options.chunkBytes ?? RESTORE_CHUNK_BYTES;
  const concurrency = options.concurrency ?? RESTORE_CONCURRENCY;
  const chunks: Chunk[] = [];
  plan.files.forEach((f, i) => {
    for (let off = 0; off === 0 || off < f.size; off += chunkBytes) {
      chunks.push({ file: i, offset: off, length: Math.min(chunkBytes, f.size - off), last: off + chunkBytes >= f.size });
    }
  });
  const progress: RestoreProgress = { files: plan.files.length, filesDone: 0, bytes: plan.files.reduce((s, f) => s + f.size, 0), bytesDone: 0, pages: 0 };

  const tmp = join(dirname(out), `.${basename(out)}.restore-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx+');
  let fdOpen = true;
  const inflight: (Promise<Uint8Array> | undefined)[] = [];
  // Each file's checksum record comes with its first chunk (./checksum-record.ts).
  const records: (ChecksumRecord | null)[] = plan.files.map(() => null);
  try {
    let launched = 0;
    const launch = (consumed: number) => {
      while (launched < chunks.length && launched < consumed + concurrency) {
        const c = chunks[launched];
        const f = plan.files[c.file];
        const range = c.offset === 0 && c.last ? {} : { range: { offset: c.offset, length: c.length } };
        const file = c.file;
        const p =
          c.offset === 0
            ? store.getWithMetadata(f.key, range).then((got) => {
                records[file] = parseRecord(got.metadata);
                return got.bytes;
              })
            : store.get(f.key, range);
        p.catch(() => undefined); // awaited in order below; avoid unhandled rejections meanwhile
        inflight[launched++] = p;
      }
    };
    let decoder = new LtxDecoder();
    let prev: LtxSummary | null = null;
    for (let i = 0; i < chunks.length; i++) {
      launch(i);
      const c = chunks[i];
      const file = plan.files[c.file];
      const bytes = await inflight[i]!;
      inflight[i] = undefined;
      progress.bytesDone += bytes.length;
      try {
        for (const p of decoder.write(bytes)) {
          writeSync(fd, p.data, 0, p.data.length, (p.pgno - 1) * p.data.length);
          progress.pages++;
        }
        if (c.last) {
          prev = finishFile(plan, c.file, decoder, prev, records[c.file]);
          ftruncateSync(fd, prev.header.commit * prev.header.pageSize); // drop pages a shrinking transaction cut off
        }
      } catch (err) {
        if (err instanceof LtxError) throw new LtxError(err.code, `${plan.url}: ${file.key}: ${err.message}`, { cause: err });
        if (err instanceof ReplicaError) throw new ReplicaError(err.code, `${plan.url}: ${file.key}: ${err.message}`, { cause: err });
        throw err;
      }
      if (c.last) {
        progress.filesDone++;
        decoder = new LtxDecoder();
      }
      options.onProgress?.({ ...progress });
    }
    const last = prev!;
    const { pageSize: ps, commit } = last.header;
    let checksumVerified = false;
    if (hasChecksums(last.header) && commit > 0) {
      const sum = fileChecksum(fd, ps, commit);
      if (sum !== last.trailer.postApplyChecksum) {
        throw new ReplicaError(
          'REPLICA_VERIFY',
          `${plan.url}: restored database checksum ${hex64(sum)} differs from ${hex64(last.trailer.postApplyChecksum)} in ${plan.files[plan.files.length - 1].key}`,
        );
      }
      checksumVerified = true;
    }
    fsyncSync(fd);
    closeSync(fd);
    fdOpen = false;
    const integrityChecked = commit > 0 && options.integrityCheck !== false;
    if (integrityChecked) integrityCheck(tmp, plan.url);
    // A stale journal or WAL beside the new file would be applied to it: remove them; the
    // rename then replaces any old database atomically.
    if (options.overwrite) for (const s of SIDE_FILES) rmSync(out + s, { force: true });
    renameSync(tmp, out);
    syncDirSync(dirname(out));
    const statsAfter = store.stats();
    return {
      url: plan.url,
      path: out,
      txid: plan.txid,
      pageSize: ps,
      commit,
      dbBytes: commit * ps,
      pagesWritten: progress.pages,
      files: plan.files.length,
      ltxBytes: progress.bytesDone,
      requests: totalOf(statsAfter, 'requests') - totalOf(statsBefore, 'requests'),
      checksumVerified,
      integrityChecked,
      ms: performance.now() - t0,
    };
  } finally {
    if (fdOpen) closeSync(fd);
    rmSync(tmp, { force: true });
    for (const s of SIDE_FILES) rmSync(tmp + s, { force: true });
  }
}

/** End one file's decoder (file checksum verified) and check it against its name and the file before. */
function finishFile(plan: RestorePlan, i: number, decoder: LtxDecoder, prev: LtxSummary | null, record: ChecksumRecord | null): LtxSummary {
  const decoded = decoder.end();
  // As if the checksums recorded beside the file were in it.
  const s = { ...decoded, header: withRecord(decoded.header, record), trailer: { ...decoded.trailer, postApplyChecksum: postWithRecord(decoded.trailer.postApplyChecksum, record) } };
  checkLink(plan, i, s.header, prev);
  if (prev && s.header.pageSize !== prev.header.pageSize) {
    throw new ReplicaError('REPLICA_MISMATCH', `page size ${s.header.pageSize} differs from the earlier files' ${prev.header.pageSize}`);
  }
  return s;
}

/** A file's header must match its name, and (with checksums) continue the previous file's state. */
function checkLink(plan: RestorePlan, i: number, h: LtxHeader, prev: LtxSummary | null): void {
  const f = plan.files[i];
  if (h.minTXID !== f.minTXID || h.maxTXID !== f.maxTXID) {
    throw new ReplicaError('REPLICA_MISMATCH', `header says TXIDs ${h.minTXID}..${h.maxTXID}, the name says ${f.minTXID}..${f.maxTXID}`);
  }
  if (prev && !isSnapshot(h) && hasChecksums(h) && hasChecksums(prev.header) && h.preApplyChecksum !== prev.trailer.postApplyChecksum) {
    throw new ReplicaError(
      'REPLICA_MISMATCH',
      `pre-apply checksum ${hex64(h.preApplyChecksum)} does not continue ${plan.files[i - 1].key} (post-apply ${hex64(prev.trailer.postApplyChecksum)})`,
    );
  }
}

/** Database checksum of pages 1..commit of the open file (lock page skipped), read in 4 MiB pieces. */
function fileChecksum(fd: number, pageSize: number, commit: number): bigint {
  const sum = new DatabaseChecksum();
  const lock = lockPage(pageSize);
  const per = Math.max(1, Math.floor((4 << 20) / pageSize));
  const buf = new Uint8Array(per * pageSize);
  for (let first = 1; first <= commit; first += per) {
    const n = Math.min(per, commit - first + 1);
    const want = n * pageSize;
    for (let got = 0; got < want; ) {
      const r = readSync(fd, buf, got, want - got, (first - 1) * pageSize + got);
      if (r === 0) throw new ReplicaError('REPLICA_VERIFY', `restored file ends before page ${first + Math.floor(got / pageSize)}`);
      got += r;
    }
    for (let k = 0; k < n; k++) {
      if (first + k !== lock) sum.addPage(first + k, buf.subarray(k * pageSize, (k + 1) * pageSize));
    }
  }
  return sum.value();
}

function integrityCheck(path: string, url: string): void {
  // immutable=1: read the bytes as they are, with no locks, journal or WAL lookups
  // (a database restored from a WAL-mode source says "WAL" in its header).
  const uri = `file:${path.split('/').map(encodeURIComponent).join('/')}?immutable=1`;
  let db: Database | undefined;
  try {
    db = new Database(uri, { readOnly: true });
    const rows = db.all('PRAGMA integrity_check');
    const msgs = rows.map((r) => String(Object.values(r)[0]));
    if (msgs.length !== 1 || msgs[0] !== 'ok') {
      throw new ReplicaError('REPLICA_VERIFY', `${url}: restored database fails PRAGMA integrity_check: ${msgs.slice(0, 3).join('; ')}${msgs.length > 3 ? ` (+${msgs.length - 3} more)` : ''}`);
    }
  } catch (err) {
    if (err instanceof ReplicaError) throw err;
    throw new ReplicaError('REPLICA_VERIFY', `${url}: restored database does not open as SQLite: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}


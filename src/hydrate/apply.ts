// Bring a hydrated file forward: apply newer LTX files (contiguous from its TXID;
// overlapping higher-level files are fine) in order. Every file is fetched and
// verified (file checksum) before anything is written; with checksums the new
// database checksum is computed incrementally (XOR out old pages, XOR in new ones)
// and must equal the last file's post-apply checksum, also before writing. The
// sidecar is marked `applyingTo` first, so a crash halfway is known and repaired by
// the next apply (see sidecar.ts).
import type { FileHandle } from 'node:fs/promises';
import { openPrivateAsync } from '../private-fs.js';
import type { Logger } from 'pino';
import { DatabaseChecksum, LtxDecoder, hasChecksums, hex64, isSnapshot, lockPage, pageChecksum, type DecodedLtx } from '../ltx/index.js';
import { parseRecord, postWithRecord, withRecord, type ChecksumRecord } from '../replica/checksum-record.js';
import type { LtxFileInfo } from '../replica/listing.js';
import { mapLimit } from '../replica/pool.js';
import type { ObjectStore } from '../storage/object-store.js';
import { log as rootLog } from '../log.js';
import { HydrationError } from './errors.js';
import { CORRUPT_ATTEMPTS, Fetcher } from './fetcher.js';
import { readSidecar, writeSidecar } from './sidecar.js';
import type { HydratedFile } from './types.js';

export interface ApplyOptions {
  signal?: AbortSignal;
  log?: Logger;
  /** Range size for large files (default 8 MiB). */
  chunkBytes?: number;
  /** Requests in flight (default 8). */
  concurrency?: number;
  /** @internal share the caller's counters */
  fetcher?: Fetcher;
}

/** Fetch one whole file (large ones as parallel ranges) and decode it; refetch on a failed checksum. */
async function fetchDecoded(fetcher: Fetcher, f: LtxFileInfo, chunkBytes: number, concurrency: number): Promise<DecodedLtx> {
  for (let attempt = 1; ; attempt++) {
    const ranges: { offset: number; length: number }[] = [];
    for (let off = 0; off === 0 || off < f.size; off += chunkBytes) ranges.push({ offset: off, length: Math.min(chunkBytes, f.size - off) });
    let record: ChecksumRecord | null = null;
    const parts = await mapLimit(ranges, concurrency, (r) =>
      fetcher.get(f.key, ranges.length === 1 ? undefined : r, (b, metadata) => {
        if (b.length !== r.length) throw new Error(`got ${b.length} bytes, expected ${r.length}`);
        if (r.offset === 0) record = parseRecord(metadata);
        return b;
      }),
    );
    try {
      const d = new LtxDecoder();
      const pages = parts.flatMap((p) => d.write(p));
      const s = d.end();
      // As if the checksums recorded beside the file were in it.
      return { ...s, header: withRecord(s.header, record), trailer: { ...s.trailer, postApplyChecksum: postWithRecord(s.trailer.postApplyChecksum, record) }, pages };
    } catch (err) {
      fetcher.stats.corruptFetches++;
      if (attempt >= CORRUPT_ATTEMPTS) {
        throw new HydrationError('HYDRATE_CORRUPT', `${fetcher.url}: ${f.key} is corrupt: ${(err as Error).message} on ${attempt} fetches; the replica object is damaged`, { cause: err });
      }
    }
  }
}

export async function applyLtxFiles(file: HydratedFile, store: ObjectStore, files: LtxFileInfo[], options: ApplyOptions = {}): Promise<HydratedFile> {
  if (files.length === 0) return file;
  const log = options.log ?? rootLog;
  const fetcher = options.fetcher ?? new Fetcher(store, log, options.signal);
  const side = readSidecar(file.path, store.url);
  const dirtyTo = side && side.txid === file.txid ? side.applyingTo : null;
  // Contiguity: each file continues (or overlaps) the position; none is a gap.
  let pos = file.txid;
  for (const f of files) {
    if (f.minTXID > pos + 1n || f.maxTXID <= pos) {
      throw new HydrationError('HYDRATE_GAP', `${store.url}: ${f.key} (TXIDs ${f.minTXID}..${f.maxTXID}) does not continue TXID ${pos} of ${file.path}`);
    }
    pos = f.maxTXID;
  }
  if (dirtyTo !== null && pos < dirtyTo) {
    throw new HydrationError('HYDRATE_GAP', `${file.path}: an interrupted apply left pages up to TXID ${dirtyTo}; the files given reach only ${pos}, apply files reaching ${dirtyTo} or more`);
  }
  const decoded = await mapLimit(files, 4, (f) => fetchDecoded(fetcher, f, options.chunkBytes ?? 8 << 20, options.concurrency ?? 8));

  const ps = file.pageSize;
  const merged = new Map<number, Uint8Array>();
  let minCommit = file.commit;
  let checksums = file.checksum !== null;
  let prevPost = file.checksum;
  let prevMax = file.txid;
  decoded.forEach((d, i) => {
    const f = files[i];
    const h = d.header;
    if (h.pageSize !== ps) throw new HydrationError('HYDRATE_MISMATCH', `${store.url}: ${f.key} has page size ${h.pageSize}, ${file.path} has ${ps}`);
    if (h.minTXID !== f.minTXID || h.maxTXID !== f.maxTXID) throw new HydrationError('HYDRATE_MISMATCH', `${store.url}: ${f.key}: header says TXIDs ${h.minTXID}..${h.maxTXID}`);
    checksums &&= hasChecksums(h);
    if (checksums && dirtyTo === null && !isSnapshot(h) && h.minTXID === prevMax + 1n && h.preApplyChecksum !== prevPost) {
      throw new HydrationError(
        'HYDRATE_MISMATCH',
        `${store.url}: ${f.key}: pre-apply checksum ${hex64(h.preApplyChecksum)} does not match ${i === 0 ? file.path : files[i - 1].key} at TXID ${prevMax} (${hex64(prevPost ?? 0n)})`,
      );
    }
    for (const p of d.pages) merged.set(p.pgno, p.data);
    for (const p of merged.keys()) if (p > h.commit) merged.delete(p);
    minCommit = Math.min(minCommit, h.commit);
    prevPost = hasChecksums(h) ? d.trailer.postApplyChecksum : null;
    prevMax = h.maxTXID;
  });
  const last = decoded[decoded.length - 1];
  const lastFile = files[files.length - 1];
  const commit = last.header.commit;
  const lock = lockPage(ps);

  const fh = await openPrivateAsync(file.path, 'readWrite');
  try {
    let checksum: bigint | null = null;
    if (checksums && dirtyTo === null) {
      // New checksum = old, minus every page that changes or is cut off, plus the new contents.
      const page = new Uint8Array(ps);
      const readOld = async (p: number) => {
        const { bytesRead } = await fh.read(page, 0, ps, (p - 1) * ps);
        if (bytesRead !== ps) throw new HydrationError('HYDRATE_MISMATCH', `${file.path} ends before page ${p} (commit ${file.commit})`);
        return page;
      };
      const sum = new DatabaseChecksum();
      const flag = sum.value();
      let acc = file.checksum! ^ flag;
      for (let p = 1; p <= Math.max(file.commit, commit); p++) {
        if (p === lock) continue;
        const changes = merged.has(p) || p > minCommit;
        if (!changes) continue;
        if (p <= file.commit) acc ^= pageChecksum(p, await readOld(p)) ^ flag;
        if (p <= commit) acc ^= pageChecksum(p, merged.get(p) ?? new Uint8Array(ps)) ^ flag;
      }
      checksum = acc | flag;
      if (checksum !== last.trailer.postApplyChecksum) {
        throw new HydrationError('HYDRATE_MISMATCH', `${store.url}: applying up to ${lastFile.key} gives checksum ${hex64(checksum)}, the file says ${hex64(last.trailer.postApplyChecksum)}; ${file.path} is unchanged`);
      }
    }
    const base = { url: store.url, pageSize: ps, identity: file.identity, checksum: file.checksum };
    writeSidecar(file.path, { ...base, txid: file.txid, commit: file.commit, applyingTo: pos });
    if (minCommit < file.commit) await fh.truncate(minCommit * ps);
    await writePages(fh, merged, ps);
    await fh.truncate(commit * ps);
    await fh.datasync();
    if (checksums && dirtyTo !== null) checksum = await fullChecksum(fh, ps, commit);
    const identity = { key: lastFile.key, size: lastFile.size, fileChecksum: last.trailer.fileChecksum };
    writeSidecar(file.path, { ...base, txid: pos, commit, checksum, identity, applyingTo: null });
    log.debug({ path: file.path, from: file.txid.toString(), to: pos.toString(), files: files.length, pages: merged.size }, 'hydrate: applied LTX files');
    return { ...file, txid: pos, commit, checksum, identity, stats: undefined };
  } finally {
    await fh.close();
  }
}

type Handle = FileHandle;

/** Write pages in pgno order, runs of consecutive pages as one writev. */
export async function writePages(fh: Handle, pages: Map<number, Uint8Array> | { pgno: number; data: Uint8Array }[], ps: number): Promise<void> {
  const list = Array.isArray(pages) ? pages : [...pages].map(([pgno, data]) => ({ pgno, data })).sort((a, b) => a.pgno - b.pgno);
  for (let i = 0; i < list.length; ) {
    let j = i + 1;
    while (j < list.length && list[j].pgno === list[j - 1].pgno + 1 && j - i < 256) j++;
    await fh.writev(list.slice(i, j).map((p) => p.data), (list[i].pgno - 1) * ps);
    i = j;
  }
}

/** Database checksum of pages 1..commit of an open file (lock page skipped). */
export function fullChecksum(fh: Handle, ps: number, commit: number): Promise<bigint> {
  const lock = lockPage(ps);
  const pages: number[] = [];
  for (let p = 1; p <= commit; p++) if (p !== lock) pages.push(p);
  return checksumPages(fh, ps, commit, pages);
}

/** Database checksum of just `pages` (ascending) of an open file, read in runs of adjacent pages of up to 4 MiB. */
export async function checksumPages(fh: Handle, ps: number, commit: number, pages: readonly number[]): Promise<bigint> {
  const sum = new DatabaseChecksum();
  const per = Math.max(1, Math.floor((4 << 20) / ps));
  const buf = new Uint8Array(Math.min(per, Math.max(1, pages.length)) * ps);
  for (let i = 0; i < pages.length; ) {
    let j = i + 1;
    while (j < pages.length && j - i < per && pages[j] === pages[j - 1] + 1) j++;
    const first = pages[i];
    const n = j - i;
    const { bytesRead } = await fh.read(buf, 0, n * ps, (first - 1) * ps);
    if (bytesRead !== n * ps) throw new HydrationError('HYDRATE_MISMATCH', `file ends before page ${first + Math.floor(bytesRead / ps)} (commit ${commit})`);
    for (let k = 0; k < n; k++) sum.addPage(first + k, buf.subarray(k * ps, (k + 1) * ps));
    i = j;
  }
  return sum.value();
}

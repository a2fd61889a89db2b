// hydrate(): build (or resume, or reuse) a verified local copy of a replica.
//
// Build: plan → fetch each plan file's header and page index (its tail) → decide,
// per page, the one file that supplies it (winners.ts) → cut every file into
// frame-aligned chunks (chunk.ts) and fetch runs of consecutive chunks as streamed
// range requests (`concurrency` in flight, up to `requestBytes` each, in any order);
// as each chunk's bytes are in, verify it and write its winning pages into
// `<path>.ltxvfs-tmp` → group-commit: fdatasync the temp file, then append the
// finished chunks' records (with their CRC shares) to the journal beside it → when
// every chunk of a file is in, join the CRC shares and compare with the file checksum (a mismatch refetches
// the file; the same mismatch on every fetch is a corrupt object) → catch up with
// files that landed meanwhile (same machinery, only the new files' chunks are
// fetched) → check page coverage and, with checksummed chains, the pre/post-apply
// links and the database checksum → fsync, remove the old sidecar, rename into
// place, fsync the directory, write the sidecar.
//
// Resume: the journal's records are content-addressed (key, size, file checksum,
// byte range), so a restart refetches only chunks it has no record of, and a plan
// that changed (files compacted away mid-run) keeps every chunk of the files it
// still uses. That is sound because a page a recorded chunk did not write (another
// file of the old plan won it) changed later than that file, and the new plan,
// reaching at least as far, holds that change in a file after it.
//
// Reuse: a sidecar for this replica whose identity still checks out (identity.ts)
// and whose bytes match the replica's database checksum (where its files carry one)
// means the file is good; newer files are applied to it (applyLtxFiles).
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { rename, type FileHandle } from 'node:fs/promises';
import { PRIVATE_DIR_MODE, openPrivateAsync } from '../private-fs.js';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { CHECKSUM_FLAG, hasChecksums, hex64, isSnapshot, lockPage } from '../ltx/index.js';
import { log as rootLog } from '../log.js';
import { listReplica, type LtxFileInfo } from '../replica/listing.js';
import { planChecked } from '../replica/linked-plan.js';
import { choosePlan, type RestorePlan } from '../replica/plan.js';
import { mapLimit } from '../replica/pool.js';
import type { ObjectStore } from '../storage/object-store.js';
import { applyLtxFiles, checksumPages, writePages } from './apply.js';
import { PageSums } from './page-sums.js';
import { ScratchBuffer, chunksOf, decodeChunk, type Chunk, type ChunkResult } from './chunk.js';
import { continueChain } from '../replica/chain.js';
import { crc64Combine } from './crc-combine.js';
import { HydrationError, isHydrationError } from './errors.js';
import { CORRUPT_ATTEMPTS, Fetcher, Vanished } from './fetcher.js';
import { fetchFileMeta, type FileMeta } from './file-meta.js';
import { checkIdentity } from './identity.js';
import { isStoreError } from '../storage/store-error.js';
import { JournalWriter, readJournal, recordId, type ChunkRecord, type JournalState } from './journal.js';
import { ProgressReporter } from './progress.js';
import { readSidecar, removeSidecar, sidecarJson, writeSidecar, type Sidecar } from './sidecar.js';
import { syncDirSync } from '../storage/sync-dir.js';
import type { HydratedFile, HydrationProgress, HydrationStats } from './types.js';
import { computeWinners, type Winners } from './winners.js';

// Two sizes, decoupled. A request streams a run of up to 8 MiB (8 in flight), so
// that 20 ms of first-byte latency per request is small next to its transfer
// (1 MiB ranges were 1.8x faster than 200 KiB ones at 100 MiB). Each connection
// starts at 256 KiB and doubles (a kill soon after a start loses little, and a
// large range can be slow to start); runs shrink toward the end (the bytes left /
// concurrency, at least 1 MiB) so the last ones spread over every connection.
// A chunk ("piece") is the grain of verification, writing and the journal: 1/1024
// of its file, 64 KiB to 1 MiB, so a kill loses at most one partial piece per
// connection (and what the network had sent ahead). Per file, so that a resumed
// run cuts every file as before (chunksOf also keeps recorded ranges, whatever
// size cut them).
export const HYDRATE_REQUEST_BYTES = 8 << 20;
export const HYDRATE_CHUNK_BYTES = 1 << 20;
const MIN_CHUNK_BYTES = 64 << 10;
const MIN_RUN_BYTES = 1 << 20;
const START_RUN_BYTES = 256 << 10;
export const HYDRATE_CONCURRENCY = 8;
// Re-plans after files vanished, in one call, before it is called a moving target.
const MAX_REPLANS = 20;
// Catch-up rounds inside one build: a busy writer adds a file every second (or faster),
// and each round re-verifies the grown plan; what is still missing after a few rounds
// is left to applyLtxFiles (the caller's, which fetches just the new files).
const MAX_CATCHUP_ROUNDS = 3;
const META_CONCURRENCY = 16;
const SIDE_FILES = ['-journal', '-wal', '-shm'];

export interface HydrateOptions {
  store: ObjectStore;
  /** The final local database file. */
  path: string;
  /** Default: the latest plan (planRestore). */
  plan?: RestorePlan;
  /** Verified, written and journaled piece (default: per file, 1/1024 of it, between 64 KiB and 1 MiB). */
  chunkBytes?: number;
  /** Largest streamed range request, a run of pieces (default 8 MiB). */
  requestBytes?: number;
  /** Requests in flight (default 8). */
  concurrency?: number;
  /** Apply files that landed during the download before finishing (default: true unless `plan` is given). */
  catchUp?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: HydrationProgress) => void;
  log?: Logger;
}

/** The temp file and journal of a hydration in progress. */
export function hydrationTempPaths(path: string): { tmp: string; journal: string } {
  const tmp = `${resolve(path)}.ltxvfs-tmp`;
  return { tmp, journal: `${tmp}.journal` };
}

export async function hydrate(options: HydrateOptions): Promise<HydratedFile> {
  const t0 = performance.now();
  const path = resolve(options.path);
  const store = options.store;
  const log = (options.log ?? rootLog).child({ hydrate: path });
  const fetcher = new Fetcher(store, log, options.signal);
  const progress = new ProgressReporter(options.onProgress);
  const stats = (mode: HydrationStats['mode'], resumed = 0): HydrationStats => ({
    bytesFetched: fetcher.stats.bytes,
    bytesResumed: resumed,
    requests: fetcher.stats.requests,
    retries: fetcher.stats.retries,
    corruptFetches: fetcher.stats.corruptFetches,
    ms: performance.now() - t0,
    mode,
  });
  progress.set('plan', 0, 0, 0n);
  // LITESTREAM_HYDRATION_PATH may name a directory that does not exist yet (a fresh VM's data dir).
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE }); // open() checked an existing one (private-fs.ts)
  finishInterrupted(path, store.url, log);

  const reused = await tryReuse(options, path, fetcher, progress, log);
  if (reused) {
    const s = stats(reused.mode);
    progress.done(reused.file.txid, reused.file.commit * reused.file.pageSize);
    log.info({ url: store.url, txid: reused.file.txid.toString(), mode: reused.mode, requests: s.requests, bytes: s.bytesFetched, ms: Math.round(s.ms) }, 'hydrate: local file is current');
    return { ...reused.file, stats: s };
  }
  const built = await build(options, path, fetcher, progress, log);
  const s = stats('built', built.resumed);
  progress.done(built.file.txid, built.file.commit * built.file.pageSize);
  const mb = s.bytesFetched / 1e6;
  log.info(
    { url: store.url, txid: built.file.txid.toString(), dbBytes: built.file.commit * built.file.pageSize, fetchedMB: +mb.toFixed(1), resumedMB: +(built.resumed / 1e6).toFixed(1), MBps: +(mb / (s.ms / 1000)).toFixed(1), requests: s.requests, retries: s.retries, corruptFetches: s.corruptFetches, ms: Math.round(s.ms) },
    'hydrate: done',
  );
  return { ...built.file, stats: s };
}

/** A finished build whose rename happened but whose sidecar write did not: write it now. */
function finishInterrupted(path: string, url: string, log: Logger): void {
  const { tmp, journal } = hydrationTempPaths(path);
  const j = readJournal(journal, url);
  if (!j?.final || existsSync(tmp) || !existsSync(path)) return;
  writeSidecar(path, j.final as Record<string, unknown>);
  rmSync(journal, { force: true });
  log.info('hydrate: completed the sidecar of a finished hydration interrupted after its rename');
}

function fileFromSidecar(path: string, s: Sidecar): HydratedFile {
  return { path, url: s.url, txid: s.txid, pageSize: s.pageSize, commit: s.commit, checksum: s.checksum, identity: s.identity };
}

async function tryReuse(options: HydrateOptions, path: string, fetcher: Fetcher, progress: ProgressReporter, log: Logger): Promise<{ file: HydratedFile; mode: 'reused' | 'caught-up' } | null> {
  const store = options.store;
  const side = readSidecar(path, store.url);
  if (!side) {
    if (readSidecar(path)) log.warn({ url: store.url }, 'hydrate: the sidecar is for another replica URL; rebuilding');
    return null;
  }
  if (!existsSync(path) || statSync(path).size !== side.commit * side.pageSize) {
    log.warn({ txid: side.txid.toString() }, 'hydrate: the local file is missing or its size disagrees with its sidecar; rebuilding');
    return null;
  }
  const listing = await listReplica(store);
  const verdict = await checkIdentity(fetcher, side, listing, path);
  if (!verdict.same) {
    log.warn({ url: store.url, txid: side.txid.toString(), reason: verdict.how }, 'hydrate: the local file is not from this replica; rebuilding');
    return null;
  }
  if (side.applyingTo === null && verdict.checksum != null) {
    // The replica's database checksum against the local bytes (a whole read of the
    // file, here in the hydration worker, before reads switch to it).
    let local: bigint | null = null;
    try {
      local = await localChecksum(path, side.pageSize, side.commit);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'hydrate: cannot read the local file back (a symlink, or cut short?); rebuilding');
      return null;
    }
    if (local !== verdict.checksum) {
      log.warn({ txid: side.txid.toString(), local: hex64(local), replica: hex64(verdict.checksum) }, 'hydrate: the local file differs from the replica (changed on disk); rebuilding');
      return null;
    }
  }
  const target = options.plan?.txid;
  if (target !== undefined && target < side.txid) return null;
  const wantCatchUp = options.catchUp ?? options.plan === undefined;
  const cont = continueChain(listing, side.txid, wantCatchUp ? target : side.txid);
  const file = fileFromSidecar(path, side);
  if (side.applyingTo === null && cont.files.length === 0 && (target === undefined || target === side.txid)) {
    if (cont.gap && wantCatchUp) log.warn({ txid: side.txid.toString() }, 'hydrate: newer TXIDs exist but no file continues the local file; rebuilding');
    else return { file, mode: 'reused' };
    return null;
  }
  if ((target !== undefined && cont.txid !== target) || (side.applyingTo !== null && cont.txid < side.applyingTo)) return null;
  progress.set('catchup', 0, 0, side.txid);
  try {
    const next = await applyLtxFiles(file, store, cont.files, { signal: options.signal, log, fetcher, chunkBytes: options.chunkBytes, concurrency: options.concurrency });
    return { file: next, mode: 'caught-up' };
  } catch (err) {
    if (isHydrationError(err, 'HYDRATE_MISMATCH') || isHydrationError(err, 'HYDRATE_GAP') || err instanceof Vanished) {
      log.warn({ err: (err as Error).message }, 'hydrate: cannot bring the local file forward; rebuilding');
      return null;
    }
    throw err;
  }
}

/** The database checksum of pages 1..commit of the file at `path`. */
async function localChecksum(path: string, pageSize: number, commit: number): Promise<bigint> {
  const lock = lockPage(pageSize);
  const pages: number[] = [];
  for (let p = 1; p <= commit; p++) if (p !== lock) pages.push(p);
  const fh = await openPrivateAsync(path, 'read');
  try {
    return await checksumPages(fh, pageSize, commit, pages);
  } finally {
    await fh.close();
  }
}

/**
 * The plan whose checksums link (a fenced writer's leftover would fail verification on
 * every retry). Checking reads the files' trailers and headers: a failed read is tried
 * again, and a file compacted away meanwhile means a fresh listing and plan, a few times.
 */
async function linkedPlan(store: ObjectStore, listing: LtxFileInfo[]): Promise<{ listing: LtxFileInfo[]; plan: RestorePlan }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { listing, plan: await planChecked(store, listing) };
    } catch (err) {
      // The hydrator outlasts a flaky store: the store's own retries gave up on one small read.
      if (!isStoreError(err) || attempt >= 5) throw err;
      await new Promise((ok) => setTimeout(ok, 50 * attempt));
      if (isStoreError(err, 'NOT_FOUND')) listing = await listReplica(store);
    }
  }
}

/** Keep the old plan's files while they exist, continue from there; else a fresh plan. */
function replan(url: string, oldFiles: readonly LtxFileInfo[], listing: readonly LtxFileInfo[], target?: bigint): RestorePlan {
  const have = new Set(listing.map((f) => `${f.key}|${f.size}`));
  const prefix: LtxFileInfo[] = [];
  for (const f of oldFiles) {
    if (!have.has(`${f.key}|${f.size}`)) break;
    prefix.push(f);
  }
  if (prefix.length > 0 && prefix[0].minTXID === 1n && (target === undefined || prefix[prefix.length - 1].maxTXID <= target)) {
    const c = continueChain(listing, prefix[prefix.length - 1].maxTXID, target);
    if (!c.gap && (target === undefined || c.txid === target)) return { url, files: [...prefix, ...c.files], txid: c.txid };
  }
  return choosePlan(url, listing, target);
}

async function build(options: HydrateOptions, path: string, fetcher: Fetcher, progress: ProgressReporter, log: Logger): Promise<{ file: HydratedFile; resumed: number }> {
  const store = options.store;
  const url = store.url;
  const chunkBytes = options.chunkBytes;
  const requestBytes = options.requestBytes ?? HYDRATE_REQUEST_BYTES;
  const concurrency = options.concurrency ?? HYDRATE_CONCURRENCY;
  const wantCatchUp = options.catchUp ?? options.plan === undefined;
  const { tmp, journal: jpath } = hydrationTempPaths(path);

  let listing = options.plan ? null : await listReplica(store);
  let plan: RestorePlan;
  if (options.plan) plan = options.plan;
  else ({ listing, plan } = await linkedPlan(store, listing!));
  let journal: JournalState | null = existsSync(tmp) ? readJournal(jpath, url) : null;
  if (journal && journal.planTXID > plan.txid) {
    log.warn({ was: journal.planTXID.toString(), now: plan.txid.toString() }, 'hydrate: the replica is behind the interrupted hydration (replaced?); starting over');
    journal = null;
  }
  if (journal && journal.planKeys.length > 0) {
    // Continue the interrupted run's plan where its files still exist, rather than switch snapshots.
    listing ??= await listReplica(store);
    const byKey = new Map(listing.map((f) => [f.key, f]));
    const old = journal.planKeys.map((k) => byKey.get(k)).filter((f): f is LtxFileInfo => f !== undefined);
    try {
      plan = replan(url, old, listing, options.plan?.txid);
    } catch {
      // keep the plan chosen above
    }
  }
  const fresh = journal === null;
  if (fresh) rmSync(tmp, { force: true });
  const records = journal?.records ?? new Map<string, ChunkRecord>();
  const writer = await JournalWriter.open(jpath, url, fresh);
  const fh = await openPrivateAsync(tmp, fresh ? 'create' : 'readWrite'); // 0600, never through a symlink
  let closed = false;
  const metaCache = new Map<string, FileMeta>();
  const sums = new PageSums();
  const failures = new Map<string, number>(); // file-checksum failures per key
  let resumed = -1;
  log.info({ url, txid: plan.txid.toString(), files: plan.files.length, ltxBytes: plan.files.reduce((s, f) => s + f.size, 0), resume: !fresh, chunkBytes: chunkBytes ?? 'auto', requestBytes, concurrency }, 'hydrate: start');
  try {
    let replans = 0;
    let catchups = 0;
    let metas: FileMeta[];
    let winners: Winners;
    for (;;) {
      try {
        progress.set('plan', 0, 0, plan.txid);
        metas = await mapLimit(plan.files, META_CONCURRENCY, async (f) => {
          const id = `${f.key}|${f.size}`;
          let m = metaCache.get(id);
          if (!m) metaCache.set(id, (m = await fetchFileMeta(fetcher, f)));
          return m;
        });
        const ps = metas[0].header.pageSize;
        const odd = metas.find((m) => m.header.pageSize !== ps);
        if (odd) throw new HydrationError('HYDRATE_MISMATCH', `${url}: ${odd.file.key} has page size ${odd.header.pageSize}, ${metas[0].file.key} has ${ps}`);
        await writer.append([writer.plan(plan.txid, plan.files.map((f) => f.key))]);
        winners = computeWinners(metas);
        const r = await fetchPlan({ metas, winners, sums, fh, writer, records, failures, fetcher, progress, chunkBytes, requestBytes, concurrency, txid: plan.txid, log });
        if (resumed < 0) resumed = r.resumedBytes;
        if (wantCatchUp && catchups++ < MAX_CATCHUP_ROUNDS) {
          progress.set('catchup', r.total, r.total, plan.txid);
          listing = await listReplica(store);
          const cont = continueChain(listing, plan.txid);
          if (cont.files.length > 0) {
            log.info({ from: plan.txid.toString(), to: cont.txid.toString(), files: cont.files.length }, 'hydrate: catching up with files that landed meanwhile');
            plan = { url, files: [...plan.files, ...cont.files], txid: cont.txid };
            continue;
          }
        }
        break;
      } catch (err) {
        if (!(err instanceof Vanished)) throw err;
        if (++replans > MAX_REPLANS) throw new HydrationError('HYDRATE_MISMATCH', `${url}: files kept vanishing while hydrating (${replans} re-plans); last: ${err.key}`, { cause: err });
        listing = await listReplica(store);
        plan = replan(url, plan.files, listing, options.plan?.txid);
        log.info({ vanished: err.key, txid: plan.txid.toString(), files: plan.files.length }, 'hydrate: a file of the plan is gone (compacted?); re-planned');
      }
    }

    // Verify the whole: every page supplied, the checksum chain, the database checksum.
    progress.set('verify', 1, 1, plan.txid);
    const last = metas[metas.length - 1];
    const { pageSize: ps, commit } = winners;
    if (winners.missing > 0) {
      throw new HydrationError('HYDRATE_MISMATCH', `${url}: ${winners.missing} of ${commit} pages at TXID ${plan.txid} are in no file of the plan (does it start with a complete snapshot?)`);
    }
    for (let i = 1; i < metas.length; i++) {
      const h = metas[i].header;
      const prev = metas[i - 1];
      if (!isSnapshot(h) && hasChecksums(h) && hasChecksums(prev.header) && h.minTXID === prev.header.maxTXID + 1n && h.preApplyChecksum !== prev.postApplyChecksum) {
        throw new HydrationError('HYDRATE_MISMATCH', `${url}: ${metas[i].file.key}: pre-apply checksum ${hex64(h.preApplyChecksum)} does not continue ${prev.file.key} (post-apply ${hex64(prev.postApplyChecksum)})`);
      }
    }
    let checksum: bigint | null = null;
    if (hasChecksums(last.header)) {
      checksum = await sums.value(fh, metas, winners);
      if (checksum !== last.postApplyChecksum) {
        throw new HydrationError('HYDRATE_MISMATCH', `${url}: hydrated database checksum ${hex64(checksum)} differs from ${hex64(last.postApplyChecksum)} in ${last.file.key}`);
      }
    }
    await fh.datasync();
    await fh.close();
    closed = true;

    const identity = { key: last.file.key, size: last.file.size, fileChecksum: last.fileChecksum };
    const side = sidecarJson({ url, txid: plan.txid, pageSize: ps, commit, checksum, identity, applyingTo: null });
    await writer.append([writer.final(side)]);
    await writer.close();
    // The old sidecar goes first: it must never describe the new file.
    removeSidecar(path);
    for (const s of SIDE_FILES) rmSync(path + s, { force: true });
    await rename(tmp, path);
    syncDirSync(dirname(path));
    writeSidecar(path, side);
    rmSync(jpath, { force: true });
    return { file: { path, url, txid: plan.txid, pageSize: ps, commit, checksum, identity }, resumed: Math.max(0, resumed) };
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await writer.close().catch(() => undefined);
    // A damaged or contradictory replica: nothing here is worth resuming.
    if (isHydrationError(err, 'HYDRATE_CORRUPT') || isHydrationError(err, 'HYDRATE_MISMATCH')) {
      rmSync(tmp, { force: true });
      rmSync(jpath, { force: true });
      log.error({ url, err: (err as Error).message }, 'hydrate: failed');
    } else if (isHydrationError(err, 'HYDRATE_ABORTED')) {
      log.info({ url }, 'hydrate: aborted; progress is kept for the next run');
    }
    throw err;
  }
}

interface FetchPlanArgs {
  metas: FileMeta[];
  winners: Winners;
  sums: PageSums;
  fh: FileHandle;
  writer: JournalWriter;
  records: Map<string, ChunkRecord>;
  failures: Map<string, number>;
  fetcher: Fetcher;
  progress: ProgressReporter;
  chunkBytes: number | undefined;
  requestBytes: number;
  concurrency: number;
  txid: bigint;
  log: Logger;
}

export function autoChunkBytes(fileBytes: number): number {
  return Math.min(HYDRATE_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, Math.ceil(fileBytes / 1024)));
}

const idOf = (c: Chunk) => recordId({ key: c.meta.file.key, size: c.meta.file.size, fileChecksum: c.meta.fileChecksum, start: c.start, end: c.end });

/** Fetch every chunk of the plan that has no record, then verify each file's checksum; refetch files that fail. */
async function fetchPlan(a: FetchPlanArgs): Promise<{ total: number; resumedBytes: number }> {
  const { metas, winners, fh, writer, records, fetcher, progress } = a;
  await fh.truncate(winners.commit * winners.pageSize);
  const recorded = new Map<string, ChunkRecord[]>();
  for (const r of records.values()) {
    const id = `${r.key}|${r.size}|${r.fileChecksum}`;
    const list = recorded.get(id);
    if (list) list.push(r);
    else recorded.set(id, [r]);
  }
  const perFile = metas.map((m) => chunksOf(m, a.chunkBytes ?? autoChunkBytes(m.file.size), recorded.get(`${m.file.key}|${m.file.size}|${m.fileChecksum}`)));
  const total = perFile.flat().reduce((s, c) => s + c.end - c.start, 0);
  const doneBytes = () => perFile.flat().reduce((s, c) => s + (records.has(idOf(c)) ? c.end - c.start : 0), 0);
  const resumedBytes = doneBytes();
  let done = resumedBytes;

  // Group commit: pages of finished chunks are fdatasynced before their records are appended.
  let pending: ChunkRecord[] = [];
  let committing: Promise<void> | null = null;
  let commitError: unknown;
  const commitLoop = async () => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      await fh.datasync();
      await writer.append(batch.map((r) => writer.chunk(r)));
      for (const r of batch) records.set(recordId(r), r);
    }
  };
  const schedule = () => {
    committing ??= commitLoop()
      .catch((err) => void (commitError ??= err))
      .finally(() => (committing = null));
  };
  const flush = async () => {
    while (committing || pending.length > 0) {
      schedule();
      await committing;
    }
    if (commitError) throw commitError;
  };

  const handle = async (c: Chunk, fileIndex: number, r: ChunkResult) => {
    const mine = r.pages.filter((p) => winners.winner[p.pgno] === fileIndex);
    await writePages(fh, mine, winners.pageSize);
    for (const p of mine) if (p.sum !== undefined) a.sums.set(c.meta, p.pgno, p.sum);
    pending.push({ key: c.meta.file.key, size: c.meta.file.size, fileChecksum: c.meta.fileChecksum, start: c.start, end: c.end, crc: r.crc, hashed: r.hashed });
    schedule();
    done += c.end - c.start;
    progress.set('fetch', done, total, a.txid);
  };

  for (;;) {
    const todo: Piece[] = [];
    perFile.forEach((cs, i) => cs.forEach((c) => records.has(idOf(c)) || todo.push({ c, i })));
    progress.set('fetch', done, total, a.txid);
    let next = 0;
    let unassigned = todo.reduce((s, p) => s + p.c.end - p.c.start, 0);
    let stop: unknown;
    // The next run: consecutive pieces of one file, up to `limit` bytes and the request
    // size, smaller toward the end so that the last requests spread over every connection.
    const takeRun = (limit: number): Piece[] | null => {
      if (stop !== undefined || next >= todo.length) return null;
      const target = Math.min(limit, a.requestBytes, Math.max(MIN_RUN_BYTES, Math.ceil(unassigned / a.concurrency)));
      const run = [todo[next++]];
      let bytes = run[0].c.end - run[0].c.start;
      for (; next < todo.length; next++) {
        const p = todo[next];
        const prev = run[run.length - 1].c;
        if (p.c.meta !== prev.meta || p.c.start !== prev.end || bytes + p.c.end - p.c.start > target) break;
        run.push(p);
        bytes += p.c.end - p.c.start;
      }
      unassigned -= bytes;
      return run;
    };
    const worker = async () => {
      const conn: Connection = { piece: new ScratchBuffer(), pages: new ScratchBuffer() };
      // Slow start: a connection's first runs are small and double, so a run killed
      // early (or a server slow to start a large range) holds little in flight.
      let limit = START_RUN_BYTES;
      for (let run = takeRun(limit); run; run = takeRun((limit = Math.min(2 * limit, a.requestBytes)))) {
        try {
          await fetchRun(a, run, conn, handle); // even after another worker failed: good data is progress kept
        } catch (err) {
          stop ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(a.concurrency, todo.length) }, worker));
    await flush();
    if (stop !== undefined) throw stop;

    // Every chunk is in: join each file's CRC shares and compare with its file checksum.
    let bad = false;
    for (let i = 0; i < metas.length; i++) {
      const m = metas[i];
      let crc = 0n;
      for (const c of perFile[i]) {
        const r = records.get(idOf(c))!;
        crc = crc64Combine(crc, r.crc, r.hashed);
      }
      if ((CHECKSUM_FLAG | crc) === m.fileChecksum) continue;
      const n = (a.failures.get(m.file.key) ?? 0) + 1;
      a.failures.set(m.file.key, n);
      fetcher.stats.corruptFetches++;
      if (n >= CORRUPT_ATTEMPTS) {
        throw new HydrationError(
          'HYDRATE_CORRUPT',
          `${fetcher.url}: ${m.file.key} is corrupt: its content gives file checksum ${hex64(CHECKSUM_FLAG | crc)}, its trailer says ${hex64(m.fileChecksum)}, on ${n} fetches; the replica object is damaged (restore from another replica or re-import)`,
        );
      }
      a.log.warn({ key: m.file.key, attempt: n }, 'hydrate: file checksum mismatch; fetching the file again');
      m.whole = null;
      for (const c of perFile[i]) {
        records.delete(idOf(c));
        done -= c.end - c.start;
      }
      await writer.append([writer.drop(m.file.key)]);
      bad = true;
    }
    if (!bad) return { total, resumedBytes };
  }
}

interface Piece {
  c: Chunk;
  /** The plan file's index. */
  i: number;
}

/** One worker's reusable buffers: the piece being received, and its decoded pages. */
interface Connection {
  piece: ScratchBuffer;
  pages: ScratchBuffer;
}

type Handle = (c: Chunk, fileIndex: number, r: ChunkResult) => Promise<void>;

/**
 * Fetch a run of consecutive pieces of one file as one streamed request, handling
 * each piece as soon as its bytes are in. A stream lost midway keeps the pieces it
 * finished and asks again for the rest; a piece that fails verification is fetched
 * again on its own (that failure is its first of CORRUPT_ATTEMPTS).
 */
async function fetchRun(a: FetchPlanArgs, run: Piece[], conn: Connection, handle: Handle): Promise<void> {
  const { fetcher } = a;
  const meta = run[0].c.meta;
  const key = meta.file.key;
  let k = 0; // the first piece not handled yet
  const finish = async (bytes: Uint8Array) => {
    const p = run[k];
    let r: ChunkResult;
    try {
      r = decodeChunk(p.c, bytes, conn.pages);
    } catch (err) {
      const range = { offset: p.c.start, length: p.c.end - p.c.start };
      await fetcher.corrupted(key, range, err, 1);
      r = await fetcher.get(key, range, (b) => decodeChunk(p.c, b, conn.pages), 1);
    }
    await handle(p.c, p.i, r);
    k++;
  };

  if (meta.whole) {
    const whole = meta.whole;
    for (; k < run.length; ) {
      fetcher.throwIfAborted();
      let r: ChunkResult;
      try {
        r = decodeChunk(run[k].c, whole.subarray(run[k].c.start, run[k].c.end), conn.pages);
      } catch {
        meta.whole = null; // damaged in transit: fetch the rest below
        break;
      }
      await handle(run[k].c, run[k].i, r);
      k++;
    }
  }

  let failures = 0; // store failures in a row, without a piece finished in between
  while (k < run.length) {
    const from = run[k].c.start;
    const to = run[run.length - 1].c.end;
    let need = 0; // bytes of piece k
    let fill = 0; // of which are in conn.piece
    let buf = conn.piece.take(0);
    const begin = () => {
      need = k < run.length ? run[k].c.end - run[k].c.start : 0;
      fill = 0;
      buf = conn.piece.take(need);
    };
    try {
      const stream = await fetcher.open(key, { offset: from, length: to - from });
      begin();
      for await (const chunk of stream.body) {
        for (let off = 0; off < chunk.length && k < run.length; ) {
          const n = Math.min(need - fill, chunk.length - off);
          if (fill === 0 && n === need) {
            await finish(chunk.subarray(off, off + n)); // the whole piece in one chunk: no copy
          } else {
            buf.set(chunk.subarray(off, off + n), fill);
            fill += n;
            if (fill === need) await finish(buf);
          }
          off += n;
          if (fill === 0 || fill === need) {
            failures = 0;
            fetcher.throwIfAborted();
            begin();
          }
        }
        if (k >= run.length) break;
      }
      // The stream ended without an error but short (the object is shorter than listed):
      // the piece fails verification and is fetched on its own.
      if (k < run.length) await finish(buf.subarray(0, fill));
    } catch (err) {
      if (!isStoreError(err)) throw err;
      await fetcher.storeFailed(key, err, ++failures);
    }
  }
}

// The write buffer: commits land here, durably, before COMMIT returns; the syncer
// turns them into L0 files and then drops them. One append-only log per replica
// (`<dir>/buffer.log`, records in ./buffer-records.ts), indexed in memory by page.
// Everything is synchronous (node:fs) because it is called from inside SQLite VFS calls.
// After markSynced the log is rewritten (new base + the commits still unsynced) to a
// temp file and renamed over the old one, so it never grows without bound and a
// crash at any point leaves either the old log or the new one.
//
// One TXID per L0 file, as Litestream writes them (its takeover opens the newest L0
// file by the name N-N): commits do not each get a TXID. They join the pending TXID
// (lastTXID + 1 at the first commit after a sync) until the syncer takes it for an
// upload (`batch()` freezes it); the next commit starts a new one. So TXIDs count
// uploads of the writer's state, and one L0 file holds one TXID's commits merged.
// Commits recovered after a crash are frozen: what may have been uploaded is never
// added to.
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, readSync, renameSync, rmSync, writeSync, fstatSync } from 'node:fs';
import { PRIVATE_DIR_MODE, checkOwnFile, openPrivate } from '../private-fs.js';
import { syncDirSync } from '../storage/sync-dir.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { hex64, lockPage } from '../ltx/index.js';
import { log as rootLog } from '../log.js';
import {
  COMMIT_FIXED,
  FRAME_HEAD,
  FRAME_TAIL,
  TAG_BASE,
  TAG_COMMIT,
  TAG_UPLOAD,
  decodeBase,
  decodeCommitHead,
  decodeUpload,
  encodeBase,
  encodeCommit,
  encodeUpload,
  frameCrcOk,
  type UploadRecord,
} from './buffer-records.js';
import { redactUrl } from '../redact.js';
import { DirLock } from './dir-lock.js';
import { BufferFullError, type SecondWriterError } from './errors.js';

export interface BufferedCommit {
  txid: bigint;
  /** Database size in pages after it. */
  commit: number;
  timestampMs: number;
  /** Post-apply database checksum, null = unknown. */
  checksum: bigint | null;
  pages: number[];
}

export interface CommitInput {
  pages: Iterable<[pgno: number, data: Uint8Array]>;
  commit: number;
  checksum: bigint | null;
  timestampMs?: number;
}

export interface BufferBase {
  /** Remote TXID the buffer sits on; 0 = empty replica. */
  txid: bigint;
  checksum: bigint | null;
  commit: number;
  pageSize: number;
}

export interface WriteBufferOptions {
  replicaUrl: string;
  pageSize: number;
  /** Unsynced bytes (log records) allowed before append throws BufferFullError. */
  maxBytes: number;
  /** fdatasync every append (default true). Off: a machine crash may lose the newest commits. */
  fsync?: boolean;
  log?: Logger;
}

/** What one L0 file carries: commits (base, maxTXID] merged, newest page wins. */
export interface Batch {
  minTXID: bigint;
  maxTXID: bigint;
  /** Database size in pages after maxTXID. */
  commit: number;
  /** Pages to write, in no particular order; includes zero pages for pages a shrink cut off and a regrow did not rewrite. */
  pages: Map<number, Uint8Array>;
  preApplyChecksum: bigint | null;
  /** Null unless the base and every commit of the batch know their checksum. */
  postApplyChecksum: bigint | null;
  timestampMs: number;
}

interface CommitEntry extends BufferedCommit {
  seq: number; // order among buffered commits (several share a TXID)
  recOffset: number; // file offset of the frame
  recLength: number; // whole frame
  dataOffset: number; // file offset of the first page
}

// Newest buffered version of a page: its file offset. Whether a shrink cut it off
// since is decided when it is read (`shrinks`), not by marking every page above the
// new size: a forged log shrinking from 2^32-1 pages to 0 must not loop 4 billion times.
interface PageRef {
  seq: number;
  offset: number;
}

const LOG_FILE = 'buffer.log';
const TMP_FILE = 'buffer.log.tmp';
const openDirs = new Set<string>();

export class WriteBuffer {
  readonly dir: string;
  private readonly opts: Required<Omit<WriteBufferOptions, 'log'>>;
  private readonly log: Logger;
  private fd: number | null = null;
  private size = 0; // bytes of valid log
  private baseRec: (BufferBase & { createdMs: number }) | null = null;
  private storedUrl = ''; // the replica URL the log was written for
  private commitList: CommitEntry[] = [];
  private newest = new Map<number, PageRef>();
  /** Commits that cut the database below a page (a shrink, or pages written above their own size), oldest first. */
  private shrinks: { seq: number; commit: number }[] = [];
  private seq = 0; // the next commit's CommitEntry.seq
  /** TXIDs up to here take no more commits (the syncer took them, or they were recovered). */
  private frozenThrough = 0n;
  private uploadList: UploadRecord[] = [];
  private unsyncedBytes = 0;
  private fencedBy: SecondWriterError | null = null;
  private syncError: Error | null = null;
  private closed = false;
  private dirLock: DirLock | null = null;
  /** Set when open() found a buffer for another replica or page size and moved it aside. */
  readonly setAsideOnOpen: { dir: string; reason: string } | null = null;

  private constructor(dir: string, options: WriteBufferOptions) {
    this.dir = dir;
    const { log, ...rest } = options;
    // Stored in the log, REASON.txt and messages: never with user info in it.
    this.opts = { fsync: true, ...rest, replicaUrl: redactUrl(rest.replicaUrl) };
    this.log = (log ?? rootLog).child({ component: 'write-buffer' });
  }

  /** Open or create the buffer in `dir`; recovers the commits of a crashed process (a torn tail is cut off). */
  static open(dir: string, options: WriteBufferOptions): WriteBuffer {
    if (!Number.isInteger(options.maxBytes) || options.maxBytes <= 0) throw new TypeError(`write buffer: maxBytes ${options.maxBytes} must be a positive integer`);
    const url = redactUrl(options.replicaUrl);
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const b = new WriteBuffer(dir, options);
    b.lock();
    try {
      b.load();
      if (b.baseRec && (b.baseRec.pageSize !== options.pageSize || b.storedUrl !== url)) {
        const reason = `buffer belongs to ${redactUrl(b.storedUrl)} (page size ${b.baseRec.pageSize}), opened for ${url} (page size ${options.pageSize})`;
        const where = b.setAside(reason);
        (b as { setAsideOnOpen: WriteBuffer['setAsideOnOpen'] }).setAsideOnOpen = { dir: where, reason };
      }
    } catch (err) {
      b.close();
      throw err;
    }
    return b;
  }

  get base(): BufferBase | null {
    if (!this.baseRec) return null;
    const { txid, checksum, commit, pageSize } = this.baseRec;
    return { txid, checksum, commit, pageSize };
  }

  get lastTXID(): bigint {
    const last = this.commitList[this.commitList.length - 1];
    return last ? last.txid : (this.baseRec?.txid ?? 0n);
  }

  /** Database size in pages after the newest buffered commit; undefined when no commit is buffered. */
  get commitSize(): number | undefined {
    return this.commitList[this.commitList.length - 1]?.commit;
  }

  get pageSize(): number {
    return this.opts.pageSize;
  }

  get replicaUrl(): string {
    return this.opts.replicaUrl;
  }

  /** Only on an empty buffer (no base yet, or no unsynced commits): the remote state it sits on. */
  setBase(base: BufferBase): void {
    this.checkOpen();
    if (this.commitList.length > 0) throw new Error(`write buffer ${this.dir}: setBase with ${this.commitList.length} unsynced commits (TXIDs ${this.commitList[0].txid}..${this.lastTXID})`);
    if (base.pageSize !== this.opts.pageSize) throw new Error(`write buffer ${this.dir}: base page size ${base.pageSize} differs from the buffer's ${this.opts.pageSize}`);
    this.rewrite({ ...base, createdMs: Date.now() }, []);
  }

  /** Newest buffered content of a page: a fresh copy the caller owns, zeros for a page a shrink cut off, undefined if not buffered. */
  page(pgno: number): Uint8Array | undefined {
    const ref = this.newest.get(pgno);
    // The newest commit that cut the file below pgno: an older version (or the remote's) reads as zeros.
    let cut: number | null = null;
    for (let i = this.shrinks.length - 1; i >= 0 && cut === null; i--) if (this.shrinks[i].commit < pgno) cut = this.shrinks[i].seq;
    const out = new Uint8Array(this.opts.pageSize);
    if (cut !== null && (!ref || ref.seq <= cut)) return out;
    if (!ref) return undefined;
    this.readAt(out, ref.offset);
    return out;
  }

  /** Unsynced commits, oldest first (pages as pgnos). */
  commits(): BufferedCommit[] {
    return this.commitList.map(({ txid, commit, timestampMs, checksum, pages }) => ({ txid, commit, timestampMs, checksum, pages: [...pages] }));
  }

  /** Durable (written and fdatasync'd) before it returns; returns the commit's TXID: the pending one, or lastTXID+1 when that is frozen. */
  append(c: CommitInput): bigint {
    this.checkOpen();
    if (this.fencedBy) throw this.fencedBy;
    if (!this.baseRec) throw new Error(`write buffer ${this.dir}: append before setBase (reconcile with the replica first)`);
    const ps = this.opts.pageSize;
    if (!Number.isInteger(c.commit) || c.commit < 0 || c.commit > 0xffffffff) throw new TypeError(`append: commit ${c.commit} is not a page count`);
    const lock = lockPage(ps);
    const byPgno = new Map<number, Uint8Array>();
    for (const [pgno, data] of c.pages) {
      if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) throw new TypeError(`append: pgno ${pgno} is not a u32 ≥ 1`);
      if (data.length !== ps) throw new TypeError(`append: page ${pgno} has ${data.length} bytes, expected ${ps}`);
      if (pgno === lock) continue; // SQLite never stores data there; LTX never holds it
      byPgno.set(pgno, data); // a page given twice: the last one wins
    }
    const pages = [...byPgno].sort((a, b) => a[0] - b[0]);
    const txid = this.lastTXID > this.frozenThrough ? this.lastTXID : this.lastTXID + 1n;
    const timestampMs = c.timestampMs ?? Date.now();
    const rec = encodeCommit({ txid, commit: c.commit, timestampMs, checksum: c.checksum }, pages, ps);
    if (this.unsyncedBytes + rec.length > this.opts.maxBytes) {
      const u = this.unsynced();
      throw new BufferFullError({ ...u, unsyncedBytes: u.bytes, maxBytes: this.opts.maxBytes, recordBytes: rec.length, lastSyncError: this.syncError });
    }
    const at = this.size;
    try {
      writeAll(this.fd!, rec, at);
      if (this.opts.fsync) fdatasyncSync(this.fd!);
    } catch (err) {
      // Leave no partial record behind for the next append to follow.
      try {
        ftruncateSync(this.fd!, at);
      } catch {
        /* the next open cuts the torn tail off by its CRC */
      }
      throw new Error(`write buffer ${this.dir}: could not write commit TXID ${txid}: ${(err as Error).message}`, { cause: err });
    }
    this.size = at + rec.length;
    this.index({ txid, commit: c.commit, timestampMs, checksum: c.checksum, pages: pages.map((p) => p[0]) }, at, rec.length);
    return txid;
  }

  unsynced(): { commits: number; bytes: number; fromTXID: bigint; toTXID: bigint; oldestCommitMs: number | null } {
    const first = this.commitList[0];
    const base = this.baseRec?.txid ?? 0n;
    return {
      commits: this.commitList.length,
      bytes: this.unsyncedBytes,
      fromTXID: first ? first.txid : base + 1n,
      toTXID: this.lastTXID,
      oldestCommitMs: first ? first.timestampMs : null,
    };
  }

  /**
   * The commits of the oldest unsynced TXID (base.txid + 1) merged, newest page wins:
   * what one L0 file carries; null when nothing is unsynced. Freezes that TXID: later
   * commits get the next one, so the file's bytes never change once built.
   */
  batch(): Batch | null {
    this.checkOpen();
    if (!this.baseRec || this.commitList.length === 0) return null;
    const txid = this.baseRec.txid + 1n;
    if (this.frozenThrough < txid) this.frozenThrough = txid;
    const chosen = this.commitList.filter((c) => c.txid === txid);
    if (chosen.length === 0) return null;
    const last = chosen[chosen.length - 1];
    const ps = this.opts.pageSize;
    // Newest to oldest; `low` = smallest size from this commit on. A page written
    // above `low` was cut off by a later (or the same) commit's shrink: it reads as zeros.
    const decided = new Map<number, Uint8Array | null>(); // null = zeros
    let low = Infinity;
    for (let i = chosen.length - 1; i >= 0; i--) {
      const c = chosen[i];
      low = Math.min(low, c.commit);
      c.pages.forEach((pgno, k) => {
        if (decided.has(pgno)) return;
        if (pgno > low) {
          decided.set(pgno, null);
          return;
        }
        const data = new Uint8Array(ps);
        this.readAt(data, c.dataOffset + k * ps);
        decided.set(pgno, data);
      });
    }
    const pages = new Map<number, Uint8Array>();
    const lock = lockPage(ps);
    for (const [pgno, data] of decided) if (pgno <= last.commit) pages.set(pgno, data ?? new Uint8Array(ps));
    // Pages the base had that a shrink in this batch cut off and no later commit rewrote.
    const baseTop = Math.min(this.baseRec.commit, last.commit);
    for (let pgno = low + 1; pgno <= baseTop; pgno++) if (pgno !== lock && !pages.has(pgno)) pages.set(pgno, new Uint8Array(ps));
    const known = this.baseRec.checksum !== null && chosen.every((c) => c.checksum !== null);
    return {
      minTXID: this.baseRec.txid + 1n,
      maxTXID: last.txid,
      commit: last.commit,
      pages,
      preApplyChecksum: this.baseRec.checksum,
      postApplyChecksum: known ? last.checksum : null,
      timestampMs: last.timestampMs,
    };
  }

  /** Record an upload about to be attempted (durable), so that after a crash our own file is recognised. */
  recordUpload(u: UploadRecord): void {
    this.checkOpen();
    if (this.uploadList.some((x) => x.key === u.key && x.fileChecksum === u.fileChecksum)) return;
    const rec = encodeUpload(u);
    writeAll(this.fd!, rec, this.size);
    if (this.opts.fsync) fdatasyncSync(this.fd!);
    this.size += rec.length;
    this.uploadList.push(u);
  }

  /** Uploads recorded since the base (possibly stored, possibly not). */
  uploads(): readonly UploadRecord[] {
    return this.uploadList;
  }

  /** After the store confirmed the file for (base, maxTXID]: the base moves there and those commits are dropped, durably. */
  markSynced(maxTXID: bigint, checksum: bigint | null, commit: number): void {
    this.checkOpen();
    const base = this.baseRec;
    if (!base) throw new Error(`write buffer ${this.dir}: markSynced without a base`);
    if (maxTXID <= base.txid || maxTXID > this.lastTXID) {
      throw new Error(`write buffer ${this.dir}: markSynced(${maxTXID}) outside the unsynced TXIDs ${base.txid + 1n}..${this.lastTXID}`);
    }
    const keep = this.commitList.filter((c) => c.txid > maxTXID);
    const raw = keep.map((c) => {
      const b = new Uint8Array(c.recLength);
      this.readAt(b, c.recOffset);
      return b;
    });
    this.rewrite({ txid: maxTXID, checksum, commit, pageSize: base.pageSize, createdMs: base.createdMs }, raw);
  }

  /** Move the whole buffer to `<dir>/conflict-<time>/` (with a REASON file) and start empty; returns that directory. */
  setAside(reason: string): string {
    this.checkOpen();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let where = join(this.dir, `conflict-${stamp}`);
    for (let n = 1; existsSync(where); n++) where = join(this.dir, `conflict-${stamp}-${n}`);
    mkdirSync(where, { mode: PRIVATE_DIR_MODE });
    const u = this.unsynced();
    const summary = [
      `reason: ${reason}`,
      `replica: ${this.opts.replicaUrl}`,
      `base TXID: ${this.baseRec?.txid ?? 'none'}`,
      `commits kept: ${u.commits}${u.commits ? ` (TXIDs ${u.fromTXID}..${u.toTXID}, ${u.bytes} bytes)` : ''}`,
      `set aside: ${new Date().toISOString()}`,
      '',
    ].join('\n');
    const rfd = openPrivate(join(where, 'REASON.txt'), 'create');
    try {
      writeAll(rfd, Buffer.from(summary), 0);
    } finally {
      closeSync(rfd);
    }
    if (this.fd !== null) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
    }
    if (existsSync(join(this.dir, LOG_FILE))) renameSync(join(this.dir, LOG_FILE), join(where, LOG_FILE));
    syncDirSync(where);
    syncDirSync(this.dir);
    this.log.warn({ dir: where, reason, commits: u.commits }, 'write buffer set aside');
    this.reset();
    this.fencedBy = null;
    return where;
  }

  /** Stop accepting commits: every later append throws `err` (the syncer calls this when fenced). */
  fence(err: SecondWriterError): void {
    this.fencedBy = err;
  }

  get fenced(): SecondWriterError | null {
    return this.fencedBy;
  }

  /** The syncer's latest failure (null when healthy), named by BufferFullError. */
  setSyncError(err: Error | null): void {
    this.syncError = err;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.dirLock?.release();
    this.dirLock = null;
    openDirs.delete(this.dir);
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new Error(`write buffer ${this.dir} is closed`);
  }

  /** One process per buffer directory (./dir-lock.ts; a dead owner's lock is taken over). */
  private lock(): void {
    if (openDirs.has(this.dir)) throw new Error(`write buffer ${this.dir} is already open in this process`);
    this.dirLock = DirLock.acquire(this.dir);
    openDirs.add(this.dir);
  }

  private reset(): void {
    this.baseRec = null;
    this.commitList = [];
    this.newest = new Map();
    this.shrinks = [];
    this.seq = 0;
    this.frozenThrough = 0n;
    this.uploadList = [];
    this.unsyncedBytes = 0;
    this.size = 0;
  }

  /** Read the log, keep every valid record up to the first torn or corrupt one, cut the rest off. */
  private load(): void {
    this.reset();
    const path = join(this.dir, LOG_FILE);
    rmSync(join(this.dir, TMP_FILE), { force: true }); // a rewrite that did not finish
    if (!existsSync(path)) return;
    this.fd = openPrivate(path, 'readWrite'); // never through a symlink
    checkOwnFile(this.fd, path);
    const fileSize = fstatSync(this.fd).size;
    const head = new Uint8Array(FRAME_HEAD);
    const crc = new Uint8Array(FRAME_TAIL);
    let at = 0;
    let why = '';
    while (at < fileSize) {
      if (at + FRAME_HEAD + FRAME_TAIL > fileSize) {
        why = 'torn record';
        break;
      }
      this.readAt(head, at);
      const hv = new DataView(head.buffer);
      const tag = hv.getUint32(0);
      const len = hv.getUint32(4);
      if (at + FRAME_HEAD + len + FRAME_TAIL > fileSize || (tag !== TAG_BASE && tag !== TAG_COMMIT && tag !== TAG_UPLOAD)) {
        why = 'torn record';
        break;
      }
      const payload = new Uint8Array(len);
      this.readAt(payload, at + FRAME_HEAD);
      this.readAt(crc, at + FRAME_HEAD + len);
      if (!frameCrcOk(head, payload, crc)) {
        why = 'record with a bad CRC';
        break;
      }
      const recLength = FRAME_HEAD + len + FRAME_TAIL;
      let stop: string | null;
      try {
        stop = this.loadRecord(tag, payload, at, recLength);
      } catch (err) {
        // A CRC is no proof of origin: a record whose CRC checks but whose fields do not ends the log like a torn one.
        stop = `malformed record (${(err as Error).message})`;
      }
      if (stop !== null) {
        why = stop;
        break;
      }
      at += recLength;
    }
    this.size = at;
    this.frozenThrough = this.lastTXID; // recovered commits may be in an upload already
    if (at < fileSize) {
      this.log.warn({ dir: this.dir, validBytes: at, fileBytes: fileSize, why }, 'write buffer: cut off the end of the log after a crash');
      ftruncateSync(this.fd, at);
      fsyncSync(this.fd);
    }
    if (!this.baseRec) {
      // Nothing valid at all: start over as a new buffer.
      closeSync(this.fd);
      this.fd = null;
      rmSync(path, { force: true });
    } else if (this.commitList.length > 0) {
      this.log.info({ dir: this.dir, base: String(this.baseRec.txid), commits: this.commitList.length, toTXID: String(this.lastTXID) }, 'write buffer: recovered unsynced commits');
    }
  }

  /** One CRC-valid record into the state; returns why reading stops there, or null. */
  private loadRecord(tag: number, payload: Uint8Array, at: number, recLength: number): string | null {
    if (tag === TAG_BASE) {
      if (at !== 0) return 'BASE record in the middle';
      const b = decodeBase(payload);
      this.baseRec = { txid: b.txid, checksum: b.checksum, commit: b.commit, pageSize: b.pageSize, createdMs: b.createdMs };
      this.storedUrl = b.replicaUrl;
      return null;
    }
    if (!this.baseRec) return 'no BASE record first';
    if (tag === TAG_COMMIT) {
      const h = decodeCommitHead(payload, this.baseRec.pageSize);
      // A TXID's commits are adjacent: the same TXID again, or the next one.
      const same = h.txid === this.lastTXID && this.commitList.length > 0;
      if (!same && h.txid !== this.lastTXID + 1n) return `commit TXID ${h.txid} does not follow ${this.lastTXID}`;
      this.index({ ...h, pages: h.pgnos }, at, recLength);
      return null;
    }
    this.uploadList.push(decodeUpload(payload));
    return null;
  }

  /** Add a commit (already in the log at `recOffset`) to the in-memory index. */
  private index(h: BufferedCommit, recOffset: number, recLength: number): void {
    const pages = h.pages;
    const dataOffset = recOffset + FRAME_HEAD + COMMIT_FIXED + 4 * pages.length;
    const prevSize = this.commitSize ?? this.baseRec!.commit;
    const seq = this.seq++;
    this.commitList.push({ txid: h.txid, commit: h.commit, timestampMs: h.timestampMs, checksum: h.checksum, pages: [...pages], seq, recOffset, recLength, dataOffset });
    this.unsyncedBytes += recLength;
    const ps = this.opts.pageSize;
    pages.forEach((pgno, k) => this.newest.set(pgno, { seq, offset: dataOffset + k * ps }));
    // A shrink: pages above the new size read as zeros if the file grows again (page()).
    if (h.commit < prevSize || pages.some((pgno) => pgno > h.commit)) this.shrinks.push({ seq, commit: h.commit });
  }

  /** Write base + records to a temp file, fsync, rename over the log, reload. */
  private rewrite(base: BufferBase & { createdMs: number }, records: Uint8Array[]): void {
    const tmp = join(this.dir, TMP_FILE);
    rmSync(tmp, { force: true });
    const fd = openPrivate(tmp, 'create'); // 0600, and not onto whatever a symlink there names
    try {
      let at = 0;
      const head = encodeBase({ ...base, replicaUrl: this.opts.replicaUrl });
      writeAll(fd, head, at);
      at += head.length;
      for (const r of records) {
        writeAll(fd, r, at);
        at += r.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    renameSync(tmp, join(this.dir, LOG_FILE));
    syncDirSync(this.dir);
    const frozen = this.frozenThrough;
    this.load();
    // The kept commits are this process's own: the pending TXID stays open to new ones unless it was frozen.
    this.frozenThrough = frozen > base.txid ? frozen : base.txid;
    if (!this.baseRec || this.baseRec.txid !== base.txid) throw new Error(`write buffer ${this.dir}: rewritten log did not read back (base ${hex64(base.txid)})`);
  }

  private readAt(out: Uint8Array, offset: number): void {
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd!, out, done, out.length - done, offset + done);
      if (n === 0) throw new Error(`write buffer ${this.dir}: short read at ${offset + done}`);
      done += n;
    }
  }
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}


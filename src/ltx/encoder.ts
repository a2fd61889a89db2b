// LTX encoder: a small state machine, header → pages (ascending) → finish.
// It enforces what the reference encoder enforces (and a little more: a snapshot
// must end at commit), computes the file checksum as it goes, and for snapshots
// with checksums computes the post-apply checksum itself.

import { CHECKSUM_FLAG, Crc64, DatabaseChecksum } from './checksum.js';
import { LtxError, hex64 } from './errors.js';
import {
  type LtxHeader,
  type LtxHeaderInit,
  PAGE_HEADER_SIZE,
  SIZE_PREFIX_SIZE,
  encodeHeader,
  hasChecksums,
  headerWithDefaults,
  isSnapshot,
  lockPage,
  validateTrailer,
} from './header.js';
import { lz4CompressBound } from './lz4.js';
import { type PageIndexEntry, encodePageIndex } from './page-index.js';
import { writePageFrame } from './page-frame.js';

type State = 'header' | 'pages' | 'done';

export interface FinishOptions {
  /** Required for incremental files with checksums; computed for snapshots; 0 with NoChecksum. */
  postApplyChecksum?: bigint;
}

export interface EncodedLtx {
  bytes: Uint8Array;
  header: LtxHeader;
  index: PageIndexEntry[];
  postApplyChecksum: bigint;
  fileChecksum: bigint;
  /** A snapshot's database checksum, from its pages, with or without NoChecksum (for a record kept beside the file); null for other files. */
  snapshotChecksum: bigint | null;
}

const CHUNK = 1 << 20; // output arena size in bytes: frames are written in place

export class LtxEncoder {
  private state: State = 'header';
  private hdr: LtxHeader | undefined;
  private readonly crc = new Crc64();
  private readonly dbSum = new DatabaseChecksum();
  private readonly chunks: Uint8Array[] = [];
  private arena: Uint8Array = new Uint8Array(0);
  private used = 0;
  private offset = 0; // file offset of the next byte
  private readonly index: PageIndexEntry[] = [];
  private lastPgno = 0;
  private lock = 0;

  private expect(state: State, call: string): void {
    if (this.state !== state) {
      const next = { header: 'writeHeader()', pages: 'writePage() or finish()', done: 'nothing (the encoder is finished)' }[this.state];
      throw new LtxError('LTX_STATE', `encoder: ${call} called out of order; expected ${next}`);
    }
  }

  private emit(bytes: Uint8Array): void {
    this.flushArena();
    this.chunks.push(bytes);
    this.offset += bytes.length;
  }

  private flushArena(): void {
    if (this.used > 0) {
      this.chunks.push(this.arena.subarray(0, this.used));
      this.arena = this.arena.subarray(this.used);
      this.used = 0;
    }
  }

  writeHeader(init: LtxHeaderInit): void {
    this.expect('header', 'writeHeader()');
    const h = headerWithDefaults(init);
    const bytes = encodeHeader(h); // validates
    this.hdr = h;
    this.lock = lockPage(h.pageSize);
    this.crc.update(bytes);
    this.emit(bytes);
    this.state = 'pages';
  }

  /** Add page `pgno` (pageSize bytes). Pages must ascend; snapshots start at 1 with no gaps. */
  writePage(pgno: number, data: Uint8Array): void {
    this.expect('pages', 'writePage()');
    const h = this.hdr!;
    const bad = (m: string) => new LtxError('LTX_BAD_PAGE', `encode page ${pgno}: ${m}`);
    if (!Number.isInteger(pgno) || pgno < 1 || pgno > 0xffffffff) throw bad('pgno must be a u32 ≥ 1');
    if (data.length !== h.pageSize) throw bad(`${data.length} bytes, expected page size ${h.pageSize}`);
    if (pgno > h.commit) throw bad(`beyond commit ${h.commit}`);
    if (pgno === this.lock) throw bad('is the lock page, which LTX never stores');
    if (pgno <= this.lastPgno) throw bad(`out of order: follows page ${this.lastPgno}`);
    if (isSnapshot(h)) {
      const want = this.lastPgno + 1 === this.lock ? this.lock + 1 : this.lastPgno + 1;
      if (pgno !== want) throw bad(`snapshot must hold every page; expected page ${want}`);
    }
    const room = PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + lz4CompressBound(data.length);
    if (this.arena.length - this.used < room) {
      this.flushArena();
      this.arena = new Uint8Array(Math.max(CHUNK, room));
    }
    const at = this.used;
    const size = writePageFrame(this.arena, at, pgno, data);
    this.crc.update(this.arena, at, at + PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE);
    // One pass over the page feeds the file checksum and gives the page checksum.
    if (hasChecksums(h) || isSnapshot(h)) this.dbSum.toggle(this.crc.updatePage(pgno, data));
    else this.crc.update(data);
    this.index.push({ pgno, offset: this.offset, size });
    this.used += size;
    this.offset += size;
    this.lastPgno = pgno;
  }

  /** Write end marker, index and trailer; returns the whole file. */
  finish(options: FinishOptions = {}): EncodedLtx {
    this.expect('pages', 'finish()');
    const h = this.hdr!;
    if (isSnapshot(h)) {
      const last = h.commit === this.lock ? h.commit - 1 : h.commit;
      if (this.lastPgno !== last) {
        throw new LtxError('LTX_BAD_PAGE', `encode: snapshot ends at page ${this.lastPgno}, commit is ${h.commit}`);
      }
    }
    let post: bigint;
    if (!hasChecksums(h)) {
      post = options.postApplyChecksum ?? 0n;
    } else if (isSnapshot(h) || h.commit === 0) {
      post = h.commit === 0 ? CHECKSUM_FLAG : this.dbSum.value();
      if (options.postApplyChecksum !== undefined && options.postApplyChecksum !== post) {
        throw new LtxError('LTX_CHECKSUM_MISMATCH', `encode: postApplyChecksum ${hex64(options.postApplyChecksum)} given, pages give ${hex64(post)}`);
      }
    } else {
      if (options.postApplyChecksum === undefined) {
        throw new TypeError('finish: postApplyChecksum is required for an incremental file with checksums');
      }
      post = options.postApplyChecksum;
    }
    validateTrailer(h, { postApplyChecksum: post, fileChecksum: CHECKSUM_FLAG });
    const endMarker = new Uint8Array(PAGE_HEADER_SIZE);
    const index = encodePageIndex(this.index);
    const trailer = new Uint8Array(16);
    const tv = new DataView(trailer.buffer);
    tv.setBigUint64(0, post);
    this.crc.update(endMarker).update(index).update(trailer, 0, 8);
    const fileChecksum = CHECKSUM_FLAG | this.crc.digest();
    tv.setBigUint64(8, fileChecksum);
    this.emit(endMarker);
    this.emit(index);
    this.emit(trailer);
    this.state = 'done';
    const bytes = concat(this.chunks, this.offset);
    this.chunks.length = 0;
    const snapshotChecksum = isSnapshot(h) ? (h.commit === 0 ? CHECKSUM_FLAG : this.dbSum.value()) : null;
    return { bytes, header: h, index: this.index, postApplyChecksum: post, fileChecksum, snapshotChecksum };
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export interface PageInput {
  pgno: number;
  data: Uint8Array;
}

/** Encode a whole file from a header and pages (sorted here by pgno). */
export function encodeLtx(header: LtxHeaderInit, pages: Iterable<PageInput>, options?: FinishOptions): EncodedLtx {
  const sorted = [...pages].sort((a, b) => a.pgno - b.pgno);
  const enc = new LtxEncoder();
  enc.writeHeader(header);
  for (const p of sorted) enc.writePage(p.pgno, p.data);
  return enc.finish(options);
}

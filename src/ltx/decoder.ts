// Strict LTX decoder: a push state machine (header → pages → index → size →
// trailer → done). Feed bytes in any chunking with write(), which returns the
// pages each chunk completes; end() checks that the file is complete and that
// its file checksum matches. Beyond the reference decoder it checks (FORMAT.md
// §13): reserved bytes, exact LZ4 lengths, page order and bounds, snapshot
// completeness, the index against the frames, S, and the trailer rules.

import { Crc64, DatabaseChecksum, CHECKSUM_FLAG } from './checksum.js';
import { LtxError, hex64, wrapLtxError } from './errors.js';
import {
  HEADER_SIZE,
  INDEX_SIZE_FIELD,
  type LtxHeader,
  PAGE_FLAG_LZ4_BLOCK,
  type LtxTrailer,
  PAGE_HEADER_SIZE,
  SIZE_PREFIX_SIZE,
  TRAILER_SIZE,
  decodeHeader,
  hasChecksums,
  isSnapshot,
  lockPage,
  validateTrailer,
} from './header.js';
import { type PageIndexEntry, readUvarint } from './page-index.js';
import { type PageEncoding, frameBytesNeeded, maxBlockSize, readPageFrame } from './page-frame.js';

export interface DecodedPage {
  pgno: number;
  data: Uint8Array; // pageSize bytes, owned by the caller
}

export interface FrameInfo extends PageIndexEntry {
  encoding: PageEncoding;
  compressedSize: number | null; // N, or null for a legacy LZ4 frame
}

export interface LtxSummary {
  header: LtxHeader;
  trailer: LtxTrailer;
  frames: FrameInfo[]; // equal to the index, plus encoding details
  indexOffset: number;
  indexSize: number; // S
  fileSize: number;
  /** Page encodings seen: one of them, 'mixed' (legal but never written by reference tools), or 'none'. */
  encoding: PageEncoding | 'mixed' | 'none';
}

type State = 'header' | 'pages' | 'index' | 'size' | 'trailer' | 'done';

// Input joined onto bytes left over at a chunk boundary when the next step's need is unknown.
const JOIN_MIN = 4096;

export class LtxDecoder {
  private state: State = 'header';
  private failure: LtxError | undefined;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private pending: Uint8Array[] = []; // chunks not yet joined into buf
  private pendingLen = 0;
  private want = 0; // bytes needed from pos before the next step can progress
  private offset = 0; // file offset of buf[pos]
  private hdr: LtxHeader | undefined;
  private readonly crc = new Crc64();
  private readonly dbSum = new DatabaseChecksum();
  private readonly frames: FrameInfo[] = [];
  private lastPgno = 0;
  private lock = 0;
  private page: Uint8Array | undefined; // reused while a frame is incomplete
  private indexOffset = 0;
  private indexEntries = 0;
  private indexSize = 0;
  private trailer: LtxTrailer | undefined;

  /** The header, once the first 100 bytes have been decoded. */
  get header(): LtxHeader | undefined {
    return this.hdr;
  }

  /** Feed the next bytes of the file. Returns the pages they complete, in order. */
  write(chunk: Uint8Array): DecodedPage[] {
    if (this.failure) throw this.failure;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    // Joining is a copy; skip it (and the parse attempt) until enough bytes are here.
    if (this.avail() + this.pendingLen < this.want) return [];
    const out: DecodedPage[] = [];
    try {
      do {
        this.join(false);
        while (this.step(out));
      } while (this.pendingLen > 0 && this.avail() + this.pendingLen >= this.want);
    } catch (err) {
      this.failure = err instanceof LtxError ? err : wrapLtxError('decode', err);
      throw this.failure;
    }
    return out;
  }

  // Make pending input parseable. Without leftover bytes the next chunk becomes the
  // buffer as is. With leftovers (a frame cut by a chunk boundary), copy them plus
  // only what the next step needs (`want`, else JOIN_MIN), not the whole next chunk:
  // copying every multi-MiB range of a streamed file into fresh memory was slow, and
  // a frame that ends exactly where the copy does lets the rest go uncopied.
  // `all` (end of input) joins everything.
  private join(all: boolean): void {
    if (this.pending.length === 0) return;
    const rest = this.buf.subarray(this.pos);
    if (rest.length === 0 && (this.pending.length === 1 || !all)) {
      this.buf = this.pending.shift()!;
      this.pendingLen -= this.buf.length;
    } else {
      const take = all ? this.pendingLen : Math.min(this.pendingLen, this.want > rest.length ? this.want - rest.length : JOIN_MIN);
      const joined = new Uint8Array(rest.length + take);
      joined.set(rest);
      let at = rest.length;
      while (at < joined.length) {
        const c = this.pending[0];
        const n = Math.min(c.length, joined.length - at);
        joined.set(n === c.length ? c : c.subarray(0, n), at);
        at += n;
        if (n === c.length) this.pending.shift();
        else this.pending[0] = c.subarray(n);
      }
      this.pendingLen -= take;
      this.buf = joined;
    }
    this.pos = 0;
    this.want = 0;
  }

  /** Declare the input complete: checks for truncation and returns what was read. */
  end(): LtxSummary {
    if (this.failure) throw this.failure;
    this.join(true);
    if (this.state !== 'done') {
      const where = { header: 'the header', pages: 'the page frames', index: 'the index', size: 'the index size field', trailer: 'the trailer', done: '' }[this.state];
      this.failure = new LtxError('LTX_TRUNCATED', `decode: file ends inside ${where} at offset ${this.offset + this.buf.length - this.pos}`);
      throw this.failure;
    }
    const kinds = new Set(this.frames.map((f) => f.encoding));
    return {
      header: this.hdr!,
      trailer: this.trailer!,
      frames: this.frames,
      indexOffset: this.indexOffset,
      indexSize: this.indexSize,
      fileSize: this.offset,
      encoding: kinds.size === 0 ? 'none' : kinds.size === 1 ? [...kinds][0] : 'mixed',
    };
  }

  private wait(bytes: number): false {
    this.want = bytes;
    return false;
  }

  private avail(): number {
    return this.buf.length - this.pos;
  }

  // Hash n bytes into the file checksum and move past them.
  private consume(n: number): void {
    this.crc.update(this.buf, this.pos, this.pos + n);
    this.skip(n);
  }

  private skip(n: number): void {
    this.pos += n;
    this.offset += n;
  }

  // One parse step; returns false when more input is needed.
  private step(out: DecodedPage[]): boolean {
    switch (this.state) {
      case 'header': {
        if (this.avail() < HEADER_SIZE) return this.wait(HEADER_SIZE);
        this.hdr = decodeHeader(this.buf.subarray(this.pos, this.pos + HEADER_SIZE));
        this.lock = lockPage(this.hdr.pageSize);
        this.consume(HEADER_SIZE);
        this.state = 'pages';
        return true;
      }
      case 'pages':
        return this.stepPage(out);
      case 'index':
        return this.stepIndex();
      case 'size': {
        if (this.avail() < INDEX_SIZE_FIELD) return this.wait(INDEX_SIZE_FIELD);
        const s = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0);
        const measured = this.offset - this.indexOffset;
        if (s !== BigInt(measured)) throw new LtxError('LTX_BAD_INDEX', `index: size field S = ${s}, but the index is ${measured} bytes`);
        this.indexSize = measured;
        this.consume(INDEX_SIZE_FIELD);
        this.state = 'trailer';
        return true;
      }
      case 'trailer':
        return this.stepTrailer();
      case 'done':
        if (this.avail() > 0) throw new LtxError('LTX_TRAILING_DATA', `decode: ${this.avail()} bytes after the trailer`);
        return false;
    }
  }

  private stepPage(out: DecodedPage[]): boolean {
    if (this.avail() < PAGE_HEADER_SIZE) return this.wait(PAGE_HEADER_SIZE);
    const h = this.hdr!;
    const b = this.buf;
    const at = this.pos;
    const pgno = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    const flags = (b[at + 4] << 8) | b[at + 5];
    if (pgno === 0 && flags === 0) return this.endMarker();
    const frameOffset = this.offset;
    if (pgno !== 0) this.checkPageOrder(h, pgno, frameOffset);
    if (flags === PAGE_FLAG_LZ4_BLOCK && pgno !== 0) {
      // Wait for the whole frame here: letting readPageFrame throw LTX_TRUNCATED at
      // every chunk boundary cost a stack trace each. Bad sizes fall through to it.
      if (this.avail() < PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE) return this.wait(PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE);
      const n = ((b[at + 6] << 24) | (b[at + 7] << 16) | (b[at + 8] << 8) | b[at + 9]) >>> 0;
      const size = PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE + n;
      if (n > 0 && n <= maxBlockSize(h.pageSize) && this.avail() < size) return this.wait(size);
    }
    const page = (this.page ??= new Uint8Array(h.pageSize));
    let f;
    try {
      f = readPageFrame(b, at, page);
    } catch (err) {
      const need = frameBytesNeeded(b, at, err);
      if (need > 0) {
        this.want = need - at;
        return false;
      }
      throw wrapLtxError(`decode page ${pgno} at offset ${frameOffset}`, err);
    }
    const prefix = f.encoding === 'lz4-block' ? PAGE_HEADER_SIZE + SIZE_PREFIX_SIZE : PAGE_HEADER_SIZE;
    this.crc.update(b, at, at + prefix);
    // One pass over the page feeds the file checksum and gives the page checksum.
    if (hasChecksums(h)) this.dbSum.toggle(this.crc.updatePage(pgno, page));
    else this.crc.update(page);
    this.skip(f.size);
    this.frames.push({ pgno, offset: frameOffset, size: f.size, encoding: f.encoding, compressedSize: f.compressedSize });
    this.lastPgno = pgno;
    this.page = undefined;
    out.push({ pgno, data: page });
    return true;
  }

  private checkPageOrder(h: LtxHeader, pgno: number, frameOffset: number): void {
    let problem: string | undefined;
    if (pgno > h.commit) problem = `beyond commit ${h.commit}`;
    else if (pgno === this.lock) problem = 'is the lock page';
    else if (pgno <= this.lastPgno) problem = `follows page ${this.lastPgno} (pages must ascend)`;
    else if (isSnapshot(h) && pgno !== this.nextSnapshotPage()) problem = `snapshot skips page ${this.nextSnapshotPage()}`;
    if (problem) throw new LtxError('LTX_BAD_PAGE', `decode page ${pgno} at offset ${frameOffset}: ${problem}`);
  }

  private nextSnapshotPage(): number {
    return this.lastPgno + 1 === this.lock ? this.lock + 1 : this.lastPgno + 1;
  }

  private endMarker(): boolean {
    const h = this.hdr!;
    if (isSnapshot(h)) {
      const last = h.commit === this.lock ? h.commit - 1 : h.commit;
      if (this.lastPgno !== last) {
        throw new LtxError('LTX_BAD_PAGE', `decode: snapshot ends at page ${this.lastPgno}, commit is ${h.commit}`);
      }
    }
    this.consume(PAGE_HEADER_SIZE);
    this.indexOffset = this.offset;
    this.state = 'index';
    return true;
  }

  private stepIndex(): boolean {
    const p = readUvarint(this.buf, this.pos);
    if (!p) return false;
    const n = this.indexEntries;
    if (p[0] === 0) {
      if (n !== this.frames.length) throw new LtxError('LTX_BAD_INDEX', `index: ${n} entries for ${this.frames.length} frames`);
      this.consume(p[1] - this.pos);
      this.state = 'size';
      return true;
    }
    const o = readUvarint(this.buf, p[1]);
    const s = o && readUvarint(this.buf, o[1]);
    if (!o || !s) return false;
    const f = this.frames[n];
    if (!f) throw new LtxError('LTX_BAD_INDEX', `index: entry ${n} (page ${p[0]}) has no frame`);
    if (f.pgno !== p[0] || f.offset !== o[0] || f.size !== s[0]) {
      throw new LtxError('LTX_BAD_INDEX', `index: entry ${n} is page ${p[0]} at ${o[0]}+${s[0]}, frame is page ${f.pgno} at ${f.offset}+${f.size}`);
    }
    this.indexEntries++;
    this.consume(s[1] - this.pos);
    return true;
  }

  private stepTrailer(): boolean {
    if (this.avail() < TRAILER_SIZE) return this.wait(TRAILER_SIZE);
    const h = this.hdr!;
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, TRAILER_SIZE);
    const t: LtxTrailer = { postApplyChecksum: v.getBigUint64(0), fileChecksum: v.getBigUint64(8) };
    validateTrailer(h, t);
    this.crc.update(this.buf, this.pos, this.pos + 8);
    this.skip(TRAILER_SIZE);
    const want = CHECKSUM_FLAG | this.crc.digest();
    if (t.fileChecksum !== want) {
      throw new LtxError('LTX_CHECKSUM_MISMATCH', `decode: file checksum mismatch: trailer has ${hex64(t.fileChecksum)}, content gives ${hex64(want)}`);
    }
    if (hasChecksums(h) && isSnapshot(h) && h.commit > 0 && t.postApplyChecksum !== this.dbSum.value()) {
      throw new LtxError('LTX_CHECKSUM_MISMATCH', `decode: snapshot post-apply checksum is ${hex64(t.postApplyChecksum)}, pages give ${hex64(this.dbSum.value())}`);
    }
    this.trailer = t;
    this.state = 'done';
    return true;
  }
}

export interface DecodedLtx extends LtxSummary {
  pages: DecodedPage[];
}

/** Decode a whole file held in memory. */
export function decodeLtx(bytes: Uint8Array): DecodedLtx {
  const d = new LtxDecoder();
  const pages = d.write(bytes);
  return { ...d.end(), pages };
}

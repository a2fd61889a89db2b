// Defects the reference decoder lets through and ours rejects (FORMAT.md §13).
// Each defective file is built with a correct file checksum, so the check under
// test (not the checksum) is what catches it.
import { describe, expect, it } from 'vitest';
import { CHECKSUM_FLAG, Crc64 } from '../../src/ltx/checksum.js';
import { decodeLtx } from '../../src/ltx/decoder.js';
import { type LtxHeaderInit, encodeHeader, headerWithDefaults } from '../../src/ltx/header.js';
import { lz4Compress } from '../../src/ltx/lz4.js';
import { type PageIndexEntry, encodePageIndex } from '../../src/ltx/page-index.js';
import { golden } from './helpers.js';

interface RawFrame {
  pgno: number;
  page: Uint8Array; // what the block decodes to
  block?: Uint8Array; // defaults to lz4Compress(page)
}

/** Assemble a file without the encoder's rules; the file checksum is always correct. */
function raw(init: LtxHeaderInit, frames: RawFrame[], opts: { post?: bigint; index?: PageIndexEntry[]; s?: bigint; reserved?: number; hashPage?: (f: RawFrame) => Uint8Array } = {}): Uint8Array {
  const header = encodeHeaderLoose(init, opts.reserved);
  const crc = new Crc64().update(header);
  const parts: Uint8Array[] = [header];
  const index: PageIndexEntry[] = [];
  let offset = 100;
  for (const f of frames) {
    const block = f.block ?? lz4Compress(f.page);
    const head = new Uint8Array(10);
    const v = new DataView(head.buffer);
    v.setUint32(0, f.pgno);
    v.setUint16(4, 1);
    v.setUint32(6, block.length);
    crc.update(head).update(opts.hashPage ? opts.hashPage(f) : f.page);
    parts.push(head, block);
    index.push({ pgno: f.pgno, offset, size: 10 + block.length });
    offset += 10 + block.length;
  }
  const idx = encodePageIndex(opts.index ?? index);
  if (opts.s !== undefined) new DataView(idx.buffer).setBigUint64(idx.length - 8, opts.s);
  const trailer = new Uint8Array(16);
  new DataView(trailer.buffer).setBigUint64(0, opts.post ?? 0n);
  crc.update(new Uint8Array(6)).update(idx).update(trailer, 0, 8);
  new DataView(trailer.buffer).setBigUint64(8, CHECKSUM_FLAG | crc.digest());
  parts.push(new Uint8Array(6), idx, trailer);
  return Buffer.concat(parts);
}

function encodeHeaderLoose(init: LtxHeaderInit, reserved?: number): Uint8Array {
  const h = headerWithDefaults(init);
  const flags = h.flags;
  const bytes = encodeHeader({ ...h, flags: flags & 2 });
  new DataView(bytes.buffer).setUint32(4, flags);
  if (reserved !== undefined) bytes[90] = reserved;
  return bytes;
}

const P = 512;
const page = (v: number) => new Uint8Array(P).fill(v);
const inc: LtxHeaderInit = { pageSize: P, commit: 4, minTXID: 5n, maxTXID: 5n, flags: 2 };
const snap: LtxHeaderInit = { pageSize: P, commit: 2, minTXID: 1n, maxTXID: 1n, flags: 2 };
const rejects = (file: Uint8Array, code: string, text: string) =>
  expect(() => decodeLtx(file)).toThrow(expect.objectContaining({ code, message: expect.stringContaining(text) }));

describe('strict decoder', () => {
  it('accepts the raw builder output when nothing is wrong (control)', () => {
    expect(decodeLtx(raw(inc, [{ pgno: 2, page: page(1) }, { pgno: 4, page: page(2) }])).pages.length).toBe(2);
    expect(decodeLtx(raw(snap, [{ pgno: 1, page: page(1) }, { pgno: 2, page: page(2) }])).pages.length).toBe(2);
  });

  it('header: magic, LTX4, flags, reserved bytes', () => {
    const good = raw(inc, []);
    const m = good.slice();
    m[3] = 0x32;
    rejects(m, 'LTX_BAD_MAGIC', 'expected 4c 54 58 31');
    m[3] = 0x34;
    rejects(m, 'LTX_UNSUPPORTED', 'LTX4');
    rejects(raw({ ...inc, flags: 3 }, []), 'LTX_BAD_HEADER', 'flags 0x3');
    rejects(raw(inc, [], { reserved: 7 }), 'LTX_BAD_HEADER', 'reserved byte 90');
  });

  it('pages: beyond commit, out of order, duplicate, lock page, incomplete snapshot, frames in a commit-0 file', () => {
    rejects(raw(inc, [{ pgno: 5, page: page(1) }]), 'LTX_BAD_PAGE', 'beyond commit 4');
    rejects(raw(inc, [{ pgno: 3, page: page(1) }, { pgno: 2, page: page(1) }]), 'LTX_BAD_PAGE', 'follows page 3');
    rejects(raw(inc, [{ pgno: 3, page: page(1) }, { pgno: 3, page: page(1) }]), 'LTX_BAD_PAGE', 'follows page 3');
    const lock = Math.floor(0x40000000 / P) + 1;
    rejects(raw({ ...inc, commit: lock + 5 }, [{ pgno: lock, page: page(1) }]), 'LTX_BAD_PAGE', 'lock page');
    rejects(raw(snap, [{ pgno: 2, page: page(1) }]), 'LTX_BAD_PAGE', 'snapshot skips page 1');
    rejects(raw(snap, [{ pgno: 1, page: page(1) }]), 'LTX_BAD_PAGE', 'snapshot ends at page 1, commit is 2');
    rejects(raw({ ...inc, commit: 0 }, [{ pgno: 1, page: page(1) }]), 'LTX_BAD_PAGE', 'beyond commit 0');
  });

  it('blocks: short output, long output, unconsumed bytes; the message says which page', () => {
    const short = lz4Compress(new Uint8Array(P - 1));
    rejects(raw(inc, [{ pgno: 2, page: page(0), block: short }]), 'LTX_BAD_LZ4', 'decode page 2 at offset 100: lz4: block decodes to 511 bytes, expected 512');
    const long = lz4Compress(new Uint8Array(P + 1));
    rejects(raw(inc, [{ pgno: 2, page: page(0), block: long }]), 'LTX_BAD_LZ4', 'passes the end of the page');
    const padded = new Uint8Array([...lz4Compress(page(0)), 0]);
    rejects(raw(inc, [{ pgno: 2, page: page(0), block: padded }]), 'LTX_BAD_LZ4', 'decode page 2');
    const huge = new Uint8Array(P + 100);
    rejects(raw(inc, [{ pgno: 2, page: page(0), block: huge }]), 'LTX_BAD_PAGE', 'block size 612 is outside');
  });

  it('index: must equal the frames, and S must be its length', () => {
    const frames = [{ pgno: 2, page: page(1) }, { pgno: 4, page: page(2) }];
    const good = decodeLtx(raw(inc, frames)).frames.map(({ pgno, offset, size }) => ({ pgno, offset, size }));
    rejects(raw(inc, frames, { index: [good[0]] }), 'LTX_BAD_INDEX', '1 entries for 2 frames');
    rejects(raw(inc, frames, { index: [good[0], { ...good[1], pgno: 3 }] }), 'LTX_BAD_INDEX', 'entry 1 is page 3');
    rejects(raw(inc, frames, { index: [good[0], { ...good[1], size: good[1].size + 1 }] }), 'LTX_BAD_INDEX', 'entry 1');
    rejects(raw(inc, frames, { index: [...good, { pgno: 9, offset: 1000, size: 10 }] }), 'LTX_BAD_INDEX', 'has no frame');
    rejects(raw(inc, frames, { s: 99n }), 'LTX_BAD_INDEX', 'S = 99');
  });

  it('trailer rules and snapshot post-apply checksum', () => {
    rejects(raw(inc, [], { post: CHECKSUM_FLAG | 5n }), 'LTX_BAD_TRAILER', 'must be 0 with NoChecksum');
    rejects(raw({ ...snap, flags: 0 }, [{ pgno: 1, page: page(1) }, { pgno: 2, page: page(2) }], { post: CHECKSUM_FLAG | 5n }), 'LTX_CHECKSUM_MISMATCH', 'snapshot post-apply checksum');
    rejects(raw({ ...inc, flags: 0, commit: 0, preApplyChecksum: CHECKSUM_FLAG }, [], { post: CHECKSUM_FLAG | 1n }), 'LTX_BAD_TRAILER', 'empty database');
  });

  it('file checksum, trailing bytes, truncation at every length', () => {
    const file = golden('checksum/0000000000000002-0000000000000002.ltx');
    const bad = file.slice();
    bad[bad.length - 1] ^= 0x80;
    rejects(bad, 'LTX_CHECKSUM_MISMATCH', 'file checksum mismatch: trailer has');
    rejects(Buffer.concat([file, new Uint8Array([0])]), 'LTX_TRAILING_DATA', '1 bytes after the trailer');
    for (let n = 0; n < file.length; n++) {
      expect(() => decodeLtx(file.subarray(0, n)), `prefix ${n}`).toThrow(expect.objectContaining({ code: 'LTX_TRUNCATED' }));
    }
  });

  it('page flags: unknown values, pgno 0 with flags, and a format-v2 look-alike', () => {
    const file = golden('nochecksum/0000000000000002-0000000000000002.ltx').slice();
    file[105] = 0x22;
    file[104] = 0x04;
    rejects(file, 'LTX_BAD_PAGE', 'LTX format v2');
    const zero = golden('nochecksum/0000000000000002-0000000000000002.ltx').slice();
    zero.fill(0, 100, 104);
    rejects(zero, 'LTX_BAD_PAGE', 'pgno 0 with flags 0x1');
  });
});

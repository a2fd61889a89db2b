// The parsers that read bytes from outside, as fuzz targets (./fuzz.ts): the LTX
// decoder (object storage), the write buffer's log (local disk, CRC-framed), the
// hydration sidecar and journal (local disk, JSON), and LTX key names (listings).
// Each says what a clean outcome is; anything else is a failure.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { readJournal } from '../../src/hydrate/journal.js';
import { readSidecar, sidecarJson, sidecarPath } from '../../src/hydrate/sidecar.js';
import { Crc64 } from '../../src/ltx/checksum.js';
import { decodeLtx } from '../../src/ltx/decoder.js';
import { encodeLtx } from '../../src/ltx/encoder.js';
import { LtxError } from '../../src/ltx/errors.js';
import { formatLtxFilename, parseLtxFilename } from '../../src/ltx/filename.js';
import { isValidPageSize } from '../../src/ltx/header.js';
import { FRAME_HEAD, FRAME_TAIL } from '../../src/sync/buffer-records.js';
import { WriteBuffer } from '../../src/sync/write-buffer.js';
import { FuzzFailure, type FuzzTarget } from './fuzz.js';
import { prng } from './prng.js';

const GOLDEN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/golden');
const enc = new TextEncoder();
const dec = new TextDecoder();
const silent = pino({ level: 'silent' });

function tempDir(label: string): string {
  return mkdtempSync(path.join(tmpdir(), `ltxvfs-fuzz-${label}-`));
}

const LTX_CODES = new Set(['LTX_BAD_MAGIC', 'LTX_UNSUPPORTED', 'LTX_BAD_HEADER', 'LTX_BAD_PAGE', 'LTX_BAD_LZ4', 'LTX_BAD_INDEX', 'LTX_BAD_TRAILER', 'LTX_CHECKSUM_MISMATCH', 'LTX_TRUNCATED', 'LTX_TRAILING_DATA']);

/** decodeLtx: a clean LtxError with a known code, or a file whose pages match its header. */
export function ltxTarget(): FuzzTarget {
  return {
    name: 'ltx-decoder',
    corpus() {
      const files: Uint8Array[] = readFileSync(path.join(GOLDEN, 'layout.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => new Uint8Array(readFileSync(path.join(GOLDEN, (JSON.parse(l) as { file: string }).file.replace(/^golden\//, '')))));
      const rnd = prng(77);
      const pages = Array.from({ length: 12 }, (_, i) => ({ pgno: i + 1, data: new Uint8Array(1024).map((_, j) => (i % 3 === 0 ? (rnd() * 256) | 0 : (j * i) & 0xff)) }));
      files.push(encodeLtx({ pageSize: 1024, commit: 12, minTXID: 1n, maxTXID: 1n }, pages).bytes);
      files.push(encodeLtx({ pageSize: 1024, commit: 20, minTXID: 9n, maxTXID: 9n, flags: 2 }, pages.filter((p) => p.pgno % 2)).bytes);
      return files;
    },
    check(input) {
      try {
        const d = decodeLtx(input);
        for (const p of d.pages) if (p.data.length !== d.header.pageSize || p.pgno < 1 || p.pgno > Math.max(d.header.commit, 1)) throw new FuzzFailure(`accepted page ${p.pgno} of ${p.data.length} bytes (commit ${d.header.commit})`);
      } catch (err) {
        if (err instanceof FuzzFailure) throw err;
        if (!(err instanceof LtxError) || !LTX_CODES.has(err.code)) throw err;
      }
    },
  };
}

/**
 * WriteBuffer.open on a mutated buffer.log, with CRCs recomputed after most mutations
 * (a CRC is not a MAC: a forged record must still be handled). Clean: it opens (the
 * valid prefix kept, the rest cut off) and its commits, pages and batch read back;
 * or it fails with a `write buffer …` error.
 */
export function bufferLogTarget(): FuzzTarget {
  const dir = tempDir('buffer');
  const url = 'file:///fuzz/replica';
  const PS = 512;
  return {
    name: 'buffer-log',
    corpus() {
      const out: Uint8Array[] = [];
      for (let k = 0; k < 4; k++) {
        const d = tempDir('buffer-seed');
        const b = WriteBuffer.open(d, { replicaUrl: url, pageSize: PS, maxBytes: 1 << 24, log: silent, fsync: false });
        b.setBase({ txid: BigInt(k * 10), checksum: k % 2 ? 0x8000000000001234n : null, commit: 3 + k, pageSize: PS });
        for (let t = 0; t < 2 + k; t++) {
          const pages: [number, Uint8Array][] = [[1 + t, new Uint8Array(PS).fill(t + 1)], [7 + k, new Uint8Array(PS).fill(0xee)]];
          b.append({ pages, commit: t === 2 ? 2 : 8 + k, checksum: k % 2 ? BigInt(t + 1) | (1n << 63n) : null });
          // Several commits per TXID, and (for k ≥ 2) a second TXID after the syncer froze the first.
          if (t === 1 && k >= 2) b.batch();
        }
        if (k % 2) b.recordUpload({ key: 'ltx/0/x.ltx', minTXID: 1n, maxTXID: 2n, commit: 9, postApplyChecksum: null, fileChecksum: 0x8000000000000001n });
        b.close();
        out.push(new Uint8Array(readFileSync(path.join(d, 'buffer.log'))));
        rmSync(d, { recursive: true, force: true });
      }
      return out;
    },
    fixup(input, rnd) {
      // Recompute every whole frame's CRC; sometimes stretch the last frame's length to the end.
      const m = input.slice();
      const v = new DataView(m.buffer);
      for (let at = 0; at + FRAME_HEAD + FRAME_TAIL <= m.length; ) {
        let len = v.getUint32(at + 4);
        if (at + FRAME_HEAD + len + FRAME_TAIL > m.length) {
          if (rnd() < 0.5) break;
          len = m.length - at - FRAME_HEAD - FRAME_TAIL;
          v.setUint32(at + 4, len);
        }
        v.setBigUint64(at + FRAME_HEAD + len, new Crc64().update(m, at, at + FRAME_HEAD + len).digest());
        at += FRAME_HEAD + len + FRAME_TAIL;
      }
      return m;
    },
    check(input) {
      writeFileSync(path.join(dir, 'buffer.log'), input);
      let b: WriteBuffer;
      try {
        b = WriteBuffer.open(dir, { replicaUrl: url, pageSize: PS, maxBytes: 1 << 24, log: silent, fsync: false });
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('write buffer ') && err.constructor === Error) return;
        throw err;
      }
      try {
        const commits = b.commits();
        let prev = b.base?.txid ?? 0n;
        for (const [i, c] of commits.entries()) {
          // A TXID's commits are adjacent: the first commit takes base+1, each later one the same TXID or the next.
          if (c.txid !== prev + 1n && !(i > 0 && c.txid === prev)) throw new FuzzFailure(`commit TXIDs out of order: ${prev} then ${c.txid}`);
          prev = c.txid;
          for (const pgno of c.pages.slice(0, 8)) {
            const p = b.page(pgno);
            if (p !== undefined && p.length !== PS) throw new FuzzFailure(`page ${pgno} read back ${p.length} bytes`);
          }
        }
        // A batch writes zero pages for every page a shrink cut off: linear in the database
        // size the records claim, as for any writer; only asked of sizes a test can hold.
        const base = b.base;
        if (base && base.commit <= 1 << 16 && commits.every((c) => c.commit <= 1 << 16)) {
          const batch = b.batch();
          // One L0 file is one TXID: the oldest unsynced one, base+1.
          if (commits.length > 0 && (batch === null || batch.minTXID !== base.txid + 1n || batch.maxTXID !== batch.minTXID)) throw new FuzzFailure(`batch ${batch?.minTXID}-${batch?.maxTXID} on base ${base.txid}`);
          if (commits.length === 0 && batch !== null) throw new FuzzFailure('a batch with no commits');
        }
      } finally {
        b.close();
        for (const n of readdirSync(dir)) if (n.startsWith('conflict-')) rmSync(path.join(dir, n), { recursive: true, force: true });
      }
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** readSidecar: null, or a sidecar whose fields are in range. Never throws. */
export function sidecarTarget(): FuzzTarget {
  const dir = tempDir('sidecar');
  const db = path.join(dir, 'h.db');
  return {
    name: 'sidecar',
    corpus() {
      const one = (txid: bigint, checksum: bigint | null, applyingTo: bigint | null) =>
        enc.encode(JSON.stringify(sidecarJson({ url: 's3://b/p/', txid, pageSize: 4096, commit: 321, checksum, identity: { key: `0000/${txid.toString(16).padStart(16, '0')}-x.ltx`, size: 12345, fileChecksum: 0x8000000000abcdefn }, applyingTo }), null, 2));
      return [one(7n, 0x8123456789abcdefn, null), one(1n, null, 3n), one(99n, null, null)];
    },
    check(input) {
      writeFileSync(sidecarPath(db), input);
      const s = readSidecar(db); // throws nothing: a throw is a failure
      if (s === null) return;
      const u64 = (v: bigint) => v >= 0n && v < 1n << 64n;
      if (!isValidPageSize(s.pageSize)) throw new FuzzFailure(`accepted page size ${s.pageSize}`);
      if (!Number.isInteger(s.commit) || s.commit < 0 || s.commit > 0xffffffff) throw new FuzzFailure(`accepted commit ${s.commit}`);
      if (s.txid < 1n || !u64(s.txid) || (s.applyingTo !== null && !(s.applyingTo > s.txid && u64(s.applyingTo)))) throw new FuzzFailure(`accepted TXIDs ${s.txid}/${s.applyingTo}`);
      if (typeof s.url !== 'string' || typeof s.identity.key !== 'string' || !Number.isSafeInteger(s.identity.size) || s.identity.size < 0) throw new FuzzFailure('accepted an identity out of range');
      if (!u64(s.identity.fileChecksum) || (s.checksum !== null && !u64(s.checksum))) throw new FuzzFailure('accepted a checksum out of range');
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** readJournal: null, or records whose ranges make sense. Never throws. */
export function journalTarget(): FuzzTarget {
  const dir = tempDir('journal');
  const file = path.join(dir, 'h.db.ltxvfs-tmp.journal');
  const url = 's3://b/p/';
  return {
    name: 'journal',
    corpus() {
      const lines = [
        { v: 1, url },
        { plan: '12', keys: ['0009/0000000000000001-0000000000000001.ltx', '0000/000000000000000c-000000000000000c.ltx'] },
        { c: ['0009/0000000000000001-0000000000000001.ltx', 900000, '8000000000abcdef', 0, 65536, '1234abcd', 16] },
        { c: ['0009/0000000000000001-0000000000000001.ltx', 900000, '8000000000abcdef', 65536, 131072, 'ffff', 16] },
        { drop: '0000/000000000000000c-000000000000000c.ltx' },
        { final: { format: 'ltxvfs-hydration/1', txid: '12' } },
      ];
      const text = (ls: unknown[]) => enc.encode(ls.map((l) => JSON.stringify(l)).join('\n') + '\n');
      return [text(lines), text(lines.slice(0, 3)), text([lines[0], lines[1], lines[2], lines[2], lines[3]])];
    },
    check(input) {
      writeFileSync(file, input);
      const j = readJournal(file, url); // throws nothing: a throw is a failure
      if (j === null) return;
      if (typeof j.planTXID !== 'bigint' || j.planTXID < 0n) throw new FuzzFailure(`plan TXID ${String(j.planTXID)}`);
      if (!Array.isArray(j.planKeys) || !j.planKeys.every((k) => typeof k === 'string')) throw new FuzzFailure('plan keys not strings');
      for (const r of j.records.values()) {
        if (typeof r.key !== 'string' || !Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.start > r.end || r.end > r.size) throw new FuzzFailure(`record ${JSON.stringify([r.key, r.start, r.end, r.size])}`);
      }
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** parseLtxFilename on listed key names: null, or TXIDs that format back to the same name. */
export function listingKeyTarget(): FuzzTarget {
  return {
    name: 'listing-key',
    corpus: () => ['0000000000000001-0000000000000001.ltx', '00000000000000ff-0000000000000aff.ltx', 'ffffffffffffffff-ffffffffffffffff.ltx', '0000000000000001-0000000000000009.ltx.tmp'].map((s) => enc.encode(s)),
    check(input) {
      const name = dec.decode(input);
      const p = parseLtxFilename(name);
      if (p === null) return;
      if (p.minTXID < 1n || p.maxTXID < p.minTXID || formatLtxFilename(p.minTXID, p.maxTXID) !== name) throw new FuzzFailure(`accepted ${JSON.stringify(name)} as ${p.minTXID}-${p.maxTXID}`);
    },
  };
}

export const FUZZ_TARGETS: (() => FuzzTarget)[] = [ltxTarget, bufferLogTarget, sidecarTarget, journalTarget, listingKeyTarget];

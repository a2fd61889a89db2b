// One buffered batch → one L0 LTX file, in the form Litestream v0.5 writes and accepts.
// A batch from base 0 is the replica's first file: a snapshot (minTXID 1, every page
// 1..commit but the lock page; a page the database never wrote is zeros, as SQLite
// reads it). Every file has the NoChecksum flag, as Litestream's: its restore and
// compaction refuse files with pre/post-apply checksums. The database checksums go
// beside the file instead (../replica/checksum-record.ts), when the chain knows them
// (always for a snapshot: its pages give them).
//
// WAL fields: Litestream, taking over as the writer, reads the newest L0 file's
// walOffset + walSize as where it stopped in its own WAL, and fails on less than the
// WAL header ("prev WAL offset is less than the header size"). We have no WAL, so we
// write the WAL's start with no frames (offset 32, size 0, no salts): Litestream then
// sees its WAL "reset" and writes a full snapshot as its next TXID, which is right,
// since it cannot know our pages otherwise.
import { HEADER_FLAG_NO_CHECKSUM, LtxEncoder, lockPage, type EncodedLtx } from '../ltx/index.js';
import type { ChecksumRecord } from '../replica/checksum-record.js';
import type { Batch } from './write-buffer.js';

/** SQLite's WAL header size: the offset of its first frame. */
export const WAL_HEADER_SIZE = 32n;

export interface EncodedBatch {
  encoded: EncodedLtx;
  /** The database checksums before and after, to keep beside the file; null when the chain does not know them. */
  record: ChecksumRecord | null;
}

export function encodeBatch(batch: Batch, pageSize: number): EncodedBatch {
  const snapshot = batch.minTXID === 1n;
  const enc = new LtxEncoder();
  enc.writeHeader({
    pageSize,
    commit: batch.commit,
    minTXID: batch.minTXID,
    maxTXID: batch.maxTXID,
    timestamp: BigInt(Math.round(batch.timestampMs)),
    flags: HEADER_FLAG_NO_CHECKSUM,
    walOffset: WAL_HEADER_SIZE,
  });
  if (snapshot) {
    const lock = lockPage(pageSize);
    const zeros = new Uint8Array(pageSize);
    for (let pgno = 1; pgno <= batch.commit; pgno++) if (pgno !== lock) enc.writePage(pgno, batch.pages.get(pgno) ?? zeros);
  } else {
    for (const pgno of [...batch.pages.keys()].sort((a, b) => a - b)) enc.writePage(pgno, batch.pages.get(pgno)!);
  }
  const encoded = enc.finish();
  if (snapshot) {
    // A snapshot's checksum comes from its pages; a known one must agree.
    const post = encoded.snapshotChecksum!;
    if (batch.postApplyChecksum !== null && batch.postApplyChecksum !== post) {
      throw new Error(`encode snapshot TXID ${batch.maxTXID}: the buffer's checksum ${hex(batch.postApplyChecksum)} differs from its pages' ${hex(post)}`);
    }
    return { encoded, record: { pre: 0n, post } };
  }
  const known = batch.preApplyChecksum !== null && batch.postApplyChecksum !== null;
  return { encoded, record: known ? { pre: batch.preApplyChecksum!, post: batch.postApplyChecksum! } : null };
}

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

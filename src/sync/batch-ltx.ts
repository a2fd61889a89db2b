// One buffered batch → one L0 LTX file. A batch from base 0 is the replica's first
// file: a snapshot (minTXID 1, every page 1..commit but the lock page; a page the
// database never wrote is zeros, as SQLite reads it). Checksums are on when the whole
// chain knows them (always for a snapshot: its pages give them); otherwise the file
// carries the NoChecksum flag, as every file Litestream v0.5 writes does.
import { HEADER_FLAG_NO_CHECKSUM, LtxEncoder, lockPage, type EncodedLtx } from '../ltx/index.js';
import type { Batch } from './write-buffer.js';

export function encodeBatch(batch: Batch, pageSize: number): EncodedLtx {
  const snapshot = batch.minTXID === 1n;
  const checksums = snapshot || (batch.preApplyChecksum !== null && batch.postApplyChecksum !== null);
  const enc = new LtxEncoder();
  enc.writeHeader({
    pageSize,
    commit: batch.commit,
    minTXID: batch.minTXID,
    maxTXID: batch.maxTXID,
    timestamp: BigInt(Math.round(batch.timestampMs)),
    flags: checksums ? 0 : HEADER_FLAG_NO_CHECKSUM,
    preApplyChecksum: checksums && !snapshot ? batch.preApplyChecksum! : 0n,
  });
  if (snapshot) {
    const lock = lockPage(pageSize);
    const zeros = new Uint8Array(pageSize);
    for (let pgno = 1; pgno <= batch.commit; pgno++) if (pgno !== lock) enc.writePage(pgno, batch.pages.get(pgno) ?? zeros);
  } else {
    for (const pgno of [...batch.pages.keys()].sort((a, b) => a - b)) enc.writePage(pgno, batch.pages.get(pgno)!);
  }
  // A snapshot's checksum comes from its pages; a given one must agree (the encoder checks).
  return enc.finish(checksums && batch.postApplyChecksum !== null ? { postApplyChecksum: batch.postApplyChecksum } : {});
}

// Compaction (FORMAT.md §11): merge consecutive LTX files into one. A k-way merge
// over streaming readers, so memory holds one page per input: for each pgno the
// copy from the latest input wins, pages beyond the last input's commit are
// dropped, and the output is re-encoded in the current encoding. Every input's
// file checksum is verified before the output is returned.

import { LtxError, wrapLtxError } from './errors.js';
import { HEADER_FLAG_NO_CHECKSUM, type LtxHeader, hasChecksums } from './header.js';
import { type EncodedLtx, LtxEncoder } from './encoder.js';
import type { DecodedPage } from './decoder.js';
import { LtxReader, type LtxSource } from './reader.js';

export interface CompactOptions {
  /** Output header flags; not inherited from the inputs. Default NoChecksum, as Litestream writes. */
  flags?: number;
  /** Accept a TXID gap between adjacent inputs (normally an error). */
  allowGaps?: boolean;
}

/** Check that inputs (in TXID order) share a page size and form a contiguous chain. */
export function checkCompactable(headers: readonly LtxHeader[], allowGaps = false): void {
  if (headers.length === 0) throw new LtxError('LTX_COMPACT', 'compact: no input files');
  for (let i = 1; i < headers.length; i++) {
    const prev = headers[i - 1];
    const cur = headers[i];
    if (cur.pageSize !== prev.pageSize) {
      throw new LtxError('LTX_COMPACT', `compact: input ${i} has page size ${cur.pageSize}, input 0 has ${headers[0].pageSize}`);
    }
    if (cur.maxTXID <= prev.maxTXID) {
      throw new LtxError('LTX_COMPACT', `compact: input ${i} (TXIDs ${cur.minTXID}-${cur.maxTXID}) does not extend input ${i - 1} (ends at ${prev.maxTXID}); pass inputs in TXID order`);
    }
    if (!allowGaps && cur.minTXID > prev.maxTXID + 1n) {
      throw new LtxError('LTX_COMPACT', `compact: gap between TXID ${prev.maxTXID} and ${cur.minTXID} (input ${i})`);
    }
  }
}

/** Merge `inputs` (in TXID order) into one file. */
export async function compactLtx(inputs: readonly LtxSource[], options: CompactOptions = {}): Promise<EncodedLtx> {
  const flags = options.flags ?? HEADER_FLAG_NO_CHECKSUM;
  const readers = inputs.map((s) => new LtxReader(s));
  const headers: LtxHeader[] = [];
  for (let i = 0; i < readers.length; i++) {
    try {
      headers.push(await readers[i].readHeader());
    } catch (err) {
      throw wrapLtxError(`compact input ${i}`, err);
    }
  }
  checkCompactable(headers, options.allowGaps);
  const first = headers[0];
  const last = headers[headers.length - 1];
  const out = { flags, pageSize: first.pageSize, commit: last.commit, minTXID: first.minTXID, maxTXID: last.maxTXID, timestamp: last.timestamp };
  if (hasChecksums(out) && !headers.every(hasChecksums)) {
    throw new LtxError('LTX_COMPACT', 'compact: output with checksums (flags 0) needs every input to carry checksums; pass flags: HEADER_FLAG_NO_CHECKSUM');
  }
  const enc = new LtxEncoder();
  enc.writeHeader({ ...out, preApplyChecksum: hasChecksums(out) ? first.preApplyChecksum : 0n });

  const next = async (i: number): Promise<DecodedPage | null> => {
    try {
      return await readers[i].nextPage();
    } catch (err) {
      throw wrapLtxError(`compact input ${i}`, err);
    }
  };
  const heads = await Promise.all(readers.map((_, i) => next(i)));
  for (;;) {
    let pgno = Infinity;
    for (const h of heads) if (h && h.pgno < pgno) pgno = h.pgno;
    if (pgno === Infinity) break;
    let winner: DecodedPage | undefined;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && h.pgno === pgno) {
        winner = h; // later inputs overwrite earlier ones
        heads[i] = await next(i);
      }
    }
    if (pgno <= last.commit) enc.writePage(pgno, winner!.data);
  }
  // Every reader has returned null, so every input's checksum has been verified.
  return enc.finish({ postApplyChecksum: hasChecksums(out) ? lastPostApply(readers) : 0n });
}

function lastPostApply(readers: LtxReader[]): bigint {
  return readers[readers.length - 1].summary().trailer.postApplyChecksum;
}

// Read an LTX file from disk through the strict streaming decoder.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { LtxReader, type LtxSummary } from '../ltx/index.js';

export interface ReadResult {
  summary: LtxSummary;
  /** SHA-256 (hex) of each decompressed page, in frame order. */
  pageSha256: string[];
}

/** Decode and verify the whole file (streamed, so memory stays at one chunk and one page). */
export async function readLtxFile(path: string, hashPages = false): Promise<ReadResult> {
  const reader = new LtxReader(createReadStream(path, { highWaterMark: 1 << 20 }));
  const pageSha256: string[] = [];
  for (let p = await reader.nextPage(); p; p = await reader.nextPage()) {
    if (hashPages) pageSha256.push(createHash('sha256').update(p.data).digest('hex'));
  }
  return { summary: reader.summary(), pageSha256 };
}

/** ms since the epoch as ISO 8601 UTC, or null if out of Date's range. */
export function isoTime(ms: bigint): string | null {
  const n = Number(ms);
  return Math.abs(n) <= 8.64e15 ? new Date(n).toISOString() : null;
}

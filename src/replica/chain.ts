// The files that bring a database at TXID `from` forward: repeatedly the file,
// from any level, that continues the position (minTXID ≤ pos + 1 < maxTXID + 1) and
// reaches furthest. Used by the follower (polling) and the hydrator (catch-up). A file that overlaps what is already applied is fine: it holds
// every page changed in its whole range at its maxTXID version, so applying it on
// any state inside that range gives the state at its maxTXID.
import type { LtxFileInfo } from './listing.js';

export interface Continuation {
  files: LtxFileInfo[];
  /** The TXID after applying them (from, when none). */
  txid: bigint;
  /** The replica holds TXIDs beyond `txid` that no file connects to it. */
  gap: boolean;
}

export function continueChain(files: readonly LtxFileInfo[], from: bigint, upTo?: bigint): Continuation {
  const usable = files.filter((f) => upTo === undefined || f.maxTXID <= upTo);
  const out: LtxFileInfo[] = [];
  let pos = from;
  for (;;) {
    let best: LtxFileInfo | undefined;
    for (const f of usable) {
      if (f.minTXID > pos + 1n || f.maxTXID <= pos) continue;
      if (!best || better(f, best, pos)) best = f;
    }
    if (!best) break;
    out.push(best);
    pos = best.maxTXID;
  }
  const latest = usable.reduce((m, f) => (f.maxTXID > m ? f.maxTXID : m), 0n);
  return { files: out, txid: pos, gap: latest > pos };
}

// Further first; then one that continues exactly (its pre-apply checksum can be
// checked); then the later start (it overlaps less of what is applied); then the higher level.
function better(f: LtxFileInfo, best: LtxFileInfo, pos: bigint): boolean {
  if (f.maxTXID !== best.maxTXID) return f.maxTXID > best.maxTXID;
  const fe = f.minTXID === pos + 1n;
  const be = best.minTXID === pos + 1n;
  if (fe !== be) return fe;
  if (f.minTXID !== best.minTXID) return f.minTXID > best.minTXID;
  return f.level > best.level;
}

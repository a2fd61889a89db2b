// What the next compaction of a level merges, and whether a level is due. Pure
// functions over a listing, so a pass can plan on its own in-memory view (files it
// has just written included) and dry runs plan exactly as real runs do.
//
// Litestream v0.5's rule (compactor.go): the next file at level N starts right after
// the newest level-N file's maxTXID and merges the level N-1 files from there. We
// take only the contiguous run of such files, so a level never gets a file that
// overlaps or skips its source. The run also stops before a source file that
// overlaps another one (two writers' histories the orphan scan could not tell
// apart yet, ./orphans.ts): merging either would pick a history by chance.
import type { LtxFileInfo } from '../replica/index.js';
import { overlapping } from './orphans.js';

export const COMPACTION_LEVELS = [1, 2, 3] as const;

const byMin = (a: LtxFileInfo, b: LtxFileInfo) => (a.minTXID < b.minTXID ? -1 : a.minTXID > b.minTXID ? 1 : 0);

/** The file of `level` that reaches furthest, or undefined for an empty level. */
export function newestAt(files: readonly LtxFileInfo[], level: number): LtxFileInfo | undefined {
  let best: LtxFileInfo | undefined;
  for (const f of files) if (f.level === level && (!best || f.maxTXID > best.maxTXID)) best = f;
  return best;
}

export interface NextInputs {
  inputs: LtxFileInfo[];
  /** Set when the run does not start right after the level's newest file (its source lost files). */
  gap?: string;
  /** Set when the run stopped before source files that overlap each other (undecided histories). */
  blocked?: string;
}

/** The level-1 files (in TXID order) the next file at `level` merges; empty when there is nothing new. */
export function nextInputs(files: readonly LtxFileInfo[], level: number): NextInputs {
  const after = newestAt(files, level)?.maxTXID ?? 0n;
  const source = files.filter((f) => f.level === level - 1 && f.minTXID > after).sort(byMin);
  if (source.length === 0) return { inputs: [] };
  const ambiguous = new Set(overlapping(files.filter((f) => f.level === level - 1 && f.maxTXID > after), level - 1));
  const run: LtxFileInfo[] = [];
  for (const f of source) {
    if (ambiguous.has(f) || (run.length > 0 && f.minTXID !== run[run.length - 1].maxTXID + 1n)) break;
    run.push(f);
  }
  const stop = run.length < source.length && ambiguous.has(source[run.length]) ? source[run.length] : undefined;
  const blocked = stop
    ? `L${level} stops before TXID ${stop.minTXID}: L${level - 1} files overlap there (${[...ambiguous].map((f) => f.key).join(', ')}) and no later file tells which history goes on`
    : undefined;
  if (run.length === 0) return { inputs: [], blocked };
  const gap =
    after > 0n && run[0].minTXID !== after + 1n
      ? `L${level} ends at TXID ${after} but the next L${level - 1} file starts at TXID ${run[0].minTXID}; L${level} continues from there`
      : undefined;
  return { inputs: run, gap, blocked };
}

/**
 * Litestream aligns compactions to the interval (`now.Truncate(interval)`): a level is
 * due once per window, when its newest file was written before the current window began.
 * That keeps a scheduler that ticks every interval from skipping a beat on jitter.
 */
export function isDue(lastWrittenMs: number | undefined, intervalMs: number, now: number): boolean {
  if (lastWrittenMs === undefined) return true;
  return lastWrittenMs < Math.floor(now / intervalMs) * intervalMs;
}

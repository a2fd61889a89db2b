// The durable record of a hydration in progress, beside its temp file: JSON lines,
// appended only after the pages they describe are fsynced into the temp file. A
// chunk record names the file by key, size and file checksum (the trailer's), so
// it is content-addressed: after a restart, or a re-plan when files were compacted
// away, any chunk of a file still in the plan is reused if its record is here. The
// plan's TXID is recorded too: a replica that went backwards (replaced) voids them all.
// A last line cut short by a crash is ignored.
import { closeSync, existsSync, readFileSync, rmSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { openPrivate, openPrivateAsync } from '../private-fs.js';

export interface ChunkRecord {
  key: string;
  size: number;
  fileChecksum: bigint;
  start: number;
  end: number;
  crc: bigint;
  hashed: number;
}

type Line =
  | { v: 1; url: string }
  | { plan: string; keys: string[] }
  | { c: [string, number, string, number, number, string, number] }
  | { drop: string }
  | { final: unknown };

export function recordId(r: Pick<ChunkRecord, 'key' | 'size' | 'fileChecksum' | 'start' | 'end'>): string {
  return `${r.key}|${r.size}|${r.fileChecksum.toString(16)}|${r.start}|${r.end}`;
}

export interface JournalState {
  records: Map<string, ChunkRecord>;
  /** Highest plan TXID the temp file was built for. */
  planTXID: bigint;
  /** Keys of the last plan recorded, in order (a restart prefers to continue it). */
  planKeys: string[];
  /** The sidecar of a finished hydration whose rename may not have happened. */
  final: unknown;
}

/** Read a journal; null when missing, unreadable, or for another replica URL. */
export function readJournal(path: string, url: string): JournalState | null {
  if (!existsSync(path)) return null;
  let lines: string[];
  try {
    const fd = openPrivate(path, 'read');
    try {
      lines = readFileSync(fd, 'utf8').split('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const state: JournalState = { records: new Map(), planTXID: 0n, planKeys: [], final: undefined };
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    let line: Line;
    try {
      line = JSON.parse(lines[i]) as Line;
    } catch {
      if (i >= lines.length - 2) break; // torn last line
      return null;
    }
    // Written by us, but read as hostile: a line of the wrong shape voids the journal (the
    // build starts over) rather than throwing or planting odd values in the state.
    if (typeof line !== 'object' || line === null || Array.isArray(line)) return null;
    if (i === 0) {
      if (!('v' in line) || line.v !== 1 || line.url !== url) return null;
    } else if ('plan' in line) {
      if (typeof line.plan !== 'string' || !/^\d{1,20}$/.test(line.plan) || !Array.isArray(line.keys) || !line.keys.every((k) => typeof k === 'string')) return null;
      const t = BigInt(line.plan);
      if (t > state.planTXID) state.planTXID = t;
      state.planKeys = line.keys;
    } else if ('c' in line) {
      const r = chunkRecord(line.c);
      if (r === null) return null;
      state.records.set(recordId(r), r);
    } else if ('drop' in line) {
      if (typeof line.drop !== 'string') return null;
      for (const [id, r] of state.records) if (r.key === line.drop) state.records.delete(id);
    } else if ('final' in line) {
      state.final = line.final;
    }
  }
  return state;
}

const HEX64 = /^[0-9a-f]{1,16}$/;
const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** A chunk line's fields, checked; null if any is off. */
function chunkRecord(c: unknown): ChunkRecord | null {
  if (!Array.isArray(c) || c.length !== 7) return null;
  const [key, size, fc, start, end, crc, hashed] = c as unknown[];
  if (typeof key !== 'string' || typeof fc !== 'string' || typeof crc !== 'string' || !HEX64.test(fc) || !HEX64.test(crc)) return null;
  if (!isCount(size) || !isCount(start) || !isCount(end) || !isCount(hashed) || start > end || end > size) return null;
  return { key, size, fileChecksum: BigInt(`0x${fc}`), start, end, crc: BigInt(`0x${crc}`), hashed };
}

/** Appends lines durably (write + fdatasync per batch). */
export class JournalWriter {
  private constructor(private readonly fh: FileHandle) {}

  /** Start a new journal (replacing any) or continue an existing one. */
  static async open(path: string, url: string, fresh: boolean): Promise<JournalWriter> {
    if (fresh) rmSync(path, { force: true });
    const fh = await openPrivateAsync(path, fresh ? 'create' : 'append');
    const w = new JournalWriter(fh);
    if (fresh) await w.append([{ v: 1, url }]);
    return w;
  }

  async append(lines: Line[]): Promise<void> {
    if (lines.length === 0) return;
    await this.fh.appendFile(lines.map((l) => JSON.stringify(l) + '\n').join(''));
    await this.fh.datasync();
  }

  plan(txid: bigint, keys: string[]): Line {
    return { plan: txid.toString(), keys };
  }

  chunk(r: ChunkRecord): Line {
    return { c: [r.key, r.size, r.fileChecksum.toString(16), r.start, r.end, r.crc.toString(16), r.hashed] };
  }

  drop(key: string): Line {
    return { drop: key };
  }

  final(sidecar: unknown): Line {
    return { final: sidecar };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

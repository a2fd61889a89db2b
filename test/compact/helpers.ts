// A replica built the way a writer leaves it: an L9 snapshot at TXID 1 and one L0
// file per later transaction (page diffs of real database images), with timestamps
// a little in the past so that `now` in tests is real time plus an offset.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Database } from '../../src/engine/index.js';
import { decodeLtx, encodeLtx } from '../../src/ltx/index.js';
import { layoutFor, listReplica, planRestore, restore } from '../../src/replica/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { diffLtx, putLtx, snapshotLtx, tempDir } from '../replica/helpers.js';

export const PAGE = 1024;

/** Database images after each of `steps` small transactions (grows, updates, shrinks). */
export class History {
  readonly images: Uint8Array[] = [];
  private readonly db: Database;
  private readonly file: string;
  private n = 0;
  /** `tag` marks the rows inserted: two histories with different tags share TXID 1 and differ from TXID 2 on (two writers). */
  constructor(dir = tempDir('compact'), private readonly tag = 's') {
    this.file = path.join(dir, 'history.db');
    this.db = new Database(this.file);
    this.db.exec(`PRAGMA page_size = ${PAGE}; PRAGMA journal_mode = DELETE; PRAGMA auto_vacuum = FULL;`);
    this.db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    this.snap();
  }
  /** Run `count` more transactions. */
  advance(count: number): void {
    for (let i = 0; i < count; i++) {
      const s = ++this.n;
      if (s % 9 === 0) this.db.run('DELETE FROM t WHERE id % 3 <> 0');
      else if (s % 4 === 0) this.db.run('UPDATE t SET v = ? WHERE id % 5 = ?', [`u${s}-${'y'.repeat(120)}`, s % 5]);
      else {
        this.db.exec('BEGIN');
        for (let k = 0; k < 12; k++) this.db.run('INSERT INTO t(v) VALUES (?)', [`${this.tag}${s}-${k}-${'x'.repeat(150)}`]);
        this.db.exec('COMMIT');
      }
      this.snap();
    }
  }
  close(): void {
    this.db.close();
  }
  private snap(): void {
    this.images.push(new Uint8Array(readFileSync(this.file)));
  }
}

/** Put TXIDs from..to of the history as L0 files (TXID t is images[t-1]); returns their bytes by TXID. */
export async function putL0(store: ObjectStore, h: History, from: number, to: number, baseMs: number, checksums = false): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  for (let t = from; t <= to; t++) {
    const ts = baseMs + t * 1000;
    const bytes = diffLtx(h.images[t - 2], h.images[t - 1], PAGE, BigInt(t), { checksums, timestamp: ts }).bytes;
    await putLtx(store, 0, BigInt(t), BigInt(t), bytes, ts);
    out.set(t, bytes);
  }
  return out;
}

/** A snapshot of TXID 1 at L9 plus L0 files 2..txids. */
export async function buildReplica(store: ObjectStore, h: History, txids: number, baseMs: number, checksums = false): Promise<Map<number, Uint8Array>> {
  const snap = snapshotLtx(h.images[0], PAGE, { checksums, timestamp: baseMs }).bytes;
  await putLtx(store, 9, 1n, 1n, snap, baseMs);
  const files = await putL0(store, h, 2, txids, baseMs, checksums);
  files.set(1, snap);
  return files;
}

/** One file for TXIDs min..max taking `prev` to `next` (the pages that differ). */
export function spanLtx(prev: Uint8Array, next: Uint8Array, min: number, max: number, timestampMs: number, checksums = true): Uint8Array {
  const one = diffLtx(prev, next, PAGE, BigInt(max), { checksums, timestamp: timestampMs });
  const d = decodeLtx(one.bytes);
  return encodeLtx({ ...d.header, minTXID: BigInt(min) }, d.pages, checksums ? { postApplyChecksum: d.trailer.postApplyChecksum } : {}).bytes;
}

/** Restore at `txid` (default latest) and return the bytes. */
export async function restored(store: ObjectStore, txid?: bigint): Promise<Uint8Array> {
  const out = path.join(tempDir('compact-restore'), 'out.db');
  await restore(store, txid === undefined ? {} : { txid }, out);
  return new Uint8Array(readFileSync(out));
}

export async function planLength(store: ObjectStore): Promise<number> {
  return (await planRestore(store)).files.length;
}

export async function keysAt(store: ObjectStore, level: number): Promise<string[]> {
  return (await listReplica(store, [level])).map((f) => f.key);
}

export function key(store: ObjectStore, level: number, min: number, max: number): string {
  return layoutFor(store).fileKey(level, BigInt(min), BigInt(max));
}

/** The database image an LTX file's pages describe when laid over `base` (pages 1..commit). */
export function apply(base: Uint8Array, ltx: Uint8Array): Uint8Array {
  const d = decodeLtx(ltx);
  const out = new Uint8Array(d.header.commit * d.header.pageSize);
  out.set(base.subarray(0, Math.min(base.length, out.length)));
  for (const p of d.pages) out.set(p.data, (p.pgno - 1) * d.header.pageSize);
  return out;
}

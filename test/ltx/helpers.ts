// Shared test helpers: golden file paths, the page recipes of golden/README.md,
// and a seeded PRNG so random tests are repeatable.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
export { prng } from '../support/prng.js';

export const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/golden');
export const PAGE = 4096;

export function golden(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(GOLDEN, rel)));
}

export interface LayoutLine {
  file: string;
  size: number;
  header: {
    flags: number;
    pageSize: number;
    commit: number;
    minTXID: string;
    maxTXID: string;
    timestamp: string;
    preApply: string;
    walOffset: string;
    walSize: string;
    walSalt1: number;
    walSalt2: number;
    nodeID: string;
  };
  frames: { offset: number; size: number; pgno: number; flags: number; compressedSize: number | null; dataSha256: string }[];
  zeroHeaderOffset: number;
  indexOffset: number;
  indexSizeField: number;
  index: { pgno: number; offset: number; size: number }[];
  trailer: { postApply: string; fileChecksum: string };
}

export function layout(): LayoutLine[] {
  return readFileSync(path.join(GOLDEN, 'layout.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LayoutLine);
}

/** Path of a layout line relative to GOLDEN. */
export function rel(line: LayoutLine): string {
  return line.file.replace(/^golden\//, '');
}

export function Z(): Uint8Array {
  const p = new Uint8Array(PAGE);
  p.set(new TextEncoder().encode('SQLite format 3\0'));
  return p;
}
export function Z3(): Uint8Array {
  const p = Z();
  p.set(new TextEncoder().encode('txid-3'), 100);
  return p;
}
export function PAT(m: number, a: number): Uint8Array {
  const p = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) p[i] = (i * m + a) & 0xff;
  return p;
}
export function FILL(v: number): Uint8Array {
  return new Uint8Array(PAGE).fill(v);
}
export function SHA(seed: string): Uint8Array {
  const p = new Uint8Array(PAGE);
  for (let k = 0; k < 128; k++) {
    const be = Buffer.alloc(4);
    be.writeUInt32BE(k);
    p.set(createHash('sha256').update(seed).update(be).digest(), k * 32);
  }
  return p;
}

export type Db = Map<number, Uint8Array>;
/** Database state after each golden transaction (README "Database state"). */
export const STATES: Record<number, Db> = {
  1: new Map([[1, Z()], [2, PAT(7, 2)], [3, SHA('ltx-page-3')]]),
  2: new Map([[1, Z()], [2, FILL(0xab)], [3, SHA('ltx-page-3')], [4, PAT(1, 0)]]),
  3: new Map([[1, Z3()], [2, FILL(0xab)], [3, SHA('ltx-page-3')]]),
  4: new Map(),
};
/** Pages each golden transaction file holds. */
export const TX_PAGES: Record<number, Db> = {
  1: STATES[1],
  2: new Map([[2, FILL(0xab)], [4, PAT(1, 0)]]),
  3: new Map([[1, Z3()]]),
  4: new Map(),
};
export const POST: Record<number, bigint> = { 1: 0xfb2e79bd39e645efn, 2: 0x81ae4003a72dac2en, 3: 0xb5c6f3a440984781n, 4: 0x8000000000000000n };

export function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}


export function txName(n: number): string {
  const h = n.toString(16).padStart(16, '0');
  return `${h}-${h}.ltx`;
}

// A small mutation fuzzer with a seeded PRNG (./prng.ts), for every parser that
// reads bytes from outside (test/support/fuzz-targets.ts). Each input is a corpus
// item mutated (bit flips, random and boundary bytes, truncation, duplicated or
// deleted ranges, splices of two items, interesting 32-bit values in header
// fields), then passed through the target's `fixup`
// (e.g. recomputing CRCs, so that forged records reach the decoders: a CRC is not a
// MAC). The target's `check` throws FuzzFailure for an unclean outcome; anything
// else it throws is also a failure. Time per input and memory are watched.
import { prng } from './prng.js';

export class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

export interface FuzzTarget {
  name: string;
  /** Valid inputs to mutate. */
  corpus(): Uint8Array[];
  /** Make a mutated input more interesting (optional): fix checksums, lengths. */
  fixup?(input: Uint8Array, rnd: () => number): Uint8Array;
  /** Parse `input`; return normally for a clean result or a clean error; throw otherwise. */
  check(input: Uint8Array): void;
  /** Release what the target made (temp files). */
  close?(): void;
}

export interface FuzzReport {
  name: string;
  inputs: number;
  failures: { seed: number; iteration: number; error: string; input: string }[];
  /** The slowest input, ms. */
  maxInputMs: number;
  /** Growth of heap + array buffers over the run, bytes. */
  memoryGrowth: number;
  ms: number;
}

/** Inputs slower than this count as hangs. */
export const HANG_MS = 2000;
const MAX_FAILURES_KEPT = 5;

export function mutate(corpus: Uint8Array[], rnd: () => number): Uint8Array {
  const pick = () => corpus[(rnd() * corpus.length) | 0];
  let m: Uint8Array = pick().slice();
  const rounds = 1 + ((rnd() * 3) | 0);
  for (let r = 0; r < rounds; r++) {
    const at = (rnd() * (m.length + 1)) | 0;
    switch ((rnd() * 9) | 0) {
      case 0: // truncate
        m = m.slice(0, at);
        break;
      case 1: // bit flip
        if (m.length) m[at % m.length] ^= 1 << ((rnd() * 8) | 0);
        break;
      case 2: // random byte
        if (m.length) m[at % m.length] = (rnd() * 256) | 0;
        break;
      case 3: // boundary bytes, possibly a whole 4- or 8-byte field
        if (m.length) {
          const v = [0, 0xff, 0x80, 0x7f, 1][(rnd() * 5) | 0];
          const n = [1, 4, 8][(rnd() * 3) | 0];
          for (let i = 0; i < n && at + i < m.length; i++) m[at + i] = v;
        }
        break;
      case 4: {
        // duplicate a range
        const len = (rnd() * 64) | 0;
        const from = (rnd() * m.length) | 0;
        const out = new Uint8Array(m.length + Math.min(len, m.length - from));
        out.set(m.subarray(0, at));
        out.set(m.subarray(from, from + len), at);
        out.set(m.subarray(at), at + Math.min(len, m.length - from));
        m = out;
        break;
      }
      case 5: {
        // delete a range
        const len = (rnd() * 64) | 0;
        m = Uint8Array.from([...m.subarray(0, at), ...m.subarray(at + len)]);
        break;
      }
      case 6: {
        // splice: head of this one, tail of another
        const other = pick();
        const cut = (rnd() * other.length) | 0;
        const out = new Uint8Array(Math.min(at, m.length) + other.length - cut);
        out.set(m.subarray(0, at));
        out.set(other.subarray(cut), Math.min(at, m.length));
        m = out;
        break;
      }
      case 7: {
        // an interesting 32-bit value somewhere in the first 128 bytes (header fields)
        const off = 4 * ((rnd() * 32) | 0);
        const v = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 4096, 65536][(rnd() * 8) | 0];
        if (off + 7 <= m.length) new DataView(m.buffer, m.byteOffset).setUint32(off + [0, 1, 2, 3][(rnd() * 4) | 0], v);
        break;
      }
      default: // ASCII digits and signs (text formats: numbers and JSON)
        if (m.length) m[at % m.length] = '-0123456789.eE"{}[],:n'.charCodeAt((rnd() * 22) | 0);
    }
  }
  return m;
}

/** Run `target` for `ms` milliseconds or `iterations` inputs, whichever ends first. */
export function runFuzz(target: FuzzTarget, options: { seed: number; ms: number; iterations?: number }): FuzzReport {
  const corpus = target.corpus();
  const rnd = prng(options.seed);
  const failures: FuzzReport['failures'] = [];
  const mem = () => {
    const u = process.memoryUsage();
    return u.heapUsed + u.arrayBuffers;
  };
  const mem0 = mem();
  const t0 = performance.now();
  let inputs = 0;
  let maxInputMs = 0;
  let failed = 0;
  try {
    while (performance.now() - t0 < options.ms && (options.iterations === undefined || inputs < options.iterations)) {
      let input = mutate(corpus, rnd);
      if (target.fixup && rnd() < 0.8) input = target.fixup(input, rnd);
      const t = performance.now();
      let error: string | null = null;
      try {
        target.check(input);
      } catch (err) {
        error = err instanceof FuzzFailure ? err.message : `unclean ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`;
      }
      const took = performance.now() - t;
      maxInputMs = Math.max(maxInputMs, took);
      if (error === null && took > HANG_MS) error = `took ${took.toFixed(0)} ms (a hang)`;
      if (error !== null) {
        failed++;
        if (failures.length < MAX_FAILURES_KEPT) failures.push({ seed: options.seed, iteration: inputs, error, input: Buffer.from(input.subarray(0, 512)).toString('base64') });
      }
      inputs++;
    }
  } finally {
    target.close?.();
  }
  if (failed > failures.length) failures.push({ seed: options.seed, iteration: -1, error: `${failed - failures.length} more failures`, input: '' });
  return { name: target.name, inputs, failures, maxInputMs, memoryGrowth: mem() - mem0, ms: performance.now() - t0 };
}

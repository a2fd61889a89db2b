// A short fuzz of every parser that reads bytes from outside (test/support/fuzz-targets.ts),
// a few seconds each with a fixed seed: clean outcomes only, no hangs, bounded memory.
// The longer run is `npm run fuzz` (scripts/fuzz.ts).
import { describe, expect, it } from 'vitest';
import { HANG_MS, runFuzz } from '../support/fuzz.js';
import { FUZZ_TARGETS } from '../support/fuzz-targets.js';

const MS = 2500;
// Fewer than this many inputs in MS would mean the target is too slow to fuzz usefully.
const MIN_INPUTS = 300;

describe('fuzz', () => {
  for (const make of FUZZ_TARGETS) {
    const target = make();
    it(`${target.name}: clean errors only, no hangs, bounded memory`, { timeout: 60_000 }, () => {
      const r = runFuzz(target, { seed: 20261205, ms: MS });
      console.log(`fuzz ${r.name}: ${r.inputs} inputs in ${r.ms.toFixed(0)} ms, ${r.failures.length} failures, slowest ${r.maxInputMs.toFixed(1)} ms, memory +${(r.memoryGrowth / 2 ** 20).toFixed(1)} MiB`);
      expect(r.failures).toEqual([]);
      expect(r.inputs).toBeGreaterThan(MIN_INPUTS);
      expect(r.maxInputMs).toBeLessThan(HANG_MS);
      expect(r.memoryGrowth).toBeLessThan(256 * 2 ** 20);
    });
  }
});

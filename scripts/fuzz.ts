// The longer fuzz run: every parser that reads bytes from outside
// (test/support/fuzz-targets.ts), for --seconds each (default 60), from --seed.
// Prints one JSON line per parser (inputs tried, failures with the input's first 512
// bytes in base64, slowest input, memory growth); exit 1 if any failed.
//   npm run fuzz -- --seconds 300 --seed 7 [--only buffer-log]
import { parseArgs } from 'node:util';
import { runFuzz } from '../test/support/fuzz.js';
import { FUZZ_TARGETS } from '../test/support/fuzz-targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 1e9) },
    only: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const seed = Number(values.seed);
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed)) {
  process.stderr.write('usage: fuzz [--seconds N] [--seed N] [--only NAME]\n');
  process.exit(2);
}
let failed = 0;
for (const make of FUZZ_TARGETS) {
  const target = make();
  if (values.only !== undefined && target.name !== values.only) {
    target.close?.();
    continue;
  }
  const r = runFuzz(target, { seed, ms: seconds * 1000 });
  failed += r.failures.length;
  process.stdout.write(`${JSON.stringify({ parser: r.name, seed, inputs: r.inputs, failures: r.failures, slowestMs: +r.maxInputMs.toFixed(1), memoryGrowthMiB: +(r.memoryGrowth / 2 ** 20).toFixed(1), ms: Math.round(r.ms) })}\n`);
}
process.exit(failed > 0 ? 1 : 0);

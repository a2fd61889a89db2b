// CLI for the fault-injecting S3 proxy (test/support/fault-proxy.ts), for benchmarks
// and manual runs. Point the S3 client at the printed endpoint; Ctrl-C prints counters
// (and SIGUSR2 prints them and goes on).
//   npx tsx scripts/fault-proxy.ts --upstream http://127.0.0.1:40380 --latency 20 --bandwidth 104857600
import { parseArgs } from 'node:util';
import { FaultProxy } from '../test/support/fault-proxy.js';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    latency: { type: 'string', default: '0' }, // ms before each response's first byte
    bandwidth: { type: 'string', default: '0' }, // bytes/s per connection, 0 = unlimited
    'error-rate': { type: 'string', default: '0' }, // 0..1, 503 SlowDown
    'reset-rate': { type: 'string', default: '0' }, // 0..1, TCP resets
    'truncate-rate': { type: 'string', default: '0' }, // 0..1, GET bodies cut short
    seed: { type: 'string', default: '1' },
    'ignore-if-none-match': { type: 'boolean', default: false }, // answer a refused If-None-Match: * PUT with 200
  },
});

function num(name: Exclude<keyof typeof values, 'ignore-if-none-match'>): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`--${name} must be a non-negative number, got ${values[name]}`);
  return n;
}

if (!values.upstream) {
  process.stderr.write('usage: fault-proxy --upstream http://host:port [--port N] [--latency MS] [--bandwidth BYTES_PER_S] [--error-rate R] [--reset-rate R] [--truncate-rate R] [--seed N] [--ignore-if-none-match]\n');
  process.exit(2);
}
const proxy = await FaultProxy.start(values.upstream, {
  port: num('port'),
  latencyMs: num('latency'),
  bandwidthBytesPerSec: num('bandwidth'),
  errorRate: num('error-rate'),
  resetRate: num('reset-rate'),
  truncateRate: num('truncate-rate'),
  seed: num('seed'),
  ignoreIfNoneMatch: values['ignore-if-none-match'],
});
process.stdout.write(`S3_ENDPOINT=${proxy.endpoint}\n`);
const stop = async (): Promise<void> => {
  process.stdout.write(`${JSON.stringify(proxy.stats())}\n`);
  await proxy.close();
  process.exit(0);
};
process.on('SIGUSR2', () => void process.stdout.write(`${JSON.stringify(proxy.stats())}\n`));
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

// The writer's compaction and retention policy from the environment and open()'s
// `compaction` option (issue 12): Litestream's defaults, each variable read, options
// winning, and bad values named.
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/compact/policy.js';
import { loadConfig } from '../../src/config.js';

const URL_ENV = { LITESTREAM_REPLICA_URL: 'file:///tmp/replica' };

describe('compaction config', () => {
  it('defaults to Litestream v0.5: L1 30 s, L2 5 min, L3 1 h, daily snapshots kept 24 h, L0 kept 5 min, 5 min reader grace', () => {
    const c = loadConfig({}, URL_ENV).compaction;
    expect(c).toEqual(DEFAULT_POLICY);
    expect(c).toMatchObject({ l1IntervalMs: 30_000, l2IntervalMs: 300_000, l3IntervalMs: 3_600_000, snapshotIntervalMs: 86_400_000, retentionMs: 86_400_000, l0RetentionMs: 300_000, readerGraceMs: 300_000 });
  });

  it('reads every variable, and options win over them', () => {
    const env = {
      ...URL_ENV,
      LITESTREAM_L1_INTERVAL: '10s',
      LITESTREAM_L2_INTERVAL: '2m',
      LITESTREAM_L3_INTERVAL: '30m',
      LITESTREAM_SNAPSHOT_INTERVAL: '6h',
      LITESTREAM_SNAPSHOT_RETENTION: '72h',
      LITESTREAM_L0_RETENTION: '1m',
      LITESTREAM_READER_GRACE: '90s',
    };
    expect(loadConfig({}, env).compaction).toMatchObject({ l1IntervalMs: 10_000, l2IntervalMs: 120_000, l3IntervalMs: 1_800_000, snapshotIntervalMs: 21_600_000, retentionMs: 259_200_000, l0RetentionMs: 60_000, readerGraceMs: 90_000 });
    expect(loadConfig({ compaction: { l1Interval: 500, readerGrace: '2m' } }, env).compaction).toMatchObject({ l1IntervalMs: 500, readerGraceMs: 120_000, l2IntervalMs: 120_000 });
  });

  it('names the variable on a bad value', () => {
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_L1_INTERVAL: 'often' })).toThrow(/LITESTREAM_L1_INTERVAL="often" is not a positive duration/);
    expect(() => loadConfig({}, { ...URL_ENV, LITESTREAM_READER_GRACE: '-5s' })).toThrow(/LITESTREAM_READER_GRACE/);
    expect(() => loadConfig({ compaction: { snapshotRetention: 0 } }, URL_ENV)).toThrow(/LITESTREAM_SNAPSHOT_RETENTION/);
  });
});

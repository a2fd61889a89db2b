// Crash test, S3 replica (the run's radosgw), short sync intervals (50-150 ms): 12
// SIGKILLs of a writer process at random moments (./crash-scenario.ts). With
// crash-s3-slow-sync.test.ts (13) and crash.test.ts (25, file://): 50 in all.
import { afterAll, describe, it } from 'vitest';
import { removeTempDirs } from '../replica/helpers.js';
import { crashScenario } from './crash-scenario.js';
import { killChildren, s3Replica } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

describe('the writer process killed at random moments (S3, sync every 50-150 ms)', () => {
  it('keeps every acknowledged transaction, whole, across 12 SIGKILLs; restores to the writer view byte for byte', async () => {
    await crashScenario(s3Replica('crash'), 12, 23, [50, 150]);
  }, 170_000);
});

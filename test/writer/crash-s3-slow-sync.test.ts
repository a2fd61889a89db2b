// Crash test, S3 replica (the run's radosgw), longer sync intervals (150-300 ms): 13
// SIGKILLs of a writer process at random moments (./crash-scenario.ts). With
// crash-s3.test.ts (12) and crash.test.ts (25, file://): 50 in all.
import { afterAll, describe, it } from 'vitest';
import { removeTempDirs } from '../replica/helpers.js';
import { crashScenario } from './crash-scenario.js';
import { killChildren, s3Replica } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

describe('the writer process killed at random moments (S3, sync every 150-300 ms)', () => {
  it('keeps every acknowledged transaction, whole, across 13 SIGKILLs; restores to the writer view byte for byte', async () => {
    await crashScenario(s3Replica('crash-slow'), 13, 29, [150, 300]);
  }, 170_000);
});

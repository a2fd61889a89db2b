// Crash test, file:// replica: 25 SIGKILLs of a writer process at random moments, sync
// intervals 50-300 ms (./crash-scenario.ts). The other 25 run on the S3 server, split
// in two files to keep each short: crash-s3.test.ts (50-150 ms) and
// crash-s3-slow-sync.test.ts (150-300 ms).
import { afterAll, describe, it } from 'vitest';
import { removeTempDirs } from '../replica/helpers.js';
import { crashScenario } from './crash-scenario.js';
import { fileReplica, killChildren } from './helpers.js';

afterAll(() => {
  killChildren();
  removeTempDirs();
});

describe('the writer process killed at random moments (file://)', () => {
  it('keeps every acknowledged transaction, whole, across 25 SIGKILLs; restores to the writer view byte for byte', async () => {
    await crashScenario(fileReplica('crash'), 25, 11);
  }, 170_000);
});

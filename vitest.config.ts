import { defineConfig } from 'vitest/config';

// One real S3-compatible server (Ceph radosgw on 127.0.0.1, or the endpoint in
// S3_ENDPOINT) is started once for the whole run by the global setup.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core machines: crash tests spawn processes; keep files from starving each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

// Global setups: dist/ is built once first (tests spawn the CLI), then one real
// S3-compatible server (Ceph radosgw on 127.0.0.1, or the endpoint in S3_ENDPOINT)
// is started for the whole run.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-setup.ts', 'test/support/global-setup.ts'],
    // The SDK warns on every process that Node 20 support ends in 2027; Node 20 is our floor.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core machines: crash tests spawn processes; keep files from starving each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

// Shared by every test suite. Integration suites get the real Kubernetes test environment through
// tests/support/global-setup.ts (lazy: nothing starts until a suite calls useTestenv()).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    globalSetup: ['tests/support/global-setup.ts'],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/isolate-state.ts'],
    // Model and training tests run real tfjs kernels on a shared 2-core machine. The timeouts only
    // guard against hangs: speed is measured by `npm run bench`, never by tests.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});

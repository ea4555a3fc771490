import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/temp-root.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // onnxruntime sessions and the model cache are heavy: run files in forked processes, two at a time (2-core CI).
    pool: 'forks',
    maxWorkers: 2,
  },
});

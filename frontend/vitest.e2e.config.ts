import { defineConfig } from 'vitest/config'

// Browser tests: one Chromium, one server per file, run one file at a time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default'],
  },
})

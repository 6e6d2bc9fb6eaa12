import { defineConfig } from 'vitest/config'

// Browser tests: one Chromium, one server per file, run one file at a time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    // expect.poll waits this long unless a test says otherwise (vitest's own default is 1 s):
    // a wall copies the live state at most every ~500 ms, and on a loaded CI machine a render
    // after it can take another second. Where time is the point, tests measure it themselves
    // (e.g. the 预警 page within a second) or give their own timeout.
    expect: { poll: { timeout: 5000 } },
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default'],
  },
})

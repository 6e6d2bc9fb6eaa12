import { defineConfig } from 'vitest/config'

// The wall on a cheap TV stick (`npm run test:tv`, scripts/tv.tv.ts): a measurement, not part
// of `make test`. Its timeout follows TV_DURATION.
export default defineConfig({
  test: { include: ['scripts/**/*.tv.ts'], environment: 'node', hookTimeout: 90_000, fileParallelism: false, maxWorkers: 1 },
})

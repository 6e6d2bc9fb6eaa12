import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { include: ['e2e/**/*.soak.ts'], environment: 'node', hookTimeout: 90_000, fileParallelism: false },
})

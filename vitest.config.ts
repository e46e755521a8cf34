import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**', 'test/lab/**'],
    setupFiles: ['./test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two shared cores: real libp2p nodes and SQLite files in parallel files
    // starve each other; two workers keep the run fast and the timings sane.
    maxWorkers: 2,
    pool: 'forks'
  }
})

import { defineConfig } from 'vitest/config'

// One project per test layer, so the fast part runs alone
// (`npm run test:unit`, or `npx vitest run --project unit`); `vitest run`
// runs them all. The projects extend this root config: its setup file,
// timeouts and pool apply to each. `include` is set per project only, since a
// project's arrays are appended to the root's rather than replacing them.
export default defineConfig({
  test: {
    exclude: ['dist/**', 'node_modules/**', 'test/lab/**'],
    setupFiles: ['./test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two shared cores: real libp2p nodes and SQLite files in parallel files
    // starve each other; two workers keep the run fast and the timings sane.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      // Pure code, a fake clock: seconds.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // Real SQLite files, streams in memory, child processes on this machine.
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      // Real nodes, daemons and relays on 127.0.0.1.
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } }
    ]
  }
})

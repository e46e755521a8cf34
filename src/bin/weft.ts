#!/usr/bin/env node
/**
 * The `weft` binary: the CLI (src/cli/main.ts), given the daemon's entry
 * point (src/daemon/main.ts) for the commands that host the daemon or open
 * its data dir. The entry point is imported only when such a command runs,
 * so `weft get` loads no libp2p and no better-sqlite3.
 *
 * What users run is this module and the CLI bundled into one CommonJS file,
 * dist/src/bin/weft.cjs (scripts/build.mjs): Node loads one CommonJS file
 * faster than a tree of ES modules. The daemon's entry point stays tsc's ES
 * module output next to it, and `import()` loads it from there. No top-level
 * await, since CommonJS has none.
 */
import { EXIT, main } from '../cli/main.js'

void main(process.argv.slice(2), async () => await import('../daemon/main.js')).then(code => {
  // `weft start` sets its own exit code when its stop fails.
  if (code !== EXIT.ok || process.argv[2] !== 'start') process.exitCode = code
})

#!/usr/bin/env node
/**
 * The `weft` binary: the CLI (src/cli/main.ts), given the daemon's entry
 * point (src/daemon/main.ts) for the commands that host the daemon or open
 * its data dir. The entry point is imported only when such a command runs,
 * so `weft get` loads no libp2p and no better-sqlite3.
 */
import { EXIT, main } from '../cli/main.js'

const code = await main(process.argv.slice(2), async () => await import('../daemon/main.js'))
// `weft start` sets its own exit code when its stop fails.
if (code !== EXIT.ok || process.argv[2] !== 'start') process.exitCode = code

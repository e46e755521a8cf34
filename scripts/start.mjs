#!/usr/bin/env node
/**
 * `npm start [-- <weft start options>]`: build when a source changed
 * (scripts/build.mjs), then run `weft start` with the given options, and stop
 * it when npm is stopped.
 *
 * Why a child and not the daemon in this process: npm forwards SIGINT and
 * SIGTERM to its script, and Ctrl-C in a terminal also sends SIGINT to every
 * process of the foreground group. So each Ctrl-C reaches this process twice,
 * and `weft start` reads a second signal as "exit now, skip the clean stop".
 * The daemon therefore runs in a process group of its own (it gets no signal
 * from the terminal) and this process passes on one signal per request: a
 * copy of the same signal within DUPLICATE_SIGNAL_WINDOW_MS of the last one
 * passed on is the other delivery of the same Ctrl-C; a later one is the
 * user asking again, and is passed on (the daemon then exits at once).
 * SIGHUP (the terminal went away) asks the daemon for a clean stop
 * (SIGTERM): it no longer has a terminal of its own that would tell it.
 *
 * The package.json script is `exec node scripts/start.mjs`: without `exec`
 * the shell stays between npm and this process, npm's SIGTERM ends the shell
 * only, and the daemon is left running without a parent.
 *
 * The exit is the daemon's: its exit code, or the same signal re-raised.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, staleReason, startBuild } from './build.mjs'

/** Two deliveries of one Ctrl-C (the terminal's and npm's copy) arrive this close together. */
const DUPLICATE_SIGNAL_WINDOW_MS = 500
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP']
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }

/** What a signal asks of the child at this moment (set per phase). */
let onSignal = sig => { process.exit(128 + SIGNAL_NUMBERS[sig]) }
for (const sig of SIGNALS) process.on(sig, () => onSignal(sig))

const reason = staleReason()
if (reason !== null) {
  process.stderr.write(`weft: building first (${reason}); later starts skip this until a source changes\n`)
  const build = startBuild()
  let stopped = null
  // tsc shares our process group: Ctrl-C reaches it directly, npm's SIGTERM only through us.
  onSignal = sig => { stopped ??= sig; build.child.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig) }
  const code = await build.done
  if (stopped !== null) process.exit(128 + SIGNAL_NUMBERS[stopped])
  if (code !== 0) {
    process.stderr.write(`weft: the build failed (${code === null ? 'tsc was stopped by a signal' : `exit code ${code}`}); not starting\n`)
    process.exit(code ?? 1)
  }
}

const daemon = spawn(process.execPath, [join(ROOT, 'dist/src/bin/weft.cjs'), 'start', ...process.argv.slice(2)], {
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true
})
let last = { sig: '', at: -Infinity }
onSignal = sig => {
  const forward = sig === 'SIGHUP' ? 'SIGTERM' : sig
  const now = performance.now()
  if (forward === last.sig && now - last.at < DUPLICATE_SIGNAL_WINDOW_MS) return
  last = { sig: forward, at: now }
  daemon.kill(forward)
}
daemon.on('error', err => {
  process.stderr.write(`weft: could not run the daemon: ${err.message}\n`)
  process.exit(1)
})
daemon.on('exit', (code, signal) => {
  if (signal === null) process.exit(code ?? 1)
  for (const sig of SIGNALS) process.removeAllListeners(sig)
  process.kill(process.pid, signal)
})

/**
 * The process shell both binaries share: the exit-code table, a graceful
 * stop on SIGINT/SIGTERM with a deadline, and stdout that survives its
 * reader going away.
 */
import type { Logger } from './log.js'

/** Exit codes of `weft` and `weft-relay`, one table. */
export const EXIT = {
  ok: 0,
  /** The command was well-formed but failed (not found, a sync that failed, a peer that refused, a stop that failed). */
  error: 1,
  /** Bad arguments or configuration: fix the command line or the config file. */
  usage: 2,
  /** No daemon answers on the control socket (`weft` only). */
  daemonDown: 3,
  /** A second SIGINT/SIGTERM cut a graceful stop short (128 + SIGINT, the shell's convention for an interrupt). */
  interrupted: 130
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  readonly requested: Promise<NodeJS.Signals>
  /** Removes the handlers (tests, and callers that run more than once in a process). */
  dispose(): void
}

/**
 * Installs SIGINT/SIGTERM handlers; call it before anything starts, so a
 * supervisor's stop during start-up stops the process cleanly instead of
 * killing it half-way (the default action). The first signal is logged and
 * resolves `requested`; a second one exits at once with `EXIT.interrupted`.
 */
export function onStopSignals (log: Logger): StopSignals {
  let signals = 0
  let resolveRequested: (sig: NodeJS.Signals) => void = () => {}
  const requested = new Promise<NodeJS.Signals>(resolve => { resolveRequested = resolve })
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      log('warn', `second ${sig}: exiting now`)
      process.exit(EXIT.interrupted)
    }
    log('info', `${sig}: stopping`)
    resolveRequested(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    requested,
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

/**
 * Runs `stop`, logging "stopped" or why it failed (then the exit code is
 * `EXIT.error`). A stop still running after `deadlineMs` is logged and the
 * process exits with `EXIT.error`: a hung stop must not outlive the service
 * manager's patience (systemd's TimeoutStopSec ends in SIGKILL, with no word
 * of why).
 */
export async function gracefulStop (log: Logger, stop: () => Promise<void>, deadlineMs: number): Promise<void> {
  const timer = setTimeout(() => {
    log('error', `stop did not finish within ${deadlineMs} ms: exiting now`)
    process.exit(EXIT.error)
  }, deadlineMs)
  // The deadline alone must not keep a stopped process alive.
  timer.unref()
  try {
    await stop()
    log('info', 'stopped')
  } catch (err) {
    log('error', `stop failed: ${String(err)}`)
    process.exitCode = EXIT.error
  } finally {
    clearTimeout(timer)
  }
}

let stdoutGoneController: AbortController | undefined

/**
 * Aborted when the reader of stdout goes away (`weft ls | head -1`): output
 * stops, a streaming command ends, and the process exits with its own status
 * instead of dying on EPIPE with a stack trace.
 */
export function stdoutGone (): AbortSignal {
  if (stdoutGoneController === undefined) {
    const controller = new AbortController()
    stdoutGoneController = controller
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      controller.abort()
    })
  }
  return stdoutGoneController.signal
}

/** Writes one line to stdout, or nothing once its reader is gone. */
export function writeLine (s: string): void {
  if (!stdoutGone().aborted && !process.stdout.destroyed) process.stdout.write(s + '\n')
}

/**
 * The port through which the CLI runs the commands that host the daemon or
 * work on its data dir (start, init with no daemon, recover). The CLI only
 * declares their options and prints their results; the `weft` binary
 * (src/bin/weft.ts) supplies the daemon's entry point (src/daemon/main.ts),
 * loaded only when one of these commands runs.
 */
import type { CommandValues, InitResult, RecoverResult } from '../daemon/api-types.js'
import type { Paths } from '../daemon/paths.js'
import { isErrorCode, WeftError } from '../errors.js'

export interface DaemonEntry {
  /** Runs the daemon in the foreground until SIGINT or SIGTERM. */
  start: (paths: Paths, values: CommandValues) => Promise<void>
  /** Makes a group of this device on the data dir (no daemon running). */
  init: (paths: Paths, name?: string) => Promise<InitResult>
  /** Brings back a device whose store is lost or damaged (daemon stopped). */
  recover: (paths: Paths, values: CommandValues, code: string | undefined, progress: (line: string) => void) => Promise<RecoverResult>
}

/** Loads the daemon's entry point when a command needs it. */
export type LoadDaemonEntry = () => Promise<DaemonEntry>

/**
 * `load`, with the errors of the entry point's functions made the CLI's own.
 * In the `weft` binary the CLI is one bundled file with its own copy of
 * errors.ts, while the entry point is loaded from tsc's modules with theirs,
 * so a WeftError thrown there is not `instanceof` the CLI's WeftError and
 * would exit 1 as an unexpected failure. As across a process boundary, the
 * code is what travels: an error that carries one of our codes is rethrown
 * as the CLI's WeftError with that code, its name, message and stack.
 */
export function adoptErrors (load: LoadDaemonEntry): LoadDaemonEntry {
  return async () => {
    const entry = await load()
    const adopting = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      try { return await f(...args) } catch (err) { throw adopt(err) }
    }
    return { start: adopting(entry.start), init: adopting(entry.init), recover: adopting(entry.recover) }
  }
}

function adopt (err: unknown): unknown {
  if (err instanceof WeftError || !(err instanceof Error)) return err
  const code = (err as { code?: unknown }).code
  if (!isErrorCode(code)) return err
  const own = new WeftError(err.message, code, { cause: err.cause })
  own.name = err.name
  if (err.stack !== undefined) own.stack = err.stack
  return own
}

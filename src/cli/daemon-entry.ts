/**
 * The port through which the CLI runs the commands that host the daemon or
 * work on its data dir (start, init with no daemon, recover). The CLI only
 * declares their options and prints their results; the `weft` binary
 * (src/bin/weft.ts) supplies the daemon's entry point (src/daemon/main.ts),
 * loaded only when one of these commands runs.
 */
import type { CommandValues, InitResult, RecoverResult } from '../daemon/api-types.js'
import type { Paths } from '../daemon/paths.js'

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

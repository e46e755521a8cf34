/**
 * The daemon's contract with its clients, as types only: what the control
 * API answers (docs/control-api.md) and what the daemon's entry commands
 * (src/daemon/main.ts) return. The CLI imports this module and nothing else
 * of the daemon's runtime (`import type` is erased), so it stays light.
 */

/** Parsed command-line flags, as the CLI hands them to the daemon's entry commands. */
export type CommandValues = Readonly<Record<string, string | boolean | string[] | undefined>>

/** `weft init`. */
export interface InitResult { created: boolean, group: string, device: string }

/** `weft recover`. */
export interface RecoverResult {
  readonly mode: 'joined' | 'fresh' | 'finished'
  /** The old device id, when known. */
  readonly previous: string | null
  readonly device: string
  readonly group: string | null
  /** Where the old files were moved. */
  readonly kept: string | null
  /** Ops in the new store, and how many of them are the old identity's. */
  readonly ops: number
  readonly previousOps: number
  /** The old identity was revoked: by its own key (with a succession statement), or by this device (--replaces). */
  readonly retired: 'self' | 'revoked' | 'no'
}

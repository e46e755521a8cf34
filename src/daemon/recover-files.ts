/**
 * The files `weft recover` moves: the damaged store and old key go aside into
 * `<data dir>/replaced-<time>/` (kept, never deleted), and the new store is
 * built in `<data dir>/recovering/` and moved in only once it has joined and
 * synced. A `READY` file in `recovering/` marks a new store that is complete
 * but not yet moved in (weft recover was interrupted right at the end): a
 * daemon refuses to start beside it, and `weft recover` finishes the move.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { WeftError } from '../errors.js'
import { SIDE_FILES } from '../store/sqlite.js'

export const STAGING_DIR = 'recovering'
export const READY_FILE = 'READY'
/** The files that make up a device's store and identity. */
export const STORE_FILES = ['replica.db', ...SIDE_FILES.map(s => `replica.db${s}`), 'device.key'] as const

export class RecoveryPendingError extends WeftError {
  static override name = 'RecoveryPendingError'
  constructor (message: string) { super(message, 'RECOVERY_PENDING') }
}

export function stagingDir (dataDir: string): string { return join(dataDir, STAGING_DIR) }

/** A complete new store waits in recovering/: starting on the old one now would undo the recovery. */
export function checkNoPendingRecovery (dataDir: string): void {
  if (existsSync(join(stagingDir(dataDir), READY_FILE))) {
    throw new RecoveryPendingError(`a weft recover on ${dataDir} was interrupted after the new store was complete: run weft recover again (no code needed) to finish it`)
  }
}

function fsyncDir (dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try { fsyncSync(fd) } finally { closeSync(fd) }
  } catch {}
}

/** Marks the staged store complete (durably, before anything is moved). */
export function markReady (dataDir: string): void {
  const dir = stagingDir(dataDir)
  writeFileSync(join(dir, READY_FILE), `${new Date().toISOString()}\n`, { mode: 0o600 })
  fsyncDir(dir)
}

/** Moves the store files present in `dataDir` into a new `replaced-<time>` directory; returns it, or undefined when there was nothing to move. */
export function moveAside (dataDir: string, now = new Date()): string | undefined {
  const present = STORE_FILES.filter(f => existsSync(join(dataDir, f)))
  if (present.length === 0) return undefined
  const dir = join(dataDir, `replaced-${now.toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(dir, { mode: 0o700 })
  for (const f of present) renameSync(join(dataDir, f), join(dir, f))
  fsyncDir(dir)
  fsyncDir(dataDir)
  return dir
}

/** Moves the staged store into `dataDir` (whose own store files were moved aside) and removes what is left of the staging dir. */
export function promoteStaging (dataDir: string): void {
  const dir = stagingDir(dataDir)
  for (const f of STORE_FILES) {
    if (existsSync(join(dir, f))) renameSync(join(dir, f), join(dataDir, f))
  }
  fsyncDir(dataDir)
  // What is left is the staged daemon's lock, socket dir and READY marker.
  rmSync(dir, { recursive: true, force: true })
}

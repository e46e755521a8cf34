/**
 * One daemon per data dir: an exclusive lock on `<data dir>/daemon.lock`
 * held by the kernel for the life of the process (see `holdExclusiveLock`),
 * so a crashed or killed daemon never leaves a lock behind, whatever its pid
 * was and whoever has that pid now.
 */
import { mkdirSync } from 'node:fs'
import { WeftError } from '../errors.js'
import { holdExclusiveLock } from '../store/sqlite.js'

export class AlreadyRunningError extends WeftError {
  static override name = 'AlreadyRunningError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'ALREADY_RUNNING', options) }
}

export function acquireLock (file: string, dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  try {
    return holdExclusiveLock(file)
  } catch (err) {
    if ((err as Error).name === 'LockHeldError') {
      throw new AlreadyRunningError(`another weft process is already running on ${dataDir} (a daemon, weft init or weft recover): it holds the lock ${file}. Stop it first, or use another --data-dir`, { cause: err })
    }
    throw err
  }
}

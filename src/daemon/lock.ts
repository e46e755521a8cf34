/**
 * One daemon per data dir: a lock file holding the owner's pid, created with
 * O_EXCL. A lock left by a process that no longer exists is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { WeftError } from '../errors.js'

export class AlreadyRunningError extends WeftError {
  static override name = 'AlreadyRunningError'
  constructor (message: string) { super(message, 'ALREADY_RUNNING') }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function acquireLock (file: string, dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => { try { if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file) } catch {} }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw new AlreadyRunningError(`another weft daemon (pid ${pid}) is already running on ${dataDir}; stop it first, or use another --data-dir`)
      }
      unlinkSync(file) // stale: its owner is gone
    }
  }
  throw new AlreadyRunningError(`could not take the lock ${file}`)
}

/**
 * Secret files (the daemon's device key, the relay's identity key): mode
 * 0600 from the first byte, written atomically and durably, and refused when
 * other users can read them: a key someone else may have copied is not used
 * silently. The caller owns the format and the error classes; this module
 * owns the file handling both binaries share.
 */
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'

/** The mode secret files are written with: owner read/write, nothing for anyone else. */
export const SECRET_FILE_MODE = 0o600

/** True when users other than the owner may read or write `st`'s file (never on Windows, which has no such mode bits). */
export function readableByOthers (st: Stats): boolean {
  return process.platform !== 'win32' && (st.mode & 0o077) !== 0
}

/**
 * Reads the secret file `file`, or returns undefined when there is none.
 * `check` sees the file's stat before a byte is read, and throws to refuse it
 * (readable by others, a size no key has); it runs on every platform, so it
 * should test `readableByOthers(st)` rather than the mode bits.
 */
export function readSecretFile (file: string, check: (st: Stats) => void): Buffer | undefined {
  try {
    const st = statSync(file)
    check(st)
    return readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Writes `bytes` to `file` durably and atomically, 0600 from the first byte:
 * a temp file beside it (created exclusively), fsynced, renamed over `file`,
 * then the directory fsynced so the rename survives a power cut. A crash
 * leaves either the old file or the new one, never half of one.
 */
export function writeSecretFile (file: string, bytes: Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`
  const fd = openSync(tmp, 'wx', SECRET_FILE_MODE)
  try {
    writeSync(fd, bytes)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  // The umask may have narrowed the mode at creation, never widened it; this makes it exact.
  chmodSync(tmp, SECRET_FILE_MODE)
  renameSync(tmp, file)
  try {
    const dir = openSync(dirname(file), 'r')
    try { fsyncSync(dir) } finally { closeSync(dir) }
  } catch {}
}

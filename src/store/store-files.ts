/**
 * The files of a replica's directory, seen from outside SQLite: whether the
 * database exists, and their permissions.
 *
 * Everything in the directory is this user's alone: captured data
 * (replica.db and its -wal and -shm), the device key, the API token and the
 * lock. `securePermissions` checks that at start and narrows what is too
 * open (a directory made by hand with `--data-dir`, files from an older weft
 * or a restore), and refuses what it cannot fix: a directory or file owned
 * by another user.
 */
import { chmodSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { WeftError } from '../errors.js'

export type DatabaseState = 'missing' | 'empty' | 'present'

/** Whether `file` is missing, empty (SQLite would treat it as a new database), or holds something. */
export function databaseState (file: string): DatabaseState {
  try {
    return statSync(file).size === 0 ? 'empty' : 'present'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw err
  }
}

/** The directory or one of its files is owned by another user: weft cannot make it private. */
export class BadPermissionsError extends WeftError {
  static override name = 'BadPermissionsError'
  constructor (message: string) { super(message, 'BAD_PERMISSIONS') }
}

/** The data dir's own mode and every file's in it. */
export const DATA_DIR_MODE = 0o700
export const DATA_FILE_MODE = 0o600

export interface PermissionFix { readonly path: string, readonly from: number, readonly to: number }

/**
 * Makes `dir` 0700 and every file directly in it 0600 (subdirectories 0700),
 * returning what it changed. The device key is not touched here: a key that
 * others could read is refused where it is loaded, since narrowing it now
 * cannot undo a copy someone made.
 */
export function securePermissions (dir: string, keep: readonly string[] = ['device.key']): PermissionFix[] {
  const fixes: PermissionFix[] = []
  if (process.platform === 'win32') return fixes
  const uid = process.getuid?.()
  const fix = (path: string, want: number): void => {
    const st = statSync(path)
    if (uid !== undefined && uid !== 0 && st.uid !== uid) {
      throw new BadPermissionsError(`${path} belongs to another user (uid ${st.uid}); weft keeps its data private to the user that runs it: use a data dir of your own`)
    }
    const mode = st.mode & 0o777
    if ((mode & ~want) !== 0) {
      chmodSync(path, mode & want)
      fixes.push({ path, from: mode, to: mode & want })
    }
  }
  fix(dir, DATA_DIR_MODE)
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (keep.includes(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) fix(path, DATA_DIR_MODE)
    else if (entry.isFile()) fix(path, DATA_FILE_MODE)
  }
  return fixes
}

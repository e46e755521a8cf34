/**
 * The one file that imports better-sqlite3: opens a database file with the
 * pragmas weft relies on, and turns SQLite's failures into weft's typed
 * errors (`StoreOpenError`, `StoreCorruptError`, `DiskFullError`).
 *
 * Whether a file is sound is SQLite's call, never a guess from its size or
 * header: a WAL database whose main file is shorter than its header's page
 * count is a normal state after an interrupted checkpoint (the WAL still
 * holds the pages), and SQLite opens it correctly. Damage is what SQLite's
 * own checks report: SQLITE_NOTADB and SQLITE_CORRUPT while reading, and
 * `PRAGMA quick_check`, which the replica runs at every open.
 */
import { closeSync, openSync, rmSync, statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { DiskFullError, StoreCorruptError, StoreOpenError, WeftError } from '../errors.js'

export type Db = Database.Database
export type Statement = Database.Statement

/** What every message about a damaged store says to do. */
export const RECOVER_HINT = 'Stop weft and run `weft recover <invite code>` with a code from `weft invite` on another device of the group ' +
  '(or `weft recover --fresh` if this device was alone in its group); the damaged files are kept, never deleted'

/** Files SQLite keeps beside a WAL database. */
export const SIDE_FILES = ['-wal', '-shm'] as const

const sqliteCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}

/** SQLite's way of saying the file is damaged (or not a database at all). */
export function isCorruption (err: unknown): boolean {
  const code = sqliteCode(err)
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT_') === true
}

/**
 * True when a write failed for lack of space: SQLITE_FULL, or an I/O error
 * while the file system has no block left for us (SQLite reports some
 * ENOSPC failures, e.g. growing the WAL index, as SQLITE_IOERR_*).
 */
export function isDiskFull (err: unknown, file: string): boolean {
  const code = sqliteCode(err)
  if (code === 'SQLITE_FULL') return true
  if (code?.startsWith('SQLITE_IOERR') !== true) return false
  try {
    const fs = statfsSync(dirname(file))
    return fs.bavail === 0 || fs.ffree === 0
  } catch {
    return false
  }
}

/**
 * Maps a failure of a read or write on an open store to the typed error the
 * caller can act on; other errors pass through unchanged.
 */
export function storeError (err: unknown, file: string): unknown {
  if (err instanceof WeftError) return err
  if (isDiskFull(err, file)) {
    return new DiskFullError(`the disk holding ${dirname(file)} is full, so the write was not saved (nothing was lost; reads still work). Free some space and try again`, { cause: err })
  }
  if (isCorruption(err)) {
    return new StoreCorruptError(`database ${file} is damaged (${(err as Error).message}). ${RECOVER_HINT}`, { cause: err })
  }
  return err
}

/** Creates `file` with mode 0600 unless it exists: SQLite would create it 0644, and its -wal and -shm files copy the main file's mode. */
export function createPrivateFile (file: string): void {
  closeSync(openSync(file, 'a', 0o600))
}

export function openDatabase (file: string, maxSchemaVersion: number): Db {
  let db: Db
  try {
    createPrivateFile(file)
    db = new Database(file)
  } catch (err) {
    throw new StoreOpenError(`cannot open database ${file}: ${(err as Error).message}`, { cause: err, reason: 'unreadable' })
  }
  try {
    // Touch the schema first so a damaged file fails here, at open, and
    // check the version before anything writes to the file (WAL switch
    // included): a database from a newer weft is refused untouched.
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > maxSchemaVersion) {
      throw new StoreOpenError(`database ${file} has schema version ${version}, newer than this weft understands (${maxSchemaVersion}); upgrade weft to open it`, { reason: 'newer_schema' })
    }
    db.pragma('journal_mode = WAL')
    // FULL for local writes (acknowledged = durable); the replica lowers it to
    // NORMAL around remote batches, which peers can always send again.
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    // The default 2 MB page cache thrashes once the oplog and state tables
    // outgrow it; 64 MB keeps a large sync's working set in memory.
    db.pragma('cache_size = -65536')
  } catch (err) {
    db.close()
    throw openError(err, file)
  }
  return db
}

/** The StoreOpenError for a failure while opening or checking `file`. */
export function openError (err: unknown, file: string): unknown {
  if (err instanceof StoreOpenError) return err
  if (sqliteCode(err) === 'SQLITE_NOTADB') {
    return new StoreOpenError(`${file} is not a SQLite database (its header is damaged): this device's store cannot be read. ${RECOVER_HINT}`, { cause: err, reason: 'corrupt' })
  }
  if (isCorruption(err)) {
    return new StoreOpenError(`database ${file} is damaged: ${(err as Error).message}. ${RECOVER_HINT}`, { cause: err, reason: 'corrupt' })
  }
  if (isDiskFull(err, file)) {
    return new StoreOpenError(`cannot open database ${file}: the disk is full. Free some space and start again`, { cause: err, reason: 'unreadable' })
  }
  if (sqliteCode(err) !== undefined) {
    return new StoreOpenError(`cannot open database ${file}: ${(err as Error).message}`, { cause: err, reason: 'unreadable' })
  }
  return err
}

/** Runs PRAGMA quick_check; returns the problems found (empty when sound). */
export function quickCheck (db: Db): string[] {
  const rows = db.pragma('quick_check') as Array<{ quick_check: string }>
  return rows.map(r => r.quick_check).filter(s => s !== 'ok')
}

/** The lock is held by another process (or another connection in this one). */
export class LockHeldError extends WeftError {
  static override name = 'LockHeldError'
  constructor (message: string, options?: ErrorOptions) { super(message, 'LOCK_HELD', options) }
}

/**
 * Takes an exclusive lock on `file` that the kernel holds for this process
 * and drops when the process ends, however it ends (kill -9 included): an
 * fcntl() lock, taken through SQLite (Node has no flock), on a one-page
 * database opened in `locking_mode = EXCLUSIVE`. Nothing is guessed from a
 * pid, so a pid reused after a reboot, or a daemon that ran as pid 1 in a
 * container, never blocks a start. Returns the release function.
 *
 * The file is never deleted: a process that opened it just before the
 * unlink would lock an orphaned inode while the next one locks a new file.
 * A file that is not a database (the pid file of an older weft) is replaced.
 */
export function holdExclusiveLock (file: string): () => void {
  for (let attempt = 0; ; attempt++) {
    createPrivateFile(file)
    let db: Db | undefined
    try {
      db = new Database(file, { timeout: 0 })
      db.pragma('locking_mode = EXCLUSIVE')
      // No rollback journal: nothing is stored here, and no second file to keep private.
      db.pragma('journal_mode = OFF')
      // Taken now and, in exclusive locking mode, held until the connection closes.
      db.exec('BEGIN EXCLUSIVE; COMMIT')
      const held = db
      return () => { try { held.close() } catch {} }
    } catch (err) {
      try { db?.close() } catch {}
      const code = sqliteCode(err)
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new LockHeldError(`${file} is locked by another process`, { cause: err })
      if (code === 'SQLITE_NOTADB' && attempt === 0) {
        // An older weft's pid file (or garbage): not a lock anyone holds through SQLite.
        rmSync(file, { force: true })
        continue
      }
      throw err
    }
  }
}

/**
 * Opens an existing database read-only (the connection queries run on).
 * Integers come back as BigInt so none loses precision; callers turn the
 * safe ones into numbers.
 */
export function openReadonlyDatabase (file: string): Db {
  let db: Db
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw new StoreOpenError(`cannot open ${file} for reading: ${(err as Error).message}`, { cause: err })
  }
  db.pragma('busy_timeout = 5000')
  db.pragma('cache_size = -16384')
  db.defaultSafeIntegers(true)
  return db
}

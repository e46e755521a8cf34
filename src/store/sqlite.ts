/**
 * The one file that imports better-sqlite3: opens a database file with the
 * pragmas weft relies on and turns open failures into `StoreOpenError`s that
 * say what is wrong with the file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import Database from 'better-sqlite3'
import { StoreOpenError } from '../errors.js'

export type Db = Database.Database
export type Statement = Database.Statement

const SQLITE_HEADER = 'SQLite format 3\u0000'

function checkHeader (file: string): void {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new StoreOpenError(`cannot read database ${file}: ${(err as Error).message}`, { cause: err })
  }
  try {
    const buf = Buffer.alloc(100)
    const n = readSync(fd, buf, 0, 100, 0)
    if (n === 0) return // empty file: SQLite treats it as a new database
    if (n < 100 || buf.toString('latin1', 0, 16) !== SQLITE_HEADER) {
      throw new StoreOpenError(`${file} is not a SQLite database (bad or truncated header); it may be corrupt. Move it aside to start a fresh replica, or restore it from a backup`)
    }
    // Header: page size at offset 16 (1 means 65536), page count at offset 28.
    const pageSize = buf.readUInt16BE(16) === 1 ? 65536 : buf.readUInt16BE(16)
    const pages = buf.readUInt32BE(28)
    const size = fstatSync(fd).size
    if (pages > 0 && pageSize * pages > size) {
      throw new StoreOpenError(`${file} is truncated: its header says ${pages * pageSize} bytes but the file has ${size}. Move it aside to start a fresh replica, or restore it from a backup`)
    }
  } finally {
    closeSync(fd)
  }
}

export function openDatabase (file: string, maxSchemaVersion: number): Db {
  checkHeader(file)
  let db: Db
  try {
    db = new Database(file)
  } catch (err) {
    throw new StoreOpenError(`cannot open database ${file}: ${(err as Error).message}`, { cause: err })
  }
  try {
    // Touch the schema first so a damaged file fails here, at open, and
    // check the version before anything writes to the file (WAL switch
    // included): a database from a newer weft is refused untouched.
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > maxSchemaVersion) {
      db.close()
      throw new StoreOpenError(`database ${file} has schema version ${version}, newer than this weft understands (${maxSchemaVersion}); upgrade weft to open it`)
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
    if (err instanceof StoreOpenError) throw err
    db.close()
    throw new StoreOpenError(`database ${file} is corrupt or unreadable: ${(err as Error).message}. Move it aside to start a fresh replica, or restore it from a backup`, { cause: err })
  }
  return db
}

/** Runs PRAGMA quick_check; returns the problems found (empty when sound). */
export function quickCheck (db: Db): string[] {
  const rows = db.pragma('quick_check') as Array<{ quick_check: string }>
  return rows.map(r => r.quick_check).filter(s => s !== 'ok')
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

/**
 * Opening a replica's files: the database (migrated, and checked with
 * SQLite's quick_check when nothing was migrated), its tables, and the
 * device key bound to it. A damaged file, a lost database or a key that is
 * not the one the database was written with is refused here with a
 * `StoreOpenError` naming the problem, before anything is written.
 */
import { join } from 'node:path'
import { InvalidArgumentError, StoreOpenError } from '../errors.js'
import { bytesEqual } from '../oplog/bytes.js'
import { DeviceKey, deviceIdToString } from '../oplog/keys.js'
import { DEVICE_KEY_FILE, loadStoreDeviceKey, type StoreDeviceKey } from './device-key-file.js'
import { loadMigrations, migrate } from './migrate.js'
import { OplogTables } from './oplog-store.js'
import { DEFAULT_MAX_HELD_BYTES, Quarantine } from './quarantine.js'
import { openDatabase, openError, quickCheck, RECOVER_HINT, type Db } from './sqlite.js'
import { StateTables } from './state.js'
import { TrustTables } from './trust-tables.js'

/** The database file's name in a store's directory. */
export const DATABASE_FILE = 'replica.db'

export interface OpenStoreOptions {
  /** See `ReplicaOptions.deviceKey`. @default loadStoreDeviceKey(dir) */
  readonly deviceKey?: StoreDeviceKey | DeviceKey | undefined
  /** @default true */
  readonly integrityCheck?: boolean | undefined
  /** @default DEFAULT_MAX_HELD_BYTES */
  readonly maxHeldBytes?: number | undefined
}

export interface OpenedStore {
  readonly db: Db
  readonly file: string
  readonly oplog: OplogTables
  readonly state: StateTables
  readonly trust: TrustTables
  readonly quarantine: Quarantine
  /** The device key, recorded in the database (and, if new, now written to its file). */
  readonly key: DeviceKey
}

/** Opens the store in `dir` (which must exist). On failure nothing stays open. */
export function openStore (dir: string, options: OpenStoreOptions): OpenedStore {
  const file = join(dir, DATABASE_FILE)
  // A bare DeviceKey is the caller's own (never written here); otherwise the directory's key file, new or loaded.
  const given = options.deviceKey
  const stored = given instanceof DeviceKey ? undefined : given ?? loadStoreDeviceKey(dir)
  if (stored !== undefined && stored.file !== join(dir, DEVICE_KEY_FILE)) {
    throw new InvalidArgumentError(`openReplica: the device key was loaded from ${stored.file}, not from this replica's directory ${dir}`)
  }
  const newKey = stored === undefined || stored.onDisk ? undefined : stored.key
  const key = given instanceof DeviceKey ? given : stored!.key
  const db = openDatabase(file, loadMigrations().length)
  try {
    const migrated = migrate(db, file)
    if (migrated.length === 0 && options.integrityCheck !== false) {
      const problems = quickCheck(db)
      if (problems.length > 0) throw new StoreOpenError(`database ${file} is damaged (quick_check: ${problems.slice(0, 3).join('; ')}). ${RECOVER_HINT}`, { reason: 'corrupt' })
    }
    const oplog = new OplogTables(db)
    const state = new StateTables(db)
    const trust = new TrustTables(db)
    const quarantine = new Quarantine(db, options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES)
    const recorded = oplog.getMeta('device')
    // A new key is fine only where nothing was signed yet: a first start, or one interrupted before it wrote the key.
    if (newKey !== undefined && (oplog.origins().some(o => o.seq > 0) || trust.group() !== undefined)) {
      throw new StoreOpenError(`${stored!.file} is missing, but ${file} holds this device's data${recorded === undefined ? '' : ` (device ${deviceIdToString(recorded)})`}: weft will not make a new identity over it. Put the key file back (mode 0600), or: ${RECOVER_HINT}`, { reason: 'key_missing' })
    }
    if (newKey === undefined && recorded !== undefined && !bytesEqual(recorded, key.publicKey)) {
      throw new StoreOpenError(`the device key (${key.id}) is not the key ${file} was written with (${deviceIdToString(recorded)}): the key file was replaced. Put the original back, or: ${RECOVER_HINT}`, { reason: 'key_mismatch' })
    }
    db.transaction(() => {
      if (recorded === undefined || newKey !== undefined) oplog.setMeta('device', key.publicKey)
      oplog.ensureOrigin(key.publicKey)
    })()
    // Only now, with the database holding the key's public half, is the key written.
    stored?.persist()
    return { db, file, oplog, state, trust, quarantine, key }
  } catch (err) {
    db.close()
    throw openError(err, file)
  }
}

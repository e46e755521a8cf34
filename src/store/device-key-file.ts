/**
 * The device key file: 64 raw bytes (seed || public key), mode 0600.
 * Refuses a key file that other users can read, or that is damaged.
 *
 * The key is written only after replica.db has recorded it (see
 * `Replica`): so a key file without a database means the database was lost,
 * never that a first start was interrupted, and weft can refuse to start a
 * fresh replica with an old key (which would reuse its sequence numbers).
 */
import { join } from 'node:path'
import { InvalidArgumentError, StoreOpenError } from '../errors.js'
import { DeviceKey, PRIVATE_KEY_BYTES } from '../oplog/keys.js'
import { RECOVER_HINT } from './sqlite.js'
import { databaseState } from './store-files.js'
import { readableByOthers, readSecretFile, writeSecretFile } from '../runtime/key-file.js'

/** The key file's name in a store's directory. */
export const DEVICE_KEY_FILE = 'device.key'

/**
 * A store directory's device key, loaded once by the composition root and
 * handed to both the store (`openReplica({ dir, deviceKey })`) and the node.
 * On a first start the key is new and not yet on disk: `openReplica` writes
 * it once the database has recorded it (see the module doc).
 */
export class StoreDeviceKey {
  readonly key: DeviceKey
  readonly file: string
  #onDisk: boolean

  constructor (key: DeviceKey, file: string, onDisk: boolean) {
    this.key = key
    this.file = file
    this.#onDisk = onDisk
  }

  /** False for a new key until `persist` wrote it. */
  get onDisk (): boolean { return this.#onDisk }

  /** Writes a new key to its file (a no-op for a key loaded from it). */
  persist (): void {
    if (this.#onDisk) return
    writeDeviceKey(this.file, this.key)
    this.#onDisk = true
  }
}

/**
 * Loads the device key of the store in `dir`, or makes a new one (not yet
 * written) when there is no key file. Throws `StoreOpenError` for a key that
 * is exposed or damaged, and for a key file whose database is gone: a fresh
 * database would sign new ops with seq 1, 2, … again, which the group already
 * holds from this key.
 */
export function loadStoreDeviceKey (dir: string): StoreDeviceKey {
  const file = join(dir, DEVICE_KEY_FILE)
  const key = loadDeviceKey(file)
  if (key === undefined) return new StoreDeviceKey(DeviceKey.generate(), file, false)
  // The key file is written only once a database has recorded it, so a key
  // without a database means the database is gone.
  const db = join(dir, 'replica.db')
  const state = databaseState(db)
  if (state !== 'present') {
    throw new StoreOpenError(`${db} is ${state === 'empty' ? 'empty (0 bytes)' : 'missing'}, but ${file} exists: this device's store is lost. Starting a fresh store with the old key would reuse its sequence numbers, and its group would refuse it as equivocating. ${RECOVER_HINT}`, { reason: 'lost' })
  }
  return new StoreDeviceKey(key, file, true)
}

/** The key in `file`, or undefined when there is no such file. Throws `StoreOpenError` for a key that is exposed or damaged. */
export function loadDeviceKey (file: string): DeviceKey | undefined {
  const raw = readSecretFile(file, st => {
    if (readableByOthers(st)) {
      throw new StoreOpenError(`device key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); if no one else could have read it, run: chmod 600 ${file}`, { reason: 'key_exposed' })
    }
    if (st.size !== PRIVATE_KEY_BYTES) {
      throw new StoreOpenError(`device key ${file} is ${st.size} bytes, expected ${PRIVATE_KEY_BYTES}; it is damaged. Put the original file back, or: ${RECOVER_HINT}`, { reason: 'key_damaged' })
    }
  })
  if (raw === undefined) return undefined
  try {
    return DeviceKey.fromRaw(raw)
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new StoreOpenError(`device key ${file} is damaged: ${err.message}. Put the original file back, or: ${RECOVER_HINT}`, { reason: 'key_damaged' })
    throw err
  }
}

/** Writes `key` to `file` durably, 0600 from the first byte (see writeSecretFile). */
export function writeDeviceKey (file: string, key: DeviceKey): void {
  writeSecretFile(file, key.raw)
}

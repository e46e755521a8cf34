/**
 * The device key file: 64 raw bytes (seed || public key), mode 0600, created
 * on first open. Refuses a key file that other users can read.
 */
import { chmodSync, openSync, readFileSync, statSync, writeSync, closeSync, renameSync } from 'node:fs'
import { InvalidArgumentError, StoreOpenError } from '../errors.js'
import { DeviceKey, PRIVATE_KEY_BYTES } from '../oplog/keys.js'

export function loadOrCreateDeviceKey (file: string): DeviceKey {
  let raw: Buffer | undefined
  try {
    const st = statSync(file)
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new StoreOpenError(`device key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`)
    }
    if (st.size !== PRIVATE_KEY_BYTES) throw new StoreOpenError(`device key ${file} is ${st.size} bytes, expected ${PRIVATE_KEY_BYTES}; it is damaged`)
    raw = readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (raw !== undefined) {
    try {
      return DeviceKey.fromRaw(raw)
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new StoreOpenError(`device key ${file} is damaged: ${err.message}`)
      throw err
    }
  }
  const key = DeviceKey.generate()
  // Write to a temp file with 0600 from the start, then rename: never a
  // moment where the key is on disk with wider permissions, or half written.
  const tmp = `${file}.${process.pid}.tmp`
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, key.raw)
  } finally {
    closeSync(fd)
  }
  chmodSync(tmp, 0o600)
  renameSync(tmp, file)
  return key
}

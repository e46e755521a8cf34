/**
 * The relay's identity: an Ed25519 key in `<data dir>/relay.key` (libp2p's
 * protobuf key format), mode 0600, created on first start. Clients pin the
 * relay by peer id (`/p2p/<id>` in their relay address), so losing or
 * replacing this file breaks every client's configuration: a restart must
 * find the same key, and a key other users can read is refused, not used.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { WeftError } from '../src/errors.js'

export const RELAY_KEY_FILE = 'relay.key'
/** A protobuf-encoded Ed25519 key is 68 bytes; anything far larger is not a key. */
const MAX_KEY_FILE_BYTES = 8 * 1024

export class RelayKeyError extends WeftError {
  static override name = 'RelayKeyError'
  constructor (message: string) { super(message, 'BAD_RELAY_KEY') }
}

/** Loads the relay key from `dataDir`, creating the directory (0700) and the key (0600) when missing. */
export async function loadOrCreateRelayKey (dataDir: string): Promise<{ key: PrivateKey, created: boolean, file: string }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, RELAY_KEY_FILE)
  let raw: Buffer | undefined
  try {
    const st = statSync(file)
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new RelayKeyError(`relay key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`)
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new RelayKeyError(`relay key ${file} is ${st.size} bytes: not a key file`)
    raw = readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (raw !== undefined) {
    try {
      return { key: privateKeyFromProtobuf(raw), created: false, file }
    } catch (err) {
      throw new RelayKeyError(`relay key ${file} is damaged (${(err as Error).message}); restore it from a backup, or delete it to get a new peer id`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  // Written 0600 from the start under a temp name, then renamed: never on
  // disk with wider permissions, never half written under the real name.
  const tmp = `${file}.${process.pid}.tmp`
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, privateKeyToProtobuf(key))
  } finally {
    closeSync(fd)
  }
  chmodSync(tmp, 0o600)
  renameSync(tmp, file)
  return { key, created: true, file }
}

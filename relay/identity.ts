/**
 * The relay's identity: an Ed25519 key in `<data dir>/relay.key` (libp2p's
 * protobuf key format), mode 0600, created on first start. Clients pin the
 * relay by peer id (`/p2p/<id>` in their relay address), so losing or
 * replacing this file breaks every client's configuration: a restart must
 * find the same key, and a key other users can read is refused, not used.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { WeftError } from '../src/errors.js'
import { readableByOthers, readSecretFile, writeSecretFile } from '../src/runtime/key-file.js'

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
  const raw = readSecretFile(file, st => {
    if (readableByOthers(st)) {
      throw new RelayKeyError(`relay key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`)
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new RelayKeyError(`relay key ${file} is ${st.size} bytes: not a key file`)
  })
  if (raw !== undefined) {
    try {
      return { key: privateKeyFromProtobuf(raw), created: false, file }
    } catch (err) {
      throw new RelayKeyError(`relay key ${file} is damaged (${(err as Error).message}); restore it from a backup, or delete it to get a new peer id`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  // 0600 from the first byte, never half written under the real name (see writeSecretFile).
  writeSecretFile(file, privateKeyToProtobuf(key))
  return { key, created: true, file }
}

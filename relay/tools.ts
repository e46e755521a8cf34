/**
 * Operator tools for the `group-statement/1` scheme (for peers that are not
 * weft daemons; daemons present their admission chain instead): make a group
 * key, sign a statement for a peer. The group key file is 64 raw bytes (seed
 * then public key), mode 0600; the relay's config only ever holds the public
 * half.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidArgumentError } from '../src/errors.js'
import { generateGroupKey, GROUP_PRIVATE_KEY_BYTES, signGroupStatement } from './auth/verifier.js'

const day = 24 * 3600 * 1000

/** Writes a new group key to `file` (which must not exist); returns the public key in base64url. */
export async function newGroupKeyFile (file: string): Promise<string> {
  const { privateKey, publicKey } = await generateGroupKey()
  const fd = openSync(file, 'wx', 0o600)
  try { writeSync(fd, privateKey) } finally { closeSync(fd) }
  return Buffer.from(publicKey).toString('base64url')
}

export function readGroupKeyFile (file: string): Uint8Array {
  const st = statSync(file)
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new InvalidArgumentError(`group key ${file} is readable by other users; run: chmod 600 ${file}`)
  if (st.size !== GROUP_PRIVATE_KEY_BYTES) throw new InvalidArgumentError(`group key ${file} is ${st.size} bytes, expected ${GROUP_PRIVATE_KEY_BYTES}`)
  return new Uint8Array(readFileSync(file))
}

/** A base64url `group-statement/1` credential for `peer`, valid from now for `days`. */
export async function signStatementFromFile (file: string, peer: string, days: number, now = Date.now()): Promise<string> {
  if (!(days > 0 && days <= 366)) throw new InvalidArgumentError('--days must be from 1 to 366')
  let id
  try { id = peerIdFromString(peer) } catch (err) { throw new InvalidArgumentError(`--peer ${JSON.stringify(peer)} is not a peer id: ${(err as Error).message}`) }
  const credential = await signGroupStatement(readGroupKeyFile(file), id, now, now + Math.round(days * day))
  return Buffer.from(credential).toString('base64url')
}

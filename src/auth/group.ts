/**
 * Groups: the set of one user's devices that may sync with each other.
 *
 * A group is an Ed25519 key pair made by `weft init` on the first device. Its
 * public key is the root of trust: every member is admitted by a chain of
 * signed admissions leading back to it (see membership.ts). Its private key
 * signs the genesis admission of that first device and is needed for nothing
 * else, so the caller may discard it or keep it offline as a recovery key
 * (it can admit and revoke like a member, and can never itself be revoked).
 *
 * The group id is `wg` + base58btc of the 32-byte public key: it names the
 * key itself, so nobody can claim a group id without its key, and it cannot
 * be mistaken for a device id (`12D3KooW…`). It also fits the daemon's
 * existing group id syntax (letters and digits, at most 64 characters).
 */
import { base58btc } from 'multiformats/bases/base58'
import { InvalidArgumentError } from '../errors.js'
import { DeviceKey, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import { signAdmission, type Admission } from './certificate.js'
import { GROUP_ID_PREFIX } from './constants.js'

/** `wg` + base58btc of the group public key. */
export function groupIdToString (groupPub: Uint8Array): string {
  if (groupPub.length !== PUBLIC_KEY_BYTES) throw new InvalidArgumentError(`group public key must be ${PUBLIC_KEY_BYTES} bytes, got ${groupPub.length}`)
  return GROUP_ID_PREFIX + base58btc.baseEncode(groupPub)
}

/** Parses a group id (`wg…`) into the group public key. Throws `InvalidArgumentError` saying what is wrong. */
export function parseGroupId (id: string): Uint8Array {
  const shown = JSON.stringify(id.slice(0, 80))
  if (!id.startsWith(GROUP_ID_PREFIX)) {
    const hint = id.startsWith('12D3KooW') ? ' (that is a device id)' : ''
    throw new InvalidArgumentError(`not a group id: ${shown}${hint}; group ids start with "${GROUP_ID_PREFIX}"`)
  }
  let key: Uint8Array
  try {
    key = base58btc.baseDecode(id.slice(GROUP_ID_PREFIX.length))
  } catch {
    throw new InvalidArgumentError(`not a group id: ${shown} has characters outside base58`)
  }
  if (key.length !== PUBLIC_KEY_BYTES) throw new InvalidArgumentError(`not a group id: ${shown} holds ${key.length} bytes, not a ${PUBLIC_KEY_BYTES}-byte key (truncated?)`)
  return key
}

export function isGroupId (id: string): boolean {
  try {
    parseGroupId(id)
    return true
  } catch {
    return false
  }
}

export interface NewGroupInit {
  /** Public key of the first device, which the genesis admission admits. */
  readonly device: Uint8Array
  /** Name of the first device. */
  readonly name: string
  /** Wall clock in ms, stamped on the genesis admission. */
  readonly now: number
  /** The group key to use; a fresh one by default. */
  readonly groupKey?: DeviceKey
}

export interface NewGroup {
  /** Signs the genesis admission; needed again only to recover a group whose devices are all revoked. */
  readonly groupKey: DeviceKey
  readonly groupPub: Uint8Array
  readonly groupId: string
  /** The first device's admission, signed by the group key. */
  readonly genesis: Admission
}

/** What `weft init` does: a group key, and the first device's admission signed with it. */
export function createGroup (init: NewGroupInit): NewGroup {
  const groupKey = init.groupKey ?? DeviceKey.generate()
  const genesis = signAdmission({ group: groupKey.publicKey, device: init.device, name: init.name, addedAt: init.now }, groupKey)
  return { groupKey, groupPub: groupKey.publicKey, groupId: groupIdToString(groupKey.publicKey), genesis }
}

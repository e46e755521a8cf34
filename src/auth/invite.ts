/**
 * Invites: the one-line code `weft invite` prints and `weft join` reads.
 *
 * A code carries everything a new device needs to reach the inviter and prove
 * it was invited: the group key, the inviter's device key (its peer id), the
 * addresses to dial (LAN and relay circuits), a 32-byte one-time secret and an
 * expiry. It is a capability: whoever holds it may join once, until it
 * expires. The secret never travels on the wire (pairing proves knowledge of
 * it with a MAC), and the inviter never stores it: its invite store keeps the
 * invite id and a proof key, both derived from the secret one-way, so the
 * code cannot be rebuilt from the store.
 *
 * Text form: `weft1:` + base58btc(payload || checksum). Base58 has no 0/O/I/l
 * to confuse and survives double-click selection; the 4-byte checksum
 * (SHA-256 of a domain tag and the payload) catches a mistyped or truncated
 * code with a clear message before anything is dialled.
 *
 * Payload v1:
 *   u8     version (1)
 *   32     group public key
 *   32     inviter device public key
 *   32     secret
 *   varint expiresAt (ms since the Unix epoch, inviter's clock)
 *   varint address count (0..8)
 *   bytes  binary multiaddr, each at most 256 bytes, without the trailing /p2p/<inviter>
 */
import { createHash, createHmac, randomBytes as nodeRandomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { base58btc } from 'multiformats/bases/base58'
import { InvalidArgumentError, MalformedError } from '../errors.js'
import { MAX_MS } from '../hlc/index.js'
import { ByteReader, ByteWriter, bytesEqual, toHex, utf8 } from '../oplog/bytes.js'
import { deviceIdToString, PUBLIC_KEY_BYTES } from '../oplog/keys.js'
import {
  DEFAULT_INVITE_TTL_MS, DEFAULT_JOINER_EXPIRY_GRACE_MS, INVITE_CHECKSUM_BYTES, INVITE_CHECKSUM_DOMAIN, INVITE_CODE_PREFIX,
  INVITE_CODE_VERSION, INVITE_ID_BYTES, INVITE_ID_DOMAIN, INVITE_PROOF_KEY_DOMAIN, INVITE_SECRET_BYTES, MAX_INVITE_ADDRESSES,
  MAX_INVITE_CODE_CHARS, MAX_INVITE_TTL_MS, MAX_MULTIADDR_BYTES
} from './constants.js'
import { InviteCodeError, PairingError } from './errors.js'
import type { IssuedInvite } from './invite-store.js'

export interface Invite {
  readonly group: Uint8Array
  /** The inviting device's public key (its libp2p peer id). */
  readonly inviter: Uint8Array
  /** Multiaddr strings to dial, without the inviter's /p2p/ suffix. */
  readonly addresses: readonly string[]
  readonly secret: Uint8Array
  /** ms since the Unix epoch, by the inviter's clock. */
  readonly expiresAt: number
}

/** Random bytes, injected so tests are deterministic. */
export type RandomBytes = (n: number) => Uint8Array

export const defaultRandomBytes: RandomBytes = n => new Uint8Array(nodeRandomBytes(n))

/** The invite's id: hex of the first 16 bytes of SHA-256(domain || secret). Lets the inviter find the invite; proves nothing. */
export function inviteIdOf (secret: Uint8Array): string {
  return toHex(inviteIdBytes(secret))
}

export function inviteIdBytes (secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(utf8(INVITE_ID_DOMAIN)).update(secret).digest().subarray(0, INVITE_ID_BYTES))
}

/** The key pairing proofs are MACed with: HMAC-SHA256(secret, domain). What the inviter stores instead of the secret. */
export function proofKeyOf (secret: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(utf8(INVITE_PROOF_KEY_DOMAIN)).digest())
}

function checksum (payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(utf8(INVITE_CHECKSUM_DOMAIN)).update(payload).digest().subarray(0, INVITE_CHECKSUM_BYTES))
}

/** Binary multiaddr of `address`, without a trailing /p2p/<inviter> (the joiner knows the inviter from the code). */
function addressBytes (address: string, inviter: Uint8Array): Uint8Array {
  const suffix = `/p2p/${deviceIdToString(inviter)}`
  const text = address.endsWith(suffix) ? address.slice(0, -suffix.length) : address
  let bytes: Uint8Array
  try {
    bytes = multiaddr(text).bytes
  } catch (err) {
    throw new InvalidArgumentError(`not a multiaddr: ${JSON.stringify(address.slice(0, 200))} (${(err as Error).message})`)
  }
  if (bytes.length > MAX_MULTIADDR_BYTES) throw new InvalidArgumentError(`address ${JSON.stringify(address.slice(0, 200))} is ${bytes.length} bytes, over the ${MAX_MULTIADDR_BYTES}-byte limit`)
  return bytes
}

function invitePayload (invite: Invite): Uint8Array {
  const { group, inviter, secret, expiresAt, addresses } = invite
  if (group.length !== PUBLIC_KEY_BYTES || inviter.length !== PUBLIC_KEY_BYTES) throw new InvalidArgumentError(`group and inviter keys must be ${PUBLIC_KEY_BYTES} bytes`)
  if (secret.length !== INVITE_SECRET_BYTES) throw new InvalidArgumentError(`invite secret must be ${INVITE_SECRET_BYTES} bytes`)
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0 || expiresAt > MAX_MS) throw new InvalidArgumentError(`invite expiry ${expiresAt} is not a millisecond time`)
  if (addresses.length > MAX_INVITE_ADDRESSES) throw new InvalidArgumentError(`an invite carries at most ${MAX_INVITE_ADDRESSES} addresses, got ${addresses.length}: pick the LAN and relay ones`)
  const w = new ByteWriter(256)
  w.u8(INVITE_CODE_VERSION).raw(group).raw(inviter).raw(secret).varint(expiresAt).varint(addresses.length)
  for (const a of addresses) w.bytes(addressBytes(a, inviter))
  return w.finish()
}

export function encodeInviteCode (invite: Invite): string {
  const payload = invitePayload(invite)
  const all = new Uint8Array(payload.length + INVITE_CHECKSUM_BYTES)
  all.set(payload)
  all.set(checksum(payload), payload.length)
  return INVITE_CODE_PREFIX + base58btc.baseEncode(all)
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/**
 * Parses an invite code as typed or pasted (whitespace and line breaks are
 * ignored). Throws `InviteCodeError` whose message says what to fix. Does not
 * check the expiry: see `checkInviteFresh`.
 */
export function decodeInviteCode (code: string): Invite {
  if (code.length > MAX_INVITE_CODE_CHARS) throw new InviteCodeError('too_large', `an invite code is at most ${MAX_INVITE_CODE_CHARS} characters; this is ${code.length}`)
  const text = code.replace(/\s+/g, '')
  if (text.slice(0, INVITE_CODE_PREFIX.length).toLowerCase() !== INVITE_CODE_PREFIX) {
    throw new InviteCodeError('prefix', `not a weft invite code: it should start with "${INVITE_CODE_PREFIX}" (run \`weft invite\` on a device of the group)`)
  }
  const body = text.slice(INVITE_CODE_PREFIX.length)
  for (let i = 0; i < body.length; i++) {
    if (!BASE58.includes(body[i]!)) {
      throw new InviteCodeError('encoding', `invite code has ${JSON.stringify(body[i])} at position ${INVITE_CODE_PREFIX.length + i + 1}, which never appears in invite codes (0, O, I and l are not used): a typo?`)
    }
  }
  const all = base58btc.baseDecode(body)
  if (all.length < 1 + INVITE_CHECKSUM_BYTES) throw new InviteCodeError('checksum', 'invite code is too short: it was cut off')
  const payload = all.subarray(0, all.length - INVITE_CHECKSUM_BYTES)
  if (!bytesEqual(checksum(payload), all.subarray(all.length - INVITE_CHECKSUM_BYTES))) {
    throw new InviteCodeError('checksum', 'invite code checksum does not match: a character is mistyped, or the code is cut short')
  }
  if (payload[0] !== INVITE_CODE_VERSION) {
    throw new InviteCodeError('version', `invite code format ${payload[0]} is newer than this weft understands (${INVITE_CODE_VERSION}): upgrade weft`)
  }
  try {
    const r = new ByteReader(payload, 'invite code', 1)
    const group = r.raw(PUBLIC_KEY_BYTES, 'group').slice()
    const inviter = r.raw(PUBLIC_KEY_BYTES, 'inviter').slice()
    const secret = r.raw(INVITE_SECRET_BYTES, 'secret').slice()
    const expiresAt = r.varint('expiresAt')
    if (expiresAt > MAX_MS) throw new MalformedError('invite code: expiry out of range')
    const count = r.varint('address count')
    if (count > MAX_INVITE_ADDRESSES) throw new MalformedError(`invite code: ${count} addresses, over the limit of ${MAX_INVITE_ADDRESSES}`)
    const addresses: string[] = []
    for (let i = 0; i < count; i++) {
      const bytes = r.bytes('address', MAX_MULTIADDR_BYTES)
      try {
        addresses.push(multiaddr(bytes.slice()).toString())
      } catch {
        throw new MalformedError(`invite code: address ${i + 1} is not a multiaddr this weft understands`)
      }
    }
    r.end()
    return { group, inviter, addresses, secret, expiresAt }
  } catch (err) {
    if (err instanceof MalformedError) throw new InviteCodeError('malformed', err.message)
    throw err
  }
}

/**
 * Fails fast with INVITE_EXPIRED when the invite is clearly past its expiry.
 * The inviter's clock decides, so the joiner allows `graceMs` of skew.
 */
export function checkInviteFresh (invite: Pick<Invite, 'expiresAt'>, now: number, graceMs = DEFAULT_JOINER_EXPIRY_GRACE_MS): void {
  if (now > invite.expiresAt + graceMs) {
    const ago = Math.round((now - invite.expiresAt) / 1000)
    throw new PairingError('INVITE_EXPIRED', `the invite expired ${ago} s ago: ask for a new one`)
  }
}

export interface CreateInviteInit {
  readonly group: Uint8Array
  /** The inviting device's public key. */
  readonly inviter: Uint8Array
  /** Where the joiner can dial the inviter (LAN and relay circuit multiaddrs), at most MAX_INVITE_ADDRESSES. */
  readonly addresses: readonly string[]
  /** Wall clock in ms. */
  readonly now: number
  /** @default DEFAULT_INVITE_TTL_MS (10 minutes) */
  readonly ttlMs?: number
  /** @default node:crypto randomBytes */
  readonly randomBytes?: RandomBytes
}

export interface CreatedInvite {
  readonly invite: Invite
  /** The text to show the user (and to put in a QR code). */
  readonly code: string
  /** What the inviter's store keeps: no secret, only what is derived from it. */
  readonly issued: IssuedInvite
}

/** What `weft invite` does: a fresh secret, the code to show, and the record for the invite store. */
export function createInvite (init: CreateInviteInit): CreatedInvite {
  const ttl = init.ttlMs ?? DEFAULT_INVITE_TTL_MS
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_INVITE_TTL_MS) throw new InvalidArgumentError(`invite TTL must be 1 ms to ${MAX_INVITE_TTL_MS} ms, got ${ttl}`)
  const secret = (init.randomBytes ?? defaultRandomBytes)(INVITE_SECRET_BYTES)
  if (secret.length !== INVITE_SECRET_BYTES) throw new InvalidArgumentError(`randomBytes returned ${secret.length} bytes, not ${INVITE_SECRET_BYTES}`)
  const invite: Invite = { group: init.group.slice(), inviter: init.inviter.slice(), addresses: [...init.addresses], secret, expiresAt: init.now + ttl }
  const code = encodeInviteCode(invite)
  const issued: IssuedInvite = {
    id: inviteIdOf(secret),
    group: invite.group,
    proofKey: proofKeyOf(secret),
    createdAt: init.now,
    expiresAt: invite.expiresAt,
    failures: 0
  }
  return { invite: decodeInviteCode(code), code, issued }
}

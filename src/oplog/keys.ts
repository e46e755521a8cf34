/**
 * Ed25519 device keys. A device's public key is at once its oplog origin and
 * (as a libp2p peer id) its network identity, so an op's origin cannot be
 * claimed by anyone without the matching private key.
 *
 * Uses node:crypto (OpenSSL) rather than a JS implementation: signing and
 * verifying are an order of magnitude faster there.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { base58btc } from 'multiformats/bases/base58'
import { InvalidArgumentError } from '../errors.js'

export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
/** Seed followed by public key, the raw form libp2p's `privateKeyFromRaw` accepts. */
export const PRIVATE_KEY_BYTES = 64

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url')
/** A well-formed `x` for importing a private JWK (see `fromSeed`). */
const UNREAD_X = b64url(new Uint8Array(PUBLIC_KEY_BYTES))

/**
 * The private key object of a 32-byte seed, and the public key it derives.
 * Imported as a JWK: node takes the private key from `d` alone (`x` is
 * required by the format but not read for a private key), about ten times
 * faster than a PKCS #8 import here.
 */
function fromSeed (seed: Uint8Array): { privateKey: KeyObject, publicKey: Uint8Array } {
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: UNREAD_X }, format: 'jwk' })
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!
  return { privateKey, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) }
}

export class DeviceKey {
  readonly publicKey: Uint8Array
  readonly #private: KeyObject
  readonly #raw: Uint8Array

  private constructor (raw: Uint8Array) {
    this.#raw = raw
    this.publicKey = raw.slice(32)
    const { privateKey, publicKey } = fromSeed(raw.subarray(0, 32))
    // A raw key whose public half does not match its seed would sign ops no one can verify.
    if (!Buffer.from(publicKey).equals(this.publicKey)) throw new InvalidArgumentError('device key: the public key does not match the seed')
    this.#private = privateKey
  }

  /**
   * A new key from 32 random bytes. Not `generateKeyPairSync` followed by an
   * export of its key: on Node 20 a garbage collection during that export can
   * run the finished key-generation job's destructor, which waits for the
   * lock the export holds, and the process hangs for good (seen within a few
   * thousand keys; test/integration/device-key-generate.test.ts).
   */
  static generate (): DeviceKey {
    const seed = randomBytes(32)
    const raw = new Uint8Array(PRIVATE_KEY_BYTES)
    raw.set(seed, 0)
    raw.set(fromSeed(seed).publicKey, 32)
    return new DeviceKey(raw)
  }

  /** From 64 bytes: 32-byte seed then 32-byte public key. */
  static fromRaw (raw: Uint8Array): DeviceKey {
    if (raw.length !== PRIVATE_KEY_BYTES) throw new InvalidArgumentError(`device key must be ${PRIVATE_KEY_BYTES} bytes, got ${raw.length}`)
    return new DeviceKey(Uint8Array.from(raw))
  }

  /** The raw private key (seed || public key). Handle with care. */
  get raw (): Uint8Array { return this.#raw.slice() }

  get id (): string { return deviceIdToString(this.publicKey) }

  sign (message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.#private))
  }
}

/** Verifies Ed25519 signatures, caching the parsed public keys of recent origins. */
export class SignatureVerifier {
  readonly #cache = new Map<string, KeyObject | null>()
  readonly #max: number

  constructor (maxCachedKeys = 1024) { this.#max = maxCachedKeys }

  #key (publicKey: Uint8Array): KeyObject | null {
    const k = b64url(publicKey)
    let key = this.#cache.get(k)
    if (key === undefined) {
      try {
        key = publicKey.length === PUBLIC_KEY_BYTES ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k }, format: 'jwk' }) : null
      } catch {
        key = null
      }
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!)
      this.#cache.set(k, key)
    }
    return key
  }

  verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_BYTES) return false
    const key = this.#key(publicKey)
    if (key === null) return false
    try {
      return verify(null, message, key, signature)
    } catch {
      return false
    }
  }
}

// libp2p peer id of an Ed25519 key: identity multihash (0x00, length 36) of the
// protobuf PublicKey { Type: Ed25519 (1), Data: key }, in base58btc.
// https://github.com/libp2p/specs/blob/master/peer-ids/peer-ids.md
const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])

/**
 * Peer id strings of keys seen lately: a group has a handful of devices, and
 * every vector entry and op header names one, so the base58 encoding (about
 * ten times the cost of a hex lookup) is done once per key. Bounded: cleared
 * when full.
 */
const idCache = new Map<string, string>()
const ID_CACHE_MAX = 4096

/** The libp2p peer id string (`12D3KooW…`) of a device's public key. */
export function deviceIdToString (publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new InvalidArgumentError(`device public key must be ${PUBLIC_KEY_BYTES} bytes`)
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex')
  let id = idCache.get(hex)
  if (id !== undefined) return id
  const mh = new Uint8Array(PEER_ID_PREFIX.length + PUBLIC_KEY_BYTES)
  mh.set(PEER_ID_PREFIX, 0)
  mh.set(publicKey, PEER_ID_PREFIX.length)
  id = base58btc.baseEncode(mh)
  if (idCache.size >= ID_CACHE_MAX) idCache.clear()
  idCache.set(hex, id)
  return id
}

/** Parses a peer id string (`12D3KooW…`) or 64 hex chars into a device public key. */
export function parseDeviceId (id: string): Uint8Array {
  if (/^[0-9a-f]{64}$/i.test(id)) return Uint8Array.from(Buffer.from(id, 'hex'))
  let mh: Uint8Array
  try {
    mh = base58btc.baseDecode(id)
  } catch {
    throw new InvalidArgumentError(`not a device id: ${JSON.stringify(id.slice(0, 80))} (expected a 12D3KooW… peer id)`)
  }
  if (mh.length !== PEER_ID_PREFIX.length + PUBLIC_KEY_BYTES || !PEER_ID_PREFIX.every((b, i) => mh[i] === b)) {
    throw new InvalidArgumentError(`not an Ed25519 device id: ${JSON.stringify(id.slice(0, 80))}`)
  }
  return mh.slice(PEER_ID_PREFIX.length)
}

/**
 * Succession: "device OLD of group G is succeeded by device NEW, as of HLC
 * t", signed by OLD's own key. `weft recover` publishes it beside OLD's
 * self-revocation when a device lost its store but kept its key, so every
 * member can show which device replaced the lost one.
 *
 * It grants nothing. NEW is a member only through its own admission (the
 * pairing path), and OLD is out through the revocation (membership.ts); the
 * statement only names the successor, and only OLD's key can make it, so no
 * device can claim to succeed another.
 *
 * Succession v1:
 *   u8     version (1)
 *   str    domain tag "weft/succession/v1"
 *   32     group public key
 *   32     old device public key (the signer)
 *   32     new device public key
 *   8      at: HLC of the old device's revocation
 *   64     Ed25519 signature by the old device over all the bytes above
 */
import { HLC_BYTES, isHlc, readHlc, writeHlc, type Hlc } from '../hlc/index.js'
import { InvalidArgumentError, MalformedError } from '../errors.js'
import { ByteReader, ByteWriter, bytesEqual } from '../oplog/bytes.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SignatureVerifier, type DeviceKey } from '../oplog/keys.js'
import { CERTIFICATE_VERSION, MAX_CERTIFICATE_BYTES, SUCCESSION_DOMAIN } from './constants.js'
import { CertificateError } from './errors.js'

export interface Succession {
  readonly group: Uint8Array
  readonly old: Uint8Array
  readonly successor: Uint8Array
  readonly at: Hlc
  readonly sig: Uint8Array
}

function writeBody (s: Omit<Succession, 'sig'>): ByteWriter {
  const w = new ByteWriter(192)
  w.u8(CERTIFICATE_VERSION).string(SUCCESSION_DOMAIN).raw(s.group).raw(s.old).raw(s.successor)
  writeHlc(s.at, w.buffer, w.reserve(HLC_BYTES))
  return w
}

/** Signs "`old` is succeeded by `successor`" with the old device's key. */
export function signSuccession (fields: { group: Uint8Array, successor: Uint8Array, at: Hlc }, old: DeviceKey): Succession {
  const body = {
    group: fields.group.slice(),
    old: old.publicKey.slice(),
    successor: fields.successor.slice(),
    at: { ms: fields.at.ms, counter: fields.at.counter }
  }
  if (body.group.length !== PUBLIC_KEY_BYTES || body.successor.length !== PUBLIC_KEY_BYTES) throw new InvalidArgumentError(`succession: keys must be ${PUBLIC_KEY_BYTES} bytes`)
  if (bytesEqual(body.old, body.successor)) throw new InvalidArgumentError('succession: a device cannot succeed itself')
  if (!isHlc(body.at)) throw new InvalidArgumentError('succession: at is not a valid HLC')
  return { ...body, sig: old.sign(writeBody(body).finish()) }
}

export function encodeSuccession (s: Succession): Uint8Array {
  return writeBody(s).raw(s.sig).finish()
}

/** Decodes a succession statement; throws `CertificateError` (malformed, too_large). */
export function decodeSuccession (bytes: Uint8Array): Succession {
  if (bytes.length > MAX_CERTIFICATE_BYTES) throw new CertificateError('too_large', `succession of ${bytes.length} bytes is over the ${MAX_CERTIFICATE_BYTES}-byte limit`)
  try {
    const r = new ByteReader(bytes, 'succession')
    const version = r.u8('version')
    if (version !== CERTIFICATE_VERSION) throw new CertificateError('malformed', `succession format version ${version} is not supported`)
    const tag = r.string('domain tag', 64)
    if (tag !== SUCCESSION_DOMAIN) throw new CertificateError('malformed', `not a succession statement (domain tag ${JSON.stringify(tag.slice(0, 40))})`)
    const s: Succession = {
      group: r.raw(PUBLIC_KEY_BYTES, 'group').slice(),
      old: r.raw(PUBLIC_KEY_BYTES, 'old').slice(),
      successor: r.raw(PUBLIC_KEY_BYTES, 'successor').slice(),
      at: readHlc(r.raw(HLC_BYTES, 'at'), 0),
      sig: r.raw(SIGNATURE_BYTES, 'signature').slice()
    }
    r.end()
    if (!isHlc(s.at)) throw new CertificateError('malformed', 'succession: at is not a valid HLC')
    return s
  } catch (err) {
    if (err instanceof MalformedError) throw new CertificateError('malformed', err.message)
    throw err
  }
}

const defaultVerifier = new SignatureVerifier(64)

/** Checks group and signature; throws `CertificateError` (wrong_group, invalid, bad_signature). */
export function verifySuccession (s: Succession, group: Uint8Array, verifier: SignatureVerifier = defaultVerifier): void {
  if (!bytesEqual(s.group, group)) throw new CertificateError('wrong_group', 'succession is for another group')
  if (bytesEqual(s.old, s.successor)) throw new CertificateError('invalid', 'a device cannot succeed itself')
  if (!verifier.verify(s.old, writeBody(s).finish(), s.sig)) throw new CertificateError('bad_signature', 'succession signature does not verify with the old device\'s key')
}

/**
 * Admissions and revocations: the signed statements a group's membership is
 * made of.
 *
 * An admission says "device D, named N, is in group G", signed by the group
 * key (the genesis admission made by `weft init`) or by a member's device key.
 * A revocation says "device D is out of group G from HLC t on", signed by the
 * group key or by a member (see membership.ts for which signers count when).
 *
 * Each has exactly one encoding, and the signature covers every byte before
 * it, so the bytes a peer sends are the bytes that were signed: there is no
 * second serialisation to get subtly different. The domain tag inside the
 * signed bytes keeps an admission signature from ever verifying as a
 * revocation, an op or a pairing proof, and the version byte leaves room for
 * a v2 next to v1.
 *
 * Admission v1:
 *   u8     version (1)
 *   str    domain tag "weft/admission/v1"   (varint length + ASCII)
 *   32     group public key
 *   32     device public key
 *   str    name (1..64 bytes UTF-8, no control or bidi-override characters)
 *   32     addedBy: public key of the signer (the group key, or a member's device key)
 *   varint addedAt: signer's wall clock, ms since the Unix epoch (< 2^48)
 *   64     Ed25519 signature over all the bytes above
 *
 * Revocation v1:
 *   u8     version (1)
 *   str    domain tag "weft/revocation/v1"
 *   32     group public key
 *   32     device public key (the revoked device)
 *   32     revokedBy: public key of the signer
 *   8      at: HLC (48-bit ms, 16-bit counter, big-endian) from which the device's ops are refused
 *   64     Ed25519 signature over all the bytes above
 */
import { HLC_BYTES, isHlc, MAX_MS, readHlc, writeHlc, type Hlc } from '../hlc/index.js'
import { InvalidArgumentError, MalformedError } from '../errors.js'
import { ByteReader, ByteWriter, bytesEqual, toHex, utf8 } from '../oplog/bytes.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SignatureVerifier, type DeviceKey } from '../oplog/keys.js'
import { sha256 } from '../oplog/op.js'
import { ADMISSION_DOMAIN, CERTIFICATE_VERSION, MAX_CERTIFICATE_BYTES, MAX_DEVICE_NAME_BYTES, REVOCATION_DOMAIN } from './constants.js'
import { CertificateError } from './errors.js'

export interface Admission {
  readonly kind: 'admission'
  readonly group: Uint8Array
  readonly device: Uint8Array
  readonly name: string
  /** The signer: the group key for a genesis admission, else a member's device key. */
  readonly addedBy: Uint8Array
  /** The signer's wall clock when it signed, in ms. */
  readonly addedAt: number
  readonly sig: Uint8Array
}

export interface Revocation {
  readonly kind: 'revocation'
  readonly group: Uint8Array
  readonly device: Uint8Array
  /** The signer: the group key or a member's device key (possibly the revoked device itself). */
  readonly revokedBy: Uint8Array
  /** Ops of the device stamped at or after this HLC are refused. */
  readonly at: Hlc
  readonly sig: Uint8Array
}

export type MembershipRecord = Admission | Revocation

export interface AdmissionFields {
  readonly group: Uint8Array
  readonly device: Uint8Array
  readonly name: string
  readonly addedAt: number
}

export interface RevocationFields {
  readonly group: Uint8Array
  readonly device: Uint8Array
  readonly at: Hlc
}

// Control characters would let a name rewrite the terminal of whoever lists
// members; bidi overrides and lone surrogates make a name display as another.
const FORBIDDEN_NAME_CHARS = /[\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u

/** Why `name` cannot be a device name, or undefined when it can. */
export function deviceNameProblem (name: string): string | undefined {
  const bytes = utf8(name).length
  if (bytes === 0) return 'a device name cannot be empty'
  if (bytes > MAX_DEVICE_NAME_BYTES) return `a device name is at most ${MAX_DEVICE_NAME_BYTES} bytes of UTF-8, got ${bytes}`
  if (FORBIDDEN_NAME_CHARS.test(name)) return 'a device name cannot contain control, line-separator or bidi-override characters'
  return undefined
}

function keysProblem (group: Uint8Array, device: Uint8Array, signer: Uint8Array): string | undefined {
  for (const [what, key] of [['group', group], ['device', device], ['signer', signer]] as const) {
    if (key.length !== PUBLIC_KEY_BYTES) return `${what} public key must be ${PUBLIC_KEY_BYTES} bytes, got ${key.length}`
  }
  return undefined
}

/** Problems of form: a record with one of these does not decode. */
function admissionShapeProblem (a: Omit<Admission, 'kind' | 'sig'>): string | undefined {
  const keys = keysProblem(a.group, a.device, a.addedBy)
  if (keys !== undefined) return keys
  if (!Number.isSafeInteger(a.addedAt) || a.addedAt < 0 || a.addedAt > MAX_MS) return `addedAt ${a.addedAt} is not a millisecond time in the 48-bit range`
  return deviceNameProblem(a.name)
}

function revocationShapeProblem (r: Omit<Revocation, 'kind' | 'sig'>): string | undefined {
  return keysProblem(r.group, r.device, r.revokedBy) ?? (isHlc(r.at) ? undefined : 'at is not a valid HLC')
}

/** Problems of meaning: well-formed, but no valid record says this. */
function meaningProblem (r: Omit<Admission, 'sig'> | Omit<Revocation, 'sig'>): string | undefined {
  if (bytesEqual(r.device, r.group)) return 'the group key cannot be a device'
  if (r.kind === 'admission' && bytesEqual(r.device, r.addedBy)) return 'a device cannot admit itself'
  return undefined
}

function writeAdmissionBody (a: Omit<Admission, 'kind' | 'sig'>): ByteWriter {
  const w = new ByteWriter(256)
  w.u8(CERTIFICATE_VERSION).string(ADMISSION_DOMAIN).raw(a.group).raw(a.device).string(a.name).raw(a.addedBy).varint(a.addedAt)
  return w
}

function writeRevocationBody (r: Omit<Revocation, 'kind' | 'sig'>): ByteWriter {
  const w = new ByteWriter(256)
  w.u8(CERTIFICATE_VERSION).string(REVOCATION_DOMAIN).raw(r.group).raw(r.device).raw(r.revokedBy)
  writeHlc(r.at, w.buffer, w.reserve(HLC_BYTES))
  return w
}

/** Signs an admission of `fields.device` with `signer` (the group key for genesis, else the admitting member's device key). */
export function signAdmission (fields: AdmissionFields, signer: DeviceKey): Admission {
  const unsigned = { group: fields.group.slice(), device: fields.device.slice(), name: fields.name, addedBy: signer.publicKey.slice(), addedAt: fields.addedAt }
  const problem = admissionShapeProblem(unsigned) ?? meaningProblem({ kind: 'admission', ...unsigned })
  if (problem !== undefined) throw new InvalidArgumentError(`cannot sign admission: ${problem}`)
  const sig = signer.sign(writeAdmissionBody(unsigned).finish())
  return { kind: 'admission', ...unsigned, sig }
}

/** Signs a revocation of `fields.device` with `signer` (the group key or a member's device key, possibly the device's own). */
export function signRevocation (fields: RevocationFields, signer: DeviceKey): Revocation {
  const unsigned = {
    group: fields.group.slice(),
    device: fields.device.slice(),
    revokedBy: signer.publicKey.slice(),
    at: { ms: fields.at.ms, counter: fields.at.counter }
  }
  const problem = revocationShapeProblem(unsigned) ?? meaningProblem({ kind: 'revocation', ...unsigned })
  if (problem !== undefined) throw new InvalidArgumentError(`cannot sign revocation: ${problem}`)
  const sig = signer.sign(writeRevocationBody(unsigned).finish())
  return { kind: 'revocation', ...unsigned, sig }
}

export function encodeAdmission (a: Admission): Uint8Array {
  return writeAdmissionBody(a).raw(a.sig).finish()
}

export function encodeRevocation (r: Revocation): Uint8Array {
  return writeRevocationBody(r).raw(r.sig).finish()
}

export function encodeRecord (r: MembershipRecord): Uint8Array {
  return r.kind === 'admission' ? encodeAdmission(r) : encodeRevocation(r)
}

/** Stable id of a record: hex SHA-256 of its encoding. Equal records have equal ids. */
export function recordId (r: MembershipRecord): string {
  return toHex(sha256(encodeRecord(r)))
}

/** Decodes either kind of record, telling them apart by the domain tag. Throws `CertificateError` (malformed, too_large). */
export function decodeRecord (bytes: Uint8Array): MembershipRecord {
  if (bytes.length > MAX_CERTIFICATE_BYTES) throw new CertificateError('too_large', `certificate of ${bytes.length} bytes is over the ${MAX_CERTIFICATE_BYTES}-byte limit`)
  try {
    const r = new ByteReader(bytes, 'certificate')
    const version = r.u8('version')
    if (version !== CERTIFICATE_VERSION) throw new CertificateError('malformed', `certificate format version ${version} is not supported (this node reads ${CERTIFICATE_VERSION})`)
    const tag = r.string('domain tag', 64)
    let record: MembershipRecord
    if (tag === ADMISSION_DOMAIN) {
      const body = { group: r.raw(PUBLIC_KEY_BYTES, 'group').slice(), device: r.raw(PUBLIC_KEY_BYTES, 'device').slice(), name: r.string('name', MAX_DEVICE_NAME_BYTES), addedBy: r.raw(PUBLIC_KEY_BYTES, 'addedBy').slice(), addedAt: r.varint('addedAt') }
      const problem = admissionShapeProblem(body)
      if (problem !== undefined) throw new CertificateError('malformed', `admission: ${problem}`)
      record = { kind: 'admission', ...body, sig: r.raw(SIGNATURE_BYTES, 'signature').slice() }
    } else if (tag === REVOCATION_DOMAIN) {
      const body = { group: r.raw(PUBLIC_KEY_BYTES, 'group').slice(), device: r.raw(PUBLIC_KEY_BYTES, 'device').slice(), revokedBy: r.raw(PUBLIC_KEY_BYTES, 'revokedBy').slice(), at: readHlc(r.raw(HLC_BYTES, 'at'), 0) }
      const problem = revocationShapeProblem(body)
      if (problem !== undefined) throw new CertificateError('malformed', `revocation: ${problem}`)
      record = { kind: 'revocation', ...body, sig: r.raw(SIGNATURE_BYTES, 'signature').slice() }
    } else {
      throw new CertificateError('malformed', `not a weft certificate (domain tag ${JSON.stringify(tag.slice(0, 40))})`)
    }
    r.end()
    // Every field has one encoding, so this only fails on a bug; it makes "one
    // canonical encoding" a checked property rather than a hope.
    if (!bytesEqual(encodeRecord(record), bytes)) throw new CertificateError('malformed', 'certificate is not in canonical form')
    return record
  } catch (err) {
    if (err instanceof MalformedError) throw new CertificateError('malformed', err.message)
    throw err
  }
}

export function decodeAdmission (bytes: Uint8Array): Admission {
  const r = decodeRecord(bytes)
  if (r.kind !== 'admission') throw new CertificateError('malformed', 'expected an admission, got a revocation')
  return r
}

export function decodeRevocation (bytes: Uint8Array): Revocation {
  const r = decodeRecord(bytes)
  if (r.kind !== 'revocation') throw new CertificateError('malformed', 'expected a revocation, got an admission')
  return r
}

/** The public key that signed a record. */
export function signerOf (r: MembershipRecord): Uint8Array {
  return r.kind === 'admission' ? r.addedBy : r.revokedBy
}

const defaultVerifier = new SignatureVerifier(256)

/**
 * Checks what a record proves on its own: form, group, and that its signer
 * signed it. Whether the signer was entitled to is membership's question.
 * Throws `CertificateError` (malformed, wrong_group, bad_signature, invalid).
 */
export function verifyRecord (r: MembershipRecord, group: Uint8Array, verifier: SignatureVerifier = defaultVerifier): void {
  const shape = r.kind === 'admission' ? admissionShapeProblem(r) : revocationShapeProblem(r)
  if (shape !== undefined) throw new CertificateError('malformed', `${r.kind}: ${shape}`)
  const meaning = meaningProblem(r)
  if (meaning !== undefined) throw new CertificateError('invalid', `${r.kind}: ${meaning}`)
  if (!bytesEqual(r.group, group)) throw new CertificateError('wrong_group', `${r.kind} is for another group`)
  const body = r.kind === 'admission' ? writeAdmissionBody(r).finish() : writeRevocationBody(r).finish()
  if (!verifier.verify(signerOf(r), body, r.sig)) throw new CertificateError('bad_signature', `${r.kind} signature does not verify with its signer's key`)
}

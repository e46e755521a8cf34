/**
 * Operations: the unit of replication.
 *
 * Each op is one change by one origin device, with a contiguous per-origin
 * sequence number, an HLC, a target (collection, row key, field), a value, and
 * the hash of the origin's previous op. Ops of one origin thus form a hash
 * chain, and one Ed25519 signature over the hash of an op authenticates that op
 * and every op before it in the chain. That is what keeps signature cost off
 * the per-op path: a local batch is signed once (its last op), and a receiver
 * verifies a contiguous run of an origin's ops with one signature check plus
 * one SHA-256 per op.
 *
 * Canonical body (format version 1), hashed with SHA-256 and signed:
 *
 *   u8     format version (1)
 *   32     origin public key
 *   varint seq (1, 2, 3, … per origin)
 *   8      HLC (48-bit ms, 16-bit counter, big-endian)
 *   u8     kind
 *   str    collection, key, field     (varint length + UTF-8)
 *   bytes  value                      (varint length + encoded Value)
 *   varint tag count, then 40-byte stamps (remove: the adds it observed)
 *   32     hash of the previous op of this origin (zeros for seq 1)
 */
import * as nodeCrypto from 'node:crypto'
import { HLC_BYTES, readHlc, writeHlc, type Hlc } from '../hlc/index.js'
import { MalformedError, WeftError } from '../errors.js'
import { ByteReader, ByteWriter, bytesEqual } from './bytes.js'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './keys.js'
import { checkValue, decodeValue } from './value.js'

export const OP_FORMAT_VERSION = 1
export const HASH_BYTES = 32
/** hlc (8 bytes) followed by origin (32 bytes): byte order is (HLC, origin) order. */
export const STAMP_BYTES = HLC_BYTES + PUBLIC_KEY_BYTES
export const ZERO_HASH = new Uint8Array(HASH_BYTES)

/** Default cap on an encoded value. */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
export const MAX_COLLECTION_BYTES = 256
export const MAX_KEY_BYTES = 1024
export const MAX_FIELD_BYTES = 256
export const MAX_TAGS = 10_000
/**
 * Largest increment magnitude. Counter totals are exact 64-bit integers in
 * SQLite; with this bound no realistic number of increments can overflow them.
 */
export const MAX_INCREMENT = 2 ** 40

export type OpKind = 'set' | 'delete' | 'increment' | 'add' | 'remove'

const KIND_CODES: Record<OpKind, number> = { set: 1, delete: 2, increment: 3, add: 4, remove: 5 }
const KINDS_BY_CODE: Array<OpKind | undefined> = [undefined, 'set', 'delete', 'increment', 'add', 'remove']

export const OP_KINDS: readonly OpKind[] = ['set', 'delete', 'increment', 'add', 'remove']

/** Why an op was refused. Stable strings: they appear in logs, metrics and the CLI. */
export type RejectReason =
  | 'malformed' // does not decode, or fields out of form for its kind
  | 'unknown_kind' // a kind this version does not know
  | 'too_large' // value over the configured limit
  | 'bad_signature' // the signature covering it does not verify with the origin's key
  | 'unsigned' // no signed op after it in the run, so nothing authenticates it
  | 'broken_chain' // prev hash is not the hash of the origin's previous op
  | 'gap' // seq skips ahead of the origin's contiguous prefix (or follows a rejected op)
  | 'equivocation' // same (origin, seq) as an op we hold, different content
  | 'drift' // HLC further ahead of our clock than the max drift
  | 'not_member' // origin is not a member of the group at the op's HLC

export class OpRejectedError extends WeftError {
  static override name = 'OpRejectedError'
  readonly reason: RejectReason
  constructor (reason: RejectReason, message: string) {
    super(message, 'OP_REJECTED')
    this.reason = reason
  }
}

export interface OpTarget {
  readonly collection: string
  readonly key: string
  /** Empty for `delete`, which targets the whole row. */
  readonly field: string
}

/** An op as it travels and is stored: canonical body plus an optional signature. */
export interface EncodedOp {
  readonly body: Uint8Array
  /** Present on the last op of a signed run; absent on ops authenticated by a later signature. */
  readonly sig?: Uint8Array | undefined
}

export interface Op extends OpTarget {
  readonly origin: Uint8Array
  readonly seq: number
  readonly hlc: Hlc
  readonly kind: OpKind
  /** Encoded value: the field value (set), element (add/remove), amount (increment); empty for delete. */
  readonly value: Uint8Array
  /** Stamps of the adds a remove observed; empty for other kinds. */
  readonly tags: readonly Uint8Array[]
  readonly prev: Uint8Array
  readonly body: Uint8Array
  readonly hash: Uint8Array
  readonly sig?: Uint8Array | undefined
}

export interface OpFields extends OpTarget {
  origin: Uint8Array
  seq: number
  hlc: Hlc
  kind: OpKind
  value: Uint8Array
  tags?: readonly Uint8Array[]
  prev: Uint8Array
}

// One-shot crypto.hash (Node >= 20.12) avoids a Hash object per op; older 20.x falls back.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash

export function sha256 (data: Uint8Array): Uint8Array {
  if (oneShot !== undefined) return oneShot('sha256', data, 'buffer')
  return nodeCrypto.createHash('sha256').update(data).digest()
}

export function encodeOpBody (f: OpFields): Uint8Array {
  const tags = f.tags ?? []
  const w = new ByteWriter(96 + f.value.length + f.collection.length + f.key.length + f.field.length + tags.length * STAMP_BYTES)
  w.u8(OP_FORMAT_VERSION).raw(f.origin).varint(f.seq)
  writeHlc(f.hlc, w.buffer, w.reserve(HLC_BYTES))
  w.u8(KIND_CODES[f.kind]).string(f.collection).string(f.key).string(f.field).bytes(f.value)
  w.varint(tags.length)
  for (const t of tags) w.raw(t)
  w.raw(f.prev)
  return w.finish()
}

/** Builds an unsigned op from its fields (local writes). */
export function createOp (f: OpFields): Op {
  const body = encodeOpBody(f)
  return {
    origin: f.origin,
    seq: f.seq,
    hlc: f.hlc,
    kind: f.kind,
    collection: f.collection,
    key: f.key,
    field: f.field,
    value: f.value,
    tags: f.tags ?? [],
    prev: f.prev,
    body,
    hash: sha256(body),
    sig: undefined
  }
}

export interface DecodeLimits {
  /** @default DEFAULT_MAX_VALUE_BYTES */
  maxValueBytes?: number
}

/**
 * Decodes and checks the form of one op. Throws `OpRejectedError` with the
 * reason; never checks signatures or chains (see `verifyRun`).
 */
export function decodeOp (encoded: EncodedOp, limits: DecodeLimits = {}): Op {
  const maxValue = limits.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
  if (typeof encoded !== 'object' || encoded === null) throw new OpRejectedError('malformed', 'op is not an object with a body')
  const { body, sig } = encoded
  if (!(body instanceof Uint8Array)) throw new OpRejectedError('malformed', 'op body is not bytes')
  if (sig !== undefined && !(sig instanceof Uint8Array)) throw new OpRejectedError('malformed', 'op signature is not bytes')
  if (sig !== undefined && sig.length !== SIGNATURE_BYTES) throw new OpRejectedError('malformed', `op signature is ${sig.length} bytes, expected ${SIGNATURE_BYTES}`)
  try {
    const r = new ByteReader(body, 'op')
    const version = r.u8('version')
    if (version !== OP_FORMAT_VERSION) throw new OpRejectedError('unknown_kind', `op format version ${version} is not supported (this build reads version ${OP_FORMAT_VERSION})`)
    const origin = r.raw(PUBLIC_KEY_BYTES, 'origin')
    const seq = r.varint('seq')
    if (seq < 1) throw new OpRejectedError('malformed', 'op seq must start at 1')
    const hlc = readHlc(r.raw(HLC_BYTES, 'hlc'), 0)
    const code = r.u8('kind')
    const kind = KINDS_BY_CODE[code]
    if (kind === undefined) throw new OpRejectedError('unknown_kind', `op kind ${code} is not known to this version`)
    const collection = r.string('collection', MAX_COLLECTION_BYTES)
    const key = r.string('key', MAX_KEY_BYTES)
    const field = r.string('field', MAX_FIELD_BYTES)
    const valueLen = r.varint('value length')
    if (valueLen > maxValue) throw new OpRejectedError('too_large', `op value is ${valueLen} bytes, over the ${maxValue}-byte limit`)
    const value = r.raw(valueLen, 'value')
    const tagCount = r.varint('tag count')
    if (tagCount > MAX_TAGS) throw new OpRejectedError('too_large', `op has ${tagCount} tags, over the limit of ${MAX_TAGS}`)
    const tags: Uint8Array[] = []
    for (let i = 0; i < tagCount; i++) tags.push(r.raw(STAMP_BYTES, 'tag'))
    const prev = r.raw(HASH_BYTES, 'prev hash')
    r.end()
    const op: Op = { origin, seq, hlc, kind, collection, key, field, value, tags, prev, body, hash: sha256(body), sig }
    checkShape(op)
    return op
  } catch (err) {
    if (err instanceof OpRejectedError) throw err
    if (err instanceof MalformedError) throw new OpRejectedError('malformed', err.message)
    throw err
  }
}

function checkShape (op: Op): void {
  const bad = (msg: string): never => { throw new OpRejectedError('malformed', `${op.kind} op ${op.seq}: ${msg}`) }
  if (op.collection.length === 0) bad('collection is empty')
  if (op.collection.includes('\u0000') || op.key.includes('\u0000') || op.field.includes('\u0000')) bad('names may not contain U+0000')
  if (op.key.length === 0) bad('key is empty')
  if (op.seq === 1 && !bytesEqual(op.prev, ZERO_HASH)) bad('first op of an origin must have a zero prev hash')
  if (op.kind === 'delete') {
    if (op.field !== '' || op.value.length !== 0) bad('a delete targets a row: field and value must be empty')
  } else if (op.field.length === 0) {
    bad('field is empty')
  }
  if (op.kind !== 'remove' && op.tags.length > 0) bad('only remove ops carry tags')
  if (op.kind === 'delete') return
  if (op.kind === 'increment') {
    let v
    try { v = decodeValue(op.value) } catch (err) { bad((err as Error).message) }
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) <= MAX_INCREMENT)) bad(`increment amount must be an integer within ±${MAX_INCREMENT}`)
    return
  }
  try { checkValue(op.value) } catch (err) { bad((err as Error).message) }
}

/** hlc then origin: unique per op, and ordered the way last-writer-wins needs. */
export function stampOf (op: { hlc: Hlc, origin: Uint8Array }): Uint8Array {
  const s = new Uint8Array(STAMP_BYTES)
  writeHlc(op.hlc, s, 0)
  s.set(op.origin, HLC_BYTES)
  return s
}

const SIGNING_DOMAIN = new TextEncoder().encode('weft/op/v1\n')

/** What the origin signs: a domain tag and the op's hash. */
export function signingMessage (hash: Uint8Array): Uint8Array {
  const m = new Uint8Array(SIGNING_DOMAIN.length + HASH_BYTES)
  m.set(SIGNING_DOMAIN, 0)
  m.set(hash, SIGNING_DOMAIN.length)
  return m
}

export function withSignature (op: Op, sig: Uint8Array): Op {
  return { ...op, sig }
}

export function toEncoded (op: Op): EncodedOp {
  return op.sig === undefined ? { body: op.body } : { body: op.body, sig: op.sig }
}

import { createPrivateKey, createPublicKey } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hlcToBytes, MAX_COUNTER, MAX_MS, type Hlc } from '../../src/hlc/index.js'
import { ByteReader, ByteWriter, utf8 } from '../../src/oplog/bytes.js'
import { DeviceKey, SignatureVerifier } from '../../src/oplog/keys.js'
import {
  createOp, decodeOp, encodeOpBody, HASH_BYTES, MAX_INCREMENT, MAX_TAGS, OP_KINDS, OpRejectedError, sha256, signingMessage,
  stampOf, STAMP_BYTES, toEncoded, withSignature, ZERO_HASH, type EncodedOp, type Op, type OpFields, type OpKind, type RejectReason
} from '../../src/oplog/op.js'
import { checkValue, decodeValue, encodeValue, isValidValue, type Value } from '../../src/oplog/value.js'
import { verifyRun } from '../../src/oplog/verify.js'

// A fixed key so byte-level expectations are stable.
const KEY = DeviceKey.fromRaw(fromSeed(7))
const OTHER = DeviceKey.fromRaw(fromSeed(9))

function fromSeed (n: number): Uint8Array {
  // A valid raw key (seed || public key) from a fixed seed, via a PKCS#8 DER wrapper.
  const seed = Buffer.alloc(32, n)
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const pub = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' }).x!
  return new Uint8Array(Buffer.concat([seed, Buffer.from(pub, 'base64url')]))
}

/** Replace -0 by 0 everywhere: the canonical encoding does so on purpose. */
function normalize (v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v
  if (Array.isArray(v)) return v.map(normalize)
  if (v instanceof Uint8Array) return v
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]))
  return v
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true })
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  finite,
  fc.integer(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }) as fc.Arbitrary<Value>,
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }) as fc.Arbitrary<Value>
)

const hlcArb: fc.Arbitrary<Hlc> = fc.record({ ms: fc.integer({ min: 0, max: MAX_MS }), counter: fc.integer({ min: 0, max: MAX_COUNTER }) })
const nameArb = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', minLength: 1, maxLength: max }).filter(s => utf8(s).length <= 256 && !s.includes('\u0000'))

function fields (kind: OpKind, over: Partial<OpFields> = {}): OpFields {
  const value = kind === 'delete' ? new Uint8Array(0) : kind === 'increment' ? encodeValue(5) : encodeValue('hello')
  return {
    origin: KEY.publicKey,
    seq: 1,
    hlc: { ms: 1_700_000_000_000, counter: 3 },
    kind,
    collection: 'notes',
    key: 'n1',
    field: kind === 'delete' ? '' : 'title',
    value,
    tags: [],
    prev: ZERO_HASH,
    ...over
  }
}

function signed (op: Op, key = KEY): Op { return withSignature(op, key.sign(signingMessage(op.hash))) }

function rejection (fn: () => unknown): RejectReason {
  try {
    fn()
  } catch (err) {
    if (err instanceof OpRejectedError) return err.reason
    throw err
  }
  throw new Error('expected the op to be rejected')
}

/** Builds a body by hand, following the layout documented in op.ts, so the codec is checked against the spec and not against itself. */
function handBody (parts: {
  version?: number
  origin?: Uint8Array
  seq?: number
  hlc?: Hlc
  kind?: number
  collection?: string
  key?: string
  field?: string
  value?: Uint8Array
  tags?: Uint8Array[]
  prev?: Uint8Array
  valueLength?: number
  tagCount?: number
}): Uint8Array {
  const w = new ByteWriter()
  w.u8(parts.version ?? 1).raw(parts.origin ?? KEY.publicKey).varint(parts.seq ?? 1)
  w.raw(hlcToBytes(parts.hlc ?? { ms: 1, counter: 0 }))
  w.u8(parts.kind ?? 1).string(parts.collection ?? 'c').string(parts.key ?? 'k').string(parts.field ?? 'f')
  const value = parts.value ?? encodeValue('v')
  w.varint(parts.valueLength ?? value.length).raw(value)
  const tags = parts.tags ?? []
  w.varint(parts.tagCount ?? tags.length)
  for (const t of tags) w.raw(t)
  w.raw(parts.prev ?? ZERO_HASH)
  return w.finish()
}

describe('value encoding', () => {
  it('round trips every value type', () => {
    fc.assert(fc.property(valueArb, v => {
      const bytes = encodeValue(v)
      expect(decodeValue(bytes)).toEqual(normalize(v))
      // Canonical: re-encoding the decoded value gives the same bytes.
      expect(encodeValue(decodeValue(bytes))).toEqual(bytes)
    }), { numRuns: 500 })
  })

  it('round trips each type explicitly', () => {
    const cases: Value[] = [null, true, false, 0, 1, -1, 0.5, -1e300, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, '', 'hé😀',
      new Uint8Array([]), new Uint8Array([0, 255, 1]), [], [1, 'a', null, [true]], {}, { b: 1, a: { c: [null] } }]
    for (const v of cases) expect(decodeValue(encodeValue(v))).toEqual(v)
  })

  it('is deterministic: object key order and -0 do not change the bytes', () => {
    expect(encodeValue({ a: 1, b: { y: 2, x: 3 } })).toEqual(encodeValue({ b: { x: 3, y: 2 }, a: 1 }))
    expect(encodeValue(-0)).toEqual(encodeValue(0))
    expect(encodeValue([-0])).toEqual(encodeValue([0]))
    fc.assert(fc.property(valueArb, v => { expect(encodeValue(v)).toEqual(encodeValue(v)) }))
  })

  it('keeps the types apart: equal-looking values of different types encode differently', () => {
    const distinct: Value[] = [null, false, true, 0, '', '0', 'null', new Uint8Array(0), new Uint8Array([0]), [], {}, ['0'], [0]]
    const hex = distinct.map(v => Buffer.from(encodeValue(v)).toString('hex'))
    expect(new Set(hex).size).toBe(distinct.length)
  })

  it('refuses values it cannot store, naming the problem', () => {
    const bad: Array<[unknown, RegExp]> = [
      [Number.NaN, /NaN/], [Number.POSITIVE_INFINITY, /Infinity/], [undefined, /undefined/], [() => 1, /function/],
      [Symbol('s'), /symbol/], [10n, /bigint/], [new Date(0), /Date/], [{ a: Number.NaN }, /value\.a.*NaN/], [[1, undefined], /value\[1\]/],
      [{ a: new Uint8Array(1) }, /Uint8Array/], [new Map(), /Map/],
      ['a\ud800', /surrogate/], ['\udc00', /surrogate/]
    ]
    for (const [v, msg] of bad) {
      expect(() => encodeValue(v as Value)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', message: expect.stringMatching(msg) }))
    }
  })

  it('checkValue (the fast check used at decode) accepts exactly what decodeValue accepts', () => {
    const tagged = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 12 })).map(([t, rest]) => Uint8Array.from([t, ...rest]))
    const near = valueArb.chain(v => fc.tuple(fc.constant(encodeValue(v)), fc.nat(), fc.integer({ min: 0, max: 255 }))).map(([b, i, x]) => {
      const c = Uint8Array.from(b)
      if (c.length > 0) c[i % c.length] = x
      return c
    })
    fc.assert(fc.property(fc.oneof(tagged, near, fc.uint8Array({ maxLength: 12 })), bytes => {
      let decodes = true
      try { decodeValue(bytes) } catch { decodes = false }
      let checks = true
      try { checkValue(bytes) } catch (err) { checks = false; expect((err as Error).name).toBe('MalformedError') }
      expect(checks).toBe(decodes)
      expect(isValidValue(bytes)).toBe(decodes)
    }), { numRuns: 2000 })
  })

  it('keeps a leading byte order mark in strings', () => {
    expect(decodeValue(encodeValue('\uFEFFx'))).toBe('\uFEFFx')
    const op = createOp(fields('set', { key: '\uFEFFk', collection: '\uFEFFc' }))
    const back = decodeOp({ body: op.body })
    expect([back.collection, back.key]).toEqual(['\uFEFFc', '\uFEFFk'])
  })

  it('refuses JSON nested deeper than the limit', () => {
    let deep: Value = 1
    for (let i = 0; i < 70; i++) deep = [deep]
    expect(() => encodeValue(deep)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', message: expect.stringMatching(/deeper/) }))
  })

  it('decode refuses malformed value bytes', () => {
    const bad = [
      new Uint8Array([]), new Uint8Array([9]), new Uint8Array([0, 0]), new Uint8Array([3, 0, 0]),
      Uint8Array.from([3, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), // NaN
      Uint8Array.from([4, 5, 0x61]), // string shorter than its length
      Uint8Array.from([4, 1, 0xff]), // invalid UTF-8
      Uint8Array.from([6, 1, 0x31]), // JSON tag holding a number
      Uint8Array.from([6, 1, 0x7b]) // JSON that does not parse
    ]
    for (const b of bad) expect(() => decodeValue(b)).toThrow(expect.objectContaining({ name: 'MalformedError' }))
  })
})

describe('op encoding', () => {
  const samples: Record<OpKind, OpFields> = {
    set: fields('set'),
    delete: fields('delete'),
    increment: fields('increment', { value: encodeValue(-42) }),
    add: fields('add', { value: encodeValue({ tag: 'x' }) }),
    remove: fields('remove', { value: encodeValue({ tag: 'x' }), tags: [stampOf({ hlc: { ms: 5, counter: 1 }, origin: OTHER.publicKey }), stampOf({ hlc: { ms: 6, counter: 0 }, origin: KEY.publicKey })] })
  }

  it('covers every kind', () => { expect(Object.keys(samples).sort()).toEqual([...OP_KINDS].sort()) })

  for (const kind of OP_KINDS) {
    it(`round trips a ${kind} op, signed and unsigned`, () => {
      const op = createOp(samples[kind])
      for (const enc of [toEncoded(op), toEncoded(signed(op))]) {
        const back = decodeOp(enc)
        expect(back.kind).toBe(kind)
        expect(back.origin).toEqual(op.origin)
        expect(back.seq).toBe(op.seq)
        expect(back.hlc).toEqual(op.hlc)
        expect([back.collection, back.key, back.field]).toEqual([op.collection, op.key, op.field])
        expect(back.value).toEqual(op.value)
        expect(back.tags.map(t => Uint8Array.from(t))).toEqual(op.tags.map(t => Uint8Array.from(t)))
        expect(back.prev).toEqual(op.prev)
        expect(back.body).toEqual(op.body)
        expect(back.hash).toEqual(sha256(op.body))
        expect(back.sig).toEqual(enc.sig)
      }
    })
  }

  it('matches the documented layout byte for byte', () => {
    const tag = stampOf({ hlc: { ms: 5, counter: 1 }, origin: OTHER.publicKey })
    const prev = sha256(utf8('previous'))
    const f = fields('remove', { seq: 300, hlc: { ms: 0x0102_0304_0506, counter: 0x0708 }, value: encodeValue('el'), tags: [tag], prev, collection: 'cöll', key: 'k😀', field: 'fld' })
    const expected = Buffer.concat([
      Buffer.from([1]), KEY.publicKey, Buffer.from([0xac, 0x02]), // varint 300
      Buffer.from('0102030405060708', 'hex'), Buffer.from([5]),
      Buffer.from([5]), Buffer.from('cöll'), Buffer.from([5]), Buffer.from('k😀'), Buffer.from([3]), Buffer.from('fld'),
      Buffer.from([4, 4, 2]), Buffer.from('el'),
      Buffer.from([1]), tag, prev
    ])
    expect(Buffer.from(encodeOpBody(f)).toString('hex')).toBe(expected.toString('hex'))
    expect(STAMP_BYTES).toBe(40)
    expect(HASH_BYTES).toBe(32)
  })

  it('is deterministic and round trips arbitrary ops (property)', () => {
    const kindArb = fc.constantFrom(...OP_KINDS)
    fc.assert(fc.property(kindArb, hlcArb, fc.integer({ min: 1, max: 2 ** 32 - 1 }), nameArb(64), nameArb(64), nameArb(64), valueArb,
      fc.array(fc.uint8Array({ minLength: STAMP_BYTES, maxLength: STAMP_BYTES }), { maxLength: 3 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: -MAX_INCREMENT, max: MAX_INCREMENT }),
      (kind, hlc, seq, collection, key, field, value, tags, prevRaw, amount) => {
        const f: OpFields = {
          origin: KEY.publicKey,
          seq,
          hlc,
          kind,
          collection,
          key,
          field: kind === 'delete' ? '' : field,
          value: kind === 'delete' ? new Uint8Array(0) : kind === 'increment' ? encodeValue(amount) : encodeValue(value),
          tags: kind === 'remove' ? tags : [],
          prev: seq === 1 ? ZERO_HASH : prevRaw
        }
        const a = encodeOpBody(f)
        expect(encodeOpBody({ ...f })).toEqual(a)
        const back = decodeOp({ body: a })
        expect(encodeOpBody({ ...back, tags: back.tags })).toEqual(a)
        expect(back.collection).toBe(new TextDecoder().decode(utf8(collection)))
        expect(back.hlc).toEqual(hlc)
        expect(back.seq).toBe(seq)
      }), { numRuns: 300 })
  })

  it('orders stamps by HLC, then origin bytes', () => {
    const a = stampOf({ hlc: { ms: 5, counter: 0 }, origin: new Uint8Array(32).fill(0xff) })
    const b = stampOf({ hlc: { ms: 5, counter: 1 }, origin: new Uint8Array(32) })
    const c = stampOf({ hlc: { ms: 5, counter: 1 }, origin: new Uint8Array(32).fill(1) })
    expect(Buffer.compare(a, b)).toBe(-1)
    expect(Buffer.compare(b, c)).toBe(-1)
  })
})

describe('op decoding refuses bad input', () => {
  const good = createOp(fields('set', { seq: 2, prev: sha256(utf8('x')) })).body

  it('every truncation is malformed', () => {
    for (let n = 0; n < good.length; n++) {
      expect(rejection(() => decodeOp({ body: good.subarray(0, n) }))).toBe('malformed')
    }
  })

  it('trailing bytes are malformed', () => {
    expect(rejection(() => decodeOp({ body: Uint8Array.from([...good, 0]) }))).toBe('malformed')
  })

  it('garbage after a valid version byte is refused with a reason, never another error', () => {
    const reasons = new Set<RejectReason>(['malformed', 'unknown_kind', 'too_large'])
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), rest => {
      const body = Uint8Array.from([1, ...rest])
      try {
        const op = decodeOp({ body })
        // Vanishingly rare, but a body that decodes must be canonical.
        expect(encodeOpBody({ ...op })).toEqual(body)
      } catch (err) {
        expect(err).toBeInstanceOf(OpRejectedError)
        expect(reasons.has((err as OpRejectedError).reason)).toBe(true)
      }
    }), { numRuns: 1000 })
    // Garbage in a well-framed body: every field present, but their contents wrong.
    expect(rejection(() => decodeOp({ body: new Uint8Array(120).fill(1) }))).toBe('malformed')
  })

  it('specific malformed bodies', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['empty body', new Uint8Array(0)],
      ['seq 0', handBody({ seq: 0 })],
      ['non-minimal varint seq', (() => { const b = handBody({ seq: 1 }); return Uint8Array.from([...b.subarray(0, 33), 0x81, 0x00, ...b.subarray(34)]) })()],
      ['seq 1 with a prev hash', handBody({ prev: new Uint8Array(32).fill(1) })],
      ['empty collection', handBody({ collection: '' })],
      ['empty key', handBody({ key: '' })],
      ['empty field on a set', handBody({ field: '' })],
      ['delete with a field', handBody({ kind: 2, field: 'f', value: new Uint8Array(0) })],
      ['delete with a value', handBody({ kind: 2, field: '', value: encodeValue(1) })],
      ['tags on an add', handBody({ kind: 4, tags: [new Uint8Array(STAMP_BYTES)] })],
      ['increment by a float', handBody({ kind: 3, value: encodeValue(1.5) })],
      ['increment by a string', handBody({ kind: 3, value: encodeValue('1') })],
      ['increment beyond the bound', handBody({ kind: 3, value: encodeValue(MAX_INCREMENT + 1) })],
      ['value with an unknown tag', handBody({ value: Uint8Array.from([42]) })],
      ['NaN value', handBody({ value: Uint8Array.from([3, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]) })],
      ['tag cut short', handBody({ kind: 5, tags: [new Uint8Array(10)], tagCount: 1 })],
      ['invalid UTF-8 in the key', (() => { const w = new ByteWriter(); w.u8(1).raw(KEY.publicKey).varint(1).raw(new Uint8Array(8)).u8(1).string('c').bytes(Uint8Array.from([0xc3])).string('f').bytes(encodeValue(1)).varint(0).raw(ZERO_HASH); return w.finish() })()],
      ['collection over its limit', handBody({ collection: 'x'.repeat(257) })],
      ['U+0000 in the collection', handBody({ collection: 'a\u0000b' })],
      ['U+0000 in the key', handBody({ key: '\u0000' })],
      ['U+0000 in the field', handBody({ field: 'f\u0000' })]
    ]
    for (const [what, body] of cases) {
      expect({ what, reason: rejection(() => decodeOp({ body })) }).toEqual({ what, reason: 'malformed' })
    }
  })

  it('a signature of the wrong length, or a body that is not bytes, is malformed', () => {
    expect(rejection(() => decodeOp({ body: good, sig: new Uint8Array(63) }))).toBe('malformed')
    expect(rejection(() => decodeOp({ body: 'abc' as unknown as Uint8Array }))).toBe('malformed')
    expect(rejection(() => decodeOp({ body: good, sig: 'x'.repeat(64) as unknown as Uint8Array }))).toBe('malformed')
    expect(rejection(() => decodeOp(null as unknown as EncodedOp))).toBe('malformed')
    expect(rejection(() => decodeOp({} as EncodedOp))).toBe('malformed')
  })

  it('an unknown kind is unknown_kind', () => {
    expect(rejection(() => decodeOp({ body: handBody({ kind: 6 }) }))).toBe('unknown_kind')
    expect(rejection(() => decodeOp({ body: handBody({ kind: 0 }) }))).toBe('unknown_kind')
    expect(rejection(() => decodeOp({ body: handBody({ kind: 255 }) }))).toBe('unknown_kind')
  })

  it('a newer format version is unknown_kind, not malformed (a newer peer is not a hostile one)', () => {
    expect(rejection(() => decodeOp({ body: handBody({ version: 2 }) }))).toBe('unknown_kind')
  })

  it('an oversized value is too_large, checked before the value is read', () => {
    const value = encodeValue('x'.repeat(100))
    expect(decodeOp({ body: handBody({ value }) }, { maxValueBytes: value.length }).value).toEqual(value)
    expect(rejection(() => decodeOp({ body: handBody({ value }) }, { maxValueBytes: value.length - 1 }))).toBe('too_large')
    // A length claiming more than the limit is refused even though the bytes are not there.
    expect(rejection(() => decodeOp({ body: handBody({ value: new Uint8Array(0), valueLength: 2 ** 40 }) }))).toBe('too_large')
    expect(rejection(() => decodeOp({ body: handBody({ kind: 5, tags: [], tagCount: MAX_TAGS + 1 }) }))).toBe('too_large')
  })
})

describe('bytes reader', () => {
  it('reads what the writer wrote and bounds every read', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))), ns => {
      const w = new ByteWriter(1)
      for (const n of ns) w.varint(n)
      const buf = w.finish()
      const r = new ByteReader(buf, 't')
      for (const n of ns) expect(r.varint('n')).toBe(n)
      r.end()
      expect(() => r.u8('x')).toThrow(expect.objectContaining({ name: 'MalformedError' }))
    }))
  })

  it('decodes strings exactly as a fatal UTF-8 decoder does, short ASCII and all', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
    const check = (bytes: Uint8Array): void => {
      const framed = new ByteWriter(1).bytes(bytes).finish()
      let expected: string | undefined
      try { expected = strict.decode(bytes) } catch { expected = undefined }
      const read = (): string => new ByteReader(framed, 't').string('name', 1000)
      if (expected === undefined) expect(read).toThrow(expect.objectContaining({ name: 'MalformedError', message: 't: name is not valid UTF-8' }))
      else expect(read()).toBe(expected)
    }
    // around the short-ASCII path's 32-byte limit, and bytes it must hand on
    for (const n of [0, 1, 31, 32, 33, 64]) check(utf8('a'.repeat(n)))
    for (const bad of [[0x80], [0xc3], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xc3]]) check(Uint8Array.from(bad))
    check(utf8('h\u00e9llo'))
    check(Uint8Array.from([0x61, 0x00, 0x7f]))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), check))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }).map(b => b.map(x => x & 0x7f)), check))
  })
})

/** A real verifier that counts how many signatures it checks. */
class CountingVerifier extends SignatureVerifier {
  calls = 0
  override verify (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    this.calls++
    return super.verify(publicKey, message, signature)
  }
}

/** A chain of `n` set ops by `key`, starting after `head`, unsigned. */
function chain (n: number, head: { seq: number, hash: Uint8Array } | null = null, key = KEY): Op[] {
  const out: Op[] = []
  let prev = head?.hash ?? ZERO_HASH
  let seq = head?.seq ?? 0
  for (let i = 0; i < n; i++) {
    const op = createOp(fields('set', { origin: key.publicKey, seq: ++seq, prev, hlc: { ms: 1000 + seq, counter: 0 }, value: encodeValue(i) }))
    out.push(op)
    prev = op.hash
  }
  return out
}

describe('verifyRun', () => {
  it('fast path: a long run closed by one signature costs one signature check', () => {
    const run = chain(200)
    run[199] = signed(run[199]!)
    const v = new CountingVerifier()
    expect(verifyRun(null, run, v)).toEqual({ accepted: 200, signedIndex: 199 })
    expect(v.calls).toBe(1)
  })

  it('fast path with several signed batches still checks only the last signature', () => {
    const run = chain(30)
    for (const i of [9, 19, 29]) run[i] = signed(run[i]!)
    const v = new CountingVerifier()
    expect(verifyRun(null, run, v)).toEqual({ accepted: 30, signedIndex: 29 })
    expect(v.calls).toBe(1)
  })

  it('extends a known head', () => {
    const first = chain(3)
    const run = chain(4, { seq: 3, hash: first[2]!.hash })
    run[3] = signed(run[3]!)
    expect(verifyRun({ seq: 3, hash: first[2]!.hash }, run, new SignatureVerifier())).toEqual({ accepted: 4, signedIndex: 3 })
  })

  it('slow path: a bad last signature falls back to the newest one that verifies', () => {
    const run = chain(10)
    run[3] = signed(run[3]!)
    run[6] = signed(run[6]!)
    run[9] = signed(run[9]!, OTHER) // signed by the wrong key
    const v = new CountingVerifier()
    const verdict = verifyRun(null, run, v)
    expect(verdict.accepted).toBe(7)
    expect(verdict.signedIndex).toBe(6)
    expect(verdict.rejection).toMatchObject({ index: 7, reason: 'bad_signature' })
    expect(v.calls).toBe(2)
  })

  it('slow path: no signature verifies, nothing is accepted', () => {
    const run = chain(5)
    run[2] = signed(run[2]!, OTHER)
    run[4] = withSignature(run[4]!, new Uint8Array(64))
    const verdict = verifyRun(null, run, new SignatureVerifier())
    expect(verdict).toMatchObject({ accepted: 0, signedIndex: -1, rejection: { index: 0, reason: 'bad_signature' } })
  })

  it('an unsigned tail is refused as unsigned; the signed prefix is accepted', () => {
    const run = chain(6)
    run[2] = signed(run[2]!)
    expect(verifyRun(null, run, new SignatureVerifier())).toMatchObject({ accepted: 3, signedIndex: 2, rejection: { index: 3, reason: 'unsigned' } })
    expect(verifyRun(null, chain(3), new SignatureVerifier())).toMatchObject({ accepted: 0, signedIndex: -1, rejection: { index: 0, reason: 'unsigned' } })
  })

  it('a gap is refused', () => {
    const run = chain(4)
    run[3] = signed(run[3]!)
    expect(verifyRun(null, run.slice(1), new SignatureVerifier())).toMatchObject({ accepted: 0, rejection: { index: 0, reason: 'gap' } })
    const withHole = [signed(run[0]!), run[2]!, run[3]!]
    expect(verifyRun(null, withHole, new SignatureVerifier())).toMatchObject({ accepted: 1, signedIndex: 0, rejection: { index: 1, reason: 'gap' } })
  })

  it('a broken chain is refused even when every op is validly signed', () => {
    const run = chain(3).map(op => signed(op))
    const forged = signed(createOp(fields('set', { seq: 4, prev: sha256(utf8('not the previous op')), hlc: { ms: 5000, counter: 0 } })))
    const verdict = verifyRun(null, [...run, forged], new SignatureVerifier())
    expect(verdict).toMatchObject({ accepted: 3, signedIndex: 2, rejection: { index: 3, reason: 'broken_chain' } })
    // Against a head: the first op must chain to the head's hash.
    expect(verifyRun({ seq: 3, hash: sha256(utf8('other')) }, [forged], new SignatureVerifier())).toMatchObject({ accepted: 0, rejection: { index: 0, reason: 'broken_chain' } })
  })

  it('an HLC that does not rise along the chain breaks it, against the head and within the run', () => {
    const run = chain(3)
    const same = signed(createOp(fields('set', { seq: 4, prev: run[2]!.hash, hlc: run[2]!.hlc })))
    run[2] = signed(run[2]!)
    expect(verifyRun(null, [...run, same], new SignatureVerifier())).toMatchObject({ accepted: 3, rejection: { index: 3, reason: 'broken_chain' } })
    const head = { seq: 3, hash: run[2]!.hash, hlc: run[2]!.hlc }
    expect(verifyRun(head, [same], new SignatureVerifier())).toMatchObject({ accepted: 0, rejection: { index: 0, reason: 'broken_chain' } })
    const later = signed(createOp(fields('set', { seq: 4, prev: run[2]!.hash, hlc: { ms: run[2]!.hlc.ms, counter: run[2]!.hlc.counter + 1 } })))
    expect(verifyRun(head, [later], new SignatureVerifier())).toEqual({ accepted: 1, signedIndex: 0 })
  })

  it('a run whose ops were altered after signing does not verify', () => {
    const run = chain(3)
    run[2] = signed(run[2]!)
    const body = Uint8Array.from(run[2]!.body)
    body[body.length - HASH_BYTES - 3]! ^= 1 // a byte of the value
    const tampered = decodeOp({ body, sig: run[2]!.sig })
    expect(verifyRun(null, [run[0]!, run[1]!, tampered], new SignatureVerifier())).toMatchObject({ accepted: 0, rejection: { reason: 'bad_signature' } })
  })
})

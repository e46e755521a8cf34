import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ADMISSION_DOMAIN, CERTIFICATE_VERSION, createGroup, decodeAdmission, decodeRecord, decodeRevocation, deviceNameProblem,
  encodeAdmission, encodeRecord, encodeRevocation, groupIdToString, isGroupId, MAX_CERTIFICATE_BYTES, parseGroupId, recordId,
  signAdmission, signRevocation, verifyRecord, type Admission, type Revocation
} from '../../src/auth/index.js'
import { MAX_COUNTER, MAX_MS } from '../../src/hlc/index.js'
import { ByteWriter } from '../../src/oplog/bytes.js'
import { DeviceKey } from '../../src/oplog/keys.js'

const T0 = 1_700_000_000_000
const groupKey = DeviceKey.generate()
const group = groupKey.publicKey
const alice = DeviceKey.generate()
const bob = DeviceKey.generate()

const reason = (r: string): unknown => expect.objectContaining({ name: 'CertificateError', reason: r })

describe('group ids', () => {
  it('round-trips and is visibly not a device id', () => {
    const id = groupIdToString(group)
    expect(id.startsWith('wg')).toBe(true)
    expect(id).toMatch(/^[A-Za-z0-9._-]{1,64}$/) // the daemon's group id syntax
    expect(parseGroupId(id)).toEqual(group)
    expect(isGroupId(id)).toBe(true)
  })

  it('says what is wrong with a bad id', () => {
    expect(() => parseGroupId(alice.id)).toThrow(/that is a device id/)
    expect(() => parseGroupId('default')).toThrow(/start with "wg"/)
    expect(() => parseGroupId('wg0OIl')).toThrow(/outside base58/)
    expect(() => parseGroupId(groupIdToString(group).slice(0, 20))).toThrow(/truncated/)
    expect(isGroupId('')).toBe(false)
  })

  it('createGroup signs a genesis admission with the group key', () => {
    const g = createGroup({ device: alice.publicKey, name: 'laptop', now: T0 })
    expect(g.groupId).toBe(groupIdToString(g.groupPub))
    expect(g.genesis.addedBy).toEqual(g.groupPub)
    expect(() => { verifyRecord(g.genesis, g.groupPub) }).not.toThrow()
  })
})

describe('admissions and revocations', () => {
  const adm = signAdmission({ group, device: alice.publicKey, name: 'laptop', addedAt: T0 }, groupKey)
  const rev = signRevocation({ group, device: bob.publicKey, at: { ms: T0 + 5, counter: 3 } }, alice)

  it('round-trip through their one encoding, which starts with version and domain tag', () => {
    const bytes = encodeAdmission(adm)
    expect(bytes[0]).toBe(CERTIFICATE_VERSION)
    expect(Buffer.from(bytes.subarray(2, 2 + ADMISSION_DOMAIN.length)).toString()).toBe(ADMISSION_DOMAIN)
    expect(decodeAdmission(bytes)).toEqual(adm)
    expect(decodeRevocation(encodeRevocation(rev))).toEqual(rev)
    expect(decodeRecord(encodeRecord(rev)).kind).toBe('revocation')
    expect(() => decodeRevocation(bytes)).toThrow(reason('malformed'))
  })

  it('is deterministic: the same statement gives the same bytes and id', () => {
    const again = signAdmission({ group, device: alice.publicKey, name: 'laptop', addedAt: T0 }, groupKey)
    expect(encodeAdmission(again)).toEqual(encodeAdmission(adm))
    expect(recordId(again)).toBe(recordId(adm))
  })

  it('round-trips any valid fields', () => {
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 20 }).filter(s => deviceNameProblem(s) === undefined),
      fc.integer({ min: 0, max: MAX_MS }), fc.integer({ min: 0, max: MAX_COUNTER }),
      (name, ms, counter) => {
        const a = signAdmission({ group, device: bob.publicKey, name, addedAt: ms }, alice)
        expect(decodeRecord(encodeRecord(a))).toEqual(a)
        const r = signRevocation({ group, device: bob.publicKey, at: { ms, counter } }, alice)
        expect(decodeRecord(encodeRecord(r))).toEqual(r)
      }), { numRuns: 50 })
  })

  it('detects tampering with any byte', () => {
    for (const record of [adm, rev] as Array<Admission | Revocation>) {
      const bytes = encodeRecord(record)
      for (let i = 0; i < bytes.length; i++) {
        const bad = bytes.slice()
        bad[i] = bad[i]! ^ 0x01
        let decoded
        try {
          decoded = decodeRecord(bad)
        } catch (err) {
          expect(err).toMatchObject({ name: 'CertificateError' })
          continue
        }
        expect(() => { verifyRecord(decoded, group) }, `byte ${i}`).toThrow(expect.objectContaining({ name: 'CertificateError' }))
      }
    }
  })

  it('refuses oversize, truncated, trailing and non-canonical input', () => {
    const bytes = encodeAdmission(adm)
    expect(() => decodeRecord(new Uint8Array(MAX_CERTIFICATE_BYTES + 1))).toThrow(reason('too_large'))
    expect(() => decodeRecord(bytes.subarray(0, bytes.length - 1))).toThrow(reason('malformed'))
    expect(() => decodeRecord(Uint8Array.from([...bytes, 0]))).toThrow(reason('malformed'))
    const v2 = bytes.slice()
    v2[0] = 2
    expect(() => decodeRecord(v2)).toThrow(/version 2 is not supported/)
    // The tag length as a two-byte varint: same value, another encoding.
    const nonMinimal = Uint8Array.from([bytes[0]!, bytes[1]! | 0x80, 0x00, ...bytes.subarray(2)])
    expect(() => decodeRecord(nonMinimal)).toThrow(reason('malformed'))
    expect(() => decodeRecord(new Uint8Array(0))).toThrow(reason('malformed'))
  })

  it('checks the group and the signature', () => {
    expect(() => { verifyRecord(adm, bob.publicKey) }).toThrow(reason('wrong_group'))
    const forged: Admission = { ...adm, addedBy: bob.publicKey }
    expect(() => { verifyRecord(forged, group) }).toThrow(reason('bad_signature'))
    // A signature is bound to its domain: an admission's signature does not make a revocation.
    const crossed: Revocation = { kind: 'revocation', group, device: alice.publicKey, revokedBy: groupKey.publicKey, at: { ms: T0, counter: 0 }, sig: adm.sig }
    expect(() => { verifyRecord(crossed, group) }).toThrow(reason('bad_signature'))
  })

  it('refuses meaningless statements, even when validly signed', () => {
    expect(() => signAdmission({ group, device: alice.publicKey, name: 'x', addedAt: T0 }, alice)).toThrow(/cannot admit itself/)
    expect(() => signAdmission({ group, device: group, name: 'x', addedAt: T0 }, alice)).toThrow(/group key cannot be a device/)
    // Build a self-admission by hand, as a hostile peer could.
    const body = new ByteWriter().u8(1).string(ADMISSION_DOMAIN).raw(group).raw(alice.publicKey).string('me').raw(alice.publicKey).varint(T0).finish()
    const self = decodeAdmission(Uint8Array.from([...body, ...alice.sign(body)]))
    expect(() => { verifyRecord(self, group) }).toThrow(reason('invalid'))
  })

  it('bounds and sanitises device names', () => {
    expect(deviceNameProblem('')).toMatch(/empty/)
    expect(deviceNameProblem('é'.repeat(32))).toBeUndefined() // 64 bytes
    expect(deviceNameProblem('é'.repeat(32) + 'x')).toMatch(/at most 64 bytes/)
    expect(deviceNameProblem('evil\x1b[2J')).toMatch(/control/)
    expect(deviceNameProblem('abc\u202Egnp.exe')).toMatch(/bidi/)
    expect(deviceNameProblem('\uD800')).toBeDefined()
    expect(deviceNameProblem('Pixel 8 📱')).toBeUndefined()
    expect(() => signAdmission({ group, device: bob.publicKey, name: 'a\nb', addedAt: T0 }, alice)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })

  it('refuses out-of-range times', () => {
    expect(() => signAdmission({ group, device: bob.publicKey, name: 'b', addedAt: -1 }, alice)).toThrow(/48-bit/)
    expect(() => signRevocation({ group, device: bob.publicKey, at: { ms: 1, counter: MAX_COUNTER + 1 } }, alice)).toThrow(/HLC/)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encodeRecord, Membership, signAdmission, signRevocation, verifyChain,
  type Admission, type MembershipRecord, type Revocation
} from '../../src/auth/index.js'
import { compareHlc, type Hlc } from '../../src/hlc/index.js'
import { DeviceKey } from '../../src/oplog/keys.js'

const T0 = 1_700_000_000_000
const groupKey = DeviceKey.generate()
const group = groupKey.publicKey
const keys = Array.from({ length: 8 }, () => DeviceKey.generate())
const [a, b, c, d] = keys as [DeviceKey, DeviceKey, DeviceKey, DeviceKey]

const admit = (device: DeviceKey, by: DeviceKey, addedAt: number, name = 'dev'): Admission =>
  signAdmission({ group, device: device.publicKey, name, addedAt }, by)
const revoke = (device: DeviceKey, by: DeviceKey, at: Hlc): Revocation =>
  signRevocation({ group, device: device.publicKey, at }, by)
const h = (ms: number, counter = 0): Hlc => ({ ms, counter })

function membershipOf (...records: MembershipRecord[]): Membership {
  const m = new Membership(group)
  const res = m.addAll(records)
  expect(res.rejected).toEqual([])
  return m
}

describe('building membership', () => {
  const genesis = admit(a, groupKey, T0, 'laptop')
  const bByA = admit(b, a, T0 + 10, 'phone')
  const cByB = admit(c, b, T0 + 20, 'tablet')

  it('admits the genesis device and its descendants, with names and signers', () => {
    const m = membershipOf(genesis, bByA, cByB)
    expect(m.members().map(x => [x.name, x.addedById])).toEqual([['laptop', m.groupId], ['phone', a.id], ['tablet', b.id]])
    for (const k of [a, b, c]) expect(m.isMember(k.publicKey)).toBe(true)
    expect(m.isMember(d.publicKey)).toBe(false)
    expect(m.isMember(group)).toBe(false)
  })

  it('keeps a record whose signer is unknown pending until the signer is admitted', () => {
    const m = membershipOf(cByB, genesis)
    expect(m.isMember(c.publicKey)).toBe(false)
    expect(m.status(cByB)).toBe('pending')
    expect(m.pending()).toHaveLength(1)
    expect(m.add(bByA).status).toBe('added')
    expect(m.isMember(c.publicKey)).toBe(true)
    expect(m.status(cByB)).toBe('effective')
    expect(m.pending()).toEqual([])
  })

  it('reports duplicates and rejects bad records without throwing', () => {
    const m = membershipOf(genesis)
    expect(m.add(genesis).status).toBe('duplicate')
    const other = DeviceKey.generate()
    const foreign = signAdmission({ group: other.publicKey, device: b.publicKey, name: 'x', addedAt: T0 }, other)
    const forged: Admission = { ...bByA, name: 'renamed' }
    const res = m.addAll([foreign, forged])
    expect(res.rejected.map(r => [r.index, r.reason])).toEqual([[0, 'wrong_group'], [1, 'bad_signature']])
    const enc = m.addEncoded([Uint8Array.of(1, 2, 3), encodeRecord(bByA), new Uint8Array(4096)])
    expect(enc).toMatchObject({ added: 1, duplicates: 0, rejected: [{ index: 0, reason: 'malformed' }, { index: 2, reason: 'too_large' }] })
    expect(m.size).toBe(2)
  })

  it('keeps a copy: changing the caller\'s arrays later changes nothing', () => {
    const m = new Membership(group)
    const mine = admit(b, a, T0)
    m.addAll([genesis, mine])
    mine.device.fill(0)
    expect(m.isMember(b.publicKey)).toBe(true)
  })

  it('bounds how many records it holds', () => {
    const m = new Membership(group, { maxRecords: 1 })
    m.add(genesis)
    expect(m.add(bByA)).toMatchObject({ status: 'rejected', reason: 'too_many' })
  })

  it('keeps a chain valid when a member\'s clock is behind its admitter\'s', () => {
    const m = membershipOf(genesis, admit(b, a, T0 - 60_000))
    expect(m.isMember(b.publicKey)).toBe(true)
    expect(m.member(b.publicKey)!.admittedAt).toEqual(h(T0 + 1))
  })
})

describe('revocation', () => {
  const genesis = admit(a, groupKey, T0)
  const bByA = admit(b, a, T0 + 10)

  it('refuses ops stamped at or after the revocation HLC and keeps the ones before', () => {
    const m = membershipOf(genesis, bByA, revoke(b, a, h(T0 + 1000, 5)))
    expect(m.isMember(b.publicKey, h(T0 + 999, 0xffff))).toBe(true)
    expect(m.isMember(b.publicKey, h(T0 + 1000, 4))).toBe(true)
    expect(m.isMember(b.publicKey, h(T0 + 1000, 5))).toBe(false)
    expect(m.isMember(b.publicKey, h(T0 + 1000, 6))).toBe(false)
    expect(m.isMember(b.publicKey)).toBe(false)
    expect(m.member(b.publicKey)!.revoked).toEqual({ at: h(T0 + 1000, 5), by: a.publicKey, byId: a.id })
    expect(m.members()).toHaveLength(2) // revoked members are still listed
  })

  it('counts a revoked member\'s admissions signed before its revocation, not at or after', () => {
    const revB = revoke(b, a, h(T0 + 2000))
    const before = admit(c, b, T0 + 1999)
    const same = admit(d, b, T0 + 2000)
    const m = membershipOf(genesis, bByA, revB, before, same)
    expect(m.isMember(c.publicKey)).toBe(true)
    expect(m.isMember(d.publicKey)).toBe(false)
    expect(m.status(same)).toBe('signer_revoked')
    expect(verifyChain(group, [genesis, bByA, same], d.publicKey, { revocations: [revB] })).toMatchObject({ ok: false, reason: 'not_member' })
  })

  it('allows self-revocation', () => {
    const m = membershipOf(genesis, bByA, revoke(b, b, h(T0 + 50)))
    expect(m.isMember(b.publicKey)).toBe(false)
    expect(m.isMember(b.publicKey, h(T0 + 49))).toBe(true)
  })

  it('lets the group key revoke, and ignores revocations by non-members', () => {
    const stranger = DeviceKey.generate()
    const byStranger = revoke(b, stranger, h(T0))
    const m = membershipOf(genesis, bByA, byStranger)
    expect(m.isMember(b.publicKey)).toBe(true)
    expect(m.status(byStranger)).toBe('pending')
    m.add(revoke(a, groupKey, h(T0 + 5)))
    expect(m.isMember(a.publicKey)).toBe(false)
  })

  it('a thief backdating a revocation of the real device cannot stay the last member', () => {
    // a revokes the stolen b at 5000; b answers by revoking a "at" 3000.
    const m = membershipOf(genesis, bByA, revoke(b, a, h(T0 + 5000)), revoke(a, b, h(T0 + 3000)))
    expect(m.isMember(a.publicKey)).toBe(false)
    expect(m.isMember(b.publicKey)).toBe(false)
  })

  it('is final for a key: a later admission does not bring it back', () => {
    const m = membershipOf(genesis, bByA, revoke(b, a, h(T0 + 100)), admit(b, a, T0 + 200))
    expect(m.isMember(b.publicKey)).toBe(false)
  })

  it('resolves a device revoking its own admitter before it existed, without a paradox', () => {
    // b, admitted at T0+10, claims to revoke a at T0+1: the revocation takes effect just after b's admission.
    const m = membershipOf(genesis, bByA, revoke(a, b, h(T0 + 1)))
    expect(m.isMember(b.publicKey)).toBe(true)
    expect(m.member(a.publicKey)!.revoked!.at).toEqual(h(T0 + 11))
    expect(m.isMember(a.publicKey, h(T0 + 10, 9))).toBe(true)
  })
})

describe('chains', () => {
  const genesis = admit(a, groupKey, T0)
  const bByA = admit(b, a, T0 + 10)
  const cByB = admit(c, b, T0 + 20)

  it('chainFor gives the admissions root first, and verifyChain accepts them in any order', () => {
    const m = membershipOf(genesis, bByA, cByB, admit(d, a, T0 + 30))
    const chain = m.chainFor(c.publicKey)!
    expect(chain).toEqual([genesis, bByA, cByB])
    expect(verifyChain(group, chain, c.publicKey)).toMatchObject({ ok: true, member: { id: c.id } })
    expect(verifyChain(group, [...chain].reverse(), c.publicKey).ok).toBe(true)
    expect(m.chainFor(DeviceKey.generate().publicKey)).toBeUndefined()
  })

  it('refuses a forged chain, a wrong group and a signer that is not a member', () => {
    const mallory = DeviceKey.generate()
    expect(verifyChain(group, [admit(c, mallory, T0)], c.publicKey)).toMatchObject({ ok: false, reason: 'not_member' })
    const fakeRoot = DeviceKey.generate()
    const fakeGenesis = signAdmission({ group, device: a.publicKey, name: 'a', addedAt: T0 }, fakeRoot)
    expect(verifyChain(group, [fakeGenesis, bByA, cByB], c.publicKey)).toMatchObject({ ok: false, reason: 'not_member', message: /does not lead back/ })
    expect(verifyChain(DeviceKey.generate().publicKey, [genesis, bByA], b.publicKey)).toMatchObject({ ok: false, reason: 'wrong_group' })
    expect(verifyChain(group, [genesis, { ...bByA, addedAt: bByA.addedAt + 1 }], b.publicKey)).toMatchObject({ ok: false, reason: 'bad_signature' })
    expect(verifyChain(group, [genesis], b.publicKey)).toMatchObject({ ok: false, message: /holds no admission/ })
    expect(verifyChain(group, Array.from({ length: 65 }, () => genesis), a.publicKey)).toMatchObject({ ok: false, reason: 'too_long' })
  })

  it('fails a revoked device, or passes it at a time before its revocation', () => {
    const rev = revoke(b, a, h(T0 + 100))
    expect(verifyChain(group, [genesis, bByA], b.publicKey, { revocations: [rev] })).toMatchObject({ ok: false, reason: 'not_member', message: /revoked at/ })
    expect(verifyChain(group, [genesis, bByA], b.publicKey, { revocations: [rev], at: h(T0 + 99) }).ok).toBe(true)
  })
})

// A random group: devices admitted by the group key or earlier devices (and
// sometimes twice), clocks skewed either way, revocations by random signers.
interface Scenario {
  parents: number[]
  times: number[]
  extra: Array<[number, number, number]>
  revocations: Array<[number, number, number, number]>
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: keys.length }).chain(n => fc.record({
  // parent -1 is the group key
  parents: fc.tuple(...Array.from({ length: n }, (_, i) => fc.integer({ min: -1, max: i - 1 }))),
  times: fc.array(fc.integer({ min: 0, max: 50 }), { minLength: n, maxLength: n }),
  extra: fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: -1, max: n - 1 }), fc.integer({ min: 0, max: 50 })), { maxLength: 4 }),
  revocations: fc.array(
    fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: -1, max: n - 1 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2 })),
    { maxLength: 4 }
  )
}))

function recordsOf (s: Scenario): MembershipRecord[] {
  const signer = (i: number): DeviceKey => i < 0 ? groupKey : keys[i]!
  const out: MembershipRecord[] = []
  s.parents.forEach((p, i) => { if (p !== i) out.push(admit(keys[i]!, signer(p), T0 + s.times[i]!, `d${i}`)) })
  for (const [i, p, t] of s.extra) if (p !== i) out.push(admit(keys[i]!, signer(p), T0 + t, `x${i}`))
  for (const [i, p, t, k] of s.revocations) out.push(revoke(keys[i]!, signer(p), h(T0 + t, k)))
  return out
}

function snapshot (m: Membership): unknown {
  const probes = [undefined, h(T0), h(T0 + 25, 1), h(T0 + 100)]
  return {
    members: m.members(),
    isMember: keys.map(k => probes.map(p => m.isMember(k.publicKey, p))),
    chains: keys.map(k => m.chainFor(k.publicKey)?.map(x => encodeRecord(x).join(','))),
    status: m.records().map(r => m.status(r))
  }
}

describe('order independence', () => {
  it('gives the same state whatever order and batching the records arrive in', () => {
    fc.assert(fc.property(scenarioArb.chain(s => {
      const records = recordsOf(s)
      return fc.tuple(
        fc.constant(records),
        fc.shuffledSubarray(records, { minLength: records.length }),
        fc.shuffledSubarray(records, { minLength: records.length })
      )
    }), ([records, order1, order2]) => {
      const all = membershipOf(...records)
      const incremental = new Membership(group)
      for (const r of order1) { incremental.add(r); incremental.members() } // query between adds
      const withDuplicates = new Membership(group)
      withDuplicates.addAll([...order2, ...order1])
      const expected = snapshot(all)
      expect(snapshot(incremental)).toEqual(expected)
      expect(snapshot(withDuplicates)).toEqual(expected)
    }), { numRuns: 100 })
  })

  it('every member\'s chain verifies on its own, even with all revocations known', () => {
    fc.assert(fc.property(scenarioArb, s => {
      const m = membershipOf(...recordsOf(s))
      const revocations = m.records().filter((r): r is Revocation => r.kind === 'revocation')
      for (const k of keys) {
        const chain = m.chainFor(k.publicKey)
        if (!m.isMember(k.publicKey)) continue
        expect(chain).toBeDefined()
        expect(verifyChain(group, chain!, k.publicKey, { revocations }).ok).toBe(true)
        // Effective times strictly grow down a chain.
        const times = chain!.map(x => m.member(x.device)!.admittedAt)
        for (let i = 1; i < times.length; i++) expect(compareHlc(times[i - 1]!, times[i]!)).toBe(-1)
      }
    }), { numRuns: 100 })
  })
})

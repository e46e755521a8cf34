/**
 * planApply is pure: given a batch and a read-only view of the store it
 * returns what to write (the plan, and the membership records the batch
 * carries) and writes nothing, not even those records. The view here is
 * plain objects that count what is asked of them and change nothing.
 */
import { describe, expect, it } from 'vitest'
import { createGroup } from '../../src/auth/group.js'
import { encodeRecord, signAdmission } from '../../src/auth/certificate.js'
import { Membership } from '../../src/auth/membership.js'
import { DeviceKey, SignatureVerifier } from '../../src/oplog/keys.js'
import type { EncodedOp } from '../../src/oplog/op.js'
import { planApply, type ApplyView, type MembershipView } from '../../src/store/apply-remote.js'
import { MEMBERS_COLLECTION, membershipRecordsIn } from '../../src/store/group-records.js'
import { RemoteDevice } from '../helpers/fixtures.js'

const WALL_MS = 1_700_000_100_000

/** A group of one (`a`), the admission of `c` signed by `a`, and the records encoded. */
function world (): { a: RemoteDevice, c: RemoteDevice, membership: Membership, admitC: Uint8Array } {
  const a = new RemoteDevice()
  const c = new RemoteDevice()
  const g = createGroup({ device: a.key.publicKey, name: 'a', now: 1_700_000_000_000 })
  const membership = new Membership(g.groupPub)
  membership.add(g.genesis)
  const admitC = encodeRecord(signAdmission({ group: g.groupPub, device: c.key.publicKey, name: 'c', addedAt: 1_700_000_000_001 }, a.key))
  return { a, c, membership, admitC }
}

/** A view over nothing held yet; every read is counted. */
function viewOf (membership: Membership): { view: ApplyView, reads: Record<string, number> } {
  const reads: Record<string, number> = { origin: 0, hashAt: 0, membership: 0 }
  const group: MembershipView = {
    recordsIn: membershipRecordsIn,
    authorizer: records => {
      const m = membership.fork()
      m.addEncoded(records)
      return (origin, hlc) => m.isMember(origin, hlc)
    }
  }
  const view: ApplyView = Object.freeze({
    oplog: { origin: () => { reads.origin!++; return undefined }, hashAt: () => { reads.hashAt!++; return undefined } },
    clock: { wall: () => WALL_MS, maxDriftMs: 60_000 },
    verifier: new SignatureVerifier(),
    limits: { maxValueBytes: 1 << 20 },
    membership: () => { reads.membership!++; return group }
  })
  return { view, reads }
}

function batch (w: ReturnType<typeof world>): EncodedOp[] {
  const fromA = w.a.run([{ collection: MEMBERS_COLLECTION, key: 'admit-c', field: 'record', value: w.admitC }])
  const fromC = w.c.run([{ collection: 'notes', key: 'n1', value: 'from c' }, { collection: 'notes', key: 'n2', value: 'also' }])
  return [...fromA, ...fromC]
}

describe('planApply (pure)', () => {
  it('counts the records a batch carries, returns them, and writes nothing', () => {
    const w = world()
    const { view, reads } = viewOf(w.membership)
    const ops = batch(w)
    const plan = planApply(view, ops)

    expect(plan.rejected).toEqual([])
    expect(plan.runs.map(r => r.ops.length)).toEqual([1, 2])
    expect(plan.records).toEqual([w.admitC])
    expect(plan.maxHlc).toEqual({ ms: w.c.ms, counter: 0 })
    // The group the view reads is as it was: c is admitted only by the plan's records, which the caller saves.
    expect(w.membership.isMember(w.c.key.publicKey)).toBe(false)
    expect(w.membership.size).toBe(1)
    expect(reads.membership).toBe(1)
    expect(reads.origin).toBe(2)

    // Pure: the same input plans the same way again.
    const again = planApply(viewOf(w.membership).view, ops)
    expect(again.runs.map(r => r.ops.map(op => op.seq))).toEqual(plan.runs.map(r => r.ops.map(op => op.seq)))
    expect(again.records).toEqual(plan.records)
  })

  it('without the admission in the batch, the new device is not a member', () => {
    const w = world()
    const fromC = w.c.run([{ collection: 'notes', key: 'n1', value: 'from c' }])
    const plan = planApply(viewOf(w.membership).view, fromC)
    expect(plan.runs).toEqual([])
    expect(plan.records).toEqual([])
    expect(plan.rejected.map(r => r.reason)).toEqual(['not_member'])
  })

  it('outside a group, no records are taken and every origin may write', () => {
    const w = world()
    const view: ApplyView = { ...viewOf(w.membership).view, membership: () => undefined }
    const plan = planApply(view, batch(w))
    expect(plan.records).toEqual([])
    expect(plan.runs.map(r => r.ops.length)).toEqual([1, 2])
  })

  it('a record that does not verify is returned for the caller to refuse, and admits no one', () => {
    const w = world()
    const stranger = DeviceKey.generate()
    const forged = encodeRecord(signAdmission({ group: w.membership.groupPub, device: w.c.key.publicKey, name: 'c', addedAt: 1_700_000_000_001 }, stranger))
    const fromA = w.a.run([{ collection: MEMBERS_COLLECTION, key: 'forged', field: 'record', value: forged }])
    const fromC = w.c.run([{ collection: 'notes', key: 'n1', value: 'from c' }])
    const plan = planApply(viewOf(w.membership).view, [...fromA, ...fromC])
    expect(plan.records).toEqual([forged])
    expect(plan.runs.map(r => r.ops.length)).toEqual([1])
    expect(plan.rejected.map(r => r.reason)).toEqual(['not_member'])
  })
})

/**
 * Retiring a lost device's identity (what weft recover does when the old key
 * survived): the old key signs its own revocation and names its successor;
 * every member keeps the old identity's ops, refuses anything it signs later,
 * and shows who replaced it. Only the old key can name a successor.
 */
import { describe, expect, it } from 'vitest'
import { encodeRecord } from '../../src/auth/certificate.js'
import { encodeSuccession, signSuccession } from '../../src/auth/succession.js'
import { encodeValue } from '../../src/oplog/value.js'
import { DeviceKey } from '../../src/oplog/keys.js'
import { createOp, signingMessage, toEncoded, withSignature } from '../../src/oplog/op.js'
import { MEMBERS_COLLECTION, SUCCESSION_KEY_PREFIX, type Replica } from '../../src/store/replica.js'
import { FakeClock, newReplica } from '../helpers/fixtures.js'

function syncInto (from: Replica, to: Replica): ReturnType<Replica['applyRemote']> {
  return to.applyRemote(from.opsSince(to.versionVector(), { limit: 100_000 }).ops)
}

function pair (inviter: Replica, joiner: Replica, name: string): void {
  inviter.admit(joiner.deviceKey.publicKey, name)
  joiner.joinGroup(inviter.group!.pub, inviter.membership!.records().map(encodeRecord))
}

describe('retiring a predecessor', () => {
  it('revokes the old identity by its own key, keeps its ops everywhere, refuses what it signs later, and names the successor', () => {
    const clock = new FakeClock()
    const desk = newReplica({ wallClock: clock.now })
    desk.createGroup('desk')
    const old = newReplica({ wallClock: clock.now })
    pair(desk, old, 'laptop')
    old.put('notes', 'mine', { v: 1 })
    syncInto(old, desk)
    clock.advance(1000)
    // The laptop's disk dies; a new identity joins and pulls everything.
    const fresh = newReplica({ wallClock: clock.now })
    pair(desk, fresh, 'laptop')
    syncInto(desk, fresh)
    expect(fresh.get('notes', 'mine')).toEqual({ v: 1 })
    const { at } = fresh.retirePredecessor(old.deviceKey)
    expect(at.ms).toBeGreaterThanOrEqual(clock.ms)
    expect(syncInto(fresh, desk).rejected).toEqual([])
    expect(desk.membership!.isRevoked(old.deviceKey.publicKey)).toBe(true)
    expect(desk.successors()).toEqual(new Map([[old.deviceId, fresh.deviceId]]))
    expect(desk.get('notes', 'mine')).toEqual({ v: 1 })
    // Anything the old key signs from now on is refused by every member.
    clock.advance(1000)
    old.put('notes', 'later', { v: 2 })
    const res = desk.applyRemote(old.opsSince(new Map([[old.deviceId, 1]])).ops
      .filter(op => Buffer.from(op.body.subarray(1, 33)).equals(Buffer.from(old.deviceKey.publicKey))))
    expect(res.applied).toBe(0)
    expect(res.rejected[0]!.reason).toBe('not_member')
    // The new identity writes on.
    fresh.put('notes', 'new', { v: 3 })
    expect(syncInto(fresh, desk).rejected).toEqual([])
    expect(desk.get('notes', 'new')).toEqual({ v: 3 })
  })

  it('a succession statement not signed by the old key names no successor', () => {
    const clock = new FakeClock()
    const desk = newReplica({ wallClock: clock.now })
    desk.createGroup('desk')
    const victim = newReplica({ wallClock: clock.now })
    pair(desk, victim, 'laptop')
    const thief = newReplica({ wallClock: clock.now })
    pair(desk, thief, 'thief')
    // The thief signs "victim is succeeded by thief" with a key of its own (not the victim's), as the victim's statement.
    const statement = signSuccession({ group: desk.group!.pub, successor: thief.deviceKey.publicKey, at: { ms: clock.ms, counter: 0 } }, DeviceKey.generate())
    const forged = { ...statement, old: victim.deviceKey.publicKey }
    const op = createOp({ origin: thief.deviceKey.publicKey, seq: 1, hlc: { ms: clock.ms, counter: 1 }, kind: 'set', collection: MEMBERS_COLLECTION, key: `${SUCCESSION_KEY_PREFIX}${victim.deviceId}`, field: 'statement', value: encodeValue(encodeSuccession(forged)), tags: [], prev: new Uint8Array(32) })
    const signed = withSignature(op, thief.deviceKey.sign(signingMessage(op.hash)))
    expect(desk.applyRemote([toEncoded(signed)]).applied).toBe(1)
    expect(desk.successors()).toEqual(new Map())
  })
})

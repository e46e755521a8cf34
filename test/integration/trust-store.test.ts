/**
 * Membership enforced by the store: only members' ops are applied, a revoked
 * device's ops after its revocation are refused, and membership records ride
 * in ops like any data.
 */
import { describe, expect, it } from 'vitest'
import { encodeRecord } from '../../src/auth/certificate.js'
import type { Replica } from '../../src/store/replica.js'
import { newReplica } from '../helpers/fixtures.js'

function syncInto (from: Replica, to: Replica): ReturnType<Replica['applyRemote']> {
  return to.applyRemote(from.opsSince(to.versionVector(), { limit: 100_000 }).ops)
}

function chainOf (r: Replica): Uint8Array[] {
  return r.membership!.records().map(encodeRecord)
}

function pair (inviter: Replica, joiner: Replica, name = 'joiner'): void {
  inviter.admit(joiner.deviceKey.publicKey, name)
  joiner.joinGroup(inviter.group!.pub, chainOf(inviter))
}

describe('group membership in the store', () => {
  it('applies members\' ops and refuses a stranger\'s, with not_member', () => {
    const a = newReplica()
    a.createGroup('laptop')
    const b = newReplica()
    pair(a, b, 'phone')
    b.put('notes', 'n1', { title: 'from b' })
    const fromB = syncInto(b, a)
    expect(fromB.rejected).toEqual([])
    expect(a.get('notes', 'n1')).toEqual({ title: 'from b' })

    const stranger = newReplica()
    stranger.put('notes', 'evil', { x: 1 })
    const before = a.digest()
    const res = syncInto(stranger, a)
    expect(res.applied).toBe(0)
    expect(res.rejected.map(r => r.reason)).toEqual(['not_member'])
    expect(a.digest()).toBe(before)
  })

  it('refuses valid ops replayed into another group', () => {
    const a = newReplica()
    a.createGroup('a')
    a.put('notes', 'n1', { v: 1 })
    const other = newReplica()
    other.createGroup('other')
    const res = syncInto(a, other)
    expect(res.applied).toBe(0)
    // The first op is refused as not_member; the rest of the chain follows a refused op.
    expect(res.rejected[0]!.reason).toBe('not_member')
    expect(res.rejected.every(r => r.reason === 'not_member' || r.reason === 'gap')).toBe(true)
    expect(other.get('notes', 'n1')).toBeUndefined()
  })

  it('accepts a new device\'s ops in the same batch as its admission (records are harvested first)', () => {
    const a = newReplica()
    a.createGroup('a')
    const b = newReplica()
    pair(a, b)
    const c = newReplica()
    pair(a, c)
    c.put('notes', 'from-c', { v: 3 })
    // b has never seen c's admission: it comes in a's ops, c's ops alongside.
    const page = [...a.opsSince(b.versionVector()).ops, ...c.opsSince(b.versionVector()).ops]
    const res = b.applyRemote(page)
    expect(res.rejected).toEqual([])
    expect(b.get('notes', 'from-c')).toEqual({ v: 3 })
    expect(b.membership!.members().map(m => m.name).sort()).toEqual(['a', 'joiner', 'joiner'])
  })

  it('revocation: the revoked device\'s old ops stay, its new ones are refused on every member', () => {
    const a = newReplica()
    a.createGroup('a')
    const b = newReplica()
    pair(a, b, 'b')
    const c = newReplica()
    pair(a, c, 'c')
    c.put('notes', 'old', { v: 1 })
    syncInto(c, a)
    syncInto(a, b)
    expect(b.get('notes', 'old')).toEqual({ v: 1 })

    a.revoke(c.deviceKey.publicKey)
    syncInto(a, b) // the revocation reaches b as data
    expect(b.membership!.isMember(c.deviceKey.publicKey)).toBe(false)

    c.put('notes', 'new', { v: 2 })
    for (const member of [a, b]) {
      const res = syncInto(c, member)
      expect(res.rejected.map(r => r.reason)).toContain('not_member')
      expect(member.get('notes', 'new')).toBeUndefined()
      expect(member.get('notes', 'old')).toEqual({ v: 1 })
    }
  })

  it('keeps a device\'s own data when it joins a group, and syncs it into the group', () => {
    const a = newReplica()
    a.createGroup('a')
    const b = newReplica()
    b.put('notes', 'mine', { v: 'before joining' })
    pair(a, b)
    expect(b.get('notes', 'mine')).toEqual({ v: 'before joining' })
    expect(syncInto(b, a).rejected).toEqual([])
    expect(a.get('notes', 'mine')).toEqual({ v: 'before joining' })
  })

  it('keeps reserved collections to weft', () => {
    const a = newReplica()
    expect(() => a.put('_weft.members', 'x', { record: 1 })).toThrow(/reserved/)
  })

  it('membership survives a reopen', () => {
    const a = newReplica()
    a.createGroup('a')
    const dir = a.dir
    const id = a.group!.id
    a.close()
    const again = newReplica({ dir })
    expect(again.group?.id).toBe(id)
    expect(again.membership!.isMember(again.deviceKey.publicKey)).toBe(true)
  })
})

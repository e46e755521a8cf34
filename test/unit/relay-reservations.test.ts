/**
 * The relay's reservation book on its own, with a fake clock: members always
 * get a slot (a stranger is evicted for them), strangers are bounded in all
 * and per IP, every reservation ends at its class's TTL or when its holder
 * disconnects, and admission changes move a reservation between classes.
 * The wiring into the circuit relay server runs in test/e2e/relay-limits.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ipKey, ReservationBook, type ReservationBookInit, type ReservationClass } from '../../relay/reservations.js'

const minute = 60_000
const members = new Set<string>()
const outcomes: string[] = []

beforeEach(() => { vi.useFakeTimers(); members.clear(); outcomes.length = 0 })
afterEach(() => { vi.useRealTimers() })

function book (init: Partial<ReservationBookInit> = {}): ReservationBook {
  return new ReservationBook({
    maxReservations: 4,
    maxStrangerReservations: 2,
    maxStrangerReservationsPerIp: 1,
    memberTtlMs: 120 * minute,
    strangerTtlMs: 10 * minute,
    memberLimit: { duration: 30 * minute, data: 64n << 20n },
    strangerLimit: { duration: 2 * minute, data: 128n << 10n },
    classify: (peer): ReservationClass => members.has(peer.toString()) ? 'member' : 'stranger',
    onAccepted: (cls) => outcomes.push(`accepted ${cls}`),
    onRefused: (reason) => outcomes.push(`refused ${reason}`),
    onEnded: (cls, reason) => outcomes.push(`ended ${cls} ${reason}`),
    ...init
  })
}

async function peer (member = false): Promise<PeerId> {
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  if (member) members.add(id.toString())
  return id
}

const from = (ip: string): ReturnType<typeof multiaddr> => multiaddr(ip.includes(':') ? `/ip6/${ip}/tcp/4001` : `/ip4/${ip}/tcp/4001`)

describe('relay reservation book', () => {
  it('bounds strangers in all and per IP, and leaves the rest to members', async () => {
    const b = book()
    expect(b.reserve(await peer(), from('203.0.113.1')).status).toBe('OK')
    expect(b.reserve(await peer(), from('203.0.113.1')).status).toBe('RESERVATION_REFUSED') // same IP
    expect(b.reserve(await peer(), from('203.0.113.2')).status).toBe('OK')
    expect(b.reserve(await peer(), from('203.0.113.3')).status).toBe('RESERVATION_REFUSED') // stranger share used up
    expect(b.reserve(await peer(true), from('203.0.113.1')).status).toBe('OK')
    expect(b.reserve(await peer(true), from('203.0.113.1')).status).toBe('OK') // members: no per-IP bound
    expect(b.counts()).toEqual({ member: 2, stranger: 2 })
    expect(outcomes).toEqual(['accepted stranger', 'refused ip_limit', 'accepted stranger', 'refused strangers_full', 'accepted member', 'accepted member'])
  })

  it('evicts the stranger closest to its expiry for a member when every slot is taken; refuses only when all are members', async () => {
    const b = book({ maxReservations: 2, maxStrangerReservations: 2, maxStrangerReservationsPerIp: 2 })
    const older = await peer()
    const newer = await peer()
    b.reserve(older, from('203.0.113.1'))
    vi.advanceTimersByTime(minute)
    b.reserve(newer, from('203.0.113.1'))
    const signal = b.get(older)!.signal
    expect(b.reserve(await peer(true), from('198.51.100.1')).status).toBe('OK')
    expect(signal.aborted).toBe(true) // relayed connections through it are cut
    expect(b.get(older)).toBeUndefined()
    expect(b.get(newer)).toBeDefined()
    expect(b.reserve(await peer(true), from('198.51.100.2')).status).toBe('OK')
    expect(b.reserve(await peer(true), from('198.51.100.3')).status).toBe('RESERVATION_REFUSED')
    expect(b.counts()).toEqual({ member: 2, stranger: 0 })
    expect(outcomes.filter(o => !o.startsWith('accepted'))).toEqual(['ended stranger evicted', 'ended stranger evicted', 'refused full'])
  })

  it('ends reservations at their class\'s TTL unless refreshed, and when the holder disconnects', async () => {
    const b = book()
    const stranger = await peer()
    const member = await peer(true)
    b.reserve(stranger, from('203.0.113.1'))
    b.reserve(member, from('203.0.113.2'))
    expect(b.get(stranger)?.limit?.data).toBe(128n << 10n)
    expect(b.get(member)?.limit?.data).toBe(64n << 20n)
    vi.advanceTimersByTime(9 * minute)
    b.reserve(stranger, from('203.0.113.1')) // refresh: a new 10 minutes
    vi.advanceTimersByTime(9 * minute)
    expect(b.get(stranger)).toBeDefined()
    vi.advanceTimersByTime(2 * minute)
    expect(b.get(stranger)).toBeUndefined()
    expect(b.get(member)).toBeDefined()
    b.end(member, 'disconnected')
    expect(b.reservations.size).toBe(0)
    expect(outcomes.filter(o => o.startsWith('ended'))).toEqual(['ended stranger expired', 'ended member disconnected'])
  })

  it('moves a reservation between classes when its holder is admitted or no longer is', async () => {
    const b = book({ maxStrangerReservations: 1 })
    const p = await peer()
    b.reserve(p, from('203.0.113.1'))
    members.add(p.toString())
    b.reclassify(p)
    expect(b.get(p)).toMatchObject({ class: 'member', limit: { data: 64n << 20n } })
    expect(b.get(p)!.expiry.getTime()).toBe(Date.now() + 120 * minute)
    // the stranger slot it held is free again
    expect(b.reserve(await peer(), from('203.0.113.9')).status).toBe('OK')
    members.delete(p.toString())
    b.reclassify(p)
    expect(b.get(p)).toMatchObject({ class: 'stranger', limit: { data: 128n << 10n } })
    expect(b.get(p)!.expiry.getTime()).toBe(Date.now() + 10 * minute)
  })

  it('keys IPv4 by address and IPv6 by /64', () => {
    expect(ipKey(from('203.0.113.7'))).toBe('203.0.113.7')
    expect(ipKey(from('2001:db8:1:2:aaaa::1'))).toBe('2001:db8:1:2::/64')
    expect(ipKey(from('2001:db8:1:2:bbbb:cccc:dddd:eeee'))).toBe('2001:db8:1:2::/64')
    expect(ipKey(from('2001:db8::1'))).toBe('2001:db8:0:0::/64')
    expect(ipKey(from('::ffff:203.0.113.7'))).toBe('203.0.113.7')
    expect(ipKey(multiaddr('/dns4/example.com/tcp/1'))).toBeUndefined()
  })
})

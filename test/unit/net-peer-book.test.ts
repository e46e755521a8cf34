/**
 * The member dialer's pure rules: what kind of address a multiaddr is, the
 * order addresses are dialled in, what a failed dial means, and how `weft
 * doctor` words why a member is not connected.
 */
import { describe, expect, it } from 'vitest'
import { classifyAddress, dialFailure, MemoryPeerBook, rankAddresses, whyUnreachable, type BookEntry } from '../../src/net/members/peer-book.js'

const PEER = '12D3KooWPeerPeerPeerPeerPeerPeerPeerPeerPeerPeerPeerP'
const R1 = '12D3KooWRelayOneRelayOneRelayOneRelayOneRelayOneRelay'
const R2 = '12D3KooWRelayTwoRelayTwoRelayTwoRelayTwoRelayTwoRelay'

const entry = (addr: string, fields: Partial<BookEntry> = {}): BookEntry => ({ peer: PEER, addr, kind: 'lan', seenAt: 1, failures: 0, ...fields })

describe('classifyAddress', () => {
  it('tells LAN, public and circuit addresses apart and strips the peer id', () => {
    expect(classifyAddress('/ip4/192.168.1.5/tcp/4001/p2p/' + PEER, PEER)).toEqual({ addr: '/ip4/192.168.1.5/tcp/4001', kind: 'lan' })
    expect(classifyAddress('/ip4/127.0.0.1/tcp/4001', PEER)).toEqual({ addr: '/ip4/127.0.0.1/tcp/4001', kind: 'lan' })
    expect(classifyAddress('/ip4/11.23.0.10/tcp/4001', PEER)).toEqual({ addr: '/ip4/11.23.0.10/tcp/4001', kind: 'direct' })
    expect(classifyAddress('/dns4/example.org/tcp/4001', PEER)).toEqual({ addr: '/dns4/example.org/tcp/4001', kind: 'direct' })
    expect(classifyAddress(`/ip4/11.23.0.10/tcp/4001/p2p/${R1}/p2p-circuit/p2p/${PEER}`, PEER))
      .toEqual({ addr: `/ip4/11.23.0.10/tcp/4001/p2p/${R1}/p2p-circuit`, kind: 'relay', relay: R1 })
  })

  it('refuses what names no way to reach the peer, or another peer', () => {
    expect(classifyAddress(`/p2p/${PEER}`, PEER)).toBeUndefined()
    expect(classifyAddress(`/ip4/1.2.3.4/tcp/1/p2p/${R1}`, PEER)).toBeUndefined()
    expect(classifyAddress('/p2p-circuit', PEER)).toBeUndefined()
    expect(classifyAddress('not a multiaddr', PEER)).toBeUndefined()
  })
})

describe('rankAddresses', () => {
  const up = { relayConnected: (r: string) => r === R1 }

  it('puts what worked last first, then circuits through connected relays, then untried, then what failed last', () => {
    const worked = entry('/ip4/10.0.0.2/tcp/1', { okAt: 100 })
    const workedEarlier = entry('/ip4/10.0.0.3/tcp/1', { okAt: 50 })
    const circuit = entry(`/x/p2p/${R1}/p2p-circuit`, { kind: 'relay', relay: R1 })
    const untried = entry('/ip4/10.0.0.4/tcp/1')
    const failedOnce = entry('/ip4/10.0.0.5/tcp/1', { okAt: 10, failAt: 20, failures: 1 })
    const failedTwice = entry('/ip4/10.0.0.6/tcp/1', { failAt: 20, failures: 2 })
    expect(rankAddresses([failedTwice, untried, circuit, failedOnce, workedEarlier, worked], up).map(e => e.addr))
      .toEqual([worked, workedEarlier, circuit, untried, failedOnce, failedTwice].map(e => e.addr))
  })

  it('after a relay cut, the circuit that just worked goes before a LAN address that worked long ago', () => {
    const lan = entry('/ip4/192.168.1.5/tcp/4001', { okAt: 1_000 })
    const circuit = entry(`/x/p2p/${R1}/p2p-circuit`, { kind: 'relay', relay: R1, okAt: 9_000 })
    expect(rankAddresses([lan, circuit], up)[0]).toBe(circuit)
  })

  it('puts circuits through a relay we lost after everything through a live one (failover)', () => {
    const viaDead = entry(`/x/p2p/${R2}/p2p-circuit`, { kind: 'relay', relay: R2, okAt: 9_000 })
    const viaLive = entry(`/x/p2p/${R1}/p2p-circuit`, { kind: 'relay', relay: R1 })
    const failed = entry('/ip4/10.0.0.5/tcp/1', { failAt: 20, failures: 1 })
    expect(rankAddresses([viaDead, failed, viaLive], up).map(e => e.addr)).toEqual([viaLive, failed, viaDead].map(e => e.addr))
  })
})

describe('dialFailure', () => {
  const opts = { timedOut: false, circuit: false, relayConnected: undefined }
  it('names what happened', () => {
    expect(dialFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4001'), { code: 'ECONNREFUSED' }), opts)).toBe('refused')
    expect(dialFailure(Object.assign(new Error('connect EHOSTUNREACH'), { code: 'EHOSTUNREACH' }), opts)).toBe('no_route')
    expect(dialFailure(new Error('aborted'), { ...opts, timedOut: true })).toBe('timeout')
    expect(dialFailure(new Error('failed to connect via relay with status NO_RESERVATION'), { ...opts, circuit: true, relayConnected: true })).toBe('no_reservation')
    expect(dialFailure(new Error('connect ECONNREFUSED'), { ...opts, circuit: true, relayConnected: false })).toBe('relay_down')
    expect(dialFailure(new Error('something else'), opts)).toBe('failed')
  })
})

describe('whyUnreachable', () => {
  const book = [entry('/ip4/10.0.0.2/tcp/1', { okAt: 5 })]
  it('says revoked first', () => {
    expect(whyUnreachable({ revoked: true, book, relaysConfigured: 1 }).reason).toBe('revoked')
  })
  it('says refused when a host answered and refused', () => {
    const why = whyUnreachable({ attempt: [{ addr: '/ip4/10.0.0.2/tcp/1', kind: 'lan', result: 'refused', message: 'ECONNREFUSED' }], book, relaysConfigured: 0 })
    expect(why).toMatchObject({ reason: 'refused' })
    expect(why.detail).toContain('/ip4/10.0.0.2/tcp/1 (ECONNREFUSED)')
  })
  it('says relay down when every circuit failed on its relay and nothing else answered', () => {
    const why = whyUnreachable({
      attempt: [
        { addr: '/ip4/10.0.0.2/tcp/1', kind: 'lan', result: 'timeout' },
        { addr: `/x/p2p/${R1}/p2p-circuit`, kind: 'relay', relay: R1, result: 'relay_down' }
      ],
      book,
      relaysConfigured: 1
    })
    expect(why.reason).toBe('relay_down')
  })
  it('says not on the relay when the relay is up but holds no reservation for it', () => {
    expect(whyUnreachable({ attempt: [{ addr: `/x/p2p/${R1}/p2p-circuit`, kind: 'relay', relay: R1, result: 'no_reservation' }], book, relaysConfigured: 1 }).reason).toBe('not_on_relay')
  })
  it('says no route when nothing answered and no relay is configured', () => {
    const why = whyUnreachable({ attempt: [{ addr: '/ip4/10.0.0.2/tcp/1', kind: 'lan', result: 'timeout' }], book, relaysConfigured: 0 })
    expect(why.reason).toBe('no_route')
    expect(why.detail).toContain('no relay is configured')
  })
  it('reads the peer book before the first attempt of this run (after a restart)', () => {
    const failed = [entry('/ip4/10.0.0.2/tcp/1', { okAt: 5, failAt: 9, failures: 3, error: 'refused: connect ECONNREFUSED' })]
    expect(whyUnreachable({ book: failed, relaysConfigured: 0 }).reason).toBe('refused')
    expect(whyUnreachable({ book: [], relaysConfigured: 0 }).reason).toBe('no_address')
  })
})

describe('MemoryPeerBook', () => {
  it('records like the store does: success clears failures, failure counts and keeps the error', () => {
    const b = new MemoryPeerBook(2)
    const a = { addr: '/ip4/10.0.0.2/tcp/1', kind: 'lan' as const }
    b.seen(PEER, [a], 1)
    b.failed(PEER, a, 2, 'timeout: no answer')
    b.failed(PEER, a, 3, 'refused: ECONNREFUSED')
    expect(b.entries(PEER)[0]).toMatchObject({ failures: 2, failAt: 3, error: 'refused: ECONNREFUSED' })
    b.succeeded(PEER, a, 4)
    expect(b.entries(PEER)[0]).toMatchObject({ failures: 0, okAt: 4 })
    expect(b.entries(PEER)[0]!.error).toBeUndefined()
    b.seen(PEER, [{ addr: '/ip4/10.0.0.3/tcp/1', kind: 'lan' }], 5)
    b.seen(PEER, [{ addr: '/ip4/10.0.0.4/tcp/1', kind: 'lan' }], 6)
    // bounded: the one that never worked and was learnt first goes
    expect(b.entries(PEER).map(e => e.addr)).toEqual(['/ip4/10.0.0.2/tcp/1', '/ip4/10.0.0.4/tcp/1'])
    b.forget(PEER)
    expect(b.peers()).toEqual([])
  })
})

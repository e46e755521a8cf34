/**
 * The peer book on a real replica file: what the network layer records
 * (addresses seen, connections that worked, dials that failed and why)
 * survives a restart, in the order redials use, within its bounds.
 */
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../src/errors.js'
import { MAX_ADDRESSES_PER_PEER, MAX_PEERS } from '../../src/store/peer-book.js'
import { openReplica } from '../../src/store/replica.js'
import { tempDir, track } from '../helpers/fixtures.js'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const lan = { addr: '/ip4/192.168.1.20/tcp/4001', kind: 'lan' as const }
const circuit = { addr: '/ip4/11.23.0.10/tcp/4001/p2p/12D3KooWRelay/p2p-circuit', kind: 'relay' as const, relay: '12D3KooWRelay' }

describe('peer book', () => {
  it('keeps what worked and what failed across a restart, the most recent success first', () => {
    const dir = tempDir()
    const r1 = track(openReplica({ dir }))
    const book = r1.peerBook
    book.seen(A, [lan, circuit], 1_000)
    book.succeeded(A, lan, 2_000)
    book.failed(A, lan, 3_000, 'ETIMEDOUT')
    book.failed(A, lan, 4_000, 'EHOSTUNREACH')
    book.succeeded(A, circuit, 5_000)
    // seen again: learnt addresses never overwrite what dials taught
    book.seen(A, [lan], 9_000)
    r1.close()

    const r2 = track(openReplica({ dir }))
    expect(r2.peerBook.peers()).toEqual([A])
    expect(r2.peerBook.entries(A)).toEqual([
      { peer: A, ...circuit, seenAt: 1_000, okAt: 5_000, failures: 0 },
      { peer: A, ...lan, seenAt: 1_000, okAt: 2_000, failAt: 4_000, failures: 2, error: 'EHOSTUNREACH' }
    ])
    // a success clears the failure count and the error
    r2.peerBook.succeeded(A, lan, 6_000)
    expect(r2.peerBook.entries(A)[0]).toEqual({ peer: A, ...lan, seenAt: 1_000, okAt: 6_000, failAt: 4_000, failures: 0 })
    r2.peerBook.forget(A)
    expect(r2.peerBook.peers()).toEqual([])
  })

  it('keeps at most MAX_ADDRESSES_PER_PEER addresses per device, dropping the oldest that never worked', () => {
    const r = track(openReplica({ dir: tempDir() }))
    r.peerBook.succeeded(A, lan, 1)
    const many = Array.from({ length: MAX_ADDRESSES_PER_PEER + 10 }, (_, i) => ({ addr: `/ip4/10.0.0.${i}/tcp/1`, kind: 'lan' as const }))
    for (const [i, a] of many.entries()) r.peerBook.seen(A, [a], 100 + i)
    const kept = r.peerBook.entries(A)
    expect(kept).toHaveLength(MAX_ADDRESSES_PER_PEER)
    expect(kept[0]!.addr).toBe(lan.addr)
    expect(kept.some(e => e.addr === '/ip4/10.0.0.0/tcp/1')).toBe(false)
    expect(kept.some(e => e.addr === `/ip4/10.0.0.${many.length - 1}/tcp/1`)).toBe(true)
  })

  it('keeps at most MAX_PEERS devices, forgetting the one heard from longest ago', () => {
    const r = track(openReplica({ dir: tempDir() }))
    for (let i = 0; i < MAX_PEERS + 3; i++) r.peerBook.seen(`peer-${String(i).padStart(4, '0')}`, [lan], 1_000 + i)
    const peers = r.peerBook.peers()
    expect(peers).toHaveLength(MAX_PEERS)
    expect(peers).not.toContain('peer-0000')
    expect(peers).toContain(`peer-${String(MAX_PEERS + 2).padStart(4, '0')}`)
  })

  it('refuses malformed entries with a message naming the field', () => {
    const r = track(openReplica({ dir: tempDir() }))
    expect(() => r.peerBook.seen(A, [{ addr: 'x'.repeat(2_000), kind: 'lan' }], 1)).toThrow(InvalidArgumentError)
    expect(() => r.peerBook.seen(A, [{ addr: '/ip4/1.2.3.4/tcp/1', kind: 'other' as never }], 1)).toThrow(/kind/)
    expect(() => r.peerBook.failed('', lan, 1, 'x')).toThrow(/peer id/)
    expect(r.peerBook.peers()).toEqual([])
  })
})

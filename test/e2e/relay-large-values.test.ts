/**
 * Values larger than a stock relay lets through one relayed connection
 * (128 KiB, both directions, encrypted bytes) still cross it: two nodes that
 * can reach each other only through a stock `circuitRelayServer()` with its
 * default limits, real replicas. The value travels in fragments over many
 * relayed connections, each resuming where the last was cut, and the ops
 * written after it follow.
 */
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncSessionEvent } from '../../src/net/index.js'
import { converged, startNode, startRelay, stopAll, waitFor } from '../helpers/net-nodes.js'

afterEach(stopAll)

describe('large values through a stock relay', () => {
  it('a 200,000-byte and a 1,000,000-byte value cross 128 KiB relayed connections, and later writes follow', async () => {
    const relay = await startRelay()
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    const b = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    // Random bytes do not deflate: on the wire they are as large as they are.
    a.replica.put('files', 'medium', { blob: new Uint8Array(randomBytes(200_000)) })
    a.replica.put('files', 'large', { blob: new Uint8Array(randomBytes(1_000_000)) })
    for (let i = 0; i < 5; i++) a.replica.put('notes', `after-${i}`, { i })
    await waitFor(() => relay.services.relay.reservations.size === 2, 'both reservations')

    const sessions: SyncSessionEvent[] = []
    b.node.services.sync.addEventListener('session:end', e => { sessions.push(e.detail) })
    await b.node.dial(multiaddr(`${relayAddr}/p2p-circuit/p2p/${a.id}`))
    await waitFor(() => converged([a, b]), 'both values and the writes after them on B', 150_000, 200)
    // The session that applied the last slices may still be finishing (Done, stats): count its fragments too.
    await waitFor(() => b.node.services.sync.getPeerState(a.id)?.sessionActive !== true, 'B\'s last session with A ended', 30_000, 50)

    expect(b.replica.get('files', 'large')).toEqual(a.replica.get('files', 'large'))
    expect(b.replica.get('notes', 'after-4')).toEqual({ i: 4 })
    // Every session ran on a limited connection, many were cut, and the value came in slices.
    expect(sessions.every(s => s.limited)).toBe(true)
    expect(sessions.filter(s => s.result.error?.code === 'CLOSED').length).toBeGreaterThanOrEqual(8)
    expect(sessions.reduce((n, s) => n + (s.result.fragmentsReceived ?? 0), 0)).toBeGreaterThanOrEqual(Math.ceil(1_200_000 / (16 * 1024)))
    expect(b.node.services.sync.getHeldRuns()).toEqual([])
    expect(b.node.getConnections(a.node.peerId).every(c => c.limits != null)).toBe(true)
  }, 180_000)
})

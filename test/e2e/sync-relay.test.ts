/**
 * Sync over a relayed path: two nodes that cannot reach each other (neither
 * listens on TCP; each only keeps a reservation on the relay) and a stock
 * relay (`circuitRelayServer()` with default limits: each relayed connection
 * is reset after 128 KiB or 2 minutes). 20,000 ops cross in many relayed
 * connections; each cut session resumes from the receiver's vector.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { SyncSessionEvent } from '../../src/net/index.js'
import { converged, startNode, startRelay, stopAll, waitFor, writeBulk } from '../helpers/net-nodes.js'

afterEach(stopAll)

describe('relayed sync', () => {
  it('syncs 20,000 ops through a stock relay across several resets', async () => {
    const relay = await startRelay()
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    const b = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    writeBulk(a, 20_000, 100)
    writeBulk(b, 500, 100)

    const circuitOf = (id: string): string => `${relayAddr}/p2p-circuit/p2p/${id}`
    await waitFor(() => relay.services.relay.reservations.size === 2, 'both reservations on the relay')
    await waitFor(() => b.node.getMultiaddrs().some(m => m.toString() === circuitOf(b.id)), 'B advertises its relayed address')

    const sessions: SyncSessionEvent[] = []
    b.node.services.sync.addEventListener('session:end', e => { sessions.push(e.detail) })
    a.node.services.sync.addEventListener('session:end', e => { sessions.push(e.detail) })
    const conn = await a.node.dial(multiaddr(circuitOf(b.id)))
    expect(conn.limits).toBeDefined()

    await waitFor(() => converged([a, b]), '20,500 ops on both sides', 150_000, 200)
    await waitFor(() => !a.node.services.sync.getPeerState(b.id)!.sessionActive && !b.node.services.sync.getPeerState(a.id)!.sessionActive, 'sessions to end')
    expect(b.replica.versionVector().get(a.id)).toBe(20_000)
    expect(a.replica.versionVector().get(b.id)).toBe(500)
    // Never directly connected: every session ran on a relayed connection.
    expect(sessions.every(s => s.limited)).toBe(true)
    const cut = sessions.filter(s => s.result.error?.code === 'CLOSED')
    expect(cut.length).toBeGreaterThanOrEqual(3)
    // Progress was kept across cuts: what B applied over all sessions is exactly what it lacked.
    const bSessions = sessions.filter(s => s.peerId === a.id)
    expect(bSessions.reduce((n, s) => n + s.result.applied, 0)).toBe(20_000)
    const stateOnB = b.node.services.sync.getPeerState(a.id)!
    expect(stateOnB.opsApplied).toBe(20_000)
    expect(stateOnB.lastError?.code).toBe('CLOSED')
    expect(stateOnB.limited || !stateOnB.connected).toBe(true)
    // The keeper held both reservations throughout (or restored them).
    expect(a.node.services.relays.getRelays()).toEqual([expect.objectContaining({ connected: true, reserved: true })])
  }, 180_000)

  it('re-reserves after the relay restarts (js-libp2p 3601), and sync works through it again', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    let relay = await startRelay({ privateKey })
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const port = Number(relay.getMultiaddrs()[0]!.toString().split('/')[4])
    const a = await startNode({ listen: [], relays: [relayAddr], relayCheckIntervalMs: 500 })
    const b = await startNode({ listen: [], relays: [relayAddr], relayCheckIntervalMs: 500 })
    const circuitOf = (id: string): string => `${relayAddr}/p2p-circuit/p2p/${id}`
    await waitFor(() => relay.services.relay.reservations.size === 2, 'first reservations')

    await relay.stop()
    // The new relay process starts with no reservations: two on it can only be new ones.
    await waitFor(() => [a, b].every(n => !n.node.services.relays.getRelays()[0]!.connected), 'both nodes see the relay gone')
    relay = await startRelay({ privateKey, port })
    await waitFor(() => relay.services.relay.reservations.size === 2, 'reservations on the restarted relay', 30_000)
    await waitFor(() => b.node.getMultiaddrs().some(m => m.toString() === circuitOf(b.id)), 'B advertises its relayed address again')

    writeBulk(a, 300, 100)
    await a.node.dial(multiaddr(circuitOf(b.id)))
    await waitFor(() => converged([a, b]), 'sync through the restarted relay')
    expect(b.replica.versionVector().get(a.id)).toBe(300)
  })

  it('a line A - B (direct) then B - C (relayed only): ops B pulled in big pages still cross the relay', async () => {
    const relay = await startRelay()
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await startNode()
    const b = await startNode({ relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    // C may dial the relay and relayed addresses only: B's TCP address, learnt by identify, is off limits.
    const relayId = relay.peerId.toString()
    const c = await startNode({
      listen: [],
      relays: [relayAddr],
      retryMinMs: 100,
      retryMaxMs: 2_000,
      connectionGater: { denyDialMultiaddr: ma => !ma.toString().includes(relayId) }
    })
    writeBulk(a, 6_000, 100)
    await a.node.dial(b.node.getMultiaddrs().find(m => !m.toString().includes('p2p-circuit'))!)
    await waitFor(() => converged([a, b]), 'A and B converge over TCP (big pages)')
    await waitFor(() => relay.services.relay.reservations.size === 2, 'reservations')
    await c.node.dial(multiaddr(`${relayAddr}/p2p-circuit/p2p/${b.id}`))
    await waitFor(() => converged([a, b, c]), 'C converges through the relay', 120_000, 200)
    expect(c.node.getConnections(a.node.peerId)).toHaveLength(0)
    expect(c.node.getConnections(b.node.peerId).every(conn => conn.limits != null)).toBe(true)
  }, 150_000)
})

/**
 * Members stay connected: real nodes and replicas on 127.0.0.1, mDNS off, no
 * anti-entropy, so only the member dialer can bring two nodes back together.
 * A closed connection is redialled; a restarted node dials its members from
 * the peer book its replica persisted; after a relay cut the redial goes
 * over the circuit that just worked, not over an address that stopped
 * answering; and with two relays, losing one keeps sync going through the
 * other.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import type { KeptPeerStatus } from '../../src/net/index.js'
import { connect, converged, startNode, startRelay, stopAll, waitFor, writeBulk, writeRows, type TestNode } from '../helpers/net-nodes.js'

const servers: Server[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const s of servers.splice(0)) s.close()
  await stopAll()
})

/** A TCP address that accepts connections and never says a word: a device that stopped answering. */
async function silentAddress (): Promise<string> {
  const server = createServer(socket => { sockets.push(socket) })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return `/ip4/127.0.0.1/tcp/${port}`
}

function kept (t: TestNode, peer: string): KeptPeerStatus | undefined {
  return t.node.services.memberDialer.status().find(p => p.peer === peer)
}

describe('members stay connected', () => {
  it('a member whose connection closed is redialled, and what both wrote meanwhile syncs', async () => {
    const a = await startNode()
    const b = await startNode()
    writeRows(a, 10); writeRows(b, 10)
    await connect(a, b)
    await waitFor(() => converged([a, b]), 'first convergence')
    await waitFor(() => a.node.services.memberDialer.keeps(b.id) && b.node.services.memberDialer.keeps(a.id), 'each keeps the other (hello accepted)')

    await a.node.hangUp(b.node.peerId)
    writeRows(a, 20, 'after-a')
    writeRows(b, 15, 'after-b')
    // Nobody dials here and anti-entropy is off: only a redial brings these over.
    await waitFor(() => converged([a, b]), 'convergence after the redial')
    expect(a.replica.stats().ops).toBe(10 + 10 + 20 + 15)
    expect(a.node.getConnections(b.node.peerId).length + b.node.getConnections(a.node.peerId).length).toBeGreaterThan(0)
  })

  it('a restarted node dials its members from the peer book it persisted, with nothing configured', async () => {
    const a = await startNode({ bookInReplica: true })
    const b0 = await startNode({ bookInReplica: true })
    writeRows(a, 10)
    await connect(b0, a)
    await waitFor(() => converged([a, b0]), 'first convergence')
    await waitFor(() => b0.replica.peerBook.entries(a.id).some(e => e.okAt !== undefined), 'B records the address that worked')
    await b0.stop()
    writeRows(a, 25, 'while-b-was-down')

    const b = await startNode({ dir: b0.dir, bookInReplica: true })
    await waitFor(() => converged([a, b]), 'B catches up after its restart')
    const worked = b.replica.peerBook.entries(a.id)[0]!
    expect(worked).toMatchObject({ peer: a.id, kind: 'lan', failures: 0 })
    expect(a.node.getMultiaddrs().map(m => m.toString())).toContain(`${worked.addr}/p2p/${a.id}`)
  })

  it('after a relay cut, the redial goes over the circuit that worked, not an address that stopped answering', async () => {
    const relay = await startRelay()
    const relayAddr = relay.getMultiaddrs()[0]!.toString()
    const a = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    const b = await startNode({ listen: [], relays: [relayAddr], retryMinMs: 100, retryMaxMs: 2_000 })
    await waitFor(() => relay.services.relay.reservations.size === 2, 'both reservations')
    // B once reached A at a LAN address that now accepts and never answers (A moved): it worked, long ago.
    const stale = await silentAddress()
    b.node.services.memberDialer.book.succeeded(a.id, { addr: stale, kind: 'lan' }, Date.now() - 3_600_000)
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: [multiaddr(`${stale}/p2p/${a.id}`)] })
    // enough for several relayed connections (128 KiB each)
    writeBulk(a, 6_000, 100)
    await b.node.dial(multiaddr(`${relayAddr}/p2p-circuit/p2p/${a.id}`))
    await waitFor(() => converged([a, b]), '6,000 ops through the relay', 90_000, 200)

    const status = kept(b, a.id)
    expect(status?.lastAttempt).toBeDefined()
    // The last redial connected over the circuit first; the silent address was never waited for.
    expect(status!.lastAttempt![0]).toMatchObject({ kind: 'relay', relay: relay.peerId.toString(), result: 'connected' })
    expect(status!.lastAttempt!.some(o => o.addr === stale && o.result === 'timeout')).toBe(false)
    const book = b.node.services.memberDialer.book.entries(a.id)
    expect(book[0]).toMatchObject({ kind: 'relay', failures: 0 })
    expect(book.find(e => e.addr === stale)!.okAt).toBeLessThan(book[0]!.okAt!)
  }, 120_000)

  it('with two relays, a relay killed mid-sync leaves sync to finish through the other', async () => {
    const r1 = await startRelay()
    const r2 = await startRelay()
    const [addr1, addr2] = [r1, r2].map(r => r.getMultiaddrs()[0]!.toString()) as [string, string]
    const opts = { listen: [], relays: [addr1, addr2], retryMinMs: 100, retryMaxMs: 2_000, relayCheckIntervalMs: 500 }
    const a = await startNode(opts)
    const b = await startNode(opts)
    await waitFor(() => r1.services.relay.reservations.size === 2 && r2.services.relay.reservations.size === 2, 'reservations on both relays')
    const through: string[] = []
    b.node.addEventListener('connection:open', e => { if (e.detail.remotePeer.equals(a.node.peerId)) through.push(e.detail.remoteAddr.toString()) })
    writeBulk(a, 8_000, 100)
    await b.node.dial(multiaddr(`${addr1}/p2p-circuit/p2p/${a.id}`))
    await waitFor(() => (b.replica.versionVector().get(a.id) ?? 0) >= 1_000, 'sync under way through relay 1', 60_000)
    await r1.stop()
    const afterKill = through.length
    await waitFor(() => converged([a, b]), 'sync completes through relay 2', 120_000, 200)
    expect(b.replica.versionVector().get(a.id)).toBe(8_000)
    const later = through.slice(afterKill)
    expect(later.length).toBeGreaterThan(0)
    expect(later.every(addr => addr.includes(r2.peerId.toString()))).toBe(true)
  }, 180_000)
})

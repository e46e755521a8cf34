/**
 * The node's membership predicate at work on real nodes over 127.0.0.1:
 * gossip starts for a peer admitted while it is connected and stops for one
 * that stops being a member; the stranger guard closes idle non-member
 * connections and keeps pairing ones and configured relays; the discovery
 * dialer dials members only, and a discovered peer once it is admitted.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { PAIRING_PROTOCOL_ID } from '../../src/auth/constants.js'
import { announceTopic } from '../../src/net/sync/announcer.js'
import { discoveryDialer } from '../../src/net/members/discovery-dialer.js'
import type { PeerMembership } from '../../src/net/members/member-gate.js'
import { connect, startNode, stopAll, waitFor, writeRows } from '../helpers/net-nodes.js'
import { startStockRelay, startStockStranger, type StockStranger } from '../helpers/stock-peer.js'

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await stopAll()
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** A membership the test edits: `admit`/`remove` change it and tell the node, as a replica does when a record arrives. */
function editableMembership (): PeerMembership & { admit(id: string): void, remove(id: string): void } {
  const members = new Set<string>()
  const listeners = new Set<() => void>()
  const changed = (): void => { for (const l of listeners) l() }
  return {
    isMember: id => members.has(id),
    onChange: listener => { listeners.add(listener); return () => { listeners.delete(listener) } },
    admit: id => { members.add(id); changed() },
    remove: id => { members.delete(id); changed() }
  }
}

async function stranger (): Promise<StockStranger> {
  const s = await startStockStranger()
  cleanup.push(async () => { await s.stop() })
  return s
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('membership on a live connection', () => {
  it('a peer admitted while connected gets gossip from then on, and loses it when it stops being a member', async () => {
    const membersOfX = editableMembership()
    const x = await startNode({ membership: membersOfX, syncIntervalMs: 0, strangerGraceMs: 60_000 })
    membersOfX.admit(x.id)
    const y = await startNode({ syncIntervalMs: 0 })
    let announcements = 0
    y.node.services.pubsub.addEventListener('gossipsub:message', () => { announcements++ })
    await connect(y, x)
    // Not a member: x refuses y's session and tells its gossip nothing about y.
    await waitFor(() => y.node.services.sync.getPeerState(x.id)?.lastError?.code === 'NOT_MEMBER', 'x refuses y\'s session')
    writeRows(x, 3, 'before')
    await sleep(1_000)
    expect(announcements).toBe(0)
    expect(y.replica.versionVector().get(x.id)).toBeUndefined()

    // Admitted on the same connection: x's gossip hands y its subscription and announcements from now on.
    membersOfX.admit(y.id)
    const topic = announceTopic(x.node.services.sync.groupId)
    await waitFor(() => x.node.services.pubsub.getSubscribers(topic).some(p => p.equals(y.node.peerId)), 'x sees y on the topic')
    writeRows(x, 1, 'after')
    // The announcement shows y is behind (it missed the first three): y pulls everything.
    await waitFor(() => y.replica.versionVector().get(x.id) === 4, 'y gets x\'s writes after its admission')
    expect(announcements).toBeGreaterThan(0)

    // Removed while connected: x's gossip drops y at once (the connection itself is the guard's, 60 s here).
    membersOfX.remove(y.id)
    const seen = announcements
    writeRows(x, 2, 'removed')
    await sleep(1_000)
    expect(announcements).toBe(seen)
    expect(y.replica.versionVector().get(x.id)).toBe(4)
    expect(x.node.getConnections(y.node.peerId).length).toBeGreaterThan(0)
  })
})

describe('the stranger guard', () => {
  it('closes an idle stranger\'s connection, keeps one that pairs and the configured relay\'s, and caps strangers', async () => {
    const relay = await startStockRelay()
    cleanup.push(async () => { await relay.stop() })
    const membersOfX = editableMembership()
    const x = await startNode({ membership: membersOfX, strangerGraceMs: 500, relays: [relay.getMultiaddrs()[0]!.toString()] })
    membersOfX.admit(x.id)
    // The daemon serves pairing here; the guard only looks at which protocol a stream is open on.
    await x.node.handle(PAIRING_PROTOCOL_ID, stream => { stream.addEventListener('remoteCloseWrite', () => { void stream.close() }) }, { runOnLimitedConnection: true })
    const address = x.node.getMultiaddrs().find(a => !a.toString().includes('/p2p-circuit'))!
    const idle = await stranger()
    const pairing = await stranger()
    await idle.dial(address)
    const conn = await pairing.dial(address)
    const stream = await conn.newStream(PAIRING_PROTOCOL_ID)

    await waitFor(() => idle.node.getConnections().length === 0, 'x closes the idle stranger', 10_000)
    await sleep(1_500) // three grace periods
    expect(conn.status).toBe('open')
    expect(x.node.getConnections(relay.peerId).length).toBeGreaterThan(0)
    await stream.close()
    await waitFor(() => conn.status !== 'open', 'x closes the stranger once it stopped pairing', 10_000)
  })

  it('holds at most eight stranger connections: a ninth is closed at once', async () => {
    const membersOfX = editableMembership()
    const x = await startNode({ membership: membersOfX, strangerGraceMs: 60_000 })
    membersOfX.admit(x.id)
    const address = x.node.getMultiaddrs()[0]!
    const crowd = await Promise.all(Array.from({ length: 9 }, async () => await stranger()))
    // Paced: libp2p refuses more than 5 inbound connections a second from one host.
    for (const s of crowd.slice(0, 8)) { await s.dial(address); await sleep(250) }
    await waitFor(() => x.node.services.strangerGuard?.strangers === 8, 'x holds eight strangers')
    await sleep(250)
    const ninth = await crowd[8]!.dial(address).catch(() => undefined)
    await waitFor(() => ninth === undefined || ninth.status !== 'open', 'the ninth is closed', 5_000)
    expect(crowd.slice(0, 8).every(s => s.node.getConnections().some(c => c.status === 'open'))).toBe(true)
  })
})

describe('the discovery dialer', () => {
  it('dials a discovered peer only once it is a member', async () => {
    const target = await startNode()
    const membership = editableMembership()
    const dialer = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { dialer: discoveryDialer({ membership, yieldMs: 0 }) }
    })
    cleanup.push(async () => { await dialer.stop() })
    // What mDNS does on a find: a new peer in the peer store raises peer:discovery.
    await dialer.peerStore.merge(target.node.peerId, { multiaddrs: target.node.getMultiaddrs() })
    await sleep(1_000)
    expect(dialer.getConnections(target.node.peerId)).toHaveLength(0)
    membership.admit(target.id)
    await waitFor(() => dialer.getConnections(target.node.peerId).length > 0, 'the dialer dials the newly admitted peer', 10_000)
  })
})

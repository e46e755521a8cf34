/**
 * Gossip keeps a working stream to a member that stays connected, whatever
 * happens to one of its connections. Two libp2p nodes on 127.0.0.1 built
 * from stock packages (TCP, Noise, yamux, identify, gossipsub); the only weft
 * code is x's MemberGate around x's gossipsub, which is what is under test.
 * y has no weft code at all.
 *
 * Stock gossipsub keeps one outbound stream per peer and attaches its close
 * listener only once `newStream` has returned. libp2p's `newStream` awaits a
 * peer-store write and the stream middleware after negotiating, and returns
 * the stream even if it closed meanwhile (with its connection, say).
 * gossipsub then keeps a closed stream as its stream to that peer, never
 * hears it close, and never opens another while the peer stays connected:
 * every publish skips the peer. The gate refuses such a stream and tells
 * gossipsub about the peer again on a connection that is open.
 *
 * Also: when gossipsub's stream closes with one connection while another
 * stays open, the gate tells gossipsub about the peer again on the open one,
 * so x's publishes reach y without waiting for y to open a stream.
 *
 * And a member that resets each stream gets a new one at most about once
 * a second (RETELL_MIN_INTERVAL_MS), not in a loop.
 *
 * The closed-on-return case is made on demand with a stream middleware on x
 * (libp2p's own `registrar.use`), which aborts gossipsub's first outbound
 * stream after its protocol was agreed and before it is handed back: the
 * state a connection closing during the peer-store write leaves. Without the
 * gate's repair, the first two cases fail (x's publishes never reach y).
 */
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Connection, Libp2p, PeerId, Stream, StreamMiddleware } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import { afterEach, describe, expect, it } from 'vitest'
import { MemberGate } from '../../src/net/members/member-gate.js'
import { waitFor } from '../helpers/net-nodes.js'
import { startStockNode } from '../helpers/stock-peer.js'

const TOPIC = 'gossip-streams-test'
const GOSSIP_PROTOCOLS = ['/meshsub/1.2.0', '/meshsub/1.1.0', '/meshsub/1.0.0']

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

type Node = Libp2p<{ pubsub: GossipSub, raw: { registrar: Registrar } }>

/** A stock node; with `gate`, its gossipsub sees the network through that gate's registrar. */
async function start (gate?: MemberGate): Promise<Node> {
  const pubsub = gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false })
  const node = await startStockNode({
    identify: identify(),
    pubsub: gate === undefined ? pubsub : gate.gated(pubsub, { streamPerPeer: true }),
    // The node's own registrar, for the test's middleware.
    raw: (components: { registrar: Registrar }) => {
      // libp2p 3.3.11 hands out the registered middleware array itself and appends the protocol's
      // handler to it on every inbound stream, so later outbound streams would run the handler too.
      const registrar = components.registrar
      const getMiddleware = registrar.getMiddleware.bind(registrar)
      registrar.getMiddleware = protocol => [...getMiddleware(protocol)]
      return { registrar }
    }
  }) as unknown as Node
  cleanup.push(async () => { await node.stop() })
  node.services.pubsub.subscribe(TOPIC)
  return node
}

/** x (gated gossipsub) and y (stock), each a member of the other's view. */
async function pair (): Promise<{ x: Node, y: Node, gate: MemberGate }> {
  const members = new Set<string>()
  const gate = new MemberGate({ isMember: id => members.has(id) })
  gate.start()
  cleanup.push(async () => { gate.stop() })
  const x = await start(gate)
  const y = await start()
  members.add(x.peerId.toString())
  members.add(y.peerId.toString())
  return { x, y, gate }
}

/** Counts y's messages on the topic. */
function received (y: Node): { count: number } {
  const seen = { count: 0 }
  y.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === TOPIC) seen.count++ })
  return seen
}

/** x's outbound gossipsub streams to `peer`, open or not, on any connection it has. */
function outboundGossip (x: Node, peer: PeerId): Array<{ connection: Connection, status: string }> {
  return x.getConnections(peer).flatMap(connection => connection.streams
    .filter(s => s.direction === 'outbound' && GOSSIP_PROTOCOLS.includes(s.protocol ?? ''))
    .map(s => ({ connection, status: s.status })))
}

/** Publishes from x until the receiver (`seen`) has received one (a few seconds at most), and returns whether it did. */
async function reaches (x: Node, seen: { count: number }, timeoutMs = 5_000): Promise<boolean> {
  const before = seen.count
  const until = Date.now() + timeoutMs
  let n = 0
  while (Date.now() < until) {
    await x.services.pubsub.publish(TOPIC, new TextEncoder().encode(`m${n++}`)).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 200))
    if (seen.count > before) return true
  }
  return false
}

describe('gossip streams to a member with several connections', () => {
  it('a stream that closed before newStream returned is refused, and gossip opens another to the member', async () => {
    const { x, y } = await pair()
    const seen = received(y)
    let lost: Stream | undefined
    // x's first outbound gossip stream closes after it was agreed, before it is handed back; its connection stays up.
    const loseStream: StreamMiddleware = (stream, connection, next) => {
      if (stream.direction === 'outbound' && lost === undefined) {
        lost = stream
        stream.abort(new Error('test: the stream closed while gossipsub opened it'))
      }
      next(stream, connection)
    }
    for (const p of GOSSIP_PROTOCOLS) x.services.raw.registrar.use(p, [loseStream])

    await x.dial(y.getMultiaddrs())
    await waitFor(() => lost !== undefined, 'x\'s first gossip stream to y is lost')
    await waitFor(() => x.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(y.peerId)), 'x sees y subscribed')
    // x keeps no closed stream as its stream to y: it has an open one, and its publishes reach y.
    expect(await reaches(x, seen)).toBe(true)
    expect(x.getConnections(y.peerId)).toHaveLength(1)
    expect(outboundGossip(x, y.peerId).map(s => s.status)).toEqual(['open'])
  })

  it('when the connection that carried gossip closes and another stays open, x\'s publishes still reach y', async () => {
    const { x, y } = await pair()
    const seen = received(y)
    await x.dial(y.getMultiaddrs())
    await x.dial(y.peerId, { force: true })
    await waitFor(() => x.getConnections(y.peerId).length === 2, 'two connections')
    await waitFor(() => outboundGossip(x, y.peerId).some(s => s.status === 'open'), 'x has a gossip stream to y')
    expect(await reaches(x, seen)).toBe(true)

    const carrier = outboundGossip(x, y.peerId).find(s => s.status === 'open')?.connection
    const other = x.getConnections(y.peerId).find(c => c !== carrier)
    // y's own stream to x may be on either connection: lose only the one x's stream is on.
    carrier?.abort(new Error('test: this connection is gone'))
    expect(other?.status).toBe('open')
    expect(await reaches(x, seen)).toBe(true)
    expect(outboundGossip(x, y.peerId).filter(s => s.status === 'open').map(s => s.connection)).toEqual([other])
  })

  it('a member that resets every gossip stream x opens gets a new one at most about once a second', async () => {
    const { x, y } = await pair()
    let opened = 0
    const count: StreamMiddleware = (stream, connection, next) => {
      if (stream.direction === 'outbound') opened++
      next(stream, connection)
    }
    // y takes x's gossip streams and resets them at once (libp2p aborts a stream whose middleware throws).
    const refuse: StreamMiddleware = (stream, connection, next) => {
      if (stream.direction === 'inbound') throw new Error('test: y resets x\'s gossip streams')
      next(stream, connection)
    }
    for (const p of GOSSIP_PROTOCOLS) {
      x.services.raw.registrar.use(p, [count])
      y.services.raw.registrar.use(p, [refuse])
    }
    await x.dial(y.getMultiaddrs())
    await waitFor(() => opened >= 2, 'x opens a stream again after y reset the first')
    const since = Date.now()
    const before = opened
    await new Promise(resolve => setTimeout(resolve, 3_000))
    // One per RETELL_MIN_INTERVAL_MS (1 s) at most: a slow machine only opens fewer.
    const seconds = (Date.now() - since) / 1_000
    expect(opened - before).toBeLessThanOrEqual(Math.ceil(seconds) + 1)
    expect(x.getConnections(y.peerId).length).toBeGreaterThan(0)
  })
})

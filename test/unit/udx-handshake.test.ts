/**
 * The UDX handshake state machine on a simulated network that loses,
 * duplicates and reorders datagrams, with fake timers. Properties: every
 * completed dial sits on a stream pair both sides agree on; a crossed pair has
 * exactly one initiator; a plain dial is always the initiator and lands on a
 * stream the peer accepted as inbound; no stream is connected twice; and once
 * the network delivers again, every dial between two listening nodes completes.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Handshaker, type HandshakeResult } from '../../src/udx/handshake.js'
import { decodeControl, encodeHello, MessageType } from '../../src/udx/wire.js'
import type { UdpAddress } from '../../src/udx/multiaddr.js'
import type { Logger } from '@libp2p/interface'

interface FakeStream {
  id: number
  side: Side
  remote?: { address: UdpAddress, id: number }
  destroyed: boolean
}

type Side = 'A' | 'B'

interface Packet { from: Side, bytes: Uint8Array }

const silent: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: () => silent
}) as unknown as Logger

const ADDRESS: Record<Side, UdpAddress> = {
  A: { host: '10.0.0.1', port: 4001, family: 4 },
  B: { host: '10.0.0.2', port: 4002, family: 4 }
}

const other = (side: Side): Side => side === 'A' ? 'B' : 'A'

class Peer {
  readonly streams = new Map<number, FakeStream>()
  readonly inbound: FakeStream[] = []
  readonly handshaker: Handshaker<FakeStream>
  nextId: number
  nonce = 0n

  constructor (readonly side: Side, net: Packet[], listening: boolean, limits: { maxPendingInboundPerHost?: number, retryThreshold?: number } = {}) {
    this.nextId = side === 'A' ? 1000 : 2000
    this.handshaker = new Handshaker<FakeStream>({
      streams: {
        open: () => {
          const stream: FakeStream = { id: this.nextId++, side, destroyed: false }
          this.streams.set(stream.id, stream)
          return stream
        },
        connect: (stream, address, id) => {
          if (stream.remote != null) throw new Error(`stream ${stream.id} connected twice`)
          stream.remote = { address, id }
        },
        destroy: (stream) => {
          stream.destroyed = true
          this.handshaker.closed(stream.id)
        },
        id: (stream) => stream.id
      },
      send: (bytes) => { net.push({ from: side, bytes }) },
      mayReply: () => true,
      // distinct, side-specific nonces so both orders of the tie-break occur
      randomNonce: () => (this.nonce += 1n) * (side === 'A' ? 7n : 5n) + 1n,
      log: silent,
      maxPendingInbound: 64,
      maxPendingInboundPerHost: limits.maxPendingInboundPerHost ?? 8,
      maxPendingDials: 16,
      ...(limits.retryThreshold == null ? {} : { retryThreshold: limits.retryThreshold }),
      initialRetryInterval: 100,
      maxRetryInterval: 1000
    })
    if (listening) this.handshaker.onInbound = (stream) => { this.inbound.push(stream) }
  }
}

interface Outcome { result?: HandshakeResult<FakeStream>, error?: Error }

function deliver (packet: Packet, peers: Record<Side, Peer>): void {
  const message = decodeControl(packet.bytes)
  const to = peers[other(packet.from)].handshaker
  if (message?.type === MessageType.HELLO) to.onHello(message, ADDRESS[packet.from])
  if (message?.type === MessageType.ACK) to.onAck(message, ADDRESS[packet.from])
  if (message?.type === MessageType.RETRY) to.onRetry(message, ADDRESS[packet.from])
}

function dial (peer: Peer, outcome: Outcome): void {
  peer.handshaker.dial(ADDRESS[other(peer.side)], { signal: new AbortController().signal, timeout: 3000 })
    .then(result => { outcome.result = result }, (error: Error) => { outcome.error = error })
}

/** Checks that a completed dial of `side` is consistent with what the peer holds. */
function checkDial (side: Side, outcome: Outcome, peers: Record<Side, Peer>, outcomes: Record<Side, Outcome>): void {
  const result = outcome.result
  if (result == null) return
  const mine = result.stream
  expect(mine.destroyed).toBe(false)
  expect(mine.remote?.address).toEqual(ADDRESS[other(side)])
  const theirs = peers[other(side)].streams.get(mine.remote?.id ?? -1)
  expect(theirs).toBeDefined()
  expect(theirs?.destroyed).toBe(false)
  expect(theirs?.remote?.id).toBe(mine.id)
  if (result.crossed) {
    const peerResult = outcomes[other(side)].result
    expect(peerResult?.stream).toBe(theirs)
    expect(peerResult?.crossed).toBe(true)
    expect(peerResult?.initiator).toBe(!result.initiator)
  } else {
    expect(result.initiator).toBe(true)
    expect(peers[other(side)].inbound).toContain(theirs)
  }
}

const action = fc.oneof(
  fc.record({ kind: fc.constant('deliver' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 250 }) }),
  fc.record({ kind: fc.constant('startB' as const) })
)

afterEach(() => { vi.useRealTimers() })

describe('udx handshake', () => {
  it('agrees on one stream pair under loss, duplication and reordering', async () => {
    const seen = { crossed: 0, plain: 0, twoConnections: 0 }
    await fc.assert(fc.asyncProperty(
      fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.array(action, { maxLength: 60 }),
      async (aListens, bListens, bDials, cookies, actions) => {
        vi.useFakeTimers()
        const net: Packet[] = []
        // with `cookies`, every plain inbound HELLO must first come back with a RETRY cookie
        const limits = cookies ? { retryThreshold: 0 } : {}
        const peers: Record<Side, Peer> = { A: new Peer('A', net, aListens, limits), B: new Peer('B', net, bListens, limits) }
        const outcomes: Record<Side, Outcome> = { A: {}, B: {} }
        let bStarted = false
        const startB = (): void => {
          if (bDials && !bStarted) { bStarted = true; dial(peers.B, outcomes.B) }
        }
        dial(peers.A, outcomes.A)

        // adversarial phase: at most 1 s of simulated time, well inside the 3 s handshake timeout
        let elapsed = 0
        for (const step of actions) {
          if (step.kind === 'startB') startB()
          else if (step.kind === 'tick') {
            const ms = Math.min(step.ms, 1000 - elapsed)
            elapsed += ms
            await vi.advanceTimersByTimeAsync(ms)
          } else if (net.length > 0) {
            const index = step.i % net.length
            const packet = net[index]!
            if (step.kind === 'drop') net.splice(index, 1)
            else if (step.kind === 'duplicate') net.push(packet)
            else { net.splice(index, 1); deliver(packet, peers) }
          }
        }
        startB()

        // the network heals: deliver everything, let retransmits run, until both dials settle
        for (let t = 0; t < 4000; t += 50) {
          while (net.length > 0) deliver(net.shift()!, peers)
          await vi.advanceTimersByTimeAsync(50)
          const settled = (o: Outcome): boolean => o.result != null || o.error != null
          if (settled(outcomes.A) && (!bDials || settled(outcomes.B))) break
        }
        while (net.length > 0) deliver(net.shift()!, peers)
        await vi.advanceTimersByTimeAsync(0)

        checkDial('A', outcomes.A, peers, outcomes)
        checkDial('B', outcomes.B, peers, outcomes)
        if (aListens && bListens) {
          expect(outcomes.A.error).toBeUndefined()
          expect(outcomes.A.result).toBeDefined()
          if (bDials) expect(outcomes.B.result).toBeDefined()
        }
        if (!bListens && !bDials) expect(outcomes.A.error?.name).toBe('UdxHandshakeTimeoutError')
        if (outcomes.A.result?.crossed === true) seen.crossed++
        if (outcomes.A.result?.crossed === false) seen.plain++
        if (outcomes.A.result?.crossed === false && outcomes.B.result?.crossed === false) seen.twoConnections++
        // a failed dial leaves no session behind
        for (const side of ['A', 'B'] as const) {
          expect(peers[side].handshaker.pendingDials).toBe(0)
          const live = [...peers[side].streams.values()].filter(s => !s.destroyed).length
          expect(peers[side].handshaker.sessionCount).toBeLessThanOrEqual(live)
        }
        vi.useRealTimers()
      }
    ), { numRuns: Number(process.env.UDX_HANDSHAKE_RUNS ?? 300) })
    // the generator really reaches both pairings and the two-connection race
    expect(seen.crossed).toBeGreaterThan(0)
    expect(seen.plain).toBeGreaterThan(0)
    expect(seen.twoConnections).toBeGreaterThan(0)
  })

  it('pairs crossed HELLOs into one connection and breaks the tie by nonce', async () => {
    vi.useFakeTimers()
    const net: Packet[] = []
    const peers: Record<Side, Peer> = { A: new Peer('A', net, true), B: new Peer('B', net, true) }
    const outcomes: Record<Side, Outcome> = { A: {}, B: {} }
    dial(peers.A, outcomes.A)
    dial(peers.B, outcomes.B)
    // both HELLOs are in flight before either arrives
    while (net.length > 0) deliver(net.shift()!, peers)
    await vi.advanceTimersByTimeAsync(0)
    expect(outcomes.A.result?.crossed).toBe(true)
    expect(outcomes.B.result?.crossed).toBe(true)
    expect(outcomes.A.result?.initiator).not.toBe(outcomes.B.result?.initiator)
    expect(peers.A.inbound).toHaveLength(0)
    expect(peers.B.inbound).toHaveLength(0)
    checkDial('A', outcomes.A, peers, outcomes)
  })

  it('answers a retransmitted HELLO with the same ACK and no new stream', () => {
    const net: Packet[] = []
    const b = new Peer('B', net, true)
    const hello = decodeControl(encodeHello(42n, 7, 0n))
    if (hello?.type !== MessageType.HELLO) throw new Error('bad HELLO')
    b.handshaker.onHello(hello, ADDRESS.A)
    b.handshaker.onHello(hello, ADDRESS.A)
    expect(b.inbound).toHaveLength(1)
    expect(net).toHaveLength(2)
    expect(Buffer.from(net[0]!.bytes).equals(Buffer.from(net[1]!.bytes))).toBe(true)
  })

  it('gives forged HELLOs no state under pressure, while a real dialer gets in with a RETRY cookie', async () => {
    vi.useFakeTimers()
    const net: Packet[] = []
    const a = new Peer('A', net, false)
    const b = new Peer('B', net, true, { retryThreshold: 0 })
    // forged HELLOs "from" A's address: B answers with RETRYs and keeps nothing
    for (let i = 1; i <= 20; i++) {
      const hello = decodeControl(encodeHello(BigInt(i), i, 0n))
      if (hello?.type === MessageType.HELLO) b.handshaker.onHello(hello, ADDRESS.A)
    }
    expect(b.inbound).toHaveLength(0)
    expect(b.handshaker.sessionCount).toBe(0)
    expect(net.map(p => decodeControl(p.bytes)?.type)).toEqual(new Array(20).fill(MessageType.RETRY))
    net.length = 0

    const outcome: Outcome = {}
    dial(a, outcome)
    for (let i = 0; i < 10 && outcome.result == null; i++) {
      while (net.length > 0) deliver(net.shift()!, { A: a, B: b })
      await vi.advanceTimersByTimeAsync(0)
    }
    expect(outcome.result?.crossed).toBe(false)
    expect(b.inbound).toHaveLength(1)
    // a cookie is bound to its nonce and address: replaying it elsewhere gets nothing
    const withCookie = decodeControl(encodeHello(999n, 5, 0n, 12345n))
    if (withCookie?.type === MessageType.HELLO) b.handshaker.onHello(withCookie, ADDRESS.A)
    expect(b.inbound).toHaveLength(1)
  })

  it('bounds pending inbound handshakes per host and frees them when streams close', () => {
    const net: Packet[] = []
    const b = new Peer('B', net, true, { maxPendingInboundPerHost: 3 })
    for (let i = 1; i <= 50; i++) {
      const hello = decodeControl(encodeHello(BigInt(i), i, 0n))
      if (hello?.type === MessageType.HELLO) b.handshaker.onHello(hello, ADDRESS.A)
    }
    expect(b.inbound).toHaveLength(3)
    expect(b.handshaker.pendingInboundCount).toBe(3)
    b.handshaker.upgraded(b.inbound[0]!.id)
    expect(b.handshaker.pendingInboundCount).toBe(2)
    for (const stream of b.inbound) b.handshaker.closed(stream.id)
    expect(b.handshaker.pendingInboundCount).toBe(0)
    expect(b.handshaker.sessionCount).toBe(0)
  })
})

/**
 * The outside of weft's security tests: peers built ONLY from stock packages
 * (libp2p, @libp2p/tcp, @chainsafe/libp2p-noise, @chainsafe/libp2p-yamux,
 * @libp2p/identify, @libp2p/ping, @libp2p/gossipsub, @libp2p/circuit-relay-v2,
 * @libp2p/crypto for a given key).
 * This file imports no weft code and registers no private multiaddr code: what
 * a stranger built here learns about a weft node, it learns from the wire, as
 * anyone on the internet could. What it sends on weft's own protocols are
 * bytes the test hands it (an attacker reads the public .proto files).
 *
 * - `startStockNode(services)`: TCP, Noise and yamux on loopback, with those services.
 * - `startStockRelay()`: a stock circuit relay v2 server (default limits).
 * - `startStockStranger()`: a random key with stock gossipsub. It records the
 *   topics peers announce to it (SUBSCRIBE), subscribes to each at once (what
 *   an attacker does with a learned topic), and counts every gossip message
 *   delivered to it and every byte that arrives on gossip streams peers open
 *   to it. `probe()` opens a stream on any protocol, sends raw bytes and
 *   returns every byte that came back and how the stream ended.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { Connection, Libp2p, ServiceMap, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type ServiceFactoryMap } from 'libp2p'

// Node 20 lacks Promise.withResolvers, which libp2p 3 calls (see LIBP2P-NOTES); define it only when missing.
const P = Promise as unknown as { withResolvers?: () => unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers () {
    let resolve!: (v: unknown) => void
    let reject!: (e?: unknown) => void
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

/** A stock node on loopback (TCP, Noise, yamux) with the given services, started. */
export async function startStockNode<T extends ServiceMap> (services: ServiceFactoryMap<T>): Promise<Libp2p<T>> {
  return await createLibp2p<T>({
    addresses: { listen: [LOOPBACK] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
}

/** A stock circuit relay v2 server on loopback, with the stock limits (2 min, 128 KiB per relayed connection). */
export async function startStockRelay (): Promise<Libp2p<{ identify: Identify, relay: CircuitRelayService }>> {
  return await startStockNode({ identify: identify(), relay: circuitRelayServer() })
}

export interface ProbeResult {
  /** The remote agreed to the protocol and the stream opened. */
  readonly opened: boolean
  /** Every byte the remote sent on the stream. */
  readonly received: Uint8Array
  /** 'closed' (cleanly), 'reset: <why>', 'timeout' (still open when we stopped waiting), or 'refused: <why>'. */
  readonly end: string
}

export interface StockStranger {
  readonly node: Libp2p<{ identify: Identify, ping: Ping, pubsub: GossipSub }>
  /** Topics some peer told us it subscribes to. */
  readonly learnedTopics: Set<string>
  /** Gossip messages delivered to us, with their size. */
  readonly messages: Array<{ topic: string, bytes: number }>
  /** Gossip streams peers opened to us, and the bytes that arrived on them. */
  readonly gossipIn: { streams: number, bytes: number }
  /** Peers in our gossipsub mesh for `topic` (the class has it; the exported interface does not). */
  meshPeers(topic: string): string[]
  /** Subscribes to `topic` (an attacker that learned or guessed it). */
  subscribe(topic: string): void
  dial(address: Multiaddr | string): Promise<Connection>
  probe(connection: Connection, protocol: string, send: Uint8Array[], waitMs?: number): Promise<ProbeResult>
  stop(): Promise<void>
}

/** The varint length prefix every libp2p framed protocol uses (it-length-prefixed, lpStream). */
export function lengthPrefixed (frame: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = frame.byteLength
  while (n >= 0x80) { prefix.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  prefix.push(n)
  const out = new Uint8Array(prefix.length + frame.byteLength)
  out.set(prefix)
  out.set(frame, prefix.length)
  return out
}

const bytesOf = (data: Uint8Array | { subarray: () => Uint8Array }): Uint8Array => data instanceof Uint8Array ? data : data.subarray()

/** A stock peer; with `privateKey` (64 raw bytes, seed then public key) it uses that Ed25519 key instead of a random one. */
export async function startStockStranger (options: { privateKey?: Uint8Array } = {}): Promise<StockStranger> {
  const learnedTopics = new Set<string>()
  const messages: Array<{ topic: string, bytes: number }> = []
  const gossipIn = { streams: 0, bytes: 0 }
  // Stock gossipsub, handed a registrar whose handlers count what arrives on the streams peers open to us.
  const tapped = gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, runOnLimitedConnection: true })
  const node = await createLibp2p({
    ...(options.privateKey === undefined ? {} : { privateKey: privateKeyFromRaw(options.privateKey) }),
    addresses: { listen: [LOOPBACK] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify({ runOnLimitedConnection: true }),
      ping: ping({ runOnLimitedConnection: true }),
      pubsub: (components: Parameters<typeof tapped>[0]) => tapped(new Proxy(components, {
        get: (target, prop, receiver) => {
          const value = Reflect.get(target, prop, receiver)
          if (prop !== 'registrar') return value
          const registrar = value as Parameters<typeof tapped>[0]['registrar']
          return new Proxy(registrar, {
            get: (r, p, rr) => p !== 'handle'
              ? Reflect.get(r, p, rr)
              : async (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => {
                await registrar.handle(protocol, (stream: Stream, connection: Connection) => {
                  gossipIn.streams++
                  stream.addEventListener('message', evt => { gossipIn.bytes += evt.data.byteLength })
                  return handler(stream, connection)
                }, options)
              }
          })
        }
      }))
    }
  })
  const pubsub = node.services.pubsub
  pubsub.addEventListener('subscription-change', evt => {
    for (const s of evt.detail.subscriptions) {
      if (!s.subscribe || learnedTopics.has(s.topic)) continue
      learnedTopics.add(s.topic)
      pubsub.subscribe(s.topic)
    }
  })
  pubsub.addEventListener('message', evt => { messages.push({ topic: evt.detail.topic, bytes: evt.detail.data.byteLength }) })

  return {
    node,
    learnedTopics,
    messages,
    gossipIn,
    subscribe: topic => { pubsub.subscribe(topic) },
    dial: async address => await node.dial(typeof address === 'string' ? multiaddr(address) : address, { signal: AbortSignal.timeout(10_000) }),
    meshPeers: topic => (pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(topic),
    probe: async (connection, protocol, send, waitMs = 3_000) => {
      let stream: Stream
      try {
        stream = await connection.newStream(protocol, { runOnLimitedConnection: true, signal: AbortSignal.timeout(5_000) })
      } catch (err) {
        return { opened: false, received: new Uint8Array(0), end: `refused: ${(err as Error).message}` }
      }
      const chunks: Uint8Array[] = []
      let end: string | undefined
      const ended = new Promise<void>(resolve => {
        stream.addEventListener('message', evt => { chunks.push(bytesOf(evt.data).slice()) })
        stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
        stream.addEventListener('close', evt => {
          end = evt.error === undefined ? 'closed' : `reset: ${evt.error.message}`
          resolve()
        })
      })
      try {
        for (const frame of send) stream.send(frame)
      } catch (err) {
        end ??= `reset: ${(err as Error).message}`
      }
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([ended, new Promise<void>(resolve => { timer = setTimeout(resolve, waitMs) })])
      clearTimeout(timer)
      if (end === undefined) {
        end = 'timeout'
        stream.abort(new Error('probe over'))
      }
      const received = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
      let at = 0
      for (const c of chunks) { received.set(c, at); at += c.byteLength }
      return { opened: true, received, end }
    },
    stop: async () => { await node.stop() }
  }
}

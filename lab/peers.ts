/**
 * Plain libp2p peers (no weft replica) for testing the relay: the relay e2e
 * tests run them on 127.0.0.1, the NAT lab runs them inside namespaces as
 * connectivity probes. They speak a tiny "sink" protocol on limited
 * connections too: the dialer streams N bytes, the listener counts them and
 * answers with the count, so a test sees exactly where a relay cut it off.
 */
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { identify, identifyPush } from '@libp2p/identify'
import { FaultTolerance, type Connection, type Libp2p, type PrivateKey, type Stream } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { createLibp2p } from 'libp2p'
import { DEFAULT_MAX_STREAM_READ_BUFFER_BYTES, DEFAULT_MAX_STREAM_WINDOW_BYTES } from '../src/net/constants.js'
import { streamChannel } from '../src/net/stream-channel.js'
import { udxBirthday } from '../src/net/nat/udx-birthday.js'
import { udxObserver } from '../src/net/nat/udx-observer.js'
import { hideUdxAddresses, udx, udxAddrs, udxTools } from '../src/udx/index.js'

export const SINK_PROTOCOL = '/weft-test/sink/1.0.0'
/** What the sender hands the stream at a time; weft's sync channel waits on its write high-water mark after each write. */
const CHUNK_BYTES = 64 * 1024

export interface PeerOptions {
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Relay multiaddrs (with /p2p/<id>); the peer reserves a slot on each. @default [] */
  relays?: string[]
  announce?: string[]
  /** Hole punching over relayed connections. @default false */
  dcutr?: boolean
  /** Map a port with UPnP (and advertise it unverified, as weft does). @default false */
  upnp?: boolean
  /**
   * The UDX transport as weft runs it: listen on `/udp/0/udx` too, tell and
   * learn UDX addresses over udx-addrs (identify never shows them), ask the
   * relays for the public mapping and confirm it (udx-observer), birthday
   * punching when one NAT randomizes ports (udx-birthday). @default false
   */
  udx?: boolean
  privateKey?: PrivateKey
  /** yamux with a weft node's stream windows and buffers (2 MiB) instead of the 256 KiB defaults, for throughput figures. @default false */
  weftMuxer?: boolean
}

export type Peer = Libp2p<Record<string, unknown>>

export async function createPeer (o: PeerOptions = {}): Promise<Peer> {
  // As in a weft node, identify shows no /udx address; peers learn them over udx-addrs.
  const services: Record<string, (components: any) => unknown> = {
    identify: hideUdxAddresses(identify()),
    identifyPush: hideUdxAddresses(identifyPush()),
    ping: ping()
  }
  if (o.dcutr === true) services.dcutr = dcutr()
  if (o.upnp === true) services.upnp = uPnPNAT({ autoConfirmAddress: true })
  const listen = [...(o.listen ?? ['/ip4/127.0.0.1/tcp/0'])]
  const transports: Array<(components: any) => any> = [tcp()]
  if (o.udx === true) {
    services.udx = udxTools()
    // probes have no group: every probe is "a member", the relay a reflector
    services.udxAddrs = udxAddrs({ share: () => true, learnFrom: () => true })
    services.udxObserver = udxObserver({ reflectors: (o.relays ?? []).map(r => r.split('/p2p/').pop()!) })
    services.udxBirthday = udxBirthday()
    transports.push(udx({ publicDialsNeedPunch: true }))
    if (!listen.some(a => a.includes('/udx'))) listen.push(listen[0]!.includes('127.0.0.1') ? '/ip4/127.0.0.1/udp/0/udx' : '/ip4/0.0.0.0/udp/0/udx')
  }
  transports.push(circuitRelayTransport())
  const node = await createLibp2p({
    privateKey: o.privateKey ?? await generateKeyPair('Ed25519'),
    addresses: {
      listen: [...listen, ...(o.relays ?? []).map(r => `${r}/p2p-circuit`)],
      ...(o.announce === undefined ? {} : { announce: o.announce })
    },
    // A refused or failed reservation must not stop the peer from starting: tests look at it.
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [o.weftMuxer === true
      ? yamux({ streamOptions: { maxStreamWindowSize: DEFAULT_MAX_STREAM_WINDOW_BYTES, maxReadBufferLength: DEFAULT_MAX_STREAM_READ_BUFFER_BYTES } })
      : yamux()],
    services
  }) as unknown as Peer
  await node.handle(SINK_PROTOCOL, (stream) => { void sinkHandler(stream) }, { runOnLimitedConnection: true })
  return node
}

/** How long a sink waits for the dialer's bytes in all. */
const SINK_TIMEOUT_MS = 120_000

/**
 * Listener side: count until the dialer ends its side, answer with the count
 * as 8 bytes. Reads through weft's sync channel adapter (its read high-water
 * mark pauses the stream), so throughput figures are those of a sync stream.
 */
async function sinkHandler (stream: Stream): Promise<void> {
  const channel = streamChannel(stream)
  const signal = AbortSignal.timeout(SINK_TIMEOUT_MS)
  let n = 0
  try {
    for (let chunk = await channel.read(signal); chunk !== null; chunk = await channel.read(signal)) n += chunk.byteLength
    const reply = new Uint8Array(8)
    new DataView(reply.buffer).setBigUint64(0, BigInt(n))
    await channel.write([reply], signal)
    await channel.closeWrite(signal)
  } catch (err) {
    channel.abort(err as Error)
  }
}

export interface SendResult {
  /** Bytes the listener says it received; undefined when the stream died first. */
  acked: number | undefined
  error: Error | undefined
}

/**
 * Streams `bytes` to the peer on `conn` and waits for its count. Writes
 * through weft's sync channel adapter, as a sync session does. Never rejects:
 * failure is in `error`.
 */
export async function sendBytes (conn: Connection, bytes: number, signal = AbortSignal.timeout(30_000)): Promise<SendResult> {
  let channel: ReturnType<typeof streamChannel> | undefined
  try {
    const stream = await conn.newStream(SINK_PROTOCOL, { runOnLimitedConnection: true, signal })
    channel = streamChannel(stream)
    const chunk = new Uint8Array(CHUNK_BYTES).fill(7)
    for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
      try {
        await channel.write([sent + CHUNK_BYTES <= bytes ? chunk : chunk.subarray(0, bytes - sent)], signal)
      } catch (err) {
        throw new Error(`stream ${stream.status} after ${sent} bytes: ${(err as Error).message}`, { cause: err })
      }
    }
    await channel.closeWrite(signal)
    const reply: Uint8Array[] = []
    for (let c = await channel.read(signal); c !== null; c = await channel.read(signal)) reply.push(c)
    const all = Buffer.concat(reply)
    if (all.length < 8) return { acked: undefined, error: new Error(`short reply (${all.length} bytes)`) }
    return { acked: Number(all.readBigUInt64BE(0)), error: undefined }
  } catch (err) {
    channel?.abort(err as Error)
    return { acked: undefined, error: err as Error }
  }
}

/** Polls until `check` holds; bounded. */
export async function waitUntil (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** The relayed address of `peer` through `relay` (`<relay>/p2p-circuit/p2p/<peer>`). */
export function circuitAddress (relay: string, peer: Peer): string {
  return `${relay}/p2p-circuit/p2p/${peer.peerId.toString()}`
}

/** True when `peer` advertises a reservation through the relay with this id. */
export function hasReservation (peer: Peer, relayId: string): boolean {
  return peer.getMultiaddrs().some(a => a.toString().includes(`/p2p/${relayId}/p2p-circuit`))
}

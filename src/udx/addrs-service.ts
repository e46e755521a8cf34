/**
 * `udxAddrs()`: a libp2p service by which two nodes that can use UDX
 * addresses tell each other theirs, over `/weft/udx-addrs/1.0.0`.
 *
 * Why: identify and signed peer records must not carry `/udx` addresses (a
 * peer that has not registered the private code cannot parse them, see
 * hide-addresses.ts), yet hole punching needs them: a node learns its public
 * mapping from a reflector's UDX address, and punches towards a peer's public
 * UDX address over a relayed connection. So they travel here instead, and
 * only to the peers a node chooses: weft daemons share theirs with members of
 * their group, a weft relay shares its reflector address with anyone.
 *
 * The exchange: the opener sends its own UDX addresses (none when it does not
 * share them with the responder), the responder answers with its own (same
 * rule), both close. The node that opened a connection starts one on it when
 * it wants to learn from the peer (`learnFrom`) or shares with it, and a node
 * starts one with every connected peer it shares with when its own UDX
 * addresses change (a public mapping confirmed or withdrawn), as
 * identify-push would. What a peer in `learnFrom` tells us is
 * emitted as an 'addresses' event; what anyone else tells us is dropped.
 *
 * Bounds: one message each way, at most MAX_UDX_ADDRS_MESSAGE_BYTES (checked
 * before it is buffered) and MAX_UDX_ADDRS addresses; the exchange within
 * DEFAULT_UDX_ADDRS_TIMEOUT; MAX_UDX_ADDRS_STREAMS streams per connection
 * each way. It runs on relayed connections too (that is where punching
 * starts). Entries that are not plain UDX addresses are skipped.
 */
import type {
  AbortOptions, ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget
} from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { pbStream } from '@libp2p/utils'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { DEFAULT_UDX_ADDRS_TIMEOUT, MAX_UDX_ADDRS, MAX_UDX_ADDRS_MESSAGE_BYTES, MAX_UDX_ADDRS_STREAMS, UDX_ADDRS_PROTOCOL } from './constants.js'
import { parseUdxMultiaddr } from './multiaddr.js'
import { UdxAddrs as UdxAddrsMessage } from './pb/udx-addrs.js'

/** Decides per peer; may be async (a membership lookup). */
export type PeerPredicate = (peer: PeerId) => boolean | Promise<boolean>

export interface UdxAddrsInit {
  /** Peers we tell our UDX addresses, when they ask and when we ask them. @default nobody */
  share?: PeerPredicate
  /** Peers we ask for their UDX addresses when a connection to them opens, and whose answers we use. @default nobody */
  learnFrom?: PeerPredicate
  /** One exchange, from opening the stream to the answer. @default DEFAULT_UDX_ADDRS_TIMEOUT (5 s) */
  timeoutMs?: number
}

export interface UdxAddrsComponents {
  registrar: Pick<Registrar, 'handle' | 'unhandle'>
  /** The node's full address list (`/udx` included): what we share. */
  addressManager: { getAddresses(): Multiaddr[] }
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  peerStore: Pick<PeerStore, 'get'>
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** What a peer told us, and over which connection (relayed or direct). */
export interface PeerUdxAddrs {
  peerId: PeerId
  connection: Connection
  /** Plain UDX addresses, without /p2p; empty when the peer does not share them with us (or has none). */
  addrs: Multiaddr[]
}

export interface UdxAddrsEvents {
  /** A peer in `learnFrom` told us its UDX addresses. */
  addresses: CustomEvent<PeerUdxAddrs>
}

export interface UdxAddrs extends TypedEventTarget<UdxAddrsEvents> {
  /** Exchanges addresses with the peer on `connection` now; resolves with what it told us. */
  exchange(connection: Connection, options?: AbortOptions): Promise<Multiaddr[]>
  /** Our UDX addresses, as we would share them now. */
  own(): Multiaddr[]
}

// pbStream hands decode its own uint8arraylist (another major than ours); the codec reads plain bytes.
const codec = {
  encode: (m: Partial<UdxAddrsMessage>) => UdxAddrsMessage.encode(m),
  decode: (data: Uint8Array | { subarray: () => Uint8Array }) =>
    UdxAddrsMessage.decode(data instanceof Uint8Array ? data : data.subarray(), { limits: { addrs: MAX_UDX_ADDRS } })
}

const nobody: PeerPredicate = () => false

class DefaultUdxAddrs extends TypedEventEmitter<UdxAddrsEvents> implements UdxAddrs, Startable {
  readonly [Symbol.toStringTag] = '@weft/udx-addrs'
  readonly #c: UdxAddrsComponents
  readonly #log: Logger
  readonly #share: PeerPredicate
  readonly #learnFrom: PeerPredicate
  readonly #timeoutMs: number
  /** Our UDX addresses as last shared, to push only real changes. */
  #lastOwn = ''
  #started = false

  constructor (components: UdxAddrsComponents, init: UdxAddrsInit = {}) {
    super()
    this.#c = components
    this.#log = components.logger.forComponent('weft:udx-addrs')
    this.#share = init.share ?? nobody
    this.#learnFrom = init.learnFrom ?? nobody
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_UDX_ADDRS_TIMEOUT
  }

  isStarted (): boolean { return this.#started }

  async start (): Promise<void> {
    await this.#c.registrar.handle(UDX_ADDRS_PROTOCOL, (stream, connection) => { void this.#answer(stream, connection) }, {
      runOnLimitedConnection: true,
      maxInboundStreams: MAX_UDX_ADDRS_STREAMS,
      maxOutboundStreams: MAX_UDX_ADDRS_STREAMS
    })
    this.#c.events.addEventListener('connection:open', this.#onConnection)
    this.#c.events.addEventListener('self:peer:update', this.#onSelfUpdate)
    this.#lastOwn = this.#key(this.own())
    this.#started = true
  }

  async stop (): Promise<void> {
    this.#started = false
    this.#c.events.removeEventListener('connection:open', this.#onConnection)
    this.#c.events.removeEventListener('self:peer:update', this.#onSelfUpdate)
    await this.#c.registrar.unhandle(UDX_ADDRS_PROTOCOL)
  }

  own (): Multiaddr[] {
    const seen = new Map<string, Multiaddr>()
    for (const ma of this.#c.addressManager.getAddresses()) {
      if (parseUdxMultiaddr(ma, true) == null) continue
      const plain = ma.decapsulateCode(CODE_P2P)
      seen.set(plain.toString(), plain)
    }
    return [...seen.values()].slice(0, MAX_UDX_ADDRS)
  }

  async exchange (connection: Connection, options: AbortOptions = {}): Promise<Multiaddr[]> {
    const signal = options.signal ?? AbortSignal.timeout(this.#timeoutMs)
    const peer = connection.remotePeer
    this.#log.trace('exchanging UDX addresses with %p', peer)
    const stream = await connection.newStream(UDX_ADDRS_PROTOCOL, { runOnLimitedConnection: true, signal })
    try {
      const pb = pbStream(stream, { maxDataLength: MAX_UDX_ADDRS_MESSAGE_BYTES })
      await pb.write({ addrs: await this.#ownFor(peer) }, codec, { signal })
      const reply = await pb.read(codec, { signal })
      await stream.close({ signal })
      const theirs = this.#parse(reply, peer)
      await this.#learned(connection, theirs)
      return theirs
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  async #answer (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#timeoutMs)
    const peer = connection.remotePeer
    try {
      const pb = pbStream(stream, { maxDataLength: MAX_UDX_ADDRS_MESSAGE_BYTES })
      const request = await pb.read(codec, { signal })
      await pb.write({ addrs: await this.#ownFor(peer) }, codec, { signal })
      await stream.close({ signal })
      await this.#learned(connection, this.#parse(request, peer))
    } catch (err) {
      this.#log('udx-addrs exchange with %p failed - %e', peer, err)
      stream.abort(err as Error)
    }
  }

  /** Our addresses as bytes if we share them with `peer`, else none. */
  async #ownFor (peer: PeerId): Promise<Uint8Array[]> {
    if (!(await this.#share(peer))) return []
    return this.own().map(ma => ma.bytes)
  }

  #parse (message: UdxAddrsMessage, peer: PeerId): Multiaddr[] {
    const out: Multiaddr[] = []
    for (const bytes of message.addrs) {
      let ma: Multiaddr
      try { ma = multiaddr(bytes) } catch (err) { this.#log.trace('%p sent an address we cannot parse - %e', peer, err); continue }
      if (parseUdxMultiaddr(ma) == null) { this.#log.trace('%p sent %a, not a plain UDX address', peer, ma); continue }
      out.push(ma)
    }
    return out
  }

  async #learned (connection: Connection, addrs: Multiaddr[]): Promise<void> {
    const peerId = connection.remotePeer
    if (!(await this.#learnFrom(peerId))) return
    this.#log('%p has UDX addresses %s (over a %s connection)', peerId, addrs.map(String).join(' ') || 'none', connection.limits == null ? 'direct' : 'relayed')
    this.safeDispatchEvent('addresses', { detail: { peerId, connection, addrs } })
  }

  /**
   * The side that opened the connection starts the exchange, if it wants the
   * peer's addresses or shares its own with it; one exchange tells both sides.
   * (Both asking would double the streams, and on a relayed connection every
   * answer restarts the observer's punch and its hold on our dials.)
   */
  readonly #onConnection = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    if (connection.direction !== 'outbound') return
    void (async () => {
      const peer = connection.remotePeer
      if (!(await this.#learnFrom(peer)) && !(await this.#share(peer))) return
      if (connection.status !== 'open') return
      await this.exchange(connection)
    })().catch((err: Error) => { this.#log('UDX address exchange with %p failed - %e', connection.remotePeer, err) })
  }

  /** Our addresses changed: tell the connected peers we share with that speak this protocol. */
  readonly #onSelfUpdate = (): void => {
    const key = this.#key(this.own())
    if (key === this.#lastOwn) return
    this.#log('our UDX addresses are now %s', key === '' ? 'none' : key)
    this.#lastOwn = key
    for (const connection of this.#oneConnectionPerPeer()) {
      void (async () => {
        const peer = await this.#c.peerStore.get(connection.remotePeer)
        if (!peer.protocols.includes(UDX_ADDRS_PROTOCOL) || !(await this.#share(connection.remotePeer))) return
        await this.exchange(connection)
      })().catch((err: Error) => { this.#log('telling %p our new UDX addresses failed - %e', connection.remotePeer, err) })
    }
  }

  #oneConnectionPerPeer (): Connection[] {
    const byPeer = new Map<string, Connection>()
    for (const c of this.#c.connectionManager.getConnections()) {
      if (c.status !== 'open') continue
      const known = byPeer.get(c.remotePeer.toString())
      if (known === undefined || (known.limits != null && c.limits == null)) byPeer.set(c.remotePeer.toString(), c)
    }
    return [...byPeer.values()]
  }

  #key (addrs: Multiaddr[]): string {
    return addrs.map(String).sort().join(' ')
  }
}

/** The udx-addrs service factory, for `createLibp2p({ services: { udxAddrs: udxAddrs(init) } })`. */
export function udxAddrs (init: UdxAddrsInit = {}): (components: UdxAddrsComponents) => UdxAddrs {
  return (components) => new DefaultUdxAddrs(components, init)
}

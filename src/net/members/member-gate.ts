/**
 * Who may see the group's data: members, known from the peer id alone.
 *
 * The libp2p peer id is the device's Ed25519 key and Noise authenticates it
 * on every connection, so "this connection comes from a member" is one
 * lookup in the group's membership (admitted and not revoked): a member has
 * proved membership by completing the Noise handshake with its key. The node
 * holds one such predicate (`PeerMembership`) and every path that sends group
 * data asks it: sync (sessions only with members), gossip, DCUtR and birthday
 * punching (below), the discovery dialer and the stranger guard.
 *
 * Gossip, DCUtR and birthday punching are libp2p services that talk to any
 * peer that speaks their protocol. `MemberGate.gated(factory)` hands such a
 * service a registrar that hides every non-member from it:
 *
 * - a topology's `onConnect` fires only for members, so the service never
 *   opens a stream to anyone else;
 * - a stream a non-member opens on the service's protocols never reaches the
 *   service: it is held unread and unanswered ("parked") until the peer
 *   becomes a member or its connection closes (the stranger guard closes it
 *   after a grace period). Parking instead of resetting matters for a peer
 *   whose admission is on its way: stock gossipsub does not notice a stream
 *   reset right after it opened, keeps it as its stream to us and never
 *   sends on another, so gossip between the two would stay broken until
 *   they reconnect. A bounded number of streams is parked, each with a small
 *   read buffer; beyond that they are reset.
 *
 * For gossipsub this closes every send path at its root: it sends only over
 * an outbound stream it opens in `onConnect` or after accepting an inbound
 * stream (its SUBSCRIBE on connect, mesh GRAFT/PRUNE, flood and fanout
 * publish, forwarding, IHAVE/IWANT/IDONTWANT all go through `sendRpc` to such
 * a stream), and it learns who subscribes to what only from inbound streams.
 * A stranger is never among its peers, so it never learns our topic either.
 *
 * A peer that becomes a member while connected (its admission arrived after
 * it connected) is handed to the topologies then, and its parked streams to
 * the handlers; one that stops being a member (revoked) is taken from them
 * (`onDisconnect`: gossipsub drops its streams), and the daemon closes its
 * connections.
 *
 * A service that keeps one long-lived outbound stream per peer (gossipsub,
 * gated with `{ streamPerPeer: true }`) also gets its member's stream kept
 * working while the member stays connected. Stock gossipsub attaches its
 * close listener only after `newStream` returns, and libp2p's `newStream`
 * awaits a peer-store write and the stream middleware after negotiating and
 * returns the stream even if it closed meanwhile: gossipsub then
 * keeps a dead stream as its stream to that member, never hears it close,
 * and while other connections to the member stay open it never opens
 * another, so every publish skips the member. And when its stream closes
 * with one of several connections, gossipsub waits for the member to open a
 * stream or a new connection before it opens one again. So the connections
 * such a service sees refuse a stream that is no longer open when
 * `newStream` returns, and when one of its streams closes, or is refused,
 * while the member is still connected, the service is told about the member
 * again (`onConnect`) on an open connection: gossipsub opens a stream there
 * if it has none, and does nothing if it has one.
 */
import type { AbortOptions, Connection, PeerId, PeerStore, Startable, Stream, StreamHandler, StreamHandlerOptions, StreamHandlerRecord, StreamMiddleware, Topology } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { MAX_PARKED_STREAMS, MAX_WITHHELD_PEERS, PARKED_STREAM_READ_BUFFER_BYTES, RETELL_MIN_INTERVAL_MS } from '../constants.js'

/** Group membership by peer id, as the node sees it. */
export interface PeerMembership {
  /** Whether `peerId` (a device key, authenticated by Noise) is an admitted, unrevoked member of the node's group. */
  isMember(peerId: string): boolean
  /**
   * Calls `listener` after the set of members may have changed (an admission
   * or revocation was added). Returns a function that unsubscribes.
   * @default never changes
   */
  onChange?(listener: () => void): () => void
}

/** Every peer is a member: a node without a group (tests, library use without trust). */
export const EVERYONE: PeerMembership = { isMember: () => true }

/** Why a non-member's stream on a members-only protocol was reset. */
export class NotMemberStreamError extends Error {
  static override name = 'NotMemberStreamError'
  override name = 'NotMemberStreamError'
}

/** Why a gated service's `newStream` failed although the protocol was agreed: the stream closed before it was handed over. */
export class StreamClosedWhileOpeningError extends Error {
  static override name = 'StreamClosedWhileOpeningError'
  override name = 'StreamClosedWhileOpeningError'
}

/** How a gated service uses its streams. */
export interface GatedOptions {
  /**
   * The service keeps one long-lived outbound stream per peer and opens it
   * when told about the peer (gossipsub): keep it working while the member
   * stays connected (see above).
   * @default false
   */
  streamPerPeer?: boolean
}

/** What a gated registrar needs besides the real registrar. */
export interface GateComponents {
  registrar: Registrar
  connectionManager: Pick<ConnectionManager, 'getConnections'>
  peerStore: Pick<PeerStore, 'get'>
}

/** The node's one membership predicate, and the registrar gate of members-only services. */
export class MemberGate implements PeerMembership, Startable {
  readonly [Symbol.toStringTag] = 'weft:member-gate'
  readonly #membership: PeerMembership
  readonly #registrars = new Set<MemberRegistrar>()
  readonly #listeners = new Set<() => void>()
  /** Streams of non-members held by every gated service together (bounded by MAX_PARKED_STREAMS). */
  readonly #parked = new Set<Stream>()
  #unsubscribe: (() => void) | undefined
  #started = false

  constructor (membership: PeerMembership = EVERYONE) {
    this.#membership = membership
  }

  /** True when every peer counts as a member (no group): the gate then wraps nothing. */
  get open (): boolean { return this.#membership === EVERYONE }

  /** Never throws: a peer id that is not a device key is not a member. */
  readonly isMember = (peerId: PeerId | string): boolean => {
    try {
      return this.#membership.isMember(peerId.toString())
    } catch {
      return false
    }
  }

  onChange (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** A service factory whose service sees only members through its registrar. */
  gated<C extends object, S> (factory: (components: C) => S, options: GatedOptions = {}): (components: C) => S {
    if (this.open) return factory
    return (components: C): S => {
      // libp2p hands every service all of its components (GateComponents among them), whatever the service declares.
      const registrar = new MemberRegistrar(components as unknown as GateComponents, this.isMember, this.#parked, options.streamPerPeer === true)
      this.#registrars.add(registrar)
      // libp2p's components object is a proxy of its own; only the registrar differs.
      const view = new Proxy(components, { get: (target, prop, receiver) => prop === 'registrar' ? registrar : Reflect.get(target, prop, receiver) })
      return factory(view)
    }
  }

  isStarted (): boolean { return this.#started }

  start (): void {
    const unsubscribe = this.#membership.onChange?.(() => { this.#changed() })
    this.#unsubscribe = typeof unsubscribe === 'function' ? unsubscribe : undefined
    this.#started = true
  }

  stop (): void {
    this.#started = false
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    for (const s of this.#parked) s.abort(new NotMemberStreamError('the node is stopping'))
    this.#parked.clear()
    for (const r of this.#registrars) r.stop()
  }

  /** Non-members' streams held unread now. */
  get parked (): number { return this.#parked.size }

  #changed (): void {
    if (!this.#started) return
    for (const r of this.#registrars) r.membershipChanged()
    for (const l of this.#listeners) {
      try { l() } catch {}
    }
  }
}

interface Registered { protocol: string, topology: Topology }

interface Parked { readonly protocol: string, readonly connection: Connection, readonly handler: StreamHandler, readonly readBuffer: number }

/**
 * The registrar a gated service sees: the node's registrar with non-members
 * filtered out of its topologies and handlers.
 */
class MemberRegistrar implements Registrar {
  readonly #raw: Registrar
  readonly #c: GateComponents
  readonly #isMember: (peer: PeerId) => boolean
  readonly #topologies = new Map<string, Registered>()
  /** Connected non-members a topology was not told about: told if they become members. */
  readonly #withheld = new Map<string, PeerId>()
  /** Members the topologies were told about: taken back if they stop being members. */
  readonly #told = new Map<string, PeerId>()
  /** This registrar's parked streams; `#allParked` counts every gated service's. */
  readonly #parked = new Map<Stream, Parked>()
  readonly #allParked: Set<Stream>
  /** Set for a service with one long-lived outbound stream per peer: its connections are watched (`#watched`). */
  readonly #streamPerPeer: boolean
  readonly #watched = new WeakMap<Connection, Connection>()
  /** Members to tell about again, soon, and when each was last told again (members told about, so bounded by the connected ones). */
  readonly #retells = new Map<string, ReturnType<typeof setTimeout>>()
  readonly #lastRetell = new Map<string, number>()

  constructor (components: GateComponents, isMember: (peer: PeerId) => boolean, allParked: Set<Stream>, streamPerPeer: boolean) {
    this.#raw = components.registrar
    this.#c = components
    this.#isMember = isMember
    this.#allParked = allParked
    this.#streamPerPeer = streamPerPeer
  }

  readonly [Symbol.toStringTag] = 'weft:member-registrar'

  getProtocols (): string[] { return this.#raw.getProtocols() }
  getHandler (protocol: string): StreamHandlerRecord { return this.#raw.getHandler(protocol) }
  getTopologies (protocol: string): Topology[] { return this.#raw.getTopologies(protocol) }
  use (protocol: string, middleware: StreamMiddleware[]): void { this.#raw.use(protocol, middleware) }
  unuse (protocol: string): void { this.#raw.unuse(protocol) }
  getMiddleware (protocol: string): StreamMiddleware[] { return this.#raw.getMiddleware(protocol) }
  async unhandle (protocol: string, options?: AbortOptions): Promise<void> { await this.#raw.unhandle(protocol, options) }

  async handle (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    const gated = (stream: Stream, connection: Connection): void | Promise<void> => {
      if (this.#isMember(connection.remotePeer)) return handler(stream, this.#view(connection))
      this.#park(stream, connection, protocol, handler)
    }
    await this.#raw.handle(protocol, gated, options)
  }

  async register (protocol: string, topology: Topology, options?: AbortOptions): Promise<string> {
    // Inherit from the service's topology: its filter and notifyOnLimitedConnection stay live.
    const wrapped: Topology = Object.create(topology)
    wrapped.onConnect = (peerId: PeerId, connection: Connection): void | Promise<void> => {
      const key = peerId.toString()
      if (!this.#isMember(peerId)) {
        // Not told, so not filtered either: the replay below (or a later identify) can still tell it.
        topology.filter?.remove(peerId)
        if (this.#withheld.size < MAX_WITHHELD_PEERS) this.#withheld.set(key, peerId)
        return
      }
      this.#told.set(key, peerId)
      return topology.onConnect?.(peerId, this.#view(connection))
    }
    wrapped.onDisconnect = (peerId: PeerId): void | Promise<void> => {
      const key = peerId.toString()
      this.#withheld.delete(key)
      this.#forget(key)
      if (!this.#told.delete(key)) return
      return topology.onDisconnect?.(peerId)
    }
    const id = await this.#raw.register(protocol, wrapped, options)
    this.#topologies.set(id, { protocol, topology })
    return id
  }

  unregister (id: string): void {
    this.#raw.unregister(id)
    this.#topologies.delete(id)
  }

  /** Holds a non-member's stream unread and unanswered, or resets it when too many are held. */
  #park (stream: Stream, connection: Connection, protocol: string, handler: StreamHandler): void {
    if (this.#allParked.size >= MAX_PARKED_STREAMS) {
      stream.abort(new NotMemberStreamError(`${protocol} is for members of the group only`))
      return
    }
    this.#parked.set(stream, { protocol, connection, handler, readBuffer: stream.maxReadBufferLength })
    this.#allParked.add(stream)
    // A stranger that keeps sending on it fills a small buffer and gets the stream reset.
    stream.maxReadBufferLength = PARKED_STREAM_READ_BUFFER_BYTES
    stream.addEventListener('close', () => {
      this.#parked.delete(stream)
      this.#allParked.delete(stream)
    }, { once: true })
  }

  /** Tells the topologies about connected peers that became members, and takes back those that stopped being members. */
  membershipChanged (): void {
    for (const [stream, p] of this.#parked) {
      if (!this.#isMember(p.connection.remotePeer)) continue
      this.#parked.delete(stream)
      this.#allParked.delete(stream)
      if (stream.status !== 'open') continue
      stream.maxReadBufferLength = p.readBuffer
      void Promise.resolve(p.handler(stream, this.#view(p.connection))).catch(err => { stream.abort(err as Error) })
    }
    for (const [key, peerId] of this.#told) {
      if (this.#isMember(peerId)) continue
      this.#told.delete(key)
      this.#forget(key)
      for (const { topology } of this.#topologies.values()) {
        topology.filter?.remove(peerId)
        void Promise.resolve(topology.onDisconnect?.(peerId)).catch(() => {})
      }
    }
    for (const [key, peerId] of this.#withheld) {
      if (!this.#isMember(peerId)) continue
      this.#withheld.delete(key)
      void this.#tell(peerId).catch(() => {})
    }
  }

  /** The peer's open connections, direct ones first (as identify would hand them to the topologies). */
  #openConnections (peerId: PeerId): Connection[] {
    return this.#c.connectionManager.getConnections(peerId)
      .filter(c => c.status === 'open')
      .sort((a, b) => Number(a.limits != null) - Number(b.limits != null))
  }

  async #tell (peerId: PeerId): Promise<void> {
    const open = this.#openConnections(peerId)
    if (open.length === 0) return
    const { protocols } = await this.#c.peerStore.get(peerId)
    // Each connection the topology takes (DCUtR wants the relayed one).
    for (const { protocol, topology } of this.#topologies.values()) {
      if (!protocols.includes(protocol) || topology.filter?.has(peerId) === true) continue
      const connections = open.filter(c => c.limits == null || topology.notifyOnLimitedConnection === true)
      if (connections.length === 0) continue
      topology.filter?.add(peerId)
      this.#told.set(peerId.toString(), peerId)
      for (const connection of connections) await topology.onConnect?.(peerId, this.#view(connection))
    }
  }

  stop (): void {
    for (const timer of this.#retells.values()) clearTimeout(timer)
    this.#retells.clear()
    this.#lastRetell.clear()
  }

  /**
   * The connection as the service sees it: for a service with one stream per
   * peer, one whose `newStream` refuses a stream that closed before it was
   * handed over, and watches the streams it hands over.
   */
  #view (connection: Connection): Connection {
    if (!this.#streamPerPeer) return connection
    const known = this.#watched.get(connection)
    if (known !== undefined) return known
    const newStream: Connection['newStream'] = async (protocols, options) => {
      const stream = await connection.newStream(protocols, options)
      if (stream.status !== 'open') {
        const err = new StreamClosedWhileOpeningError(`the ${stream.protocol} stream to ${connection.remotePeer} is ${stream.status}: it closed while it was being opened`)
        stream.abort(err)
        this.#retellSoon(connection.remotePeer)
        throw err
      }
      stream.addEventListener('close', () => { this.#retellSoon(connection.remotePeer) }, { once: true })
      return stream
    }
    // Everything else is the connection's own, read from it (getters and methods with the connection as `this`).
    const view = new Proxy(connection, {
      get: (target, prop) => {
        if (prop === 'newStream') return newStream
        const value: unknown = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    this.#watched.set(connection, view)
    return view
  }

  /** Tells the topologies about a member again after one of its streams closed: at once the first time, then at most once per RETELL_MIN_INTERVAL_MS. */
  #retellSoon (peerId: PeerId): void {
    const key = peerId.toString()
    if (this.#retells.has(key) || !this.#told.has(key)) return
    const wait = Math.max(0, (this.#lastRetell.get(key) ?? -Infinity) + RETELL_MIN_INTERVAL_MS - Date.now())
    // Not before the close listeners still to run (the service's own) have run.
    const timer = setTimeout(() => {
      this.#retells.delete(key)
      this.#lastRetell.set(key, Date.now())
      void this.#retell(peerId).catch(() => {})
    }, wait)
    timer.unref?.()
    this.#retells.set(key, timer)
  }

  /** Tells each topology (once) about a member still told about and connected, on one open connection it takes, direct first. */
  async #retell (peerId: PeerId): Promise<void> {
    if (!this.#told.has(peerId.toString()) || !this.#isMember(peerId)) return
    const open = this.#openConnections(peerId)
    const topologies = new Set([...this.#topologies.values()].map(r => r.topology))
    for (const topology of topologies) {
      const connection = open.find(c => c.limits == null || topology.notifyOnLimitedConnection === true)
      if (connection !== undefined) await topology.onConnect?.(peerId, this.#view(connection))
    }
  }

  #forget (key: string): void {
    clearTimeout(this.#retells.get(key))
    this.#retells.delete(key)
    this.#lastRetell.delete(key)
  }
}

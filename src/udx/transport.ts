/**
 * `UdxTransport`: libp2p's `Transport` over udx-native, with one socket per
 * address family shared by the listener, every dial, punching and the
 * observed-address reflector (see endpoint.ts for why).
 *
 * A dial binds an ephemeral socket only when the node is not listening on that
 * family; a later `listen` on port 0 adopts it. Roles for the upgrader come
 * from the handshake, not from the dial options: a plain dial always runs as
 * initiator (the peer is upgrading it as inbound, so honouring
 * `initiator: false` would leave both sides waiting), and crossed dials use the
 * nonce tie-break so that exactly one side initiates.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { serviceCapabilities, transportSymbol } from '@libp2p/interface'
import {
  DEFAULT_CLOSE_TIMEOUT, DEFAULT_DIAL_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PENDING_DIALS, DEFAULT_MAX_PENDING_INBOUND, DEFAULT_MAX_PENDING_INBOUND_PER_HOST,
  DEFAULT_MAX_REPLIES_PER_SECOND, DEFAULT_OBSERVE_TIMEOUT, DEFAULT_SOCKET_BUFFER_BYTES,
  INITIAL_HELLO_RETRY_INTERVAL, MAX_HELLO_RETRY_INTERVAL, DEFAULT_BIRTHDAY_SOCKETS, MAX_BIRTHDAY_SOCKETS, DEFAULT_BIRTHDAY_TIMEOUT,
  BIRTHDAY_WINNER_IDLE_GRACE, DEFAULT_BIRTHDAY_PROBES, MAX_BIRTHDAY_PROBES
} from './constants.js'
import { BirthdaySockets, probePorts, type BirthdayOptions, type ProbeOptions } from './birthday.js'
import { UdxEndpoint, type PunchOptions, type UdxSocketStats } from './endpoint.js'
import type { HandshakeResult } from './handshake.js'
import type { UdxStream } from './udx-native.js'
import { InvalidUdxAddressError, UdxLimitError, UdxListenError, UdxNotPunchedError } from './errors.js'
import { isPrivate } from '@libp2p/utils'
import { UdxListener } from './listener.js'
import { isWildcard, parseUdxMultiaddr, toRemote, toUdpAddress, toUdxMultiaddr, type UdpAddress } from './multiaddr.js'
import { udxStreamToConnection } from './stream-to-conn.js'
import type {
  ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, Logger, Startable, Transport
} from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface UdxInit {
  /** Milliseconds for a whole dial: handshake, Noise and muxer negotiation. @default 5000 */
  dialTimeout?: number
  /** Milliseconds to wait for the ACK to our HELLO. @default 3000 */
  handshakeTimeout?: number
  /** Socket send and receive buffer, in bytes. @default 4 MiB */
  socketBufferBytes?: number
  /** Connections (UDX streams) per socket, pending ones included. @default 1024 */
  maxConnections?: number
  /** Inbound handshakes not yet upgraded, in total. @default 64 */
  maxPendingInbound?: number
  /** Inbound handshakes not yet upgraded, from one IP. @default 8 */
  maxPendingInboundPerHost?: number
  /**
   * Inbound handshakes pending from which a HELLO must first prove its source
   * address with a RETRY cookie (one more round trip). @default half of maxPendingInbound
   */
  retryThreshold?: number
  /** Outbound dials waiting for an ACK. @default 256 */
  maxPendingDials?: number
  /** ACKs and address reports sent per second at most. @default 2000 */
  maxRepliesPerSecond?: number
  /** Milliseconds a graceful close may take before the stream is destroyed. @default 1000 */
  closeTimeout?: number
  /** First HELLO retransmit in milliseconds; doubles up to 1 s. @default 100 */
  helloRetryInterval?: number
  /**
   * Dial public addresses only within `PUNCH_DIAL_WINDOW` of a `punch()` towards them
   * (hole punching), except `allowPublicDial` ones. Why: a HELLO that reaches a NATed
   * peer's public port before the peer sent anything to us leaves a conntrack entry on
   * its (Linux) NAT that remaps the peer's own packets to us, so punching between the
   * two fails for as long as such HELLOs keep coming plus 30 s. @default false
   */
  publicDialsNeedPunch?: boolean
  /**
   * Also answer address observations on this UDP port (0: any free one), from
   * a second socket that does nothing else, and name it in every answer of
   * the listening socket. A client that asks both learns whether its NAT maps
   * each destination to a new port (then only birthday punching can reach
   * it). For relays; if the port is taken, any free port is used. @default none
   */
  reflectorPort?: number
}

export interface UdxComponents {
  logger: ComponentLogger
}

export interface ObserveAddressOptions {
  signal?: AbortSignal
  /** Milliseconds before giving up. @default 3000 */
  timeout?: number
}

/** Our address as the reflector saw it: the public mapping when it is outside our NAT. */
export interface ObservedAddress extends UdpAddress {
  multiaddr: Multiaddr
  /** The reflector's second port that answers observations too (0: none): see `UdxInit.reflectorPort`. */
  alternatePort: number
}

/** The randomizing side of a birthday punch: see birthday.ts. */
export interface BirthdayAttempt {
  /** Local ports of the sockets opened. */
  readonly ports: number[]
  /** Resolves once every socket has punched towards the peer: tell the peer to probe now. */
  punched(): Promise<void>
  /**
   * Resolves with the local port a probe of the peer reached; from then on
   * dials to the peer's address leave from that socket (until its connection
   * ends). Rejects on timeout, abort or `close()`.
   */
  readonly hit: Promise<number>
  close(): void
}

type Remote = Multiaddr | { host: string, port: number }

/** Bounds of `PunchOptions.holdDials`: the longest hold, and how many addresses are held at once. */
const MAX_DIAL_HOLD = 2000
const MAX_DIAL_HOLDS = 256
/** Under `publicDialsNeedPunch`, dials to a public address are allowed this long after a punch towards it (DCUtR's 3 attempts). */
const PUNCH_DIAL_WINDOW = 20_000

export class UdxTransport implements Transport, Startable {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@weft/udx'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  private readonly components: UdxComponents
  private readonly log: Logger
  private readonly options: Required<UdxInit>
  private readonly endpoints = new Map<4 | 6, UdxEndpoint>()
  /** Dials to these addresses (host|port) wait until the time given (see `PunchOptions.holdDials`). */
  private readonly holds = new Map<string, number>()
  /** When we last punched towards an address (host|port), for `publicDialsNeedPunch`. */
  private readonly punched = new Map<string, number>()
  /** Public addresses always dialable under `publicDialsNeedPunch` (relays, reflectors). */
  private readonly allowed = new Set<string>()
  /** Dials to these addresses (host|port) leave from this socket: the winner of a birthday punch. */
  private readonly routes = new Map<string, UdxEndpoint>()
  /** Sockets besides the per-family ones: birthday sockets and the second reflector. */
  private readonly extra = new Set<UdxEndpoint>()
  private readonly reflectors = new Map<UdxEndpoint, UdxEndpoint>()
  /** Dials under way to an address (host|port), woken when a route to it appears. */
  private readonly routeWaiters = new Map<string, Set<() => void>>()

  constructor (components: UdxComponents, init: UdxInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('weft:udx')
    this.options = {
      dialTimeout: init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT,
      handshakeTimeout: init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      socketBufferBytes: init.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES,
      maxConnections: init.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxPendingInbound: init.maxPendingInbound ?? DEFAULT_MAX_PENDING_INBOUND,
      maxPendingInboundPerHost: init.maxPendingInboundPerHost ?? DEFAULT_MAX_PENDING_INBOUND_PER_HOST,
      maxPendingDials: init.maxPendingDials ?? DEFAULT_MAX_PENDING_DIALS,
      retryThreshold: init.retryThreshold ?? Math.ceil((init.maxPendingInbound ?? DEFAULT_MAX_PENDING_INBOUND) / 2),
      maxRepliesPerSecond: init.maxRepliesPerSecond ?? DEFAULT_MAX_REPLIES_PER_SECOND,
      closeTimeout: init.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
      helloRetryInterval: init.helloRetryInterval ?? INITIAL_HELLO_RETRY_INTERVAL,
      publicDialsNeedPunch: init.publicDialsNeedPunch ?? false,
      reflectorPort: init.reflectorPort ?? -1
    }
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    const remote = toUdpAddress(ma, true)
    if (remote.port === 0 || isWildcard(remote.host)) throw new InvalidUdxAddressError(`cannot dial ${ma.toString()}`)
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(this.options.dialTimeout)])
    const holdKey = `${remote.host}|${remote.port}`
    if (this.options.publicDialsNeedPunch && !this.routes.has(holdKey) && isPrivate(ma) !== true && !this.allowed.has(holdKey) &&
      Date.now() - (this.punched.get(holdKey) ?? 0) > PUNCH_DIAL_WINDOW) {
      throw new UdxNotPunchedError(`not dialing ${ma.toString()}: public UDX addresses are dialed only while punching`)
    }
    const hold = (this.holds.get(holdKey) ?? 0) - Date.now()
    if (hold > 0) {
      this.log('holding dial to %a for %d ms (peer punching)', ma, hold)
      await sleep(hold, undefined, { signal })
    } else {
      this.holds.delete(holdKey)
    }
    const { stream, initiator, crossed } = await this.handshake(remote, holdKey, signal)
    const maConn = udxStreamToConnection({
      stream,
      // the muxer takes its client/server role (odd or even stream ids) from this
      direction: initiator ? 'outbound' : 'inbound',
      remoteAddr: ma,
      closeTimeout: this.options.closeTimeout,
      log: this.log.newScope('connection')
    })
    this.log('new outbound connection %a (initiator %s, crossed %s)', ma, initiator, crossed)
    try {
      return await options.upgrader.upgradeOutbound(maConn, { ...options, signal, initiator })
    } catch (err) {
      this.log.error('error upgrading outbound connection to %a - %e', ma, err)
      maConn.abort(err as Error)
      throw err
    }
  }

  /**
   * The handshake of a dial, from the socket a birthday punch opened towards
   * `remote` if there is one. libp2p joins a dial to a peer that is already
   * being dialed (DCUtR's, from the main socket) instead of starting another,
   * so when such a route appears mid-dial the handshake moves to it.
   */
  private async handshake (remote: UdpAddress, key: string, signal: AbortSignal): Promise<HandshakeResult<UdxStream>> {
    const timeout = this.options.handshakeTimeout
    const routed = this.routes.get(key)
    if (routed != null && !routed.closed) return routed.dial(remote, { signal, timeout })
    const rerouted = new AbortController()
    const waiters = this.routeWaiters.get(key) ?? new Set<() => void>()
    const wake = (): void => { rerouted.abort() }
    waiters.add(wake)
    this.routeWaiters.set(key, waiters)
    try {
      return await this.endpointFor(remote.family).dial(remote, { signal: AbortSignal.any([signal, rerouted.signal]), timeout })
    } catch (err) {
      const route = this.routes.get(key)
      if (!rerouted.signal.aborted || signal.aborted || route == null || route.closed) throw err
      this.log('dial to %s:%d moves to the socket the birthday punch opened', remote.host, remote.port)
      return await route.dial(remote, { signal, timeout })
    } finally {
      waiters.delete(wake)
      if (waiters.size === 0) this.routeWaiters.delete(key)
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new UdxListener({
      upgrader: options.upgrader,
      logger: this.components.logger,
      closeTimeout: this.options.closeTimeout,
      acquire: (address) => this.acquire(address),
      release: async (endpoint) => { await this.release(endpoint) }
    })
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => parseUdxMultiaddr(ma) != null)
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => parseUdxMultiaddr(ma, true) != null)
  }

  /**
   * Sends a few punch datagrams to `remote` from the shared socket (for
   * DCUtR-style hole punching): our NAT then maps the socket towards the peer
   * and lets its packets in. Resolves with the number of datagrams sent.
   */
  async punch (remote: Remote, options: PunchOptions = {}): Promise<number> {
    const address = toRemote(remote)
    const holdMs = Math.min(options.holdDials ?? 0, MAX_DIAL_HOLD)
    const punchKey = `${address.host}|${address.port}`
    this.punched.set(punchKey, Date.now())
    if (this.punched.size > MAX_DIAL_HOLDS) this.punched.delete(this.punched.keys().next().value!)
    if (holdMs > 0) {
      const key = `${address.host}|${address.port}`
      this.holds.set(key, Math.max(this.holds.get(key) ?? 0, Date.now() + holdMs))
      if (this.holds.size > MAX_DIAL_HOLDS) this.holds.delete(this.holds.keys().next().value!)
    }
    return this.endpointFor(address.family).punch(address, options)
  }

  /** Under `publicDialsNeedPunch`: let dials to this address through at any time (a relay, a reflector). */
  allowPublicDial (remote: Remote): void {
    const address = toRemote(remote)
    if (this.allowed.size < MAX_DIAL_HOLDS) this.allowed.add(`${address.host}|${address.port}`)
  }

  /** Asks any node running this transport at `remote` which address our socket has, as it sees it. */
  async observeAddress (remote: Remote, options: ObserveAddressOptions = {}): Promise<ObservedAddress> {
    const address = toRemote(remote)
    const observed = await this.endpointFor(address.family).observe(address, {
      timeout: options.timeout ?? DEFAULT_OBSERVE_TIMEOUT,
      ...(options.signal == null ? {} : { signal: options.signal })
    })
    return { ...observed, multiaddr: toUdxMultiaddr(observed) }
  }

  /**
   * Birthday punching, the side behind a port-randomizing NAT: opens many
   * sockets that punch towards `remote` and waits for one of its probes (see
   * birthday.ts). Throws `UdxLimitError` when too many birthday sockets are open.
   */
  birthday (remote: Remote, options: BirthdayOptions = {}): BirthdayAttempt {
    const address = toRemote(remote)
    const count = Math.max(1, Math.min(MAX_BIRTHDAY_SOCKETS, Math.floor(options.sockets ?? DEFAULT_BIRTHDAY_SOCKETS)))
    if (this.extra.size + count > MAX_BIRTHDAY_SOCKETS) {
      throw new UdxLimitError(`${this.extra.size} extra UDX sockets open; ${count} more would pass ${MAX_BIRTHDAY_SOCKETS}`)
    }
    const key = `${address.host}|${address.port}`
    // on the main socket's interface: a node that listens on one address does not open ports on the others
    const host = this.endpoints.get(address.family)?.address.host ?? (address.family === 4 ? '0.0.0.0' : '::')
    const sockets = new BirthdaySockets(address, count, () => this.extraEndpoint({ host, port: 0, family: address.family }), {
      timeout: options.timeout ?? DEFAULT_BIRTHDAY_TIMEOUT,
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    const hit = sockets.hit.then(winner => {
      this.routes.get(key)?.closeWhenIdle(0)
      this.routes.set(key, winner)
      this.punched.set(key, Date.now())
      winner.closeWhenIdle(BIRTHDAY_WINNER_IDLE_GRACE)
      for (const wake of this.routeWaiters.get(key) ?? []) wake()
      this.log('birthday punch: a probe from %s:%d reached local port %d', address.host, address.port, winner.address.port)
      return winner.address.port
    })
    return { ports: sockets.ports, punched: async () => { await sockets.punched() }, hit, close: () => { sockets.close() } }
  }

  /**
   * Birthday punching, the other side: probes random ports of `host` (or
   * `options.ports`) from the node's socket. Resolves with the number sent.
   */
  async probe (host: string, options: ProbeOptions = {}): Promise<number> {
    const address = toRemote({ host, port: 1 })
    const count = Math.max(1, Math.min(MAX_BIRTHDAY_PROBES, Math.floor(options.count ?? DEFAULT_BIRTHDAY_PROBES)))
    const ports = options.ports?.slice(0, MAX_BIRTHDAY_PROBES)
    return probePorts(this.endpointFor(address.family), address.host, count, { ...options, ...(ports === undefined ? {} : { ports }) })
  }

  /** The bound local address of the socket of this family, if there is one. */
  localAddress (family: 4 | 6 = 4): UdpAddress | undefined {
    const endpoint = this.endpoints.get(family)
    return endpoint == null || endpoint.closed ? undefined : { ...endpoint.address }
  }

  /** Counters of the socket of this family, for tests and metrics; undefined when none is bound. */
  stats (family: 4 | 6 = 4): UdxSocketStats | undefined {
    const endpoint = this.endpoints.get(family)
    return endpoint == null || endpoint.closed ? undefined : endpoint.stats()
  }

  start (): void {}

  async stop (): Promise<void> {
    const endpoints = [...this.endpoints.values(), ...this.extra]
    this.endpoints.clear()
    this.extra.clear()
    this.routes.clear()
    this.reflectors.clear()
    await Promise.all(endpoints.map(async e => { await e.close(this.options.closeTimeout) }))
  }

  /** The endpoint for dials of this family; binds an ephemeral one when nobody listens. */
  private endpointFor (family: 4 | 6): UdxEndpoint {
    const existing = this.endpoints.get(family)
    if (existing != null && !existing.closed) return existing
    return this.bind({ host: family === 4 ? '0.0.0.0' : '::', port: 0, family })
  }

  private acquire (address: UdpAddress): UdxEndpoint {
    const existing = this.endpoints.get(address.family)
    if (existing != null && !existing.closed) {
      const { host, port } = existing.address
      if (existing.listening) {
        throw new UdxListenError(`already listening on ${host}:${port}: one UDX socket per address family`)
      }
      const samePort = address.port === 0 || address.port === port
      const sameHost = address.host === host || (isWildcard(host) && isWildcard(address.host))
      if (samePort && sameHost) {
        this.addReflector(existing)
        return existing
      }
      if (existing.connectionCount > 0) {
        throw new UdxListenError(`the UDX socket ${host}:${port} carries dials; cannot rebind to ${address.host}:${address.port}`)
      }
      this.endpoints.delete(address.family)
      void existing.close()
    }
    const endpoint = this.bind(address)
    this.addReflector(endpoint)
    return endpoint
  }

  private async release (endpoint: UdxEndpoint): Promise<void> {
    if (this.endpoints.get(endpoint.address.family) === endpoint) this.endpoints.delete(endpoint.address.family)
    const reflector = this.reflectors.get(endpoint)
    this.reflectors.delete(endpoint)
    await Promise.all([endpoint.close(this.options.closeTimeout), reflector?.close()])
  }

  /** The second reflector socket next to a listening one (see `UdxInit.reflectorPort`). */
  private addReflector (main: UdxEndpoint): void {
    if (this.options.reflectorPort < 0 || this.reflectors.has(main)) return
    const at = (port: number): UdxEndpoint => this.extraEndpoint({ host: main.address.host, port, family: main.address.family })
    let reflector: UdxEndpoint
    try {
      reflector = at(this.options.reflectorPort)
    } catch (err) {
      this.log.error('cannot bind the second reflector to port %d, using any free port - %e', this.options.reflectorPort, err)
      reflector = at(0)
    }
    this.reflectors.set(main, reflector)
    main.alternatePort = reflector.address.port
    this.log('second reflector on %s:%d', reflector.address.host, reflector.address.port)
  }

  /** A socket that is not the family's main one; forgotten when it closes. */
  private extraEndpoint (address: UdpAddress): UdxEndpoint {
    const endpoint = this.newEndpoint(address)
    this.extra.add(endpoint)
    endpoint.onClose = () => {
      this.extra.delete(endpoint)
      for (const [key, e] of this.routes) if (e === endpoint) this.routes.delete(key)
    }
    return endpoint
  }

  private bind (address: UdpAddress): UdxEndpoint {
    const endpoint = this.newEndpoint(address)
    this.endpoints.set(address.family, endpoint)
    this.log('UDX socket bound to %s:%d', endpoint.address.host, endpoint.address.port)
    return endpoint
  }

  private newEndpoint (address: UdpAddress): UdxEndpoint {
    return new UdxEndpoint({
      host: address.host,
      port: address.port,
      family: address.family,
      socketBufferBytes: this.options.socketBufferBytes,
      maxConnections: this.options.maxConnections,
      maxPendingInbound: this.options.maxPendingInbound,
      maxPendingInboundPerHost: this.options.maxPendingInboundPerHost,
      maxPendingDials: this.options.maxPendingDials,
      retryThreshold: this.options.retryThreshold,
      maxRepliesPerSecond: this.options.maxRepliesPerSecond,
      initialRetryInterval: this.options.helloRetryInterval,
      maxRetryInterval: MAX_HELLO_RETRY_INTERVAL,
      log: this.log
    })
  }
}

/** True for the UDX transport (by its tag, so it works across copies of this module). */
export function isUdxTransport (transport: unknown): transport is UdxTransport {
  return transport != null && (transport as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === '@weft/udx'
}

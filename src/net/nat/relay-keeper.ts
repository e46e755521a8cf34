/**
 * Keeps a reservation on every configured relay.
 *
 * Why not just list `<relay>/p2p-circuit` in `addresses.listen`: js-libp2p
 * then makes the reservation once. If the relay restarts or the connection
 * drops, the client reconnects but never reserves again, and if the relay is
 * down at boot `start()` throws (js-libp2p issue 3601). A bare `/p2p-circuit`
 * ("discover a relay") fares no better: a failed redial during the relay's
 * restart puts the relay on the reservation store's "invalid" filter for good.
 *
 * So this service owns the lifecycle. At start and whenever the relay's
 * connection closes or a periodic check finds no reservation, it dials the
 * relay itself (with backoff), and once connected asks the transport manager
 * to listen on `<relay>/p2p-circuit`, which makes a fresh "configured"
 * reservation over that connection. Dialing first means a relay that is down
 * costs a failed dial, not a listener. The circuit listener then advertises
 * the relayed address and identify pushes it to our peers.
 */
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from '../../errors.js'
import * as C from '../constants.js'
import { deadline } from '../../runtime/deadline.js'

export interface RelayKeeperInit {
  /** Relay multiaddrs, each ending in `/p2p/<relay peer id>`. */
  relays?: string[]
  /** @default DEFAULT_RELAY_CHECK_INTERVAL_MS (5 s) */
  checkIntervalMs?: number
  /** @default DEFAULT_RELAY_BACKOFF_MIN_MS (500 ms) */
  backoffMinMs?: number
  /** @default DEFAULT_RELAY_BACKOFF_MAX_MS (30 s) */
  backoffMaxMs?: number
  /** @default DEFAULT_DIAL_TIMEOUT_MS (10 s) */
  dialTimeoutMs?: number
}

export interface RelayKeeperComponents {
  connectionManager: ConnectionManager
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface RelayStatus {
  readonly relay: string
  readonly connected: boolean
  readonly reserved: boolean
  readonly failures: number
}

export interface RelayKeeper {
  /** Connection and reservation state of each configured relay. */
  getRelays(): RelayStatus[]
}

interface Tracked {
  readonly addr: Multiaddr
  readonly peerId: PeerId
  readonly circuit: string
  failures: number
  busy: boolean
  timer?: ReturnType<typeof setTimeout> | undefined
}

export function parseRelayAddress (addr: string): { addr: Multiaddr, peerId: PeerId } {
  let ma: Multiaddr
  try { ma = multiaddr(addr) } catch (err) { throw new InvalidArgumentError(`relay ${JSON.stringify(addr)} is not a multiaddr: ${(err as Error).message}`) }
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id === undefined) throw new InvalidArgumentError(`relay ${JSON.stringify(addr)} must end with /p2p/<relay peer id>`)
  return { addr: ma, peerId: peerIdFromString(id) }
}

class DefaultRelayKeeper implements RelayKeeper, Startable {
  readonly #c: RelayKeeperComponents
  readonly #init: RelayKeeperInit
  readonly #log: Logger
  readonly #relays: Tracked[]
  #interval: ReturnType<typeof setInterval> | undefined
  #shutdown = new AbortController()
  #started = false

  constructor (components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.#c = components
    this.#init = init
    this.#log = components.logger.forComponent(C.LOG_RELAY)
    this.#relays = (init.relays ?? []).map(a => {
      const { addr, peerId } = parseRelayAddress(a)
      return { addr, peerId, circuit: `/p2p/${peerId.toString()}/p2p-circuit`, failures: 0, busy: false }
    })
  }

  readonly [Symbol.toStringTag] = 'weft:relay-keeper'

  isStarted (): boolean { return this.#started }

  start (): void {
    this.#shutdown = new AbortController()
    this.#started = true
  }

  afterStart (): void {
    if (this.#relays.length === 0) return
    this.#c.events.addEventListener('connection:close', this.#onClose)
    for (const r of this.#relays) void this.#ensure(r)
    this.#interval = setInterval(() => {
      for (const r of this.#relays) if (r.timer === undefined) void this.#ensure(r)
    }, this.#init.checkIntervalMs ?? C.DEFAULT_RELAY_CHECK_INTERVAL_MS)
  }

  stop (): void {
    this.#started = false
    this.#shutdown.abort()
    clearInterval(this.#interval)
    for (const r of this.#relays) { clearTimeout(r.timer); r.timer = undefined }
    this.#c.events.removeEventListener('connection:close', this.#onClose)
  }

  getRelays (): RelayStatus[] {
    return this.#relays.map(r => ({ relay: r.addr.toString(), connected: this.#connected(r), reserved: this.#reserved(r), failures: r.failures }))
  }

  #connected (r: Tracked): boolean {
    return this.#c.connectionManager.getConnections(r.peerId).some(c => c.status === 'open' && c.limits == null)
  }

  /** The circuit listener advertises `<relay>/p2p/<id>/p2p-circuit` exactly while it holds a reservation. */
  #reserved (r: Tracked): boolean {
    return this.#c.transportManager.getAddrs().some(a => a.toString().includes(r.circuit))
  }

  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    const r = this.#relays.find(x => x.peerId.equals(evt.detail.remotePeer))
    if (r === undefined || !this.#started) return
    this.#log('connection to relay %p closed, reconnecting', r.peerId)
    this.#schedule(r)
  }

  #schedule (r: Tracked): void {
    if (!this.#started || r.timer !== undefined) return
    const min = this.#init.backoffMinMs ?? C.DEFAULT_RELAY_BACKOFF_MIN_MS
    const max = this.#init.backoffMaxMs ?? C.DEFAULT_RELAY_BACKOFF_MAX_MS
    const delay = Math.min(max, min * 2 ** Math.min(r.failures, 16)) * (0.75 + Math.random() / 4)
    r.timer = setTimeout(() => {
      r.timer = undefined
      void this.#ensure(r)
    }, delay)
  }

  async #ensure (r: Tracked): Promise<void> {
    if (!this.#started || r.busy) return
    if (this.#connected(r) && this.#reserved(r)) { r.failures = 0; return }
    r.busy = true
    const limit = deadline(this.#init.dialTimeoutMs ?? C.DEFAULT_DIAL_TIMEOUT_MS, this.#shutdown.signal)
    try {
      await this.#c.connectionManager.openConnection(r.addr, { signal: limit.signal })
      if (!this.#reserved(r)) {
        await this.#c.transportManager.listen([r.addr.encapsulate('/p2p-circuit')])
        this.#log('reserved a slot on relay %p', r.peerId)
      }
      r.failures = 0
    } catch (err) {
      r.failures++
      if (this.#started) {
        this.#log('relay %p unavailable (attempt %d) - %e', r.peerId, r.failures, err)
        this.#schedule(r)
      }
    } finally {
      limit.clear()
      r.busy = false
    }
  }
}

export function relayKeeper (init: RelayKeeperInit = {}): (components: RelayKeeperComponents) => RelayKeeper {
  return (components) => new DefaultRelayKeeper(components, init)
}

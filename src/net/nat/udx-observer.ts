/**
 * `udxObserver()`: learns the node's public UDX mapping and makes DCUtR able
 * to punch with it.
 *
 * Why: identify drops observed addresses it cannot match to a listener, and a
 * TCP or relayed connection to the relay says nothing about the NAT mapping of
 * the UDX socket. So, once a reflector (a relay, by default every directly
 * connected peer that tells us a public UDX address) has told us its UDX
 * address over `/weft/udx-addrs/1.0.0` (the `udxAddrs` service: identify does
 * not carry `/udx` addresses, see src/udx/hide-addresses.ts), we ask it over
 * the node's one UDX socket which address our datagrams come from, and
 * confirm that address in the address manager: udx-addrs then tells it to the
 * peers we share addresses with, and DCUtR offers it in its CONNECT message.
 * The request is repeated every `refreshIntervalMs`, which also keeps the NAT
 * mapping alive.
 *
 * When two reflectors report different mappings at once, or one reflector's
 * two ports do (a weft relay answers on a second port too, see
 * `UdxInit.reflectorPort`), the NAT maps per destination (port-randomizing):
 * that mapping is useless to a peer, so it is withdrawn instead of
 * advertised, and `mapping` says 'dependent' so that birthday punching
 * (udx-birthday.ts) can take over.
 *
 * Punch on relayed connections: DCUtR's first move on the inbound side is a
 * "unilateral" dial of the dialer's public addresses. Against a NAT that has
 * not sent anything to the dialer yet it fails, and worse, its HELLOs leave a
 * conntrack entry on that NAT which makes a Linux NAT map the host's own later
 * packets to the dialer to another port, so DCUtR's synchronized dials then
 * fail too (seen in the lab: 0 direct connections). So when a peer tells us
 * its public UDX addresses over a limited (relayed) connection, both
 * sides send a few low-TTL punch datagrams to them from the shared socket:
 * each opens its own NAT without reaching (and poisoning) the other's, and
 * our own dials to the peer wait a moment (`holdDials`) so that the peer's
 * punch has opened its NAT before our first HELLO arrives there. The
 * unilateral dial, or DCUtR's synchronized one, then gets through.
 */
import { isPrivate } from '@libp2p/utils'
import type {
  ComponentLogger, Libp2pEvents, Logger, PeerId, Startable, Transport, TypedEventTarget
} from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import { isUdxTransport, parseUdxMultiaddr, type PeerUdxAddrs, type UdxAddrsEvents, type UdxTransport } from '../../udx/index.js'
import * as C from '../constants.js'

export interface UdxObserverComponents {
  addressManager: Pick<AddressManager, 'confirmObservedAddr' | 'removeObservedAddr'>
  transportManager: { getTransports(): Transport[], getAddrs(): Multiaddr[] }
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  /** The node's udx-addrs service (libp2p puts services among the components by name): where peers' UDX addresses come from. */
  udxAddrs: TypedEventTarget<UdxAddrsEvents>
}

export interface UdxObserverInit {
  /** Peer ids asked for our mapping; empty means every directly connected peer that tells us a public UDX address. @default [] */
  reflectors?: string[]
  /** Ask again this often (also a NAT keep-alive). @default DEFAULT_UDX_OBSERVE_REFRESH_MS (20 s) */
  refreshIntervalMs?: number
  /** One observation's timeout. @default DEFAULT_UDX_OBSERVE_TIMEOUT_MS (3 s) */
  observeTimeoutMs?: number
  /** Punch towards a peer's public UDX addresses when it tells us them over a relayed connection. @default true */
  punchOnRelayed?: boolean
  /** IP TTL of those punches. @default DEFAULT_UDX_RELAYED_PUNCH_TTL (2) */
  punchTtl?: number
}

/**
 * How our NAT maps the UDX socket: one public port for every destination
 * ('independent', punchable), a new port per destination ('dependent': only
 * birthday punching), or not known yet ('unknown': no reflector answered, or
 * only one without a second port).
 */
export type NatMapping = 'independent' | 'dependent' | 'unknown'

export interface UdxObserver {
  /** Our confirmed public UDX address, if any. */
  readonly observed: Multiaddr | undefined
  /** See `NatMapping`. */
  readonly mapping: NatMapping
  /** Our public IP as the reflectors see it (also known when the mapping is 'dependent'). */
  readonly publicHost: string | undefined
  /** Asks every known reflector now; resolves when all answered or failed. */
  refresh(): Promise<void>
  /** Resolves once the observations under way have ended. */
  settled(): Promise<void>
}

interface Reflector {
  peer: PeerId
  addr: Multiaddr
  observed?: Multiaddr | undefined
  host?: string | undefined
  /** Its second port saw another mapping (true), the same (false), or it has none (undefined). */
  dependent?: boolean | undefined
}

const udxIp4 = (addrs: Multiaddr[]): Multiaddr[] => addrs.filter(ma => parseUdxMultiaddr(ma, true)?.family === 4)
const isPublic = (ma: Multiaddr): boolean => isPrivate(ma) !== true

class DefaultUdxObserver implements UdxObserver, Startable {
  readonly [Symbol.toStringTag] = '@weft/udx-observer'
  readonly #c: UdxObserverComponents
  readonly #log: Logger
  readonly #reflectorIds: ReadonlySet<string>
  readonly #refreshMs: number
  readonly #timeoutMs: number
  readonly #punch: boolean
  readonly #punchTtl: number
  readonly #reflectors = new Map<string, Reflector>()
  #timer: ReturnType<typeof setInterval> | undefined
  #confirmed: Multiaddr | undefined
  #mapping: NatMapping = 'unknown'
  #publicHost: string | undefined
  readonly #inFlight = new Set<Promise<void>>()
  #stop = new AbortController()

  constructor (components: UdxObserverComponents, init: UdxObserverInit = {}) {
    this.#c = components
    this.#log = components.logger.forComponent(C.LOG_UDX)
    this.#reflectorIds = new Set(init.reflectors ?? [])
    this.#refreshMs = init.refreshIntervalMs ?? C.DEFAULT_UDX_OBSERVE_REFRESH_MS
    this.#timeoutMs = init.observeTimeoutMs ?? C.DEFAULT_UDX_OBSERVE_TIMEOUT_MS
    this.#punch = init.punchOnRelayed ?? true
    this.#punchTtl = init.punchTtl ?? C.DEFAULT_UDX_RELAYED_PUNCH_TTL
  }

  get observed (): Multiaddr | undefined { return this.#confirmed }
  get mapping (): NatMapping { return this.#mapping }
  get publicHost (): string | undefined { return this.#publicHost }

  async settled (): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
  }

  start (): void {
    this.#stop = new AbortController()
    this.#c.udxAddrs.addEventListener('addresses', this.#onAddresses)
    this.#c.events.addEventListener('peer:disconnect', this.#onDisconnect)
    if (this.#refreshMs > 0) this.#timer = setInterval(() => { void this.refresh() }, this.#refreshMs)
  }

  stop (): void {
    this.#stop.abort()
    clearInterval(this.#timer)
    this.#c.udxAddrs.removeEventListener('addresses', this.#onAddresses)
    this.#c.events.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#reflectors.clear()
  }

  async refresh (): Promise<void> {
    await Promise.all([...this.#reflectors.values()].map(async r => { await this.#observe(r) }))
  }

  /** The UDX transport when the node listens on UDX (observing an ephemeral dial socket would advertise a port nobody accepts on). */
  #transport (): UdxTransport | undefined {
    if (!this.#c.transportManager.getAddrs().some(ma => parseUdxMultiaddr(ma) != null)) return undefined
    return this.#c.transportManager.getTransports().find(isUdxTransport)
  }

  readonly #onAddresses = (evt: CustomEvent<PeerUdxAddrs>): void => {
    const { peerId, addrs: told, connection } = evt.detail
    const transport = this.#transport()
    if (transport == null) return
    const addrs = udxIp4(told).filter(isPublic)
    if (addrs.length === 0) return
    if (connection.limits != null) {
      if (!this.#punch) return
      for (const addr of addrs) {
        this.#log('punching towards %p at %a (told over a relayed connection)', peerId, addr)
        transport.punch(addr, {
          count: C.DEFAULT_UDX_RELAYED_PUNCH_COUNT,
          interval: C.DEFAULT_UDX_RELAYED_PUNCH_INTERVAL_MS,
          ttl: this.#punchTtl,
          holdDials: C.DEFAULT_UDX_RELAYED_DIAL_HOLD_MS,
          signal: this.#stop.signal
        })
          .catch((err: Error) => { this.#log.trace('punch to %a failed - %e', addr, err) })
      }
      return
    }
    if (this.#reflectorIds.size > 0 && !this.#reflectorIds.has(peerId.toString())) return
    const key = peerId.toString()
    const known = this.#reflectors.get(key)
    if (known?.addr.equals(addrs[0]!) === true) return
    const reflector: Reflector = { peer: peerId, addr: addrs[0]! }
    transport.allowPublicDial(reflector.addr)
    this.#reflectors.set(key, reflector)
    void this.#observe(reflector)
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (this.#reflectors.delete(evt.detail.toString())) this.#update()
  }

  async #observe (r: Reflector): Promise<void> {
    const run = this.#observeOnce(r)
    this.#inFlight.add(run)
    try { await run } finally { this.#inFlight.delete(run) }
  }

  async #observeOnce (r: Reflector): Promise<void> {
    const transport = this.#transport()
    if (transport == null) return
    const options = { timeout: this.#timeoutMs, signal: this.#stop.signal }
    try {
      const got = await transport.observeAddress(r.addr, options)
      this.#log.trace('%p at %a sees our UDX socket as %a', r.peer, r.addr, got.multiaddr)
      r.dependent = undefined
      if (got.alternatePort !== 0) {
        const second = await transport.observeAddress({ host: parseUdxMultiaddr(r.addr, true)!.host, port: got.alternatePort }, options)
        r.dependent = second.port !== got.port || second.host !== got.host
        if (r.dependent) this.#log('%p sees our UDX socket as %a on one port and %a on another: our NAT maps per destination', r.peer, got.multiaddr, second.multiaddr)
      }
      r.host = isPublic(got.multiaddr) ? got.host : undefined
      r.observed = isPublic(got.multiaddr) && r.dependent !== true ? got.multiaddr : undefined
    } catch (err) {
      if (this.#stop.signal.aborted) return
      this.#log('no UDX address report from %p at %a - %e', r.peer, r.addr, err)
      r.observed = undefined
      r.host = undefined
      r.dependent = undefined
    }
    if (this.#reflectors.get(r.peer.toString()) === r) this.#update()
  }

  /** Confirms the mapping all current reflectors agree on, withdraws a stale or inconsistent one. */
  #update (): void {
    const seen = new Map<string, Multiaddr>()
    const reflectors = [...this.#reflectors.values()]
    for (const r of reflectors) if (r.observed != null) seen.set(r.observed.toString(), r.observed)
    const dependent = seen.size > 1 || reflectors.some(r => r.dependent === true)
    const independent = !dependent &&
      (seen.size === 1 && (reflectors.some(r => r.dependent === false) || reflectors.filter(r => r.observed != null).length > 1))
    const mapping: NatMapping = dependent ? 'dependent' : independent ? 'independent' : 'unknown'
    if (mapping !== this.#mapping) this.#log('NAT mapping of the UDX socket: %s', mapping)
    this.#mapping = mapping
    this.#publicHost = reflectors.find(r => r.host != null)?.host
    const agreed = seen.size === 1 && !dependent ? [...seen.values()][0] : undefined
    if (seen.size > 1) this.#log('reflectors see different UDX mappings (%s): port-randomizing NAT, not advertising one', [...seen.keys()].join(', '))
    if (this.#confirmed != null && agreed?.equals(this.#confirmed) !== true) {
      this.#log('withdrawing UDX address %a', this.#confirmed)
      this.#c.addressManager.removeObservedAddr(this.#confirmed)
      this.#confirmed = undefined
    }
    if (agreed === undefined) return
    if (this.#confirmed == null) this.#log('confirming public UDX address %a', agreed)
    this.#confirmed = agreed
    // confirming again extends the address's TTL in the address manager
    this.#c.addressManager.confirmObservedAddr(agreed, { type: 'observed' })
  }
}

export function udxObserver (init: UdxObserverInit = {}): (components: UdxObserverComponents) => UdxObserver {
  return (components) => new DefaultUdxObserver(components, init)
}
